"""The registry interface of the deep backbones (ResNet-v1, Xception): one adapter, facts as data.

Both families are block tables walked by one builder per family (`resnet_v1.build_variant`,
`xception.build_variant`), and DeepLab and slim's classifier use them the same way; only facts
differ (checkpoint scopes, decoder end points, DeepLab's batch-norm settings, the arg scope). A
family declares those facts once as a `DeepFamily` record, and the registry builds its records'
callables from it:

  arg_scope_fn  = functools.partial(deep_backbone.deeplab_arg_scope, resnet_v1.FAMILY)
  build_fn      = functools.partial(deep_backbone.deeplab_features, resnet_v1.FAMILY, name)
  classifier_fn = deep_backbone.classifier(resnet_v1.FAMILY, name)
"""

import dataclasses
from typing import Callable, Mapping

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

# Name of the input identity of the classification net ('<scope>/input'), where the quantized
# classification export starts (the originals had none; an Identity adds no variables).
INPUT_NAME = 'input'
# End point aliases every registry classifier provides.
LOGITS_ALIAS = 'Logits'
PREDICTIONS_ALIAS = 'Predictions'


@dataclasses.dataclass(frozen=True)
class DeepFamily:
  """What the adapter needs to know about one deep-backbone family.

  Attributes:
    build_variant: `f(variant, inputs, num_classes=None, is_training=True, global_pool=True,
      output_stride=None, multi_grid=None, scope=None, [regularize_depthwise]) ->
      (net, end_points)`, end points keyed by full scope name.
    arg_scope: `f(weight_decay, batch_norm_decay, batch_norm_epsilon, batch_norm_scale,
      [regularize_depthwise]) -> arg scope`; its other defaults are slim's classifier ones.
    scopes: {variant: variable scope} (DeepLab's beta ResNets keep the non-beta scope).
    decoder_end_points: {variant: {output stride: end point}} for DeepLab's decoder (bare names).
    deeplab_final_endpoint: The last end point (DeepLab always builds the whole body).
    deeplab_bn_decay: Batch-norm decay of DeepLab's backbone arg scope.
    deeplab_bn_epsilon: Batch-norm epsilon of DeepLab's backbone arg scope.
    default_image_size: Classification input size.
    predictions_end_point: The builder's softmax end point (aliased 'Predictions').
    regularize_depthwise_option: Both `build_variant` and `arg_scope` take
      `regularize_depthwise` (Xception's fused, regularized separable convs).
  """
  build_variant: Callable = dataclasses.field(repr=False)
  arg_scope: Callable = dataclasses.field(repr=False)
  scopes: Mapping[str, str]
  decoder_end_points: Mapping[str, Mapping[int, str]]
  deeplab_final_endpoint: str
  deeplab_bn_decay: float
  deeplab_bn_epsilon: float
  default_image_size: int
  predictions_end_point: str
  regularize_depthwise_option: bool = False


def _family_options(family, regularize_depthwise):
  """The DeepLab options that `family`'s builder and arg scope take, as keyword arguments."""
  if family.regularize_depthwise_option:
    return {'regularize_depthwise': regularize_depthwise}
  return {}


def _check_no_multiplier(variant, depth_multiplier):
  if depth_multiplier not in (None, 1.0):
    raise ValueError('%s has no depth multiplier; got depth_multiplier=%r (expected 1.0).' %
                     (variant, depth_multiplier))


def deeplab_arg_scope(family, is_training, weight_decay, bn_decay=None,
                      regularize_depthwise=False):
  """DeepLab's backbone arg scope of `family` (a record's `arg_scope_fn`, `family` bound).

  Args:
    family: The `DeepFamily`.
    is_training: Unused: the builder sets BN's mode from its own `is_training`.
    weight_decay: L2 weight decay.
    bn_decay: Batch-norm decay; None is the family's DeepLab decay (ResNet 0.95, Xception
      0.9997).
    regularize_depthwise: Also regularize the fused separable convs' depthwise weights
      (families with `regularize_depthwise_option`; ignored by the others).

  Returns:
    An arg scope dict (BN with scale, the family's DeepLab epsilon).
  """
  del is_training
  return family.arg_scope(
      weight_decay=weight_decay,
      batch_norm_decay=family.deeplab_bn_decay if bn_decay is None else bn_decay,
      batch_norm_epsilon=family.deeplab_bn_epsilon, batch_norm_scale=True,
      **_family_options(family, regularize_depthwise))


