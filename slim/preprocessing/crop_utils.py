"""Shared crop/flip/resize helpers of the preprocessing modules (light augmentation only)."""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf

# Side length of the random training crop, as a fraction of the shorter image side.
MIN_CROP_FRACTION = 0.8
# Eval keeps the central 87.5% of the image, as slim's inception preprocessing does.
EVAL_CENTRAL_FRACTION = 0.875


def random_crop_and_flip(image, height, width, min_fraction=MIN_CROP_FRACTION):
  """Random square crop (side in [min_fraction, 1] of the shorter side), resize, random flip.

  Args:
    image: [H, W, 3] float tensor.
    height, width: output size.
    min_fraction: smallest crop side as a fraction of the shorter image side.

  Returns:
    A [height, width, 3] float tensor.
  """
  shape = tf.shape(image)
  short = tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
  side = tf.cast(short * tf.random.uniform([], min_fraction, 1.0), tf.int32)
  image = tf.image.random_crop(image, tf.stack([side, side, 3]))
  image = tf.image.resize(image, [height, width], method='bilinear')
  return tf.image.random_flip_left_right(image)


def central_crop_and_resize(image, height, width, central_fraction=EVAL_CENTRAL_FRACTION):
  """Central crop (skipped when central_fraction is None or 1) then bilinear resize."""
  if central_fraction and central_fraction < 1.0:
    image = tf.image.central_crop(image, central_fraction)
  image = tf.image.resize(image, [height, width], method='bilinear')
  image.set_shape([height, width, 3])
  return image
