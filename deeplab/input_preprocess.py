"""Prepares one image/label pair for DeepLab training or evaluation (original semantics).

Order: cast -> optional resize_to_range -> (train) random scale -> pad to crop size with the
model's mean pixel (label with ignore_label) -> (train) random crop -> (train) random flip.
Images stay in the 0..255 range; the model graph normalizes them.
"""
import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim.nets import registry
import tensorflow as tf

from deeplab.core import preprocess_utils

# Probability of a left-right flip during training.
_PROB_OF_FLIP = 0.5


def preprocess_image_and_label(image, label, crop_height, crop_width, min_resize_value=None,
                               max_resize_value=None, resize_factor=None, min_scale_factor=1.,
                               max_scale_factor=1., scale_factor_step_size=0, ignore_label=255,
                               is_training=True, model_variant=None):
  """Preprocesses an image and its label.

  Args:
    image: [H, W, 3] image tensor (0..255).
    label: [H, W, 1] label tensor, or None (test split).
    crop_height: output height (training crops; evaluation pads up to it).
    crop_width: output width.
    min_resize_value: optional short-side target of resize_to_range.
    max_resize_value: optional long-side bound of resize_to_range.
    resize_factor: optional; resized sides become k * factor + 1.
    min_scale_factor: smallest random scale (training).
    max_scale_factor: largest random scale (training).
    scale_factor_step_size: step between random scales; 0 samples uniformly.
    ignore_label: value for padded label pixels.
    is_training: enables random scale, crop and flip.
    model_variant: selects the image padding value (registry.mean_pixel).

  Returns:
    (original_image, processed_image, label): the (resized) input image, the float32
    preprocessed image and the int32 label (None if `label` is None).

  Raises:
    ValueError: if training without a label.
  """
  if is_training and label is None:
    raise ValueError('During training, label must be provided.')
  original_image = image
  processed_image = tf.cast(image, tf.float32)
  if label is not None:
    label = tf.cast(label, tf.int32)

  if min_resize_value or max_resize_value:
    resized = preprocess_utils.resize_to_range(
        image=processed_image, label=label, min_size=min_resize_value,
        max_size=max_resize_value, factor=resize_factor, align_corners=True)
    if label is not None:
      processed_image, label = resized
    else:
      processed_image = resized[0]
    original_image = tf.identity(processed_image)

  scale = preprocess_utils.get_random_scale(min_scale_factor, max_scale_factor,
                                            scale_factor_step_size)
  if is_training:
    processed_image, label = preprocess_utils.randomly_scale_image_and_label(
        processed_image, label, scale)
    processed_image.set_shape([None, None, 3])

  image_shape = tf.shape(processed_image)
  image_height, image_width = image_shape[0], image_shape[1]
  target_height = image_height + tf.maximum(crop_height - image_height, 0)
  target_width = image_width + tf.maximum(crop_width - image_width, 0)

  mean_pixel = tf.reshape(registry.mean_pixel(model_variant), [1, 1, 3])
  processed_image = preprocess_utils.pad_to_bounding_box(
      processed_image, 0, 0, target_height, target_width, mean_pixel)
  if label is not None:
    label = preprocess_utils.pad_to_bounding_box(
        label, 0, 0, target_height, target_width, ignore_label)

  if is_training and label is not None:
    processed_image, label = preprocess_utils.random_crop(
        [processed_image, label], crop_height, crop_width)

  processed_image.set_shape([crop_height, crop_width, 3])
  if label is not None:
    label.set_shape([crop_height, crop_width, 1])

  if is_training:
    processed_image, label, _ = preprocess_utils.flip_dim(
        [processed_image, label], _PROB_OF_FLIP, dim=1)

  return original_image, processed_image, label
