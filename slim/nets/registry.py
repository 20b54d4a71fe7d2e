"""One record per backbone variant: the single source of per-variant facts.

Every per-variant fact that DeepLab, the classifier trainer/exporter, the QAT tools and the stats
command need (variable scope, decoder end points, preprocessing, mean pixel, BN defaults, default
depth multiplier and image size, classification head, quantized-export input nodes and their
TFLite input statistics) lives in a single frozen `Backbone` record, so nothing else keeps
per-model tables. DeepLab's `extract_features` (deeplab/core/feature_extractor.py) is built on
the records; this module only holds them (`get`, `names`, `mean_pixel`).

How a family adds a record: write the network as data in its own module (a spec walked by one
builder), then add ONE `Backbone(...)` entry to the `_RECORDS` tuple at the bottom of this file
(import the module at the top). `build_fn` builds the DeepLab feature layers (no head) inside the
already-open variable scope it receives and returns (net, end_points) keyed by bare end point
names; `classifier_fn` builds the whole classification net (backbone + head, inside its own
variable scope `scope`) and applies the family's training scope itself, so callers never need an
arg scope; `arg_scope_fn` is that training scope for DeepLab. Use the original checkpoint scope
and graph names (they are API). Every record is then picked up by nets_factory, the stats CLI,
the docs table and the registry-driven tests (endpoints, QAT rewrite, uint8 TFLite) without
further edits; a variant that cannot pass them must say why in its record's docstring/test skip.
"""

import dataclasses
import functools
import types
from typing import Callable, Mapping, Sequence, Tuple

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import deep_backbone
from slim.nets import resnet_v1
from slim.nets import xception
from slim.nets.mobilenet import mobilenet as mobilenet_lib
from slim.nets.mobilenet import mobilenet_multi_avg
from slim.nets.mobilenet import mobilenet_v2
from slim.nets.mobilenet import mobilenet_v3

# ImageNet mean RGB, subtracted by the (non-beta) ResNet preprocessing.
MEAN_RGB = (123.15, 115.90, 103.06)
# Mean pixel for backbones whose inputs are scaled to [-1, 1].
UNIT_RANGE_MEAN = (127.5, 127.5, 127.5)
# TFLite input statistics (mean, std) of a quantized input, real = (q - mean) / std.
# [-1, 1] inputs ((2/255) x - 1): exact.
UNIT_RANGE_STATS = (127.5, 127.5)
# x - MEAN_RGB inputs: one (mean, std) pair cannot subtract a per-channel mean, so the mean of
# MEAN_RGB stands for all three: raw pixels fed as q are offset by up to 11 levels per channel
# (|MEAN_RGB - mean|), and quantizing x - MEAN_RGB clips the R and B extremes by as much.
IMAGENET_MEAN_STATS = (sum(MEAN_RGB) / len(MEAN_RGB), 1.0)
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
  """Facts about one backbone variant (the record's shape is frozen: other modules read it).

  Attributes:
    name: Registry key (DeepLab's model_variant and slim's nets_factory name).
    scope: Variable scope of the backbone (e.g. 'MobilenetV2'); checkpoint names start with it.
    decoder_endpoints: {output_stride: end point name} used by DeepLab's decoder (bare names,
      without the scope prefix); may be empty for variants without a DeepLab decoder recipe.
    deeplab_final_endpoint: Last end point built for DeepLab.
    quant_input_node: Name of the DeepLab backbone input identity op (where input quantization
      starts in the quantized DeepLab export), e.g. 'MobilenetV2/MobilenetV2/input'.
    quant_input_stats: TFLite `quantized_input_stats` (mean, std) of `quant_input_node`, so that
      real = (q - mean) / std for uint8 q: (127.5, 127.5) for the [-1, 1] inputs (MobileNets,
      beta ResNets, Xception), exact. The non-beta ResNets' input is x - MEAN_RGB, which a
      single mean cannot express exactly: their stats are (mean of MEAN_RGB, 1.0), i.e. the
      per-channel means are approximated by their average (114.04).
    classifier_input_node: Name of the input identity op of the classification net built by
      `classifier_fn` (the quantized classification export input), e.g. 'MobilenetV2/input'.
    mean_pixel: DeepLab's padding value per RGB channel (what its preprocessing maps to 0).
    default_image_size: Classification input size (nets_factory's default_image_size).
    default_bn_decay: Batch-norm decay of the family's arg scope.
    depth_multiplier: The variant's channel multiplier (e.g. 1.4 for 'mobilenet_v2_140'); the
      default of `classifier_fn` and of DeepLab's `extract_features`.
    preprocessing_name: slim.preprocessing name for classification ('mobilenet' for [-1, 1]
      inputs, 'vgg'/'resnet' for ImageNet-mean subtraction).
    arg_scope_fn: `f(is_training, weight_decay, bn_decay, regularize_depthwise=False) -> arg
      scope` (DeepLab backbone; regularize_depthwise matters to Xception only).
    build_fn: `f(images, scope, depth_multiplier, divisible_by, min_depth, final_endpoint,
      output_stride, use_explicit_padding, is_training) -> (net, end_points)`: the feature layers
      inside the open variable scope `scope`.
    classifier_fn: `f(images, num_classes, is_training=False, weight_decay=0.0,
      depth_multiplier=None, reuse=None) -> (logits, end_points)`: the complete classification
      net (backbone + head, end points 'Logits' and 'Predictions'), built inside the family's
      training scope; depth_multiplier None uses the record's.
    preprocess_fn: `f(images, dtype) -> images` (DeepLab's in-graph preprocessing).
  """
  name: str
  scope: str
  decoder_endpoints: Mapping[int, str]
  deeplab_final_endpoint: str
  quant_input_node: str
  quant_input_stats: Tuple[float, float]
  classifier_input_node: str
  mean_pixel: Sequence[float]
  default_image_size: int
  default_bn_decay: float
  depth_multiplier: float
  preprocessing_name: str
  arg_scope_fn: Callable = dataclasses.field(repr=False, compare=False)
  build_fn: Callable = dataclasses.field(repr=False, compare=False)
  classifier_fn: Callable = dataclasses.field(repr=False, compare=False)
  preprocess_fn: Callable = dataclasses.field(repr=False, compare=False)


