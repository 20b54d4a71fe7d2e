"""TFRecord example schema for semantic segmentation (the original DeepLab `build_data`).

Each example holds one encoded image and its encoded label map:
  image/encoded, image/filename, image/format, image/height, image/width, image/channels (3),
  image/segmentation/class/encoded (PNG), image/segmentation/class/format ('png').
"""
import io

import numpy as np
from PIL import Image

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
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
