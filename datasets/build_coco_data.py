"""Converts COCO detection annotations + images to TFRecords in the Object Detection API schema.

Input: a COCO `instances_*.json` (images, annotations with `bbox` [x, y, w, h] pixels,
categories) and the folder of its images. Output under --output_dir:

  <split_name>-%05d-of-%05d.tfrecord    shards written all-or-nothing (temp files + rename)
  labels.txt                            one "<category id>:<name>" line per category

Each example carries the OD API's keys (`create_coco_tf_record.py`): image/height, image/width,
image/filename, image/source_id, image/encoded, image/format, image/object/bbox/{xmin, xmax,
ymin, ymax} (normalized to [0, 1]), image/object/class/label (the COCO category id),
image/object/class/text, image/object/area, image/object/is_crowd. Class ids stay in the COCO
id space (1..90 for COCO, 1..5 for the synthetic set); the model's class count is the largest id.

A box outside its image (beyond a 1-pixel tolerance), an empty box, an unknown category id, an
annotation of an unknown image or an image whose file does not decode to the size the JSON says
is an error naming the annotation (`ERROR: ...`, exit 1) and nothing is written.

  python datasets/build_coco_data.py --annotations_file=DIR/annotations/instances_train.json \\
      --image_dir=DIR/images/train --split_name=train --output_dir=DIR/tfrecord
"""
import collections
import dataclasses
import json
import os
from typing import Optional

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from datasets import build_cli
from datasets import build_data
from slim import fileio
from slim.runtime import options

# OD API feature keys (readers share these constants).
HEIGHT = 'image/height'
WIDTH = 'image/width'
FILENAME = 'image/filename'
SOURCE_ID = 'image/source_id'
ENCODED = 'image/encoded'
FORMAT = 'image/format'
XMIN = 'image/object/bbox/xmin'
XMAX = 'image/object/bbox/xmax'
YMIN = 'image/object/bbox/ymin'
YMAX = 'image/object/bbox/ymax'
LABEL = 'image/object/class/label'
TEXT = 'image/object/class/text'
AREA = 'image/object/area'
IS_CROWD = 'image/object/is_crowd'

LABELS_FILENAME = 'labels.txt'
NUM_SHARDS = 4
# Boxes may overhang the image by this many pixels (COCO rounding); more is an error.
BOX_TOLERANCE = 1.0

Item = collections.namedtuple('Item', ['image', 'annotations'])


def _bytes(values):
  return tf.train.Feature(bytes_list=tf.train.BytesList(
      value=[v.encode() if isinstance(v, str) else v for v in values]))


