"""The embedded detection set: objects of 5 classes on textured backgrounds, in COCO layout.

Each scene has 1-5 objects (disc, square, triangle, ring, cross: the segmentation set's shapes,
colour families and textures, `datasets.synthetic`), radius 4-30 % of the image side (a ~7x
scale range, so every pyramid level gets objects), placed in turn so that later objects may
occlude earlier ones, but never hide more than half of one. The box of an object is the tight
box of its whole shape (amodal, as COCO's); the RNG of an example depends only on (seed, split,
index). Output, the layout a real COCO download has:

  <output_dir>/images/<split>/<split>_%06d.jpg
  <output_dir>/annotations/instances_<split>.json     (images, annotations, categories)

then `datasets/build_coco_data.py` converts it to TFRecords as it converts real COCO. Usage:

  python datasets/synthetic_detection.py --output_dir=/tmp/det_data --num_train=2000 \\
      --num_val=200 --size=256
"""
import dataclasses
import io
import json
import os

import numpy as np
from PIL import Image

from datasets import build_cli
from datasets import synthetic
from slim import fileio
from slim.runtime import options

CLASS_NAMES = synthetic.CLASS_NAMES[1:]  # COCO category ids 1..5 in this order.
NUM_CLASSES = len(CLASS_NAMES)
SPLITS = ('train', 'val')
JPEG_QUALITY = 90
OBJECT_RADIUS = (0.04, 0.30)
MAX_OBJECTS = 5
# An object placement that would hide more than this share of an earlier object is redrawn.
MAX_OCCLUSION = 0.5
_PLACEMENT_TRIES = 10
IMAGES_DIR = 'images'
ANNOTATIONS_DIR = 'annotations'


def annotations_path(output_dir, split):
  """Path of the COCO JSON of `split`."""
  return os.path.join(output_dir, ANNOTATIONS_DIR, 'instances_%s.json' % split)


def images_dir(output_dir, split):
  return os.path.join(output_dir, IMAGES_DIR, split)


def _place(rng, size, yy, xx, visible):
  """Draws one object whose mask hides at most MAX_OCCLUSION of each earlier visible mask."""
  for _ in range(_PLACEMENT_TRIES):
    cls = int(rng.integers(1, NUM_CLASSES + 1))
    # Log-uniform radius: as many small objects as large ones.
    r = np.exp(rng.uniform(*np.log(OBJECT_RADIUS))) * size
    cy, cx = rng.uniform(0.05, 0.95, 2) * size
    mask = synthetic._shape_mask(cls, yy, xx, cy, cx, r, rng.uniform(0, 2 * np.pi))  # pylint: disable=protected-access
    if mask.sum() < 9:
      continue
    if all((v & mask).sum() <= MAX_OCCLUSION * v.sum() for v in visible):
      return cls, mask
  return None


def make_example(rng, size):
  """Returns (image uint8 [size, size, 3], [(class id, [x, y, w, h] pixels)])."""
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
  image = synthetic._background(rng, size)  # pylint: disable=protected-access
  objects, visible = [], []
  for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
    placed = _place(rng, size, yy, xx, visible)
    if placed is None:
      continue
    cls, mask = placed
    family = synthetic._FAMILIES[synthetic._CLASS_FAMILIES[cls][int(rng.integers(0, 2))]]  # pylint: disable=protected-access
    colour = np.clip(family + rng.normal(0, 25, 3), 0, 255)
    kind, amplitude = synthetic._CLASS_TEXTURE[cls]  # pylint: disable=protected-access
    image[mask] = colour + synthetic._texture(kind, amplitude, rng, yy, xx)[mask][:, None]  # pylint: disable=protected-access
    visible = [v & ~mask for v in visible] + [mask]
    rows, cols = np.nonzero(mask)
    x0, y0 = float(cols.min()), float(rows.min())
    objects.append((cls, [x0, y0, float(cols.max()) + 1 - x0, float(rows.max()) + 1 - y0]))
  image += synthetic._noise(rng, image.shape, 4.)  # pylint: disable=protected-access
  return np.clip(image, 0, 255).astype(np.uint8), objects


def example_rng(seed, split, index):
  return np.random.default_rng([seed, SPLITS.index(split), index, 7])


def _encode_jpeg(image):
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format='JPEG', quality=JPEG_QUALITY)
  return buf.getvalue()


def generate(output_dir, seed=0, num_train=1000, num_val=200, size=256):
  """Writes the images and COCO JSON of both splits; returns {split: annotations path}."""
  paths = {}
  for split, count in (('train', num_train), ('val', num_val)):
    folder = images_dir(output_dir, split)
    os.makedirs(folder, exist_ok=True)
    coco = {'images': [], 'annotations': [],
            'categories': [{'id': i + 1, 'name': n, 'supercategory': 'shape'}
                           for i, n in enumerate(CLASS_NAMES)]}
    for index in range(count):
      image, objects = make_example(example_rng(seed, split, index), size)
      file_name = '%s_%06d.jpg' % (split, index)
      fileio.atomic_write_bytes(os.path.join(folder, file_name), _encode_jpeg(image))
      coco['images'].append({'id': index + 1, 'file_name': file_name, 'height': size,
                             'width': size})
      for cls, box in objects:
        coco['annotations'].append({
            'id': len(coco['annotations']) + 1, 'image_id': index + 1, 'category_id': cls,
            'bbox': box, 'area': box[2] * box[3], 'iscrowd': 0})
    paths[split] = annotations_path(output_dir, split)
    os.makedirs(os.path.dirname(paths[split]), exist_ok=True)
    fileio.atomic_write_text(paths[split], json.dumps(coco))
  return paths


@dataclasses.dataclass
class BuildOptions:
  """Flags of the generator."""
  output_dir: str = options.flag('/tmp/synthetic_detection', 'Where the COCO layout is written.')
  seed: int = options.flag(0, 'Dataset seed.')
  num_train: int = options.flag(1000, 'Training images.')
  num_val: int = options.flag(200, 'Validation images.')
  size: int = options.flag(256, 'Image side (pixels).')


def build(opts):
  if opts.size < 32 or opts.num_train < 0 or opts.num_val < 0:
    raise ValueError('--size must be >= 32 and the image counts >= 0, got size=%d, '
                     'num_train=%d, num_val=%d' % (opts.size, opts.num_train, opts.num_val))
  for split, path in generate(opts.output_dir, opts.seed, opts.num_train, opts.num_val,
                              opts.size).items():
    print('%s: %s' % (split, path))


def run():
  """Console-script entry point."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
