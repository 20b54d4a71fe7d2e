"""Converts an ImageNet-style image folder to slim classification TFRecords.

Input layout (one sub-folder per class; the sorted folder names define the label ids 0..N-1):

  <image_dir>/<class_name>/*.{jpg,jpeg,png}

Output under --output_dir:
  <split_name>-%05d-of-%05d.tfrecord   shards written atomically (temp file + rename)
  labels.txt                           one "<id>:<class_name>" line per class (slim's format)

Each example follows the slim classification schema: image/encoded, image/format,
image/class/label (int64), image/height, image/width, image/channels, image/filename.
The encoded bytes are stored unchanged.

Usage (or `python -m datasets.build_classification_data ...`, or the console script):
  python datasets/build_classification_data.py --image_dir=DIR/train --split_name=train \
      --output_dir=DIR/tfrecord [--num_shards=4 --shuffle_seed=0]
"""
import dataclasses
import os

import numpy as np

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
from slim.runtime import options
import tensorflow as tf

from datasets import build_cli
from datasets import build_data

# Feature keys of the slim classification schema (readers share these constants).
IMAGE_ENCODED = build_data.IMAGE_ENCODED
IMAGE_FORMAT = build_data.IMAGE_FORMAT
IMAGE_HEIGHT = build_data.IMAGE_HEIGHT
IMAGE_WIDTH = build_data.IMAGE_WIDTH
IMAGE_CHANNELS = build_data.IMAGE_CHANNELS
IMAGE_FILENAME = build_data.IMAGE_FILENAME
CLASS_LABEL = 'image/class/label'

LABELS_FILENAME = 'labels.txt'
NUM_SHARDS = 4
# File extension -> stored image/format.
_EXTENSIONS = {'.jpg': 'jpeg', '.jpeg': 'jpeg', '.png': 'png'}


def image_class_to_tfexample(image_data, image_format, height, width, class_id, filename=''):
  """Returns a tf.train.Example in the slim classification schema."""
  def _bytes(value):
    value = value.encode() if isinstance(value, str) else value
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  def _int64(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_ENCODED: _bytes(image_data),
      IMAGE_FORMAT: _bytes(image_format),
      CLASS_LABEL: _int64(class_id),
      IMAGE_HEIGHT: _int64(height),
      IMAGE_WIDTH: _int64(width),
      IMAGE_CHANNELS: _int64(3),
      IMAGE_FILENAME: _bytes(filename),
  }))


def list_image_folder(image_dir):
  """Returns (class_names, [(path, class_id)]) for an ImageNet-style folder.

  Args:
    image_dir: folder with one sub-folder of images per class.

  Returns:
    Sorted class names and the (path, class id) of every image, sorted by path.

  Raises:
    build_data.DatasetBuildError: missing folder, no class sub-folder, or no image at all.
  """
  if not os.path.isdir(image_dir):
    raise build_data.DatasetBuildError('--image_dir=%s: folder not found' % image_dir)
  class_names = sorted(d for d in os.listdir(image_dir)
                       if os.path.isdir(os.path.join(image_dir, d)))
  if not class_names:
    raise build_data.DatasetBuildError(
        '--image_dir=%s: expected one sub-folder per class (<class_name>/*.jpg), found none'
        % image_dir)
  items = []
  for class_id, name in enumerate(class_names):
    folder = os.path.join(image_dir, name)
    for filename in sorted(os.listdir(folder)):
      if os.path.splitext(filename)[1].lower() in _EXTENSIONS:
        items.append((os.path.join(folder, filename), class_id))
  if not items:
    raise build_data.DatasetBuildError(
        '--image_dir=%s: no .jpg/.jpeg/.png image in its %d class folders'
        % (image_dir, len(class_names)))
  return class_names, items


