"""Deterministic synthetic segmentation dataset in PASCAL VOC layout.

Writes under --output_dir:
  JPEGImages/<name>.jpg, SegmentationClass/<name>.png (palette PNG, VOC colour map),
  ImageSets/Segmentation/{train,val,trainval}.txt
and with --convert also SegmentationClassRaw/ (remove_gt_colormap) and tfrecord/ (shards).

Five object classes (plus background 0) on textured gradient backgrounds. Each class has its own
shape and its own texture kind (flat, stripes, noise, checker, waves), but every colour family is
shared by several classes, so colour alone cannot separate them (a nearest-mean-colour classifier
scores about 0.12 mIoU). Objects vary in scale (radius 12-32% of the image side), occlude each
other, and carry a 255 (ignore) band along their boundaries as VOC annotations do. The default
256x256 size keeps the thinnest parts (ring, cross arms) wider than the 16-pixel output stride of
the quantized DeepLab recipe.

Usage (or `python datasets/synthetic.py ...`, or the console script):
  python -m datasets.synthetic --output_dir=DIR [--seed=0 --num_train=600 --num_val=100 \
      --size=256 --convert]
"""
import dataclasses
import io
import os

import numpy as np
from PIL import Image

from slim import fileio
from slim.runtime import options

from datasets import build_cli

NUM_CLASSES = 6  # Background + 5 objects.
IGNORE_LABEL = 255
CLASS_NAMES = ('background', 'disc', 'square', 'triangle', 'ring', 'cross')
JPEG_QUALITY = 90
BORDER_WIDTH = 1  # Pixels of ignore label on each side of an object boundary.
# Object radius range as a fraction of the image side (scale variation of ~3x).
OBJECT_RADIUS = (0.12, 0.32)

# Colour families as RGB means; class c draws from families _CLASS_FAMILIES[c] (two each, every
# family used by two or more classes) so colour is ambiguous without shape/texture.
_FAMILIES = np.array([[200, 60, 50], [60, 170, 70], [60, 80, 200]], np.float32)
_CLASS_FAMILIES = {1: (0, 1), 2: (1, 2), 3: (2, 0), 4: (0, 1), 5: (1, 2)}
# Texture per class: (kind, amplitude), one kind per class. Kinds are rendered in _texture.
_CLASS_TEXTURE = {1: ('flat', 8.), 2: ('stripes', 35.), 3: ('noise', 30.), 4: ('checker', 30.),
                  5: ('waves', 30.)}

SPLITS = ('train', 'val')
# Defaults of the CLI and of generate(): the dataset the main job trains on.
DEFAULT_SIZE = 256
DEFAULT_NUM_TRAIN = 600
DEFAULT_NUM_VAL = 100


def voc_colormap(n=256):
  """Returns the PASCAL VOC palette as a flat list of 3 * n ints."""
  cmap = []
  for i in range(n):
    r = g = b = 0
    c = i
    for j in range(8):
      r |= ((c >> 0) & 1) << (7 - j)
      g |= ((c >> 1) & 1) << (7 - j)
      b |= ((c >> 2) & 1) << (7 - j)
      c >>= 3
    cmap.extend([r, g, b])
  return cmap


_PALETTE = voc_colormap()


def _noise(rng, shape, std):
  return std * rng.standard_normal(shape, dtype=np.float32)


def _background(rng, size):
  """Gradient plus low-frequency texture plus pixel noise (float32 [size, size, 3])."""
  c0 = rng.uniform(40, 215, 3).astype(np.float32)
  c1 = rng.uniform(40, 215, 3).astype(np.float32)
  angle = rng.uniform(0, 2 * np.pi)
  axis = np.arange(size, dtype=np.float32)
  # Both terms are separable in y and x: build them from 1-D profiles (fast at large sizes).
  t = ((np.sin(angle) * axis[:, None] + np.cos(angle) * axis[None, :]) / size + 1.) / 2.
  image = c0 * (1. - t[..., None]) + c1 * t[..., None]
  freq = rng.uniform(2, 6, 2)
  phase = rng.uniform(0, 2 * np.pi, 2)
  wave = np.sin(2 * np.pi * freq[1] * axis / size + phase[1])[:, None] * np.sin(
      2 * np.pi * freq[0] * axis / size + phase[0])[None, :]
  image += np.float32(rng.uniform(5, 25)) * wave[..., None]
  image += _noise(rng, image.shape, 6.)
  return image


