"""The TFLite rules of `tflite_target`, as functions and as the graphs the rewriter builds."""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.quantize import quantize
from slim.quantize import tflite_target
from slim.quantize.options import QuantizeOptions

_WEIGHTS = quantize.QUANTIZERS[quantize.WEIGHTS_QUANT]
_ACT = quantize.QUANTIZERS[quantize.ACT_QUANT]
_SECOND_PASS = quantize.QUANTIZERS[quantize.ACTIVATION_LAYER_QUANT]


@pytest.mark.parametrize('layer_type', ['Conv2D', 'MatMul', 'DepthwiseConv2dNative'])
def testUnitSettings_PerChannelImpliesSymmetricWeights(layer_type):
  options = QuantizeOptions(is_training=True, per_channel=True, weight_bits=4,
                            activation_bits=6)
  weights = tflite_target.unit_settings(options, _WEIGHTS, layer_type)
  assert weights == tflite_target.UnitSettings(
      num_bits=4, per_channel=True, symmetric=True,
      depthwise_layout=layer_type == 'DepthwiseConv2dNative')
  # Activations stay per-tensor and asymmetric.
  assert tflite_target.unit_settings(options, _ACT) == tflite_target.UnitSettings(
      num_bits=6, per_channel=False, symmetric=False, depthwise_layout=False)


def testUnitSettings_SymmetricOnlyWhereTheUnitHonoursIt():
  options = QuantizeOptions(is_training=False, symmetric=True)
  assert tflite_target.unit_settings(options, _WEIGHTS, 'Conv2D').symmetric
  assert tflite_target.unit_settings(options, _ACT).symmetric
  assert not tflite_target.unit_settings(options, _SECOND_PASS).symmetric
  assert not tflite_target.unit_settings(options.replace(symmetric=False), _WEIGHTS,
                                         'Conv2D').symmetric


def testUnitSettings_TransposedConvIsPerTensor():
  options = QuantizeOptions(is_training=False, per_channel=True)
  settings = tflite_target.unit_settings(options, _WEIGHTS, 'Conv2DBackpropInput')
  assert (settings.per_channel, settings.symmetric, settings.depthwise_layout) == (
      False, False, False)
  assert not tflite_target.supports_per_channel('Conv2DBackpropInput')
  assert tflite_target.supports_per_channel('Conv2D')


def testDepthwiseChannelShape_TfliteChannelOrder():
  assert tflite_target.depthwise_channel_shape([3, 3, 4, 2]) == [3, 3, 1, 8]


def testFixedOutputRanges_ScaleAndZeroPointTfliteRequires():
  for op_type, (scale, zero_point) in {'Sigmoid': (1 / 256, 0), 'Softmax': (1 / 256, 0),
                                       'Tanh': (1 / 128, 128)}.items():
    low, high = tflite_target.fixed_output_range(op_type)
    assert (high - low) / 255 == pytest.approx(scale)
    assert -low / scale == pytest.approx(zero_point)
  assert tflite_target.fixed_output_range('Relu') is None


def testPerChannelTraining_WeightRangesSymmetric():
  # All-positive weights: an asymmetric range would be [0, max]; per-channel must be [-a, a].
  x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name='input')
  tf_slim.conv2d(x, 4, 3, scope='c', activation_fn=tf.nn.relu6,
                 weights_initializer=tf.compat.v1.random_uniform_initializer(0.1, 1.0))
  contrib_quantize.experimental_create_training_graph(per_channel=True, symmetric=False)
  graph = tf.compat.v1.get_default_graph()
  fq = graph.get_operation_by_name('c/weights_quant/FakeQuantWithMinMaxVarsPerChannel')
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    low, high = sess.run([fq.inputs[1], fq.inputs[2]])
  assert low.shape == (4,) and np.all(high > 0.1)
  np.testing.assert_allclose(low, -high, rtol=1e-6)


def testPerTensorTraining_WeightRangesAsymmetric():
  # The control for the test above: without per-channel the same weights get [0, max].
  x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name='input')
  tf_slim.conv2d(x, 4, 3, scope='c', activation_fn=tf.nn.relu6,
                 weights_initializer=tf.compat.v1.random_uniform_initializer(0.1, 1.0))
  contrib_quantize.experimental_create_training_graph()
  fq = tf.compat.v1.get_default_graph().get_operation_by_name(
      'c/weights_quant/FakeQuantWithMinMaxVars')
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    low, high = sess.run([fq.inputs[1], fq.inputs[2]])
  assert low == 0.0 and high > 0.1


def testSoftmax_GetsTheFixedRange():
  x = tf.compat.v1.placeholder(tf.float32, [1, 6, 6, 3], name='input')
  net = tf_slim.conv2d(x, 5, 3, scope='logits', activation_fn=None)
  probs = tf.identity(tf.nn.softmax(net, name='Softmax'), name='probs')
  n_vars = len(tf.compat.v1.global_variables())
  contrib_quantize.create_eval_graph()
  graph = tf.compat.v1.get_default_graph()
  fq = graph.get_operation_by_name('Softmax/fixed_quant/FakeQuantWithMinMaxArgs')
  assert fq.inputs[0].op.name == 'Softmax'
  assert (fq.get_attr('min'), fq.get_attr('max')) == pytest.approx((0.0, 255.0 / 256.0))
  assert probs.op.inputs[0].op is fq
  new_vars = [v.op.name for v in tf.compat.v1.global_variables()][n_vars:]
  assert not [n for n in new_vars if n.startswith('Softmax')]


def _AtrousGraph():
  r"""input -> c: conv+relu6 -> s2b = SpaceToBatchND -> atrous: Conv2D -> BatchToSpaceND
                                  \-> pooled_s2b = SpaceToBatchND -> MaxPool
  """
  x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name='input')
  net = tf_slim.conv2d(x, 4, 1, scope='c', activation_fn=tf.nn.relu6)
  paddings = crops = [[0, 0], [0, 0]]
  s2b = tf.space_to_batch_nd(net, [2, 2], paddings, name='s2b')
  weights = tf.compat.v1.get_variable('atrous/weights', [3, 3, 4, 4])
  conv = tf.nn.conv2d(s2b, weights, 1, 'SAME', name='atrous/Conv2D')
  out = tf.compat.v1.batch_to_space_nd(conv, [2, 2], crops, name='b2s')
  pooled = tf.nn.max_pool2d(tf.space_to_batch_nd(net, [2, 2], paddings, name='pooled_s2b'),
                            2, 2, 'SAME')
  return out, pooled


def testSpaceToBatchBeforeConv_LeftAlone():
  _AtrousGraph()
  graph = tf.compat.v1.get_default_graph()
  assert tflite_target.is_atrous_prologue(graph.get_operation_by_name('s2b'))
  assert not tflite_target.is_atrous_prologue(graph.get_operation_by_name('pooled_s2b'))
  contrib_quantize.create_eval_graph()
  s2b = graph.get_operation_by_name('s2b')
  # Still read straight by the conv (the converter fuses the three ops into a dilated conv).
  assert [c.name for c in s2b.outputs[0].consumers()] == ['atrous/Conv2D']
  assert s2b.inputs[0].op.name == 'c/act_quant/FakeQuantWithMinMaxVars'
  names = {op.name for op in graph.get_operations()}
  assert not [n for n in names if n.startswith('s2b/') and '_quant' in n]
  # The conv's weights are quantized; a SpaceToBatchND feeding a pool gets the input's range.
  assert 'atrous/weights_quant/FakeQuantWithMinMaxVars' in names
  assert 'pooled_s2b/output_quant/FakeQuantWithMinMaxVars' in names
