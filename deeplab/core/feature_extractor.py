"""DeepLab's backbone entry point: a thin layer over the slim.nets registry.

The original kept five parallel per-model dicts here; the per-variant facts (scope, decoder end
points, mean pixel, preprocessing, BN defaults) now live in one `slim.nets.registry` record.
This module keeps the original public names for users who import them.
"""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf


def _registry():
  # Imported lazily: the registry pulls in every backbone family.
  from slim.nets import registry  # pylint: disable=g-import-not-at-top
  return registry


def mean_pixel(model_variant=None):
  """Gets the mean pixel value used to pad images for `model_variant`.

  Args:
    model_variant: Model variant (string) for feature extraction.

  Returns:
    Mean pixel value (list of floats).
  """
  return _registry().mean_pixel(model_variant)


def decoder_end_points(model_variant):
  """Returns the record's decoder end points {output_stride: end point name}.

  Args:
    model_variant: Model variant (string).

  Returns:
    A dict from int output stride (4, 8, 16) to end point name (without the scope prefix).
  """
  return _registry().get(model_variant).decoder_endpoints


def name_scope(model_variant):
  """Returns the backbone's variable scope (e.g. 'MobilenetV2') for `model_variant`."""
  return _registry().get(model_variant).scope


def extract_features(images, output_stride=8, multi_grid=None, depth_multiplier=1.0,
                     divisible_by=None, final_endpoint=None, model_variant=None,
                     weight_decay=0.0001, reuse=None, is_training=False,
                     fine_tune_batch_norm=False, regularize_depthwise=False,
                     preprocess_images=True, preprocessed_images_dtype=tf.float32,
                     num_classes=None, global_pool=False, nas_architecture_options=None,
                     nas_training_hyper_parameters=None, use_bounded_activation=False,
                     bn_decay=None, use_explicit_padding=False):
  """Extracts features by the particular model_variant (original signature).

  Args:
    images: A tensor of size [batch, height, width, channels].
    output_stride: The ratio of input to output spatial resolution.
    multi_grid: Employ a hierarchy of different atrous rates within network.
    depth_multiplier: Float multiplier for the depth (number of channels) for all convolution ops
      used in MobileNet.
    divisible_by: An integer that ensures the layer # channels are divisible by this value.
    final_endpoint: The MobileNet endpoint to construct the network up to.
    model_variant: Model variant for feature extraction.
    weight_decay: The weight decay for model variables.
    reuse: Reuse the model variables or not.
    is_training: Is training or not.
    fine_tune_batch_norm: Fine-tune the batch norm parameters or not.
    regularize_depthwise: Whether or not apply L2-norm regularization on the depthwise
      convolution weights.
    preprocess_images: Performs preprocessing on images or not.
    preprocessed_images_dtype: The type after the preprocessing function.
    num_classes: Unused (classification head of NAS variants is not supported).
    global_pool: Unused.
    nas_architecture_options: Unused.
    nas_training_hyper_parameters: Unused.
    use_bounded_activation: Unused by the registered backbones.
    bn_decay: Backbone batch-norm decay; None keeps the family default (0.997 for MobileNet).
    use_explicit_padding: Use explicit padding in the backbone convolutions.

  Returns:
    features: A tensor of size [batch, feature_height, feature_width, feature_channels].
    end_points: A dictionary from components of the network to the corresponding activation.

  Raises:
    ValueError: Unrecognized model variant (the message lists the registered ones).
  """
  del num_classes, global_pool, nas_architecture_options, nas_training_hyper_parameters
  del use_bounded_activation
  return _registry().extract_features(
      images, output_stride=output_stride, multi_grid=multi_grid,
      depth_multiplier=depth_multiplier, divisible_by=divisible_by,
      final_endpoint=final_endpoint, model_variant=model_variant, weight_decay=weight_decay,
      reuse=reuse, is_training=is_training, fine_tune_batch_norm=fine_tune_batch_norm,
      bn_decay=bn_decay, regularize_depthwise=regularize_depthwise,
      preprocess_images=preprocess_images, preprocessed_images_dtype=preprocessed_images_dtype,
      use_explicit_padding=use_explicit_padding)
