"""Inception/MobileNet preprocessing: pixels scaled to [-1, 1] (2 * x / 255 - 1).

The model input range is therefore [-1, 1]: a uint8 TFLite model takes q with
real = (q - 127.5) / 127.5 (mean_values = std_dev_values = 127.5).
"""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

from slim.preprocessing import crop_utils

# real = (pixel - INPUT_MEAN) / INPUT_STD; the TFLite converter's mean/std for uint8 inputs.
INPUT_MEAN = 127.5
INPUT_STD = 127.5


def preprocess_image(image, height, width, is_training=False,
                     central_fraction=crop_utils.EVAL_CENTRAL_FRACTION):
  """Returns a [height, width, 3] float image in [-1, 1].

  Args:
    image: [H, W, 3] uint8 (0..255) or float (0..255) tensor.
    height, width: output size.
    is_training: random crop + horizontal flip instead of the central crop.
    central_fraction: eval central crop fraction (None or 1.0 keeps the whole image).
  """
  image = tf.cast(image, tf.float32)
  if is_training:
    image = crop_utils.random_crop_and_flip(image, height, width)
  else:
    image = crop_utils.central_crop_and_resize(image, height, width, central_fraction)
  image = (image - INPUT_MEAN) / INPUT_STD
  return tf.clip_by_value(image, -1.0, 1.0)
