"""MobileNetV2 through the slim.nets registry, as DeepLab builds it (variables, shapes, names)."""

import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat)
from deeplab.core import feature_extractor
from slim.nets import registry
from slim.nets.mobilenet import mobilenet as lib

_SIZE = 65
_SCOPE = 'MobilenetV2'
_BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')
# Output depths of the 17 inverted residual blocks built for DeepLab (layers 2..18), per the
# MobileNetV2 paper's table 2; the first expands by 1, the others by 6.
_BLOCK_OUTPUTS = [16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320]


def _block_table():
  """[(block scope, input depth, expansion factor, output depth)] for the DeepLab backbone."""
  blocks = []
  in_depth = 32
  for i, out_depth in enumerate(_BLOCK_OUTPUTS):
    scope = 'expanded_conv' if i == 0 else 'expanded_conv_%d' % i
    blocks.append((scope, in_depth, 1 if i == 0 else 6, out_depth))
    in_depth = out_depth
  return blocks


def _expected_variables():
  """[(name, shape)] of the DeepLab MobileNetV2 backbone at depth multiplier 1."""
  def conv(prefix, shape, weights='weights'):
    out = [('%s/%s/%s' % (_SCOPE, prefix, weights), shape)]
    out += [('%s/%s/BatchNorm/%s' % (_SCOPE, prefix, v), [shape[-2] if weights ==
                                                          'depthwise_weights' else shape[-1]])
            for v in _BN]
    return out
  expected = conv('Conv', [3, 3, 3, 32])
  for scope, in_depth, factor, out_depth in _block_table():
    inner = in_depth * factor
    if factor > 1:
      expected += conv(scope + '/expand', [1, 1, in_depth, inner])
    expected += conv(scope + '/depthwise', [3, 3, inner, 1], weights='depthwise_weights')
    expected += conv(scope + '/project', [1, 1, inner, out_depth])
  return expected


def _build(output_stride=16, depth_multiplier=1.0, size=_SIZE):
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
  return feature_extractor.extract_features(images, output_stride=output_stride,
                                            depth_multiplier=depth_multiplier,
                                            model_variant='mobilenet_v2')


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}


def testExtractFeatures_Os16BuildsTheReleasedVariables():
  _build()
  expected = _expected_variables()
  assert len(expected) == 255
  assert _variables() == dict(expected)


# {output_stride: (final size, {decoder stride: end point size})} at 65x65 (SAME padding).
_OS_SHAPES = {
    8: (9, {4: 17, 8: 9, 16: 9}),
    16: (5, {4: 17, 8: 9, 16: 5}),
    32: (3, {4: 17, 8: 9, 16: 5}),
}


@pytest.mark.parametrize('output_stride', sorted(_OS_SHAPES))
def testExtractFeatures_OutputStrideSetsEndpointShapes(output_stride):
  features, end_points = _build(output_stride=output_stride)
  final_size, decoder_sizes = _OS_SHAPES[output_stride]
  assert features.shape.as_list() == [1, final_size, final_size, 320]
  for stride, name in registry.get('mobilenet_v2').decoder_endpoints.items():
    size = decoder_sizes[stride]
    assert end_points[name].shape.as_list()[1:3] == [size, size], name
    assert end_points[_SCOPE + '/' + name] is end_points[name]
  assert end_points['layer_4/depthwise_output'].shape.as_list()[3] == 144
  assert end_points['layer_18'] is features
  assert end_points['layer_18/output'] is features
  assert 'layer_19' not in end_points


def testExtractFeatures_ExplicitPaddingKeepsShapes():
  images = tf.compat.v1.placeholder(tf.float32, [1, _SIZE, _SIZE, 3])
  features, _ = feature_extractor.extract_features(
      images, output_stride=16, model_variant='mobilenet_v2', use_explicit_padding=True)
  assert features.shape.as_list() == [1, 5, 5, 320]
  graph = tf.compat.v1.get_default_graph()
  assert graph.get_operation_by_name(_SCOPE + '/Conv/Conv2D').get_attr('padding') == b'VALID'
  assert graph.get_operation_by_name(_SCOPE + '/Pad').type == 'Pad'


def _atrous_rate(graph, block):
  """Rate of a block's depthwise conv: TF dilates depthwise convs through SpaceToBatchND."""
  name = '%s/%s/depthwise/depthwise/SpaceToBatchND/block_shape' % (_SCOPE, block)
  try:
    const = graph.get_operation_by_name(name)
  except KeyError:
    return 1
  rate = tf.make_ndarray(const.get_attr('value')).tolist()
  assert rate[0] == rate[1]
  return rate[0]


