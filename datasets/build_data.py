"""TFRecord example schema for semantic segmentation (the original DeepLab `build_data`).

Each example holds one encoded image and its encoded label map:
  image/encoded, image/filename, image/format, image/height, image/width, image/channels (3),
  image/segmentation/class/encoded (PNG), image/segmentation/class/format ('png').

The helpers at the end (`example_from_files`, `write_sharded_tfrecords`) are shared by the
VOC, Cityscapes and ADE20K builders: the same validation, error messages and atomic shards.
"""
import glob
import io
import math
import os

import numpy as np
from PIL import Image

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
import tensorflow as tf

# Feature keys of the schema; readers and writers share these constants.
IMAGE_ENCODED = 'image/encoded'
IMAGE_FILENAME = 'image/filename'
IMAGE_FORMAT = 'image/format'
IMAGE_HEIGHT = 'image/height'
IMAGE_WIDTH = 'image/width'
IMAGE_CHANNELS = 'image/channels'
LABEL_ENCODED = 'image/segmentation/class/encoded'
LABEL_FORMAT = 'image/segmentation/class/format'

IMAGE_FORMATS = ('jpeg', 'jpg', 'png')
LABEL_FORMAT_PNG = 'png'


class DatasetBuildError(ValueError):
  """Raised when an input file of a dataset conversion is missing or malformed."""


class ImageReader(object):
  """Decodes encoded images (PNG/JPEG bytes) to find their size and contents."""

  def __init__(self, image_format='jpeg', channels=3):
    """Creates a reader.

    Args:
      image_format: 'jpeg', 'jpg' or 'png' (informational; PIL detects the format from the bytes).
      channels: 3 for RGB images, 1 for label maps.
    """
    if image_format not in IMAGE_FORMATS:
      raise ValueError('image_format must be one of %s, got %r' % (IMAGE_FORMATS, image_format))
    self._format = image_format
    self._channels = channels

  def decode_image(self, image_data, filename='<bytes>'):
    """Returns the decoded image as a uint8 array, [H, W, 3] or [H, W] for 1 channel."""
    try:
      image = Image.open(io.BytesIO(image_data))
      image.load()
    except Exception as e:  # PIL raises several types for corrupt data.
      raise DatasetBuildError('%s: cannot decode as %s image (%s)' % (filename, self._format, e))
    if self._channels == 3:
      return np.asarray(image.convert('RGB'))
    if image.mode == 'P':
      # Palette labels: the palette index is the class id.
      return np.asarray(image)
    return np.asarray(image.convert('L'))

  def read_image_dims(self, image_data, filename='<bytes>'):
    """Returns (height, width) of the encoded image."""
    image = self.decode_image(image_data, filename)
    return image.shape[0], image.shape[1]


def _int64_list_feature(values):
  if not isinstance(values, (list, tuple)):
    values = [values]
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def _bytes_list_feature(values):
  if isinstance(values, str):
    values = values.encode('utf-8')
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[values]))


def image_seg_to_tfexample(image_data, filename, height, width, seg_data, image_format='png'):
  """Builds a tf.train.Example for one image and its segmentation label.

  Args:
    image_data: encoded image bytes.
    filename: image name stored as image/filename.
    height: image height.
    width: image width.
    seg_data: PNG-encoded label bytes.
    image_format: 'jpeg'/'jpg'/'png', stored as image/format.

  Returns:
    A tf.train.Example.
  """
  return tf.train.Example(features=tf.train.Features(feature={
      IMAGE_ENCODED: _bytes_list_feature(image_data),
      IMAGE_FILENAME: _bytes_list_feature(filename),
      IMAGE_FORMAT: _bytes_list_feature(image_format),
      IMAGE_HEIGHT: _int64_list_feature(height),
      IMAGE_WIDTH: _int64_list_feature(width),
      IMAGE_CHANNELS: _int64_list_feature(3),
      LABEL_ENCODED: _bytes_list_feature(seg_data),
      LABEL_FORMAT: _bytes_list_feature(LABEL_FORMAT_PNG),
  }))


# Shard file name: <split>-<shard id>-of-<number of shards>.tfrecord (readers glob `<split>-*`).
SHARD_PATTERN = fileio.SHARD_PATTERN
def read_file_bytes(path):
  """Returns the bytes of `path`.

  Raises:
    DatasetBuildError: the file does not exist.
  """
  if not os.path.isfile(path):
    raise DatasetBuildError('%s: file not found' % path)
  with open(path, 'rb') as f:
    return f.read()


