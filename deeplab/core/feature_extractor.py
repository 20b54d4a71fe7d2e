"""DeepLab's backbone entry point (`extract_features`), built on the slim.nets registry records.

The original kept five parallel per-model dicts here; every per-variant fact (scope, decoder end
points, mean pixel, preprocessing, BN defaults, depth multiplier) now lives in one
`slim.nets.registry` record, and this module walks the record the same way for every family:

  images -> record.preprocess_fn ('mul', 'sub' at the root name scope)
         -> '<scope>/<scope>/input' (identity: where the quantized export's input starts)
         -> record.build_fn inside record.arg_scope_fn, under variable scope '<scope>'

The original public names (`mean_pixel`, `extract_features`) keep their signatures; the
registry's `get`/`names` list the valid `model_variant`s.
"""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import registry

# Channel rounding and floor of the MobileNet layers at depth multiplier 1 (DeepLab's rule:
# other multipliers round to 1 channel, which is what the model zoo's dm 0.5 MAdds assume).
_UNIT_MULTIPLIER_DIVISIBLE_BY = 8
_UNIT_MULTIPLIER_MIN_DEPTH = 8


def mean_pixel(model_variant=None):
  """Gets the mean pixel value used to pad images for `model_variant`.

  Args:
    model_variant: Model variant (string) for feature extraction; None gets the ImageNet mean.

  Returns:
    Mean pixel value (list of floats): the registry record's `mean_pixel`.

  Raises:
    ValueError: Unrecognized model variant (the message lists the registered ones).
  """
  return registry.mean_pixel(model_variant)


def decoder_end_points(model_variant):
  """Returns the record's decoder end points {output_stride: end point name}.

  Args:
    model_variant: Model variant (string).

  Returns:
    A dict from int output stride (4, 8, 16) to end point name (without the scope prefix).
  """
  return registry.get(model_variant).decoder_endpoints


def name_scope(model_variant):
  """Returns the backbone's variable scope (e.g. 'MobilenetV2') for `model_variant`."""
  return registry.get(model_variant).scope


def _channel_rounding(depth_multiplier, divisible_by):
  """(divisible_by, min_depth) for the effective multiplier, as DeepLab's MobileNet builders."""
  unit = depth_multiplier == 1.0
  if divisible_by is None:
    divisible_by = _UNIT_MULTIPLIER_DIVISIBLE_BY if unit else 1
  return divisible_by, _UNIT_MULTIPLIER_MIN_DEPTH if unit else 1


def extract_features(images, output_stride=8, multi_grid=None, depth_multiplier=None,
                     divisible_by=None, final_endpoint=None, model_variant=None,
                     weight_decay=0.0001, reuse=None, is_training=False,
                     fine_tune_batch_norm=False, regularize_depthwise=False,
                     preprocess_images=True, preprocessed_images_dtype=tf.float32,
                     num_classes=None, global_pool=False, nas_architecture_options=None,
                     nas_training_hyper_parameters=None, use_bounded_activation=False,
                     bn_decay=None, use_explicit_padding=False):
  """Extracts features by the particular model_variant (the original signature).

  Args:
    images: A tensor of size [batch, height, width, channels] ([0, 255] pixels when
      preprocess_images).
    output_stride: The ratio of input to output spatial resolution.
    multi_grid: Employ a hierarchy of different atrous rates within network (unit rates of the
      last block of ResNet and Xception; ignored by the MobileNets).
    depth_multiplier: Float multiplier for the depth (number of channels) of the MobileNet
      convolutions; None is the record's (1.0 for every original variant, 1.4 for
      'mobilenet_v2_140').
    divisible_by: An integer that ensures the layer # channels are divisible by this value;
      None is 8 if the effective multiplier is 1.0, else 1 (the minimum depth follows the same
      rule).
    final_endpoint: The end point to construct the network up to; None is the record's
      `deeplab_final_endpoint`.
    model_variant: Model variant for feature extraction (a registry name).
    weight_decay: The weight decay for model variables.
    reuse: Reuse the model variables or not.
    is_training: Is training or not.
    fine_tune_batch_norm: Fine-tune the batch norm parameters or not; the backbone's batch norm
      trains only if both this and is_training are set.
    regularize_depthwise: Whether or not apply L2-norm regularization on the depthwise
      convolution weights (Xception: one fused, regularized separable conv op per separable
      conv; the other families ignore it: MobileNet depthwise weights are never regularized).
    preprocess_images: Performs the record's preprocessing on images or not.
    preprocessed_images_dtype: The type after the preprocessing function.
    num_classes: Unused (classification head of NAS variants is not supported).
    global_pool: Unused.
    nas_architecture_options: Unused.
    nas_training_hyper_parameters: Unused.
    use_bounded_activation: Unused by the registered backbones.
    bn_decay: Backbone batch-norm decay; None keeps the record's default (0.997 for MobileNet).
    use_explicit_padding: Use explicit padding in the MobileNet convolutions.

  Returns:
    features: A tensor of size [batch, feature_height, feature_width, feature_channels].
    end_points: A dictionary from components of the network to the corresponding activation,
      each under its bare name (e.g. 'layer_4/depthwise_output') and under '<scope>/<name>'.

  Raises:
    ValueError: Unrecognized model variant (the message lists the registered ones).
  """
  del num_classes, global_pool, nas_architecture_options, nas_training_hyper_parameters
  del use_bounded_activation
  record = registry.get(model_variant)
  if depth_multiplier is None:
    depth_multiplier = record.depth_multiplier
  divisible_by, min_depth = _channel_rounding(depth_multiplier, divisible_by)
  if bn_decay is None:
    bn_decay = record.default_bn_decay
  if preprocess_images:
    # At the root name scope, before the backbone scope (ops 'mul' and 'sub').
    images = record.preprocess_fn(images, preprocessed_images_dtype)
  bn_training = is_training and fine_tune_batch_norm
  arg_scope = record.arg_scope_fn(is_training=bn_training, weight_decay=weight_decay,
                                  bn_decay=bn_decay, regularize_depthwise=regularize_depthwise)
  with tf_slim.arg_scope(arg_scope):
    with tf.compat.v1.variable_scope(record.scope, reuse=reuse) as scope:
      # Re-entering the scope object nests the name scope once more, which is what names the
      # input identity '<scope>/<scope>/input' in the original graphs.
      with tf.compat.v1.variable_scope(scope):
        net = tf.identity(images, registry.INPUT_NAME)
      features, end_points = record.build_fn(
          net, scope=scope, depth_multiplier=depth_multiplier, divisible_by=divisible_by,
          min_depth=min_depth, final_endpoint=final_endpoint or record.deeplab_final_endpoint,
          output_stride=output_stride, use_explicit_padding=use_explicit_padding,
          is_training=bn_training, multi_grid=multi_grid,
          regularize_depthwise=regularize_depthwise)
  # Also key every end point with the scope prefix ('MobilenetV2/layer_4/depthwise_output'), the
  # convention of the other families, so callers can look up '<scope>/<name>' for any variant.
  end_points = dict(end_points)
  for key in list(end_points):
    end_points['%s/%s' % (record.scope, key)] = end_points[key]
  return features, end_points