def _int64(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _float(values):
  return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def check_annotation(ann, image, categories, where):
  """Returns the normalized (ymin, xmin, ymax, xmax) of a COCO annotation, clipped to [0, 1].

  Raises:
    build_data.DatasetBuildError: unknown category, malformed, empty or outside-image box.
  """
  name = '%s: annotation %s of image %s (%s)' % (where, ann.get('id'), image['id'],
                                                 image['file_name'])
  if ann.get('category_id') not in categories:
    raise build_data.DatasetBuildError('%s: unknown category id %r (categories: %s)' % (
        name, ann.get('category_id'), sorted(categories)))
  box = ann.get('bbox')
  if not isinstance(box, (list, tuple)) or len(box) != 4:
    raise build_data.DatasetBuildError('%s: bbox must be [x, y, width, height], got %r'
                                       % (name, box))
  x, y, w, h = [float(v) for v in box]
  height, width = float(image['height']), float(image['width'])
  if w <= 0 or h <= 0:
    raise build_data.DatasetBuildError('%s: empty bbox %r' % (name, box))
  if (x < -BOX_TOLERANCE or y < -BOX_TOLERANCE or x + w > width + BOX_TOLERANCE or
      y + h > height + BOX_TOLERANCE):
    raise build_data.DatasetBuildError('%s: bbox %r lies outside the %dx%d image' % (
        name, box, width, height))
  clip = lambda v: min(max(v, 0.0), 1.0)
  return clip(y / height), clip(x / width), clip((y + h) / height), clip((x + w) / width)


def load_items(annotations_file, image_dir):
  """Reads and checks a COCO JSON; returns (items sorted by image id, {category id: name}).

  Raises:
    build_data.DatasetBuildError: missing/invalid JSON or a bad annotation (named).
  """
  if not os.path.isfile(annotations_file):
    raise build_data.DatasetBuildError('--annotations_file=%s: file not found'
                                       % annotations_file)
  try:
    with open(annotations_file) as f:
      coco = json.load(f)
    categories = {int(c['id']): c['name'] for c in coco['categories']}
    images = {im['id']: im for im in coco['images']}
    annotations = coco.get('annotations', [])
  except (ValueError, KeyError, TypeError) as e:
    raise build_data.DatasetBuildError(
        '--annotations_file=%s: not a COCO detection JSON (images, annotations, categories: '
        '%s)' % (annotations_file, e)) from None
  if not os.path.isdir(image_dir):
    raise build_data.DatasetBuildError('--image_dir=%s: folder not found' % image_dir)
  per_image = collections.defaultdict(list)
  for ann in annotations:
    image = images.get(ann.get('image_id'))
    if image is None:
      raise build_data.DatasetBuildError('%s: annotation %s refers to unknown image id %r' % (
          annotations_file, ann.get('id'), ann.get('image_id')))
    per_image[image['id']].append(
        (check_annotation(ann, image, categories, annotations_file), ann))
  items = [Item(images[i], per_image[i]) for i in sorted(images)]
  return items, categories


def make_example(item, image_dir, categories, reader=None):
  """Returns the tf.train.Example of one `Item` (its image file read and size-checked)."""
  reader = reader or build_data.ImageReader('jpeg', channels=3)
  image = item.image
  path = os.path.join(image_dir, image['file_name'])
  data = build_data.read_file_bytes(path)
  height, width = reader.read_image_dims(data, path)
  if (height, width) != (int(image['height']), int(image['width'])):
    raise build_data.DatasetBuildError('%s: image is %dx%d, the annotations say %dx%d' % (
        path, width, height, image['width'], image['height']))
  boxes = [b for b, _ in item.annotations]
  anns = [a for _, a in item.annotations]
  image_format = 'png' if image['file_name'].lower().endswith('.png') else 'jpeg'
  return tf.train.Example(features=tf.train.Features(feature={
      HEIGHT: _int64([height]), WIDTH: _int64([width]),
      FILENAME: _bytes([image['file_name']]), SOURCE_ID: _bytes([str(image['id'])]),
      ENCODED: _bytes([data]), FORMAT: _bytes([image_format]),
      YMIN: _float([b[0] for b in boxes]), XMIN: _float([b[1] for b in boxes]),
      YMAX: _float([b[2] for b in boxes]), XMAX: _float([b[3] for b in boxes]),
      LABEL: _int64([a['category_id'] for a in anns]),
      TEXT: _bytes([categories[a['category_id']] for a in anns]),
      AREA: _float([a.get('area', a['bbox'][2] * a['bbox'][3]) for a in anns]),
      IS_CROWD: _int64([a.get('iscrowd', 0) for a in anns]),
  }))


def read_labels(dataset_dir):
  """Returns {category id: name} from `dataset_dir`/labels.txt.

  Raises:
    ValueError: the file is missing (names the folder).
  """
  path = os.path.join(dataset_dir, LABELS_FILENAME)
  if not os.path.isfile(path):
    raise ValueError('%s not found (build the dataset with datasets/build_coco_data.py)' % path)
  with open(path) as f:
    pairs = [line.strip().split(':', 1) for line in f if line.strip()]
  return {int(i): name for i, name in pairs}


@dataclasses.dataclass
class BuildOptions:
  """Flags of the COCO converter."""
  annotations_file: Optional[str] = options.flag(None, 'COCO instances JSON.', kind='string',
                                                 required=True)
  image_dir: Optional[str] = options.flag(None, 'Folder of the JSON\'s images.', kind='string',
                                          required=True)
  output_dir: str = options.flag('./tfrecord', 'Where the TFRecords and labels.txt go.')
  split_name: str = options.flag('train', 'Split name of the shards.')
  num_shards: int = options.flag(NUM_SHARDS, 'Number of shards.')


def build(opts):
  """Converts one split; returns the shard paths."""
  if opts.num_shards < 1:
    raise ValueError('--num_shards must be >= 1, got %d' % opts.num_shards)
  items, categories = load_items(opts.annotations_file, opts.image_dir)
  reader = build_data.ImageReader('jpeg', channels=3)
  paths = build_data.write_sharded_tfrecords(
      opts.output_dir, opts.split_name, items, opts.num_shards,
      lambda item: make_example(item, opts.image_dir, categories, reader))
  fileio.atomic_write_text(os.path.join(opts.output_dir, LABELS_FILENAME),
                           ''.join('%d:%s\n' % kv for kv in sorted(categories.items())))
  print('%s: %d images, %d boxes -> %s' % (opts.split_name, len(items),
                                          sum(len(i.annotations) for i in items),
                                          opts.output_dir))
  return paths


def run():
  """Console-script entry point."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