def _shape_mask(cls, yy, xx, cy, cx, r, theta):
  """Boolean mask of the class shape centred at (cy, cx) with radius r, rotated by theta."""
  u = np.cos(theta) * (xx - cx) + np.sin(theta) * (yy - cy)
  v = -np.sin(theta) * (xx - cx) + np.cos(theta) * (yy - cy)
  d = np.sqrt(u * u + v * v)
  if cls == 1:  # Disc.
    return d < r
  if cls == 2:  # Square.
    return (np.abs(u) < 0.8 * r) & (np.abs(v) < 0.8 * r)
  if cls == 3:  # Equilateral triangle: inside three half planes.
    inside = np.ones_like(d, bool)
    for k in range(3):
      a = theta + k * 2 * np.pi / 3
      inside &= (np.cos(a) * (xx - cx) + np.sin(a) * (yy - cy)) < 0.65 * r
    return inside
  if cls == 4:  # Ring.
    return (d < r) & (d > 0.55 * r)
  if cls == 5:  # Cross.
    return ((np.abs(u) < 0.3 * r) & (np.abs(v) < r)) | ((np.abs(v) < 0.3 * r) & (np.abs(u) < r))
  raise ValueError('unknown class %d' % cls)


def _texture(kind, amplitude, rng, yy, xx):
  # Periods are several pixels wide so that the kinds stay distinct after the 0.5x downscaling
  # of training-time scale augmentation.
  if kind == 'flat':
    return _noise(rng, yy.shape, 0.3 * amplitude)
  if kind == 'stripes':
    period = rng.uniform(8, 14)
    return amplitude * np.sign(np.sin(2 * np.pi * (xx + yy) / period))
  if kind == 'noise':
    return _noise(rng, yy.shape, amplitude)
  if kind == 'waves':
    period = rng.uniform(16, 24)
    return amplitude * np.sin(2 * np.pi * xx / period)
  if kind == 'checker':
    cell = int(rng.integers(6, 11))
    return amplitude * (((yy // cell + xx // cell) % 2) * 2 - 1)
  raise ValueError('unknown texture %r' % kind)


def _dilate(mask, width):
  out = mask.copy()
  for _ in range(width):
    grown = out.copy()
    grown[1:] |= out[:-1]
    grown[:-1] |= out[1:]
    grown[:, 1:] |= out[:, :-1]
    grown[:, :-1] |= out[:, 1:]
    out = grown
  return out


def make_example(rng, size):
  """Returns (image uint8 [size, size, 3], label uint8 [size, size]) for one random scene."""
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  image = _background(rng, size)
  label = np.zeros((size, size), np.uint8)
  border = np.zeros((size, size), bool)
  num_objects = int(rng.integers(1, 4))
  for _ in range(num_objects):
    cls = int(rng.integers(1, NUM_CLASSES))
    r = rng.uniform(OBJECT_RADIUS[0], OBJECT_RADIUS[1]) * size
    cy, cx = rng.uniform(0.1, 0.9, 2) * size
    mask = _shape_mask(cls, yy, xx, cy, cx, r, rng.uniform(0, 2 * np.pi))
    if not mask.any():
      continue
    family = _FAMILIES[_CLASS_FAMILIES[cls][int(rng.integers(0, 2))]]
    colour = np.clip(family + rng.normal(0, 25, 3), 0, 255)
    kind, amplitude = _CLASS_TEXTURE[cls]
    image[mask] = colour + _texture(kind, amplitude, rng, yy, xx)[mask][:, None]
    # A later object occludes earlier ones: its pixels and its boundary band win.
    label[mask] = cls
    border &= ~mask
    border |= _dilate(mask, BORDER_WIDTH) & ~_erode(mask, BORDER_WIDTH)
  label[border] = IGNORE_LABEL
  image += _noise(rng, image.shape, 4.)
  return np.clip(image, 0, 255).astype(np.uint8), label


def _erode(mask, width):
  return ~_dilate(~mask, width)


def _encode_jpeg(image):
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format='JPEG', quality=JPEG_QUALITY)
  return buf.getvalue()


def _encode_palette_png(label):
  buf = io.BytesIO()
  png = Image.fromarray(label, mode='P')
  png.putpalette(_PALETTE)
  png.save(buf, format='PNG')
  return buf.getvalue()


def example_rng(seed, split, index):
  """The RNG of one example: it depends only on (seed, split, index)."""
  return np.random.default_rng([seed, SPLITS.index(split), index])


def class_histogram(split, count, seed=0, size=DEFAULT_SIZE):
  """Pixel share of each label value over the first `count` examples of `split`.

  Args:
    split: 'train' or 'val'.
    count: number of examples.
    seed: dataset seed.
    size: image side.

  Returns:
    {label value: share of pixels} for 0..NUM_CLASSES-1 and IGNORE_LABEL (sums to 1).
  """
  counts = np.zeros(256, np.int64)
  for index in range(count):
    _, label = make_example(example_rng(seed, split, index), size)
    counts += np.bincount(label.reshape(-1), minlength=256)
  values = list(range(NUM_CLASSES)) + [IGNORE_LABEL]
  return {v: float(counts[v]) / counts.sum() for v in values}


def example_name(split, index):
  return 'syn_%s_%05d' % (split, index)


def generate(output_dir, seed=0, num_train=DEFAULT_NUM_TRAIN, num_val=DEFAULT_NUM_VAL,
             size=DEFAULT_SIZE):
  """Writes the dataset in VOC layout; returns {split: [names]}.

  Every example draws from its own RNG seeded by (seed, split, index), so the output depends only
  on the arguments.
  """
  image_dir = os.path.join(output_dir, 'JPEGImages')
  label_dir = os.path.join(output_dir, 'SegmentationClass')
  list_dir = os.path.join(output_dir, 'ImageSets', 'Segmentation')
  splits = {}
  for split, count in zip(SPLITS, (num_train, num_val)):
    names = []
    for index in range(count):
      image, label = make_example(example_rng(seed, split, index), size)
      name = example_name(split, index)
      fileio.atomic_write_bytes(os.path.join(image_dir, name + '.jpg'), _encode_jpeg(image))
      fileio.atomic_write_bytes(os.path.join(label_dir, name + '.png'), _encode_palette_png(label))
      names.append(name)
    splits[split] = names
  splits['trainval'] = splits['train'] + splits['val']
  for split, names in splits.items():
    fileio.atomic_write_text(os.path.join(list_dir, split + '.txt'),
                             ''.join(n + '\n' for n in names))
  return splits


def convert(output_dir):
  """Runs remove_gt_colormap and build_voc2012_data on a generated dataset folder."""
  from datasets import build_voc2012_data  # pylint: disable=g-import-not-at-top
  from datasets import remove_gt_colormap  # pylint: disable=g-import-not-at-top
  raw_dir = os.path.join(output_dir, 'SegmentationClassRaw')
  remove_gt_colormap.remove_gt_colormap(os.path.join(output_dir, 'SegmentationClass'), raw_dir)
  list_dir = os.path.join(output_dir, 'ImageSets', 'Segmentation')
  for split in SPLITS + ('trainval',):
    build_voc2012_data.convert_dataset(
        os.path.join(list_dir, split + '.txt'), os.path.join(output_dir, 'JPEGImages'), raw_dir,
        os.path.join(output_dir, 'tfrecord'), image_format='jpg', num_classes=NUM_CLASSES,
        ignore_label=IGNORE_LABEL)


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script."""
  output_dir: str = options.flag(None, 'Folder of the generated dataset.', kind='string',
                                 required=True)
  seed: int = options.flag(0, 'Random seed.')
  num_train: int = options.flag(DEFAULT_NUM_TRAIN, 'Number of train examples.')
  num_val: int = options.flag(DEFAULT_NUM_VAL, 'Number of val examples.')
  size: int = options.flag(DEFAULT_SIZE, 'Image height and width.')
  convert: bool = options.flag(False, 'Also write SegmentationClassRaw and tfrecord shards.')


def build(opts):
  """Generates the dataset of a BuildOptions (and converts it with opts.convert)."""
  generate(opts.output_dir, opts.seed, opts.num_train, opts.num_val, opts.size)
  if opts.convert:
    convert(opts.output_dir)


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