def _mobilenet_classifier(net_fn, arg_scope_fn, default_depth_multiplier, **net_kwargs):
  """Returns a record's `classifier_fn` for a MobileNet-family classifier `net_fn`.

  Args:
    net_fn: `f(images, num_classes, depth_multiplier, is_training, reuse, **net_kwargs)`.
    arg_scope_fn: The family's training scope, `f(is_training, weight_decay) -> arg scope`.
    default_depth_multiplier: Used when the caller passes depth_multiplier=None.
    **net_kwargs: Fixed arguments of the variant (e.g. finegrain_classification_mode).

  Returns:
    The `classifier_fn` callable (see `Backbone`).
  """
  def classifier_fn(images, num_classes, is_training=False, weight_decay=0.0,
                    depth_multiplier=None, reuse=None, bn_decay=None):
    if depth_multiplier is None:
      depth_multiplier = default_depth_multiplier
    decay = {} if bn_decay is None else {'bn_decay': bn_decay}
    with tf_slim.arg_scope(arg_scope_fn(is_training=is_training, weight_decay=weight_decay,
                                        **decay)):
      return net_fn(images, num_classes=num_classes, depth_multiplier=depth_multiplier,
                    is_training=is_training, reuse=reuse, **net_kwargs)
  return classifier_fn


def _build_mobilenet(base_fn, conv_defs, images, multi_grid=None, regularize_depthwise=False,
                     **kwargs):
  """A MobileNet record's `build_fn`: the ResNet/Xception-only options are ignored (as DeepLab)."""
  del multi_grid, regularize_depthwise
  return base_fn(images, conv_defs=conv_defs, **kwargs)


def _mobilenet_arg_scope(is_training, weight_decay, bn_decay=0.997, regularize_depthwise=False):
  """The MobileNet training scope (shared by V2, V3 and Multi-HW-AVG, as DeepLab does).

  regularize_depthwise is ignored: MobileNet depthwise weights are never regularized.
  """
  del regularize_depthwise
  return mobilenet_lib.training_scope(is_training=is_training, weight_decay=weight_decay,
                                      bn_decay=bn_decay)


