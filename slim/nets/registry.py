"""One record per backbone variant, and DeepLab's `extract_features` on top of it.

Every per-variant fact DeepLab needs (variable scope, decoder end points, preprocessing, mean pixel,
BN defaults, quantization input node) lives in a single frozen `Backbone` record, so adding a
variant means adding one entry to `_REGISTRY`.
"""

import dataclasses
import types
from typing import Callable, Mapping, Sequence

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import mobilenet_v2

# ImageNet mean RGB, subtracted by the (non-beta) ResNet preprocessing.
MEAN_RGB = (123.15, 115.90, 103.06)
# Mean pixel for backbones whose inputs are scaled to [-1, 1].
UNIT_RANGE_MEAN = (127.5, 127.5, 127.5)
# Variants (and None) for which DeepLab pads with the ImageNet mean (kept as in the original).
_IMAGENET_MEAN_VARIANTS = (None, 'resnet_v1_50', 'resnet_v1_101')
# Op names of the [-1, 1] preprocessing, built at the root name scope before the backbone.
PREPROCESS_MUL_NAME = 'mul'
PREPROCESS_SUB_NAME = 'sub'
# Name of the identity op at the backbone input, inside the re-entered backbone scope.
INPUT_NAME = 'input'


def _scale_to_unit_range(images, dtype):
  """Maps [0, 255] pixels to [-1, 1]: (2/255) * x - 1 (padding value 127.5 becomes exactly 0)."""
  scaled = tf.multiply(2.0 / 255.0, tf.cast(images, tf.float32), name=PREPROCESS_MUL_NAME)
  return tf.cast(tf.subtract(scaled, 1.0, name=PREPROCESS_SUB_NAME), dtype)


@dataclasses.dataclass(frozen=True)
class Backbone:
  """Facts about one backbone variant.

  Attributes:
    name: Registry key (DeepLab's model_variant).
    scope: Variable scope of the backbone (e.g. 'MobilenetV2').
    decoder_endpoints: {output_stride: end point name} used by DeepLab's decoder.
    deeplab_final_endpoint: Last end point built for DeepLab.
    quant_input_node: Name of the backbone input identity op (where input quantization starts).
    mean_pixel: Padding value per RGB channel.
    default_image_size: Classification input size.
    default_bn_decay: Batch-norm decay of the family's arg scope.
    arg_scope_fn: `f(is_training, weight_decay, bn_decay) -> arg scope`.
    build_fn: `f(images, scope, depth_multiplier, divisible_by, min_depth, final_endpoint,
      output_stride, use_explicit_padding, is_training) -> (net, end_points)`.
    preprocess_fn: `f(images, dtype) -> images`.
  """
  name: str
  scope: str
  decoder_endpoints: Mapping[int, str]
  deeplab_final_endpoint: str
  quant_input_node: str
  mean_pixel: Sequence[float]
  default_image_size: int
  default_bn_decay: float
  arg_scope_fn: Callable = dataclasses.field(repr=False, compare=False)
  build_fn: Callable = dataclasses.field(repr=False, compare=False)
  preprocess_fn: Callable = dataclasses.field(repr=False, compare=False)


def _mobilenet_v2_arg_scope(is_training, weight_decay, bn_decay):
  return mobilenet_v2.training_scope(is_training=is_training, weight_decay=weight_decay,
                                     bn_decay=bn_decay)


def _build_mobilenet_v2(images, scope, **kwargs):
  return mobilenet_v2.mobilenet_base(images, scope=scope, **kwargs)


_MOBILENET_V2 = Backbone(
    name='mobilenet_v2',
    scope=mobilenet_v2.SCOPE,
    decoder_endpoints=types.MappingProxyType({
        4: 'layer_4/depthwise_output',
        8: 'layer_7/depthwise_output',
        16: 'layer_14/depthwise_output',
    }),
    deeplab_final_endpoint='layer_18',
    quant_input_node='MobilenetV2/MobilenetV2/input',
    mean_pixel=UNIT_RANGE_MEAN,
    default_image_size=224,
    default_bn_decay=0.997,
    arg_scope_fn=_mobilenet_v2_arg_scope,
    build_fn=_build_mobilenet_v2,
    preprocess_fn=_scale_to_unit_range,
)

_REGISTRY = types.MappingProxyType({b.name: b for b in (_MOBILENET_V2,)})


def names():
  """Returns the sorted list of registered variant names."""
  return sorted(_REGISTRY)