def testExtractFeatures_Os8DilatesOnlyNon1x1Kernels():
  _build(output_stride=8)
  graph = tf.compat.v1.get_default_graph()
  # expanded_conv_6 (the stride-2 block past stride 8) runs at rate 1 with stride 1; the later
  # stride-16 and stride-32 stages run at rates 2 and 4.
  rates = {b: _atrous_rate(graph, b) for b in ('expanded_conv_5', 'expanded_conv_6',
                                                'expanded_conv_7', 'expanded_conv_13',
                                                'expanded_conv_14', 'expanded_conv_16')}
  assert rates == {'expanded_conv_5': 1, 'expanded_conv_6': 1, 'expanded_conv_7': 2,
                   'expanded_conv_13': 2, 'expanded_conv_14': 4, 'expanded_conv_16': 4}
  assert graph.get_operation_by_name(
      _SCOPE + '/expanded_conv_6/depthwise/depthwise').get_attr('strides') == [1, 1, 1, 1]
  # 1x1 convolutions are never dilated.
  assert not [op.name for op in graph.get_operations()
              if op.type == 'SpaceToBatchND' and ('/expand/' in op.name or
                                                  '/project/' in op.name)]


def testExtractFeatures_HalfDepthMultiplierHalvesChannels():
  _build(depth_multiplier=0.5)
  variables = _variables()
  assert variables[_SCOPE + '/Conv/weights'] == [3, 3, 3, 16]
  assert variables[_SCOPE + '/expanded_conv/project/weights'] == [1, 1, 16, 8]
  assert variables[_SCOPE + '/expanded_conv_16/expand/weights'] == [1, 1, 80, 480]
  assert variables[_SCOPE + '/expanded_conv_16/project/weights'] == [1, 1, 480, 160]


def testExtractFeatures_PreprocessesAtRootBeforeTheNamedInput():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  feature_extractor.extract_features(images, output_stride=16, model_variant='mobilenet_v2')
  graph = tf.compat.v1.get_default_graph()
  record = registry.get('mobilenet_v2')
  assert record.quant_input_node == 'MobilenetV2/MobilenetV2/input'
  input_op = graph.get_operation_by_name(record.quant_input_node)
  assert input_op.type == 'Identity'
  assert input_op.inputs[0].op.name == 'sub'
  assert graph.get_operation_by_name('sub').inputs[0].op.name == 'mul'
  # (2/255) * x - 1 maps DeepLab's 127.5 padding to exactly 0.
  with tf.compat.v1.Session() as sess:
    out = sess.run(input_op.outputs[0], {images: [[[[127.5, 0.0, 255.0]] * 33] * 33]})
  assert out[0, 0, 0].tolist() == pytest.approx([0.0, -1.0, 1.0])


def testExtractFeatures_BatchNormTrainsOnlyWithFineTuning():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  feature_extractor.extract_features(images, model_variant='mobilenet_v2', is_training=True,
                                     fine_tune_batch_norm=False)
  assert not tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  tf.compat.v1.reset_default_graph()
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  feature_extractor.extract_features(images, model_variant='mobilenet_v2', is_training=True,
                                     fine_tune_batch_norm=True)
  # Two moving-average updates per BN layer: 51 BN layers up to layer_18.
  assert len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == 2 * 51


def testGet_UnknownNameRaisesListingValidNames():
  with pytest.raises(ValueError, match=r"Unknown model variant 'mobilenet_v9'; valid names: "
                                       r".*\bmobilenet_v2, "):
    registry.get('mobilenet_v9')
  with pytest.raises(ValueError, match='Unknown model variant'):
    feature_extractor.extract_features(tf.zeros([1, 33, 33, 3]), model_variant='nope')


def testMeanPixel_MatchesDeepLab():
  assert registry.mean_pixel() == [123.15, 115.90, 103.06]
  assert registry.mean_pixel('resnet_v1_101') == [123.15, 115.90, 103.06]
  assert registry.mean_pixel('mobilenet_v2') == [127.5] * 3
  assert 'mobilenet_v2' in registry.names()


def testMakeDivisible_NeverDropsMoreThanTenPercent():
  assert lib._make_divisible(32 * 0.5, 8) == 16
  assert lib._make_divisible(12, 8) == 16
  assert lib._make_divisible(3, 8) == 8
  assert lib._make_divisible(3, 1, 1) == 3