def example_from_file(path, class_id):
  """Reads and validates one image file; returns its tf.train.Example."""
  image_format = _EXTENSIONS[os.path.splitext(path)[1].lower()]
  image_data = build_data.read_file_bytes(path)
  height, width = build_data.ImageReader(image_format, channels=3).read_image_dims(
      image_data, path)
  return image_class_to_tfexample(image_data, image_format, height, width, class_id,
                                  filename=os.path.basename(path))


def write_label_file(class_names, output_dir):
  """Writes labels.txt ("<id>:<name>" per line) atomically; returns its path."""
  path = os.path.join(output_dir, LABELS_FILENAME)
  fileio.atomic_write_text(path, ''.join('%d:%s\n' % (i, n) for i, n in enumerate(class_names)))
  return path


def read_label_file(dataset_dir):
  """Returns {id: class_name} from `dataset_dir`/labels.txt.

  Raises:
    ValueError: the file is missing or a line is not "<id>:<name>".
  """
  path = os.path.join(dataset_dir, LABELS_FILENAME)
  if not os.path.isfile(path):
    raise ValueError('%s not found: --dataset_dir must hold the output of '
                     'build_classification_data.py' % path)
  labels = {}
  with open(path) as f:
    for lineno, line in enumerate(f, 1):
      line = line.strip()
      if not line:
        continue
      key, sep, name = line.partition(':')
      if not sep or not key.isdigit():
        raise ValueError('%s:%d: expected "<id>:<class_name>", got %r' % (path, lineno, line))
      labels[int(key)] = name
  return labels


def convert_folder(image_dir, output_dir, split_name, num_shards=NUM_SHARDS, shuffle_seed=0):
  """Converts `image_dir` to `<split_name>-*` shards and labels.txt in `output_dir`.

  Images are shuffled with a fixed seed (so shards mix classes) before sharding.

  Args:
    image_dir: ImageNet-style folder (<class_name>/*.jpg).
    output_dir: destination folder.
    split_name: split name used in the shard names (e.g. 'train', 'validation').
    num_shards: number of shards.
    shuffle_seed: seed of the image order; None keeps the sorted order.

  Returns:
    (class_names, number of examples written).

  Raises:
    build_data.DatasetBuildError: bad folder layout or unreadable image.
    ValueError: num_shards < 1.
  """
  if num_shards < 1:
    raise ValueError('--num_shards must be >= 1, got %d' % num_shards)
  class_names, items = list_image_folder(image_dir)
  if shuffle_seed is not None:
    order = np.random.default_rng(shuffle_seed).permutation(len(items))
    items = [items[i] for i in order]
  build_data.write_sharded_tfrecords(output_dir, split_name, items, num_shards,
                                     lambda item: example_from_file(*item))
  write_label_file(class_names, output_dir)
  return class_names, len(items)


@dataclasses.dataclass
class BuildOptions:
  """Flags of the script."""
  image_dir: str = options.flag(None, 'ImageNet-style folder: <class_name>/*.jpg.', kind='string',
                                required=True)
  output_dir: str = options.flag(None, 'Where the shards and labels.txt are written.',
                                 kind='string', required=True)
  split_name: str = options.flag('train', 'Split name used in the shard file names.')
  num_shards: int = options.flag(NUM_SHARDS, 'Number of shards.')
  shuffle_seed: int = options.flag(0, 'Seed of the example order.')


def build(opts):
  """Converts `opts.image_dir` and prints what was written.

  Args:
    opts: a BuildOptions.

  Returns:
    (class_names, number of examples written).

  Raises:
    build_data.DatasetBuildError: bad folder layout or unreadable image.
    ValueError: num_shards < 1.
  """
  class_names, count = convert_folder(opts.image_dir, opts.output_dir, opts.split_name,
                                      opts.num_shards, opts.shuffle_seed)
  print('Wrote %d examples of %d classes to %s' % (count, len(class_names), opts.output_dir))
  return class_names, count


def run():
  """Console-script entry point: parses the flags and runs build (errors exit with 'ERROR:')."""
  build_cli.run(BuildOptions, build)


if __name__ == '__main__':
  run()
