"""Deterministic synthetic image-classification set in the ImageNet folder layout.

Writes under --output_dir:
  raw/<split>/<class_name>/<name>.jpg   (splits 'train' and 'validation')
and with --convert (the default) converts each split with build_classification_data.py into
  tfrecord/<split>-%05d-of-%05d.tfrecord and tfrecord/labels.txt
exactly as a user converts a real image folder.

Ten classes = five shapes x two surface patterns (plain / striped). Each image shows one object of
its class at a random position, scale and rotation, in a random colour, on a noisy gradient
background, sometimes with a smaller distractor of another shape. Shape and pattern both matter,
colour carries no label information, so the network has to learn edges and fine texture, which is
what makes low-precision activations visible in the accuracy.

Usage (or `python datasets/synthetic_classification.py ...`, or the console script):
  python -m datasets.synthetic_classification --output_dir=DIR [--seed=0 --num_train=500 \
      --num_validation=200 --size=64]
"""
import dataclasses
import io
import os

import numpy as np
from PIL import Image

from slim import fileio
from slim.runtime import options

from datasets import build_cli

SHAPES = ('disc', 'square', 'triangle', 'cross', 'ring')
PATTERNS = ('plain', 'striped')
# Class id = shape index * len(PATTERNS) + pattern index (the sorted folder order is the same).
CLASS_NAMES = tuple('%d_%s_%s' % (i * len(PATTERNS) + j, s, p)
                    for i, s in enumerate(SHAPES) for j, p in enumerate(PATTERNS))
NUM_CLASSES = len(CLASS_NAMES)
SPLITS = ('train', 'validation')
RAW_DIR = 'raw'
TFRECORD_DIR = 'tfrecord'
JPEG_QUALITY = 92
RADIUS_RANGE = (0.22, 0.40)  # Object radius as a fraction of the image size.
DISTRACTOR_PROB = 0.35


def _shape_mask(shape, yy, xx, cy, cx, r, theta):
  """Boolean mask of `shape` centred at (cy, cx) with radius r, rotated by theta."""
  dy, dx = yy - cy, xx - cx
  u = np.cos(theta) * dx + np.sin(theta) * dy
  v = -np.sin(theta) * dx + np.cos(theta) * dy
  if shape == 'disc':
    return u * u + v * v <= r * r
  if shape == 'square':
    return (np.abs(u) <= 0.8 * r) & (np.abs(v) <= 0.8 * r)
  if shape == 'triangle':
    # Equilateral triangle: inside all three half-planes.
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
      a = theta + 2 * np.pi * k / 3
      inside &= (np.cos(a) * dx + np.sin(a) * dy) <= 0.5 * r
    return inside
  if shape == 'cross':
    arm = 0.3 * r
    return (((np.abs(u) <= r) & (np.abs(v) <= arm)) | ((np.abs(v) <= r) & (np.abs(u) <= arm)))
  if shape == 'ring':
    d2 = u * u + v * v
    return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
  raise ValueError('unknown shape %r' % shape)


def make_example(rng, size, class_id):
  """Returns a [size, size, 3] uint8 image of class `class_id`."""
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  # Background: random linear gradient + pixel noise.
  c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
  a = rng.uniform(0, 2 * np.pi)
  t = ((np.cos(a) * xx + np.sin(a) * yy) / size + 1.0) / 2.0
  image = c0 * (1 - t[..., None]) + c1 * t[..., None]
  image += rng.normal(0, 12, image.shape)

  shape_id, pattern_id = divmod(class_id, len(PATTERNS))
  objects = [(shape_id, pattern_id, rng.uniform(*RADIUS_RANGE) * size)]
  if rng.random() < DISTRACTOR_PROB:
    other = (shape_id + rng.integers(1, len(SHAPES))) % len(SHAPES)
    # Smaller and drawn first, so the class object stays the salient one.
    objects.insert(0, (other, rng.integers(len(PATTERNS)), 0.12 * size))
  for s_id, p_id, r in objects:
    cy, cx = rng.uniform(r, size - r, 2)
    mask = _shape_mask(SHAPES[s_id], yy, xx, cy, cx, r, rng.uniform(0, 2 * np.pi))
    colour = rng.uniform(30, 225, 3)
    fill = np.broadcast_to(colour, image.shape).copy()
    if PATTERNS[p_id] == 'striped':
      period = rng.uniform(4.0, 7.0)
      b = rng.uniform(0, np.pi)
      stripes = np.sin(2 * np.pi * (np.cos(b) * xx + np.sin(b) * yy) / period) > 0
      fill[stripes] = 255 - colour
    image[mask] = fill[mask] + rng.normal(0, 6, (int(mask.sum()), 3))
  return np.clip(image, 0, 255).astype(np.uint8)


def _encode_jpeg(image):
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format='JPEG', quality=JPEG_QUALITY)
  return buf.getvalue()


def generate(output_dir, seed=0, num_train=500, num_validation=200, size=64):
  """Writes raw/<split>/<class_name>/*.jpg; returns {split: number of images}.

  Classes cycle over the examples (balanced splits); each example draws from its own RNG seeded
  by (seed, split, index), so the output depends only on the arguments.

  Raises:
    ValueError: a split smaller than the number of classes, or size < 16.
  """
  if size < 16:
    raise ValueError('size must be >= 16, got %d' % size)
  counts = {}
  for split_id, (split, count) in enumerate(zip(SPLITS, (num_train, num_validation))):
    if count < NUM_CLASSES:
      raise ValueError('num_%s must be >= %d (one image per class), got %d'
                       % (split, NUM_CLASSES, count))
    for index in range(count):
      class_id = index % NUM_CLASSES
      rng = np.random.default_rng([seed, split_id, index])
      path = os.path.join(output_dir, RAW_DIR, split, CLASS_NAMES[class_id],
                          '%s_%05d.jpg' % (split, index))
      fileio.atomic_write_bytes(path, _encode_jpeg(make_example(rng, size, class_id)))
    counts[split] = count
  return counts


def convert(output_dir, num_shards=2):
  """Converts every generated split with build_classification_data; returns the tfrecord dir."""
  from datasets import build_classification_data  # pylint: disable=g-import-not-at-top
  record_dir = os.path.join(output_dir, TFRECORD_DIR)
  for split in SPLITS:
    build_classification_data.convert_folder(
        os.path.join(output_dir, RAW_DIR, split), record_dir, split, num_shards=num_shards)
  return record_dir


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script."""
  output_dir: str = options.flag(None, 'Folder of the generated dataset.', kind='string',
                                 required=True)
  seed: int = options.flag(0, 'Random seed.')
  num_train: int = options.flag(500, 'Number of train images.')
  num_validation: int = options.flag(200, 'Number of validation images.')
  size: int = options.flag(64, 'Image height and width.')
  convert: bool = options.flag(True, 'Also write the TFRecord shards and labels.txt.')


def build(opts):
  """Generates the set of a BuildOptions and, with opts.convert, converts it (prints where)."""
  generate(opts.output_dir, opts.seed, opts.num_train, opts.num_validation, opts.size)
  if opts.convert:
    print('TFRecords in %s' % convert(opts.output_dir))


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
