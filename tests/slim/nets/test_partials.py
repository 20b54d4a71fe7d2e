"""Variants as wrapped partials: docstrings, default_image_size and signatures survive."""

import inspect

import pytest
import tensorflow as tf
import tf_slim

import slim  # noqa: F401  (applies slim.compat)
from slim.nets import partials
from slim.nets import resnet_v1
from slim.nets import xception
from slim.nets.mobilenet import mobilenet as lib
from slim.nets.mobilenet import mobilenet_multi_avg
from slim.nets.mobilenet import mobilenet_v2
from slim.nets.mobilenet import mobilenet_v3


def _builder(a, b=1, c=2, **kwargs):
  """The builder's docstring."""
  return a, b, c, kwargs


_builder.default_image_size = 7


def testWrappedPartial_KeepsMetadataAndTakesItsOwnDocstring():
  plain = partials.wrapped_partial(_builder, 10)
  named = partials.wrapped_partial(_builder, 10, c=5, doc='A variant.')
  assert plain.__doc__ == 'The builder\'s docstring.' and named.__doc__ == 'A variant.'
  assert named.__name__ == '_builder' and named.__wrapped__ is _builder
  assert named.default_image_size == 7
  assert str(inspect.signature(named)) == '(b=1, *, c=5, **kwargs)'
  assert named(20) == (10, 20, 5, {})
  assert named(c=0, d=1) == (10, 1, 0, {'d': 1})



def testWrappedPartial_NewDefaultsChangeTheDefaultOnly():
  named = partials.wrapped_partial(_builder, 10, new_defaults={'c': 'sc'}, doc='A variant.')
  assert str(inspect.signature(named)) == "(b=1, c='sc', **kwargs)"
  assert named.__doc__ == 'A variant.' and named.default_image_size == 7
  assert named() == (10, 1, 'sc', {})
  # Still positional, unlike a fixed keyword argument.
  assert named(20, 'other', d=1) == (10, 20, 'other', {'d': 1})
  with pytest.raises(ValueError, match=r"new_defaults e are not parameters of _builder\(b=1"):
    partials.wrapped_partial(_builder, 10, new_defaults={'e': 0})


@pytest.mark.parametrize('fn, scope', [
    (resnet_v1.resnet_v1_50, 'resnet_v1_50'), (resnet_v1.resnet_v1_101, 'resnet_v1_101'),
    (resnet_v1.resnet_v1_50_beta, 'resnet_v1_50'),
    (resnet_v1.resnet_v1_101_beta, 'resnet_v1_101'),
    (xception.xception_41, 'xception_41'), (xception.xception_65, 'xception_65'),
    (xception.xception_71, 'xception_71'),
    (mobilenet_v2.mobilenet, 'MobilenetV2'), (mobilenet_v2.mobilenet_base, 'MobilenetV2'),
    (mobilenet_v2.mobilenet_v2_140, 'MobilenetV2'), (mobilenet_v3.mobilenet, 'MobilenetV3'),
    (mobilenet_v3.mobilenet_base, 'MobilenetV3'), (mobilenet_v3.large, 'MobilenetV3'),
    (mobilenet_multi_avg.mobilenet, 'MobilenetMultiAVG'),
    (mobilenet_multi_avg.mobilenet_base, 'MobilenetMultiAVG'),
])
def testVariants_ScopeDefaultIsTheOriginals(fn, scope):
  assert inspect.signature(fn).parameters['scope'].default == scope


def testResnetVariant_TakesScopePositionallyAsTheOriginal():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  # slim's order: inputs, num_classes, is_training, global_pool, output_stride, spatial_squeeze,
  # store_non_strided_activations, min_base_depth, depth_multiplier, reuse, scope.
  resnet_v1.resnet_v1_50(images, None, False, True, None, True, False, 8, 1, None, 'renamed')
  names = {v.op.name.split('/')[0] for v in tf.compat.v1.global_variables()}
  assert names == {'renamed'}