def deeplab_features(family, variant, images, scope, depth_multiplier=1.0, final_endpoint=None,
                     output_stride=None, is_training=False, multi_grid=None,
                     regularize_depthwise=False, **unused_mobilenet_kwargs):
  """DeepLab's backbone `variant` of `family` (a record's `build_fn`, family and variant bound).

  Args:
    family: The `DeepFamily`.
    variant: A key of `family.scopes`.
    images: Preprocessed input tensor.
    scope: The open variable scope (VariableScope) of the backbone.
    depth_multiplier: Must be None or 1.0 (these families have no channel multiplier).
    final_endpoint: None or the family's `deeplab_final_endpoint`.
    output_stride: Output stride or None.
    is_training: Batch-norm training mode.
    multi_grid: Unit rates of the last block (3 values) or None.
    regularize_depthwise: Fused, regularized separable convs (families with
      `regularize_depthwise_option`; other variable names); ignored by the others.
    **unused_mobilenet_kwargs: MobileNet-only options (divisible_by, min_depth,
      use_explicit_padding): strided convs of these families always pad explicitly.

  Returns:
    (features, end_points) with end points keyed by bare names (e.g. 'block1/unit_2/...').

  Raises:
    ValueError: on depth_multiplier != 1, another final_endpoint, or bad stride/multi_grid.
  """
  _check_no_multiplier(variant, depth_multiplier)
  if final_endpoint not in (None, family.deeplab_final_endpoint):
    raise ValueError('%s builds up to %r; got final_endpoint=%r.' %
                     (variant, family.deeplab_final_endpoint, final_endpoint))
  net, end_points = family.build_variant(
      variant, images, num_classes=None, is_training=is_training, global_pool=False,
      output_stride=output_stride, multi_grid=multi_grid, scope=scope,
      **_family_options(family, regularize_depthwise))
  prefix = scope.name + '/'
  return net, {key[len(prefix):]: value for key, value in end_points.items()
               if key.startswith(prefix)}


def classifier(family, variant):
  """Returns the registry `classifier_fn` of `variant` (slim's nets_factory behaviour).

  The net is built inside the family's arg scope with slim's classifier defaults (BN decay
  0.997 for ResNet, 0.9997 for Xception), after an identity '<scope>/input'; its end points
  get the 'Logits' and 'Predictions' aliases.

  Args:
    family: The `DeepFamily`.
    variant: A key of `family.scopes`.

  Returns:
    `f(images, num_classes, is_training=False, weight_decay=0.0, depth_multiplier=None,
    reuse=None, bn_decay=None) -> (logits, end_points)` (bn_decay None keeps the default),
    with attribute `default_image_size`.
  """
  def classifier_fn(images, num_classes, is_training=False, weight_decay=0.0,
                    depth_multiplier=None, reuse=None, bn_decay=None):
    _check_no_multiplier(variant, depth_multiplier)
    decay = {} if bn_decay is None else {'batch_norm_decay': bn_decay}
    with tf_slim.arg_scope(family.arg_scope(weight_decay=weight_decay, **decay)):
      with tf.compat.v1.variable_scope(family.scopes[variant], reuse=reuse) as sc:
        net = tf.identity(images, INPUT_NAME)
        logits, end_points = family.build_variant(variant, net, num_classes,
                                                  is_training=is_training, scope=sc)
    end_points = dict(end_points)
    end_points[LOGITS_ALIAS] = logits
    end_points[PREDICTIONS_ALIAS] = end_points[family.predictions_end_point]
    return logits, end_points
  classifier_fn.default_image_size = family.default_image_size
  return classifier_fn