def _decoder_endpoints(layer_os4, layer_os8, layer_os16):
  """{4, 8, 16: 'layer_N/depthwise_output'} for the given 1-based layer numbers."""
  return types.MappingProxyType({
      4: 'layer_%d/depthwise_output' % layer_os4,
      8: 'layer_%d/depthwise_output' % layer_os8,
      16: 'layer_%d/depthwise_output' % layer_os16,
  })


def _mobilenet_record(name, module, conv_defs, decoder_endpoints, deeplab_final_endpoint,
                      depth_multiplier=1.0, **classifier_kwargs):
  """A MobileNet-family record: `module` provides SCOPE, mobilenet and mobilenet_base.

  Args:
    name: Registry key.
    module: The family's module (mobilenet_v2, mobilenet_v3, mobilenet_multi_avg).
    conv_defs: The variant's architecture table.
    decoder_endpoints: {4, 8, 16: end point} for DeepLab's decoder.
    deeplab_final_endpoint: Last end point of the DeepLab backbone.
    depth_multiplier: The variant's multiplier.
    **classifier_kwargs: Fixed arguments of the variant's classifier (e.g. finegrain mode).

  Returns:
    A `Backbone`.
  """
  scope = module.SCOPE
  return Backbone(
      name=name,
      scope=scope,
      decoder_endpoints=decoder_endpoints,
      deeplab_final_endpoint=deeplab_final_endpoint,
      quant_input_node='%s/%s/%s' % (scope, scope, INPUT_NAME),
      quant_input_stats=UNIT_RANGE_STATS,
      classifier_input_node='%s/%s' % (scope, mobilenet_lib.INPUT_NAME),
      mean_pixel=UNIT_RANGE_MEAN,
      default_image_size=mobilenet_lib.DEFAULT_IMAGE_SIZE,
      default_bn_decay=0.997,
      depth_multiplier=depth_multiplier,
      preprocessing_name='mobilenet',
      arg_scope_fn=_mobilenet_arg_scope,
      build_fn=functools.partial(_build_mobilenet, module.mobilenet_base, conv_defs),
      classifier_fn=_mobilenet_classifier(
          functools.partial(module.mobilenet, conv_defs=conv_defs), _mobilenet_arg_scope,
          depth_multiplier, **classifier_kwargs),
      preprocess_fn=_scale_to_unit_range,
  )


_MNV2_ENDPOINTS = _decoder_endpoints(4, 7, 14)
_MNV3_LARGE_ENDPOINTS = _decoder_endpoints(4, 7, 13)
_MNV3_SMALL_ENDPOINTS = _decoder_endpoints(2, 4, 9)
_MULTI_AVG_ENDPOINTS = _decoder_endpoints(3, 7, 13)


def _subtract_imagenet_mean(images, dtype):
  """DeepLab's ResNet preprocessing: x - MEAN_RGB (padding with the mean becomes exactly 0)."""
  mean_rgb = tf.reshape(tf.constant(MEAN_RGB, tf.float32), [1, 1, 1, 3])
  return tf.cast(tf.cast(images, tf.float32) - mean_rgb, dtype)


def _deep_backbone_record(name, family, unit_range_inputs):
  """A ResNet-v1 or Xception record, its callables from the shared adapter.

  Args:
    name: Registry key (a variant of `family`).
    family: The family's `deep_backbone.DeepFamily` (resnet_v1.FAMILY, xception.FAMILY).
    unit_range_inputs: DeepLab scales the inputs to [-1, 1] (beta ResNets, Xception) instead
      of subtracting the ImageNet mean (ResNets).

  Returns:
    A `Backbone`.
  """
  scope = family.scopes[name]
  return Backbone(
      name=name,
      scope=scope,
      decoder_endpoints=types.MappingProxyType(family.decoder_end_points[name]),
      deeplab_final_endpoint=family.deeplab_final_endpoint,
      quant_input_node='%s/%s/%s' % (scope, scope, INPUT_NAME),
      quant_input_stats=UNIT_RANGE_STATS if unit_range_inputs else IMAGENET_MEAN_STATS,
      classifier_input_node='%s/%s' % (scope, deep_backbone.INPUT_NAME),
      mean_pixel=UNIT_RANGE_MEAN if unit_range_inputs else MEAN_RGB,
      default_image_size=family.default_image_size,
      default_bn_decay=family.deeplab_bn_decay,
      depth_multiplier=1.0,
      # slim's classification preprocessing of the same input range.
      preprocessing_name='inception' if unit_range_inputs else 'vgg',
      arg_scope_fn=functools.partial(deep_backbone.deeplab_arg_scope, family),
      build_fn=functools.partial(deep_backbone.deeplab_features, family, name),
      classifier_fn=deep_backbone.classifier(family, name),
      preprocess_fn=_scale_to_unit_range if unit_range_inputs else _subtract_imagenet_mean,
  )


