"""The slim.nets registry: record fields, unknown names, and every record's DeepLab end points."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from deeplab.core import feature_extractor
from slim.nets import registry

# The MobileNet variants of issue 4 (other families add their own names).
_MOBILENET_NAMES = ('mobilenet_v2', 'mobilenet_v2_140', 'mobilenet_v2_035', 'mobilenet_v3_large',
                    'mobilenet_v3_small', 'mobilenet_v3_large_seg', 'mobilenet_v3_small_seg',
                    'mobilenet_multi_avg', 'mobilenet_multi_avg_seg')
_SIZE = 65
# Spatial size of a 65x65 input at stride s with 'SAME' padding: ceil(65 / s).
_SIDE = {4: 17, 8: 9, 16: 5, 32: 3}


def testNames_ContainsEveryMobilenetVariantSorted():
  names = registry.names()
  assert set(_MOBILENET_NAMES) <= set(names)
  assert names == sorted(names)


def testGet_UnknownNameListsTheValidNames():
  with pytest.raises(ValueError) as error:
    registry.get('mobilenet_v9')
  message = str(error.value)
  assert message.startswith("Unknown model variant 'mobilenet_v9'; valid names: ")
  for name in registry.names():
    assert name in message


def testBackbone_IsFrozen():
  record = registry.get('mobilenet_v2')
  with pytest.raises(dataclasses.FrozenInstanceError):
    record.scope = 'Other'  # pytype: disable=not-writable


@pytest.mark.parametrize('name, scope, multiplier', [
    ('mobilenet_v2', 'MobilenetV2', 1.0),
    ('mobilenet_v2_140', 'MobilenetV2', 1.4),
    ('mobilenet_v2_035', 'MobilenetV2', 0.35),
    ('mobilenet_v3_large', 'MobilenetV3', 1.0),
    ('mobilenet_v3_small_seg', 'MobilenetV3', 1.0),
    ('mobilenet_multi_avg', 'MobilenetMultiAVG', 1.0),
    ('mobilenet_multi_avg_seg', 'MobilenetMultiAVG', 1.0),
])
def testGet_MobilenetRecordFields(name, scope, multiplier):
  record = registry.get(name)
  assert record.name == name
  assert record.scope == scope
  assert record.depth_multiplier == multiplier
  assert record.quant_input_node == '%s/%s/input' % (scope, scope)
  assert record.classifier_input_node == '%s/input' % scope
  assert record.preprocessing_name == 'mobilenet'
  assert record.default_image_size == 224
  assert record.quant_input_stats == (127.5, 127.5)
  assert list(record.mean_pixel) == [127.5] * 3
  assert sorted(record.decoder_endpoints) == [4, 8, 16]


@pytest.mark.parametrize('name, endpoints, final', [
    ('mobilenet_v2', (4, 7, 14), 'layer_18'),
    ('mobilenet_v3_large_seg', (4, 7, 13), 'layer_17'),
    ('mobilenet_v3_small_seg', (2, 4, 9), 'layer_13'),
    ('mobilenet_multi_avg_seg', (3, 7, 13), 'layer_18'),
])
def testGet_DecoderEndpointsOfTheOriginalRecipes(name, endpoints, final):
  record = registry.get(name)
  assert dict(record.decoder_endpoints) == {
      stride: 'layer_%d/depthwise_output' % layer for stride, layer in zip((4, 8, 16), endpoints)}
  assert record.deeplab_final_endpoint == final


# Final DeepLab feature channels per variant at its own multiplier (from the architecture tables).
_FINAL_CHANNELS = {
    'mobilenet_v2': 320, 'mobilenet_v2_140': 448, 'mobilenet_v2_035': 112,
    'mobilenet_v3_large': 960, 'mobilenet_v3_small': 576, 'mobilenet_v3_large_seg': 480,
    'mobilenet_v3_small_seg': 288, 'mobilenet_multi_avg': 960, 'mobilenet_multi_avg_seg': 448,
}


# Two records run by default (keeps the default suite fast on 2 shared cores); the rest are slow.
_DEFAULT_ENDPOINT_RECORDS = ('mobilenet_v3_small_seg', 'mobilenet_multi_avg_seg')


@pytest.mark.parametrize('name', [
    n if n in _DEFAULT_ENDPOINT_RECORDS else pytest.param(n, marks=pytest.mark.slow)
    for n in _MOBILENET_NAMES])
def testExtractFeatures_EndpointShapesAtOutputStrides8To32(name):
  """One graph per record: OS16 builds the variables, OS8 and OS32 reuse them."""
  record = registry.get(name)
  images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3])
  for i, output_stride in enumerate((16, 8, 32)):
    features, end_points = feature_extractor.extract_features(
        images, output_stride=output_stride, model_variant=name, reuse=i > 0)
    assert features.shape.as_list() == [
        1, _SIDE[output_stride], _SIDE[output_stride], _FINAL_CHANNELS[name]]
    for stride, endpoint in record.decoder_endpoints.items():
      # Decoder end points sit below the output stride, so they never dilate.
      side = _SIDE[min(stride, output_stride)]
      assert end_points[endpoint].shape.as_list()[1:3] == [side, side], (output_stride, stride)
      assert end_points['%s/%s' % (record.scope, endpoint)] is end_points[endpoint]
  assert tf.compat.v1.get_default_graph().get_operation_by_name(record.quant_input_node)


@pytest.mark.parametrize('name, stats', [
    ('mobilenet_v2', (127.5, 127.5)),
    ('mobilenet_v3_large', (127.5, 127.5)),
    ('mobilenet_multi_avg_seg', (127.5, 127.5)),
    ('resnet_v1_50_beta', (127.5, 127.5)),
    ('resnet_v1_101_beta', (127.5, 127.5)),
    ('xception_65', (127.5, 127.5)),
    # x - MEAN_RGB: the mean of (123.15, 115.90, 103.06) for every channel, scale 1.
    ('resnet_v1_50', (114.03666666666668, 1.0)),
    ('resnet_v1_101', (114.03666666666668, 1.0)),
])
def testGet_QuantInputStats(name, stats):
  assert registry.get(name).quant_input_stats == pytest.approx(stats, rel=1e-12)


def testQuantInputStats_DescribeEachRecordsPreprocessing():
  """(q - mean) / std reproduces preprocess_fn(q) at the quantized input node, for every q."""
  q = np.tile(np.arange(256, dtype=np.float32)[None, None, :, None], [1, 1, 1, 3])
  images = tf.constant(q)
  outputs = {name: registry.get(name).preprocess_fn(images, tf.float32)
             for name in registry.names()}
  with tf.compat.v1.Session() as sess:
    values = sess.run(outputs)
  for name, value in values.items():
    mean, std = registry.get(name).quant_input_stats
    error = np.abs((q - mean) / std - value).max()
    if name in ('resnet_v1_50', 'resnet_v1_101'):
      # One mean for three channel means: off by at most max |MEAN_RGB - mean| (< 11 levels).
      assert error == pytest.approx(max(abs(m - mean) for m in registry.MEAN_RGB), abs=1e-3)
      assert error < 11
    else:
      assert error < 1e-5, name
