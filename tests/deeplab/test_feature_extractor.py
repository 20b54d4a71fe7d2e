"""deeplab.core.feature_extractor: the original API over the registry records."""

import inspect

import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from deeplab.core import feature_extractor
from slim.nets import registry


def _channels(model_variant, **kwargs):
  """{variable name: shape} and end points of a 33x33 DeepLab backbone."""
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  _, end_points = feature_extractor.extract_features(
      images, output_stride=16, model_variant=model_variant, **kwargs)
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}, end_points


@pytest.mark.parametrize('kwargs', [{}, {'depth_multiplier': None}])
def testExtractFeatures_NoneMultiplierIsTheRecords(kwargs):
  variables, end_points = _channels('mobilenet_v2_140', **kwargs)
  # 1.4x with DeepLab's rounding off multiplier 1.0 (divisible by 1, minimum depth 1):
  # Conv 32 -> 45 (44.8), layer_2 16 -> 22 (22.4); expansions keep their own rounding to 8
  # (layer_3: 6 * 22 = 132 -> 136).
  assert variables['MobilenetV2/Conv/weights'] == [3, 3, 3, 45]
  assert end_points['layer_2'].shape.as_list()[3] == 22
  assert variables['MobilenetV2/expanded_conv_1/expand/weights'] == [1, 1, 22, 136]
  assert end_points['layer_18'].shape.as_list()[3] == 448


def testExtractFeatures_UnitMultiplierRoundsToEight():
  variables, end_points = _channels('mobilenet_v2_140', depth_multiplier=1.0)
  assert variables['MobilenetV2/Conv/weights'] == [3, 3, 3, 32]
  assert end_points['layer_2'].shape.as_list()[3] == 16


def testExtractFeatures_ExplicitDivisibleByWinsOverTheMultipliersRule():
  variables, end_points = _channels('mobilenet_v2_140', divisible_by=8)
  # slim's ImageNet 1.4 checkpoint rounding: Conv 48, layer_2 24.
  assert variables['MobilenetV2/Conv/weights'] == [3, 3, 3, 48]
  assert end_points['layer_2'].shape.as_list()[3] == 24


def testExtractFeatures_XceptionRegularizeDepthwiseRegularizesTheFusedConvs():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  feature_extractor.extract_features(images, output_stride=16, model_variant='xception_65',
                                     regularize_depthwise=True)
  losses = [t.op.name for t in tf.compat.v1.get_collection(
      tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)]
  # 2 stem convs + 4 shortcuts + both kernels of the 63 fused separable convs (the split
  # default regularizes only the 63 pointwise convs: 69 losses).
  assert len(losses) == 2 + 4 + 2 * 63
  prefix = 'xception_65/entry_flow/block1/unit_1/xception_module/separable_conv1/'
  assert prefix + 'depthwise_kernel/Regularizer/l2_regularizer' in losses
  assert prefix + 'pointwise_kernel/Regularizer/l2_regularizer' in losses


@pytest.mark.parametrize('name', registry.names())
def testMeanPixel_IsTheRecords(name):
  assert feature_extractor.mean_pixel(name) == list(registry.get(name).mean_pixel)


def testMeanPixel_AsTheOriginal():
  imagenet = [123.15, 115.90, 103.06]
  assert feature_extractor.mean_pixel() == imagenet
  assert feature_extractor.mean_pixel('resnet_v1_50') == imagenet
  assert feature_extractor.mean_pixel('resnet_v1_101') == imagenet
  for name in ('resnet_v1_50_beta', 'xception_65', 'mobilenet_v2', 'mobilenet_v3_small_seg'):
    assert feature_extractor.mean_pixel(name) == [127.5] * 3
  with pytest.raises(ValueError, match=r"Unknown model variant 'nas_pnasnet'; valid names: "):
    feature_extractor.mean_pixel('nas_pnasnet')


def testExtractFeatures_KeepsTheOriginalParameters():
  parameters = inspect.signature(feature_extractor.extract_features).parameters
  assert list(parameters)[:19] == [
      'images', 'output_stride', 'multi_grid', 'depth_multiplier', 'divisible_by',
      'final_endpoint', 'model_variant', 'weight_decay', 'reuse', 'is_training',
      'fine_tune_batch_norm', 'regularize_depthwise', 'preprocess_images',
      'preprocessed_images_dtype', 'num_classes', 'global_pool', 'nas_architecture_options',
      'nas_training_hyper_parameters', 'use_bounded_activation']
  assert parameters['depth_multiplier'].default is None
  assert feature_extractor.decoder_end_points('mobilenet_v2')[4] == 'layer_4/depthwise_output'
  assert feature_extractor.name_scope('resnet_v1_50_beta') == 'resnet_v1_50'