# (variant, first docstring line, default_image_size, first parameter).
_VARIANTS = [
    (resnet_v1.resnet_v1_50, 'ResNet-50 v1 (stem conv1 7x7; blocks of 3, 4, 6, 3 units). '
     'Args/returns as `build_variant`.', 224, 'inputs'),
    (resnet_v1.resnet_v1_101, 'ResNet-101 v1 (blocks of 3, 4, 23, 3 units). Args/returns as '
     '`build_variant`.', 224, 'inputs'),
    (resnet_v1.resnet_v1_50_beta, "ResNet-50 v1 with DeepLab's beta stem (conv1_1..conv1_3). "
     'Args/returns as `build_variant`.', 224, 'inputs'),
    (resnet_v1.resnet_v1_101_beta, "ResNet-101 v1 with DeepLab's beta stem. Args/returns as "
     '`build_variant`.', 224, 'inputs'),
    (xception.xception_41, 'Xception-41 (middle flow 8 units). Args/returns as `build_variant`.',
     299, 'inputs'),
    (xception.xception_65, 'Xception-65 (entry flow 3 blocks, middle flow 16 units). '
     'Args/returns as `build_variant`.', 299, 'inputs'),
    (xception.xception_71, 'Xception-71 (entry flow 5 blocks). Args/returns as `build_variant`.',
     299, 'inputs'),
    (mobilenet_v2.mobilenet, 'The MobileNetV2 classifier (base + `Conv_1` 1280 + global pool + '
     'logits).', 224, 'input_tensor'),
    (mobilenet_v2.mobilenet_v2_140, 'MobileNetV2 1.4 (all layers 1.4x). Args as `mobilenet`.',
     224, 'input_tensor'),
    (mobilenet_v2.mobilenet_v2_035, 'MobileNetV2 0.35 with a full-width (1280) last conv. Args '
     'as `mobilenet`.', 224, 'input_tensor'),
    (mobilenet_v3.large, 'MobileNetV3-Large (224: 217M MAdds). Args as `mobilenet`.', 224,
     'input_tensor'),
    (mobilenet_v3.small_seg, "DeepLab's MobileNetV3-Small backbone (last stage halved). Args as "
     '`mobilenet`.', 224, 'input_tensor'),
    (mobilenet_multi_avg.multi_avg_seg, "MOSAIC's Multi-HW-AVG Seg backbone with a classification "
     'head. Args as `mobilenet`.', 224, 'input_tensor'),
]


@pytest.mark.parametrize('fn, doc, image_size, first', _VARIANTS,
                         ids=[v[1].split(' (')[0] for v in _VARIANTS])
def testVariants_KeepTheirDocstringImageSizeAndSignature(fn, doc, image_size, first):
  assert fn.__doc__.splitlines()[0] == doc
  assert fn.default_image_size == image_size
  parameters = list(inspect.signature(fn).parameters)
  # The bound variant name / module defaults are not parameters any more.
  assert parameters[0] == first and 'variant' not in parameters and 'defaults' not in parameters


def testModuleBuilders_KeepTheOriginalParameterOrder():
  assert list(inspect.signature(mobilenet_v2.mobilenet).parameters) == [
      'input_tensor', 'num_classes', 'depth_multiplier', 'scope', 'conv_defs',
      'finegrain_classification_mode', 'min_depth', 'divisible_by', 'activation_fn', 'kwargs']
  for module in (mobilenet_v2, mobilenet_v3, mobilenet_multi_avg):
    assert list(inspect.signature(module.mobilenet_base).parameters) == [
        'input_tensor', 'depth_multiplier', 'scope', 'conv_defs', 'min_depth', 'divisible_by',
        'kwargs']
  # slim's signature; DeepLab's multi_grid last (new).
  assert list(inspect.signature(resnet_v1.resnet_v1_50).parameters) == [
      'inputs', 'num_classes', 'is_training', 'global_pool', 'output_stride', 'spatial_squeeze',
      'store_non_strided_activations', 'min_base_depth', 'depth_multiplier', 'reuse', 'scope',
      'multi_grid']


def _last_conv_depth(module, conv_name, **kwargs):
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  with tf_slim.arg_scope(module.training_scope(is_training=False)):
    module.mobilenet(images, num_classes=10, **kwargs)
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}[
      '%s/%s/weights' % (module.SCOPE, conv_name)][-1]


@pytest.mark.parametrize('module, conv_name, multiplier, expected', [
    # MobileNetV2's finegrain mode acts below 1.0 only; MobileNetV3's at every multiplier.
    (mobilenet_v2, 'Conv_1', 0.5, 1280),
    (mobilenet_v2, 'Conv_1', 1.4, 1792),
    (mobilenet_v3, 'Conv_2', 1.4, 1280),
    (mobilenet_multi_avg, 'Conv_2', 1.4, 1792),
])
def testModuleMobilenet_FinegrainRuleIsTheModules(module, conv_name, multiplier, expected):
  assert _last_conv_depth(module, conv_name, depth_multiplier=multiplier,
                          finegrain_classification_mode=True) == expected


def testModuleMobilenet_ScopeAndTableDefaultToTheModules():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  _, end_points = mobilenet_v3.mobilenet_base(images, scope=None, conv_defs=None)
  # V3_LARGE: the stem, 15 inverted bottlenecks, then Conv_1, AvgPool, Conv_2.
  assert 'layer_19' in end_points and 'layer_20' not in end_points
  names = {v.op.name.split('/')[0] for v in tf.compat.v1.global_variables()}
  assert names == {mobilenet_v3.SCOPE}
  assert mobilenet_v3.MODULE_DEFAULTS.conv_defs is mobilenet_v3.V3_LARGE
  assert isinstance(mobilenet_v2.MODULE_DEFAULTS, lib.ModuleDefaults)