def check_label(label, label_path, height, width, num_classes, ignore_label):
  """Checks a decoded label map against its image size and the valid label values.

  Args:
    label: [H, W] uint8 array.
    label_path: file name used in the error message.
    height: image height.
    width: image width.
    num_classes: valid class ids are [0, num_classes); None skips the value check.
    ignore_label: extra allowed label value.

  Raises:
    DatasetBuildError: size mismatch or values outside the classes and the ignore label.
  """
  if label.shape[:2] != (height, width):
    raise DatasetBuildError(
        '%s: label size %dx%d does not match image size %dx%d'
        % (label_path, label.shape[0], label.shape[1], height, width))
  if num_classes is None:
    return
  values = np.unique(label)
  bad = values[(values >= num_classes) & (values != ignore_label)]
  if bad.size:
    raise DatasetBuildError(
        '%s: label values %s outside [0, %d) and != ignore label %d'
        % (label_path, bad.tolist()[:10], num_classes, ignore_label))


def example_from_files(image_path, label_path, filename, image_format, num_classes,
                       ignore_label):
  """Reads, validates and encodes one image/label pair as a tf.train.Example.

  The encoded bytes are stored unchanged (no re-encoding), as the original builders do.

  Args:
    image_path: path of the encoded image.
    label_path: path of the PNG label map (class ids).
    filename: value stored as image/filename.
    image_format: 'jpeg'/'jpg'/'png', stored as image/format.
    num_classes: valid class ids are [0, num_classes); None skips the value check.
    ignore_label: extra allowed label value.

  Returns:
    A tf.train.Example.

  Raises:
    DatasetBuildError: missing/corrupt file, size mismatch or bad label values.
  """
  stored_format = 'jpeg' if image_format in ('jpg', 'jpeg') else image_format
  image_data = read_file_bytes(image_path)
  height, width = ImageReader(stored_format, channels=3).read_image_dims(image_data, image_path)
  seg_data = read_file_bytes(label_path)
  label = ImageReader(LABEL_FORMAT_PNG, channels=1).decode_image(seg_data, label_path)
  check_label(label, label_path, height, width, num_classes, ignore_label)
  return image_seg_to_tfexample(image_data, filename, height, width, seg_data,
                                image_format=stored_format)


def write_sharded_tfrecords(output_dir, split, items, num_shards, make_example):
  """Writes `items` as `num_shards` TFRecord shards `<split>-%05d-of-%05d.tfrecord`.

  Every shard is written under a temporary name; only when the whole split succeeded are they
  renamed (and the split's shards of an earlier build with another shard count removed). A
  failure, e.g. a corrupt image found by `make_example`, leaves no shard of the split at all, so
  a reader can never train on part of it. Items are split into contiguous runs of
  ceil(len(items) / num_shards), as the original builders do (trailing shards may be empty).

  Args:
    output_dir: destination folder (created if missing).
    split: split name used in the shard names.
    items: sequence of items, one example each.
    num_shards: number of output shards.
    make_example: callable item -> tf.train.Example; its errors abort the build.

  Returns:
    List of the written shard paths.
  """
  os.makedirs(output_dir, exist_ok=True)
  per_shard = int(math.ceil(len(items) / float(num_shards)))
  paths = [os.path.join(output_dir, SHARD_PATTERN % (split, i, num_shards))
           for i in range(num_shards)]
  temps = [path + fileio.TMP_MARKER + str(os.getpid()) for path in paths]
  try:
    for shard_id, tmp in enumerate(temps):
      with tf.io.TFRecordWriter(tmp) as writer:
        for item in items[shard_id * per_shard:(shard_id + 1) * per_shard]:
          writer.write(make_example(item).SerializeToString())
  except BaseException:
    for tmp in temps:
      if os.path.exists(tmp):
        os.remove(tmp)
    raise
  for stale in glob.glob(os.path.join(output_dir, glob.escape(split) + '-*-of-*.tfrecord')):
    if stale not in paths:
      os.remove(stale)
  for tmp, path in zip(temps, paths):
    os.replace(tmp, path)
  return paths
