"""VGG/ResNet-v1 preprocessing: float pixels (0..255) minus the ImageNet mean RGB.

The model input range is about [-124, 152]; a uint8 TFLite model takes q with
real = (q - INPUT_MEAN) / INPUT_STD, one mean for the three channels (the converter takes a single
mean per input), which is exact up to the per-channel mean differences of < 11 levels.
"""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim.preprocessing import crop_utils

# Slim's vgg_preprocessing channel means (R, G, B).
MEAN_RGB = (123.68, 116.78, 103.94)
# Single mean/std for the TFLite converter's uint8 input (the mean of MEAN_RGB, unit scale).
INPUT_MEAN = 114.8
INPUT_STD = 1.0


def preprocess_image(image, height, width, is_training=False, central_fraction=None):
  """Returns a [height, width, 3] float image with the mean RGB subtracted.

  Args:
    image: [H, W, 3] uint8 (0..255) or float (0..255) tensor.
    height, width: output size.
    is_training: random crop + horizontal flip instead of the (central) resize.
    central_fraction: optional eval central crop fraction; None resizes the whole image.
  """
  image = tf.cast(image, tf.float32)
  if is_training:
    image = crop_utils.random_crop_and_flip(image, height, width)
  else:
    image = crop_utils.central_crop_and_resize(image, height, width, central_fraction)
  return image - tf.constant(MEAN_RGB, tf.float32)
