"""Xception-65 as DeepLab built it: names, shapes, atrous rates, skip types, QAT to uint8 TFLite."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim  # noqa: F401  (applies slim.compat)
from deeplab.core import feature_extractor
from slim.nets import nets_factory
from slim.nets import registry
from slim.nets import resnet_utils
from slim.nets import xception
import slim.quantize as contrib_quantize
from tests.slim.nets.test_resnet_v1 import qat_to_uint8
from tests.slim.nets.test_resnet_v1 import unquantized_conv_inputs

_BN = ('gamma', 'beta', 'moving_mean', 'moving_variance')
_MODULE = 'xception_module'
# Xception-65 (DeepLab): (block scope, depths of the 3 separable convs, skip type, units).
_XCEPTION_65 = [
    ('entry_flow/block1', [128, 128, 128], 'conv', 1),
    ('entry_flow/block2', [256, 256, 256], 'conv', 1),
    ('entry_flow/block3', [728, 728, 728], 'conv', 1),
    ('middle_flow/block1', [728, 728, 728], 'sum', 16),
    ('exit_flow/block1', [728, 1024, 1024], 'conv', 1),
    ('exit_flow/block2', [1536, 1536, 2048], 'none', 1),
]


def _expected_variables(scope, blocks, num_classes=None):
  """[(name, shape)] of an Xception classifier with split separable convs, from the table."""
  expected = []

  def conv(prefix, shape, weights='weights'):
    expected.append(('%s/%s/%s' % (scope, prefix, weights), shape))
    depth = shape[2] if weights == 'depthwise_weights' else shape[3]
    expected.extend(('%s/%s/BatchNorm/%s' % (scope, prefix, v), [depth]) for v in _BN)

  conv('entry_flow/conv1_1', [3, 3, 3, 32])
  conv('entry_flow/conv1_2', [3, 3, 32, 64])
  in_depth = 64
  for block, depths, skip, units in blocks:
    for u in range(units):
      prefix = '%s/unit_%d/%s' % (block, u + 1, _MODULE)
      unit_in = in_depth
      for i, depth in enumerate(depths):
        conv('%s/separable_conv%d_depthwise' % (prefix, i + 1), [3, 3, in_depth, 1],
             weights='depthwise_weights')
        conv('%s/separable_conv%d_pointwise' % (prefix, i + 1), [1, 1, in_depth, depth])
        in_depth = depth
      if skip == 'conv':
        conv(prefix + '/shortcut', [1, 1, unit_in, in_depth])
  if num_classes:
    expected.append(('%s/logits/weights' % scope, [1, 1, in_depth, num_classes]))
    expected.append(('%s/logits/biases' % scope, [num_classes]))
  return expected


def _variables(collection=tf.compat.v1.GraphKeys.GLOBAL_VARIABLES):
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.get_collection(collection)}


def _ops_of_type(op_type):
  return [op for op in tf.compat.v1.get_default_graph().get_operations() if op.type == op_type]


def _build(size, fn=xception.xception_65, arg_scope_kwargs=None, **kwargs):
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3], name='input')
  with tf_slim.arg_scope(xception.xception_arg_scope(**(arg_scope_kwargs or {}))):
    return fn(images, **kwargs)


def testXception65_ClassifierHasTheDeepLabCheckpointVariables():
  network_fn = nets_factory.get_network_fn('xception_65', 1001)
  assert network_fn.default_image_size == 299
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  logits, end_points = network_fn(images)
  expected = _expected_variables('xception_65', _XCEPTION_65, num_classes=1001)
  assert _variables() == dict(expected)
  trainable = _variables(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES)
  # Weights, gamma and beta of 2 + 21 * 6 + 4 shortcut convs, plus logits weights and biases.
  assert len(trainable) == 3 * (2 + 21 * 6 + 4) + 2 == 398
  assert sum(int(np.prod(s)) for s in trainable.values()) == 39918361
  assert logits.shape.as_list() == [1, 1001]
  assert end_points['Logits'] is logits
  assert end_points['xception_65/logits'].shape.as_list() == [1, 1, 1, 1001]
  assert end_points['global_pool'].shape.as_list() == [1, 1, 1, 2048]
  assert end_points['Predictions'] is end_points['predictions']
  input_op = tf.compat.v1.get_default_graph().get_operation_by_name(
      registry.get('xception_65').classifier_input_node)
  assert input_op.name == 'xception_65/input' and input_op.inputs[0] is images
  assert xception.xception_65.default_image_size == 299
  # 21 modules x 3 separable convs; 2 stem convs + 63 pointwise + 4 shortcuts + logits.
  assert len(_ops_of_type('DepthwiseConv2dNative')) == 63
  assert len(_ops_of_type('Conv2D')) == 2 + 63 + 4 + 1


# {output_stride: {end point suffix: spatial size}} at 65x65.
_PW2 = 'unit_1/xception_module/separable_conv2_pointwise'
_OS_SIZES = {
    8: {'entry_flow/conv1_1': 33, 'entry_flow/block1': 17, 'entry_flow/block2': 9,
        'entry_flow/block3': 9, 'middle_flow/block1': 9, 'exit_flow/block1': 9,
        'exit_flow/block2': 9, 'entry_flow/block2/' + _PW2: 17,
        'entry_flow/block3/' + _PW2: 9, 'exit_flow/block1/' + _PW2: 9},
    16: {'entry_flow/conv1_1': 33, 'entry_flow/block1': 17, 'entry_flow/block2': 9,
         'entry_flow/block3': 5, 'middle_flow/block1': 5, 'exit_flow/block1': 5,
         'exit_flow/block2': 5, 'entry_flow/block2/' + _PW2: 17,
         'entry_flow/block3/' + _PW2: 9, 'exit_flow/block1/' + _PW2: 5},
    32: {'entry_flow/conv1_1': 33, 'entry_flow/block1': 17, 'entry_flow/block2': 9,
         'entry_flow/block3': 5, 'middle_flow/block1': 5, 'exit_flow/block1': 3,
         'exit_flow/block2': 3, 'entry_flow/block2/' + _PW2: 17,
         'entry_flow/block3/' + _PW2: 9, 'exit_flow/block1/' + _PW2: 5},
}
# {output_stride: (rate of the middle flow, rate of exit_flow/block2 before multi_grid)}.
_OS_RATES = {8: (2, 4), 16: (1, 2), 32: (1, 1)}


def _rate(block, conv):
  """Atrous rate of a depthwise conv: graph-mode TF dilates it through SpaceToBatchND."""
  name = 'xception_65/%s/unit_1/xception_module/separable_conv%d_depthwise/depthwise/' \
         'SpaceToBatchND/block_shape' % (block, conv)
  try:
    const = tf.compat.v1.get_default_graph().get_operation_by_name(name)
  except KeyError:
    return 1
  rate = tf.make_ndarray(const.get_attr('value')).tolist()
  assert rate[0] == rate[1]
  return rate[0]


@pytest.mark.slow
@pytest.mark.parametrize('output_stride', [8, 16, 32])
def testXception65_OutputStrideSetsEndpointShapesAndRates(output_stride):
  net, end_points = _build(65, is_training=False, global_pool=False,
                           output_stride=output_stride, multi_grid=(1, 2, 4))
  sizes = _OS_SIZES[output_stride]
  assert net.shape.as_list() == [1, sizes['exit_flow/block2'], sizes['exit_flow/block2'], 2048]
  for suffix, size in sizes.items():
    assert end_points['xception_65/' + suffix].shape.as_list()[1:3] == [size, size], suffix
  assert end_points['xception_65/entry_flow/block2/' + _PW2].shape.as_list()[3] == 256
  middle_rate, exit_rate = _OS_RATES[output_stride]
  assert _rate('middle_flow/block1', 1) == middle_rate
  assert [_rate('exit_flow/block2', c) for c in (1, 2, 3)] == [exit_rate * r for r in (1, 2, 4)]
  # multi_grid only reaches the last block.
  assert _rate('exit_flow/block1', 1) == (2 if output_stride == 8 else 1)


def testExtractFeatures_Xception65Os16HasDeepLabDecoderEndpoints():
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  features, end_points = feature_extractor.extract_features(images, output_stride=16,
                                                            model_variant='xception_65')
  assert features.shape.as_list() == [1, 5, 5, 2048]
  record = registry.get('xception_65')
  assert dict(record.decoder_endpoints) == {4: 'entry_flow/block2/' + _PW2,
                                            8: 'entry_flow/block3/' + _PW2,
                                            16: 'exit_flow/block1/' + _PW2}
  for stride, (size, depth) in ((4, (17, 256)), (8, (9, 728)), (16, (5, 1024))):
    end_point = end_points[record.decoder_endpoints[stride]]
    assert end_point.shape.as_list() == [1, size, size, depth]
    assert end_points['xception_65/' + record.decoder_endpoints[stride]] is end_point
  # Past stride 16, the exit flow is dilated instead of strided.
  assert _rate('exit_flow/block2', 1) == 2
  assert _rate('exit_flow/block1', 3) == 1
  graph = tf.compat.v1.get_default_graph()
  # Inputs are scaled to [-1, 1] before the backbone's input identity.
  input_op = graph.get_operation_by_name(record.quant_input_node)
  assert record.quant_input_node == 'xception_65/xception_65/input'
  assert input_op.inputs[0].op.name == 'sub'
  assert graph.get_operation_by_name('xception_65/entry_flow/conv1_1/Conv2D').inputs[
      0].op.inputs[0].op is input_op
  assert registry.mean_pixel('xception_65') == [127.5] * 3
  assert record.default_bn_decay == 0.9997 and record.preprocessing_name == 'inception'
  # The separable convs' depthwise weights are not regularized by default.
  losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  assert len(losses) == 2 + 63 + 4
  # DeepLab's Xception batch norm epsilon.
  bn = graph.get_operation_by_name('xception_65/entry_flow/conv1_1/BatchNorm/FusedBatchNormV3')
  assert bn.get_attr('epsilon') == pytest.approx(1e-3)


def testXception_MultiGridDilatesOnlyTheLastBlock():
  _build(33, fn=_tiny, output_stride=4, multi_grid=(1, 2, 4))
  graph = tf.compat.v1.get_default_graph()

  def rate(block, conv):
    name = 'xt/%s/unit_1/xception_module/separable_conv%d_depthwise/depthwise/SpaceToBatchND/' \
           'block_shape' % (block, conv)
    try:
      return tf.make_ndarray(graph.get_operation_by_name(name).get_attr('value')).tolist()[0]
    except KeyError:
      return 1
  # Stem /2, block1 /2 reach stride 4; block2's stride then becomes rate 2 for later blocks.
  assert [rate('entry_flow/block2', c) for c in (1, 2, 3)] == [1, 1, 1]
  assert [rate('middle_flow/block1', c) for c in (1, 2, 3)] == [2, 2, 2]
  assert [rate('exit_flow/block2', c) for c in (1, 2, 3)] == [2, 4, 8]


# A small table with every kind of module: strided 'conv' skip, 'sum' skip, and the last block's
# 'none' skip with ReLU inside the separable convs (nominal stride 8).
_TINY = (
    xception.XceptionBlockDef('entry_flow/block1', (4, 4, 8), 'conv', False, 1, 2, False),
    xception.XceptionBlockDef('entry_flow/block2', (8, 8, 8), 'conv', False, 1, 2, False),
    xception.XceptionBlockDef('middle_flow/block1', (8, 8, 8), 'sum', False, 2, 1, False),
    xception.XceptionBlockDef('exit_flow/block2', (8, 8, 16), 'none', True, 1, 1, True),
)


def _tiny(images, num_classes=None, is_training=False, output_stride=None, multi_grid=None,
          regularize_depthwise=False, global_pool=False):
  blocks = xception.xception_blocks(_TINY, multi_grid=multi_grid,
                                    regularize_depthwise=regularize_depthwise)
  return xception.xception(images, blocks, num_classes=num_classes, is_training=is_training,
                           global_pool=global_pool, output_stride=output_stride, scope='xt')


def testXceptionModule_SkipConnectionTypesAndActivationPlacement():
  _build(33, fn=_tiny)
  graph = tf.compat.v1.get_default_graph()
  prefix = 'xt/middle_flow/block1/unit_2/xception_module/'
  add = graph.get_operation_by_name(prefix + 'add')
  # 'sum': the module input (unit_1's output) is added to the third pointwise conv's output.
  assert add.inputs[1].op.name == 'xt/middle_flow/block1/unit_1/xception_module/add'
  assert add.inputs[0].op.name == prefix + 'separable_conv3_pointwise/BatchNorm/FusedBatchNormV3'
  # ReLU precedes each separable conv ...
  assert graph.get_operation_by_name(prefix + 'separable_conv1_depthwise/depthwise').inputs[
      0].op.type == 'Relu'
  # ... except in the last block, where it follows every depthwise and pointwise conv, and the
  # 'none' skip adds nothing.
  exit_prefix = 'xt/exit_flow/block2/unit_1/xception_module/'
  exit_ops = [op for op in graph.get_operations() if op.name.startswith(exit_prefix)]
  assert sorted(op.name[len(exit_prefix):] for op in exit_ops if op.type == 'Relu') == [
      'separable_conv%d_%s/Relu' % (i, kind) for i in (1, 2, 3)
      for kind in ('depthwise', 'pointwise')]
  assert not [op for op in exit_ops if op.type in ('Add', 'AddV2') and
              '/Initializer/' not in op.name]
  # 'conv': a strided 1x1 projection, no activation.
  shortcut = graph.get_operation_by_name('xt/entry_flow/block2/unit_1/xception_module/shortcut/'
                                         'Conv2D')
  assert shortcut.get_attr('strides') == [1, 2, 2, 1]


def testXceptionModule_RegularizeDepthwiseFusesTheSeparableConv():
  _build(33, fn=_tiny, arg_scope_kwargs={'regularize_depthwise': True},
         regularize_depthwise=True)
  variables = _variables()
  prefix = 'xt/entry_flow/block1/unit_1/xception_module/separable_conv1'
  assert variables[prefix + '/depthwise_weights'] == [3, 3, 64, 1]
  assert variables[prefix + '/pointwise_weights'] == [1, 1, 64, 4]
  assert not [name for name in variables if '_depthwise/' in name or '_pointwise/' in name]
  losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  # 2 stem convs, 5 modules x 3 separable convs x 2 weights, 2 shortcuts.
  assert len(losses) == 2 + 5 * 3 * 2 + 2


def testXceptionModule_SplitSeparableConvRegularizesOnlyPointwise():
  _build(33, fn=_tiny)
  losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
  assert len(losses) == 2 + 5 * 3 + 2
  assert not [loss for loss in losses if '_depthwise/' in loss.name]


def testXception_AtrousMatchesSubsampledNominal():
  images = tf.compat.v1.random_normal([1, 33, 33, 3], seed=1)
  outputs = {}
  with tf_slim.arg_scope(xception.xception_arg_scope()):
    for output_stride in (None, 2, 4, 8):
      net, _ = _tiny(images, output_stride=output_stride)
      tf.compat.v1.get_variable_scope().reuse_variables()
      outputs[output_stride] = resnet_utils.subsample(net, 8 // (output_stride or 8))
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    values = sess.run(outputs)
  assert values[None].shape == (1, 5, 5, 16)
  for output_stride in (2, 4, 8):
    np.testing.assert_allclose(values[output_stride], values[None], rtol=1e-4, atol=1e-4)


def testXception_BadArgumentsRaise():
  images = tf.zeros([1, 33, 33, 3])
  with pytest.raises(ValueError,
                     match=r'^The output_stride needs to be a multiple of 2\. \(got 5\)$'):
    xception.xception_65(images, output_stride=5)
  with pytest.raises(ValueError, match=r'^Expect multi_grid to have length 3\. \(got \[1, 2\]\)$'):
    xception.xception_65(images, multi_grid=[1, 2])
  with pytest.raises(ValueError, match=r"Unknown Xception variant 'xception_66'; valid names: "
                                       r'xception_41, xception_65, xception_71'):
    xception.build_variant('xception_66', images)
  with pytest.raises(ValueError, match=r"^Unsupported skip connection type\. \(got 'add'; expected "
                                       r'one of conv, sum, none\)$'):
    xception.xception_module(images, [4, 4, 4], 'add', stride=1)
  with pytest.raises(ValueError, match=r'^Expect three elements in depth_list\. \(got \[4, 4\]\)$'):
    xception.xception_module(images, [4, 4], 'sum', stride=1)


def _tiny_classifier(images, num_classes, is_training):
  with tf_slim.arg_scope(xception.xception_arg_scope()):
    return _tiny(images, num_classes, is_training, output_stride=4, multi_grid=(1, 2, 4),
                 global_pool=True)[0]


def testXception_Tiny_EvalRewriteQuantizesEveryConvInput():
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3], name='input')
  logits = _tiny_classifier(images, 3, False)
  contrib_quantize.create_eval_graph()
  assert unquantized_conv_inputs(logits) == []


@pytest.mark.slow
def testXception_Tiny_QatConvertsToFullyQuantizedUint8():
  _, output = qat_to_uint8(_tiny_classifier, 33)
  assert output.dtype == np.uint8 and output.shape == (1, 3)


@pytest.mark.slow
def testXception65_QatConvertsToFullyQuantizedUint8():
  def build(images, num_classes, is_training):
    with tf_slim.arg_scope(xception.xception_arg_scope()):
      return xception.xception_65(images, num_classes, is_training=is_training)[0]
  qat_to_uint8(build, 33)