def get(name):
  """Returns the `Backbone` record for `name`.

  Args:
    name: Variant name, e.g. 'mobilenet_v2'.

  Returns:
    The frozen `Backbone` record.

  Raises:
    ValueError: if `name` is not registered (the message lists the valid names).
  """
  if name not in _REGISTRY:
    raise ValueError('Unknown model variant %r; valid names: %s' % (name, ', '.join(names())))
  return _REGISTRY[name]


def mean_pixel(model_variant=None):
  """Returns DeepLab's padding value for `model_variant`.

  As in the original, only None, resnet_v1_50 and resnet_v1_101 get the ImageNet mean; every other
  variant gets 127.5 (which its [-1, 1] preprocessing maps to 0).

  Args:
    model_variant: Variant name or None.

  Returns:
    A list of 3 floats.
  """
  if model_variant in _IMAGENET_MEAN_VARIANTS:
    return list(MEAN_RGB)
  return list(UNIT_RANGE_MEAN)


def extract_features(images, output_stride=8, multi_grid=None, depth_multiplier=1.0,
                     divisible_by=None, final_endpoint=None, model_variant=None,
                     weight_decay=0.0001, reuse=None, is_training=False,
                     fine_tune_batch_norm=False, bn_decay=None, regularize_depthwise=False,
                     preprocess_images=True, preprocessed_images_dtype=tf.float32,
                     use_explicit_padding=False):
  """Builds the DeepLab backbone for `model_variant`.

  Args:
    images: A [batch, height, width, channels] tensor of [0, 255] pixels.
    output_stride: Ratio of input to output spatial resolution.
    multi_grid: Unused by MobileNet variants (ResNet only).
    depth_multiplier: Channel multiplier.
    divisible_by: Channel rounding; None -> 8 if depth_multiplier == 1.0 else 1.
    final_endpoint: Last end point to build; None -> the record's deeplab_final_endpoint.
    model_variant: Registered variant name.
    weight_decay: L2 weight decay.
    reuse: Reuse the backbone variables.
    is_training: Training mode.
    fine_tune_batch_norm: Train BN too; the backbone's BN trains only if both flags are set.
    bn_decay: BN decay; None keeps the record's default.
    regularize_depthwise: Unused by MobileNet variants (their depthwise weights are never
      regularized).
    preprocess_images: Scale images to the backbone's input range first.
    preprocessed_images_dtype: Dtype of the preprocessed images.
    use_explicit_padding: Pad explicitly instead of 'SAME'.

  Returns:
    (features, end_points): the last feature map and a dict of end points, each under its bare
    name (e.g. 'layer_4/depthwise_output') and under '<scope>/<name>'.

  Raises:
    ValueError: if model_variant is not registered.
  """
  del multi_grid, regularize_depthwise
  record = get(model_variant)
  if preprocess_images:
    # At the root name scope, before the backbone scope (ops 'mul' and 'sub').
    images = record.preprocess_fn(images, preprocessed_images_dtype)
  if divisible_by is None:
    divisible_by = 8 if depth_multiplier == 1.0 else 1
  min_depth = 8 if depth_multiplier == 1.0 else 1
  if bn_decay is None:
    bn_decay = record.default_bn_decay
  bn_training = is_training and fine_tune_batch_norm
  arg_scope = record.arg_scope_fn(is_training=bn_training, weight_decay=weight_decay,
                                  bn_decay=bn_decay)
  with tf_slim.arg_scope(arg_scope):
    with tf.compat.v1.variable_scope(record.scope, reuse=reuse) as scope:
      # Re-entering the scope object nests the name scope once more, which is what names the
      # input identity '<scope>/<scope>/input' in the original graphs.
      with tf.compat.v1.variable_scope(scope):
        net = tf.identity(images, INPUT_NAME)
      features, end_points = record.build_fn(
          net, scope=scope, depth_multiplier=depth_multiplier, divisible_by=divisible_by,
          min_depth=min_depth, final_endpoint=final_endpoint or record.deeplab_final_endpoint,
          output_stride=output_stride, use_explicit_padding=use_explicit_padding,
          is_training=bn_training)
  # Also key every end point with the scope prefix ('MobilenetV2/layer_4/depthwise_output'), the
  # convention of the other families, so callers can look up '<scope>/<name>' for any variant.
  end_points = dict(end_points)
  for key in list(end_points):
    end_points['%s/%s' % (record.scope, key)] = end_points[key]
  return features, end_points