def _resnet_record(name):
  # Non-beta ResNets subtract the ImageNet mean; DeepLab's beta ones take [-1, 1] inputs.
  return _deep_backbone_record(name, resnet_v1.FAMILY, unit_range_inputs=name.endswith('_beta'))


def _xception_record(name):
  return _deep_backbone_record(name, xception.FAMILY, unit_range_inputs=True)


# All records, in the order the docs list them. Families add their records here (one entry each).
# pyformat: disable
_RECORDS = (
    _mobilenet_record('mobilenet_v2', mobilenet_v2, mobilenet_v2.V2_DEF, _MNV2_ENDPOINTS,
                      'layer_18'),
    _mobilenet_record('mobilenet_v2_140', mobilenet_v2, mobilenet_v2.V2_DEF, _MNV2_ENDPOINTS,
                      'layer_18', depth_multiplier=1.4),
    # As slim's mobilenet_v2_035: the last conv keeps 1280 channels.
    _mobilenet_record('mobilenet_v2_035', mobilenet_v2, mobilenet_v2.V2_DEF, _MNV2_ENDPOINTS,
                      'layer_18', depth_multiplier=0.35, finegrain_classification_mode=True),
    _mobilenet_record('mobilenet_v3_large', mobilenet_v3, mobilenet_v3.V3_LARGE,
                      _MNV3_LARGE_ENDPOINTS, 'layer_17'),
    _mobilenet_record('mobilenet_v3_small', mobilenet_v3, mobilenet_v3.V3_SMALL,
                      _MNV3_SMALL_ENDPOINTS, 'layer_13'),
    _mobilenet_record('mobilenet_v3_large_seg', mobilenet_v3, mobilenet_v3.V3_LARGE_SEG,
                      _MNV3_LARGE_ENDPOINTS, 'layer_17'),
    _mobilenet_record('mobilenet_v3_small_seg', mobilenet_v3, mobilenet_v3.V3_SMALL_SEG,
                      _MNV3_SMALL_ENDPOINTS, 'layer_13'),
    _mobilenet_record('mobilenet_multi_avg', mobilenet_multi_avg, mobilenet_multi_avg.MULTI_AVG,
                      _MULTI_AVG_ENDPOINTS, 'layer_18'),
    _mobilenet_record('mobilenet_multi_avg_seg', mobilenet_multi_avg,
                      mobilenet_multi_avg.MULTI_AVG_SEG, _MULTI_AVG_ENDPOINTS, 'layer_18'),
    _resnet_record('resnet_v1_50'),
    _resnet_record('resnet_v1_101'),
    _resnet_record('resnet_v1_50_beta'),
    _resnet_record('resnet_v1_101_beta'),
    _xception_record('xception_65'),
)
# pyformat: enable

_REGISTRY = types.MappingProxyType({b.name: b for b in _RECORDS})


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
  """Returns DeepLab's padding value for `model_variant`: the record's `mean_pixel`.

  As in the original, None gets the ImageNet mean (as do resnet_v1_50 and resnet_v1_101, whose
  records hold it); the [-1, 1] variants get 127.5, which their preprocessing maps to 0.

  Args:
    model_variant: Variant name or None.

  Returns:
    A list of 3 floats.

  Raises:
    ValueError: if `model_variant` is not registered (the message lists the valid names).
  """
  if model_variant is None:
    return list(MEAN_RGB)
  return list(get(model_variant).mean_pixel)
