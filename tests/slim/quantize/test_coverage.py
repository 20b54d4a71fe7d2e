"""Full-coverage tests: every op of an eval graph gets a range, so uint8 TFLite is all integer.

Each case builds `input -> conv+bias+relu6 (matched by the original patterns) -> <op> -> ...`,
applies the eval rewrite, freezes, converts to uint8 and asserts on the converted model's tensor
types (TF 2.21's converter would silently keep un-ranged ops in float).
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.quantize import coverage
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect

_SHAPE = [1, 16, 16, 3]


def _conv(x, depth, scope, activation=tf.nn.relu6, **kwargs):
  return tf_slim.conv2d(x, depth, 3, activation_fn=activation, scope=scope, **kwargs)


def _hard_swish(x):
  with tf.compat.v1.name_scope('hard_swish'):
    return x * tf.nn.relu6(x + np.float32(3)) * np.float32(1. / 6.)


def _squeeze_excite(x):
  with tf.compat.v1.variable_scope('squeeze_excite'):
    s = tf.reduce_mean(x, [1, 2], keepdims=True)
    s = tf_slim.conv2d(s, 2, 1, activation_fn=tf.nn.relu, scope='Conv')
    s = tf_slim.conv2d(s, x.shape[-1], 1, activation_fn=None, scope='Conv_1')
    gate = tf.nn.relu6(s + np.float32(3)) * np.float32(0.16667)
    return x * gate


# Case name -> function of the first layer's output returning the graph output.
CASES = {
    'leaky_relu': lambda x: tf.nn.leaky_relu(_conv(x, 4, 'c2', activation=None), 0.2),
    'sigmoid': lambda x: tf.sigmoid(_conv(x, 4, 'c2', activation=None)),
    'tanh': lambda x: tf.tanh(_conv(x, 4, 'c2', activation=None)),
    'sub_between_branches': lambda x: _conv(x, 4, 'a') - _conv(x, 4, 'b'),
    'mul_between_branches': lambda x: _conv(x, 4, 'a') * _conv(x, 4, 'b'),
    'conv_no_bias_bn_activation': lambda x: tf.nn.max_pool2d(
        _conv(x, 4, 'plain', activation=None, biases_initializer=None), 2, 2, 'SAME'),
    'transposed_conv': lambda x: tf_slim.conv2d_transpose(x, 4, 3, stride=2, scope='up'),
    'concat_resize_head': lambda x: tf.compat.v1.image.resize_bilinear(
        tf.concat([_conv(x, 4, 'a'), tf.compat.v1.image.resize_bilinear(
            _conv(tf.reduce_mean(x, [1, 2], keepdims=True), 4, 'pool'), [16, 16],
            align_corners=True)], 3), [32, 32], align_corners=True),
    'pools_pad_reshape': lambda x: tf.reshape(tf.pad(
        tf.nn.avg_pool2d(x, 2, 2, 'VALID'), [[0, 0], [1, 1], [1, 1], [0, 0]]), [1, -1]),
    'mean_squeeze_softmax': lambda x: tf.nn.softmax(tf.squeeze(
        tf_slim.conv2d(tf.reduce_mean(x, [1, 2], keepdims=True), 5, 1, activation_fn=None,
                       scope='logits'), [1, 2])),
    'hard_swish': lambda x: _hard_swish(_conv(x, 4, 'c2', activation=None)),
    'squeeze_excite': lambda x: _squeeze_excite(_conv(x, 4, 'c2')),
}


def _BuildCase(case):
  images = tf.compat.v1.placeholder(tf.float32, _SHAPE, name='input')
  net = _conv(images, 4, 'c1')
  return tf.identity(CASES[case](net), name='output')


def _ConvertEval(output_name='output', allow_float_ops=False):
  contrib_quantize.create_eval_graph()
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    frozen = convert.freeze_session(sess, [output_name])
  return convert.convert_uint8(frozen, ['input'], [output_name], [_SHAPE],
                               allow_float_ops=allow_float_ops)


@pytest.mark.parametrize('case', sorted(CASES))
def testEvalRewrite_ConvertsFullyInteger(case):
  _BuildCase(case)
  model = _ConvertEval()
  assert tflite_inspect.float_ops(model) == []
  assert tflite_inspect.is_fully_integer(model)


def testOriginalRewriteOnly_LeavesFloatOpsAndConversionRefuses():
  _BuildCase('leaky_relu')
  contrib_quantize.experimental_create_eval_graph(full_coverage=False)
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    frozen = convert.freeze_session(sess, ['output'])
  with pytest.raises(convert.NotFullyQuantizedError,
                     match=r'not fully integer: .*\(LEAKY_RELU\).*allow_float_ops=True'):
    convert.convert_uint8(frozen, ['input'], ['output'], [_SHAPE])
  mixed = convert.convert_uint8(frozen, ['input'], ['output'], [_SHAPE], allow_float_ops=True)
  assert 'LEAKY_RELU' in [op_type for _, op_type in tflite_inspect.float_ops(mixed)]


def _OpTypes(prefix):
  return [op.type for op in tf.compat.v1.get_default_graph().get_operations()
          if op.name.startswith(prefix)]


def testHardSwish_RangeAfterEveryStep():
  _BuildCase('hard_swish')
  contrib_quantize.create_eval_graph()
  graph = tf.compat.v1.get_default_graph()
  steps = [op for op in graph.get_operations()
           if op.name.startswith('hard_swish/') and op.type in ('AddV2', 'Relu6', 'Mul')
           and '_quant' not in op.name]
  assert sorted(op.type for op in steps) == ['AddV2', 'Mul', 'Mul', 'Relu6']
  for op in steps:
    consumer_types = {c.type for c in op.outputs[0].consumers()}
    assert consumer_types == {'FakeQuantWithMinMaxVars'}, (op.name, consumer_types)


def testSqueezeExcite_RangeAfterEveryStep():
  _BuildCase('squeeze_excite')
  contrib_quantize.create_eval_graph()
  graph = tf.compat.v1.get_default_graph()
  for name in ['squeeze_excite/Mean', 'squeeze_excite/Conv/Relu', 'squeeze_excite/Conv_1/BiasAdd',
               'squeeze_excite/add', 'squeeze_excite/Relu6', 'squeeze_excite/mul',
               'squeeze_excite/mul_1']:
    consumers = graph.get_operation_by_name(name).outputs[0].consumers()
    assert [c.type for c in consumers] == ['FakeQuantWithMinMaxVars'], name


def testPreservingOps_ReuseInputRangeWithoutNewVariables():
  _BuildCase('pools_pad_reshape')
  before = len(tf.compat.v1.global_variables())
  contrib_quantize.create_eval_graph()
  graph = tf.compat.v1.get_default_graph()
  new_vars = [v.op.name for v in tf.compat.v1.global_variables()][before:]
  assert new_vars == ['c1/weights_quant/min', 'c1/weights_quant/max',
                      'c1/act_quant/min', 'c1/act_quant/max']
  fq = graph.get_operation_by_name('AvgPool2D/output_quant/FakeQuantWithMinMaxVars')
  assert [t.name for t in fq.inputs[1:]] == ['c1/act_quant/min/read:0', 'c1/act_quant/max/read:0']


def testTransposedConv_WeightsQuantized():
  _BuildCase('transposed_conv')
  contrib_quantize.create_eval_graph()
  graph = tf.compat.v1.get_default_graph()
  conv = graph.get_operation_by_name('up/conv2d_transpose')
  assert conv.inputs[1].op.name == 'up/weights_quant/FakeQuantWithMinMaxVars'


def _DeepLabLike(is_training, images=None):
  """Backbone conv+BN, image pooling, concat, projection, dropout, logits, upsample."""
  if images is None:
    images = tf.compat.v1.placeholder(tf.float32, [2, 16, 16, 3], name='input')
  with tf_slim.arg_scope([tf_slim.conv2d], normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': is_training, 'decay': 0.9},
                         activation_fn=tf.nn.relu6):
    net = tf_slim.conv2d(images, 8, 3, stride=2, scope='backbone/conv1')
    net = tf_slim.conv2d(net, 8, 3, scope='backbone/conv2')
    pool = tf.reduce_mean(net, [1, 2], keepdims=True)
    pool = tf_slim.conv2d(pool, 8, 1, scope='image_pooling')
    pool = tf.compat.v1.image.resize_bilinear(pool, [8, 8], align_corners=True)
    aspp0 = tf_slim.conv2d(net, 8, 1, scope='aspp0')
    net = tf_slim.conv2d(tf.concat([pool, aspp0], 3), 8, 1, scope='concat_projection')
  net = tf_slim.dropout(net, keep_prob=0.9, is_training=is_training)
  logits = tf_slim.conv2d(net, 3, 1, activation_fn=None, scope='logits/semantic')
  logits = tf.compat.v1.image.resize_bilinear(logits, [16, 16], align_corners=True)
  return images, logits


def _MinMaxNames():
  return {v.op.name for v in tf.compat.v1.global_variables()
          if v.op.name.endswith(('/min', '/max'))}


def testEvalRangesAreSubsetOfTrainingRanges():
  with tf.Graph().as_default():
    _, logits = _DeepLabLike(is_training=True)
    labels = tf.zeros([2, 16, 16], tf.int32)
    tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    contrib_quantize.create_training_graph(quant_delay=0)
    train_ranges = _MinMaxNames()
    loss_ops = [op.name for op in tf.compat.v1.get_default_graph().get_operations()
                if op.name.startswith('sparse_softmax_cross_entropy_loss/') and '_quant' in op.name]
  assert loss_ops == []  # the loss is never quantized
  with tf.Graph().as_default():
    _, logits = _DeepLabLike(is_training=False)
    tf.argmax(logits, 3)
    contrib_quantize.create_eval_graph()
    eval_ranges = _MinMaxNames()
  assert eval_ranges
  assert eval_ranges <= train_ranges, sorted(eval_ranges - train_ranges)
  # The BN-fold tail is fused into the layer in TFLite: no range on it in either graph.
  assert not [n for n in train_ranges if '_fold/' in n or 'correction_' in n]
  # Each layer's weights are quantized once (the unfolded statistics conv gets nothing).
  assert not [n for n in train_ranges if 'weights_quant_1' in n]


def testUint8ImageCast_ExportPreprocessingGetsNoRange():
  # An export graph casts its uint8 image, scales and pads it before the model's input node: none
  # of that is in the converted model nor in the training graph, whose checkpoint must restore.
  with tf.Graph().as_default():
    _, logits = _DeepLabLike(is_training=True)
    tf.compat.v1.losses.sparse_softmax_cross_entropy(tf.zeros([2, 16, 16], tf.int32), logits)
    contrib_quantize.create_training_graph(quant_delay=0)
    train_ranges = _MinMaxNames()
  with tf.Graph().as_default():
    image = tf.compat.v1.placeholder(tf.uint8, [2, 14, 14, 3], name='ImageTensor')
    scaled = tf.cast(image, tf.float32) * (2.0 / 255.0) - 1.0
    _, logits = _DeepLabLike(is_training=False, images=tf.identity(
        tf.image.pad_to_bounding_box(scaled, 1, 1, 16, 16), name='input'))
    tf.argmax(logits, 3)
    contrib_quantize.create_eval_graph()
    eval_ranges = _MinMaxNames()
  assert eval_ranges <= train_ranges, sorted(eval_ranges - train_ranges)


def testInt32MaskCast_IsARangedSource():
  # An attention mask made from an int32 input: its float values need their own range.
  mask = tf.compat.v1.placeholder(tf.int32, [1, 8], name='input_mask')
  scores = tf_slim.fully_connected(tf.compat.v1.placeholder(tf.float32, [1, 4]), 8,
                                   activation_fn=None, scope='scores')
  tf.nn.softmax(scores + (1.0 - tf.cast(mask, tf.float32)) * -10000.0, name='probs')
  contrib_quantize.create_eval_graph()
  assert 'Cast/output_quant/min' in _MinMaxNames()


def testQuantizeRemaining_IsIdempotent():
  _BuildCase('concat_resize_head')
  contrib_quantize.create_eval_graph()
  graph_def = tf.compat.v1.get_default_graph().as_graph_def()
  coverage.QuantizeRemaining(tf.compat.v1.get_default_graph(), is_training=False)
  assert tf.compat.v1.get_default_graph().as_graph_def() == graph_def


def testExcludeScopes_LeaveOpsFloat():
  _BuildCase('sigmoid')
  contrib_quantize.experimental_create_eval_graph(exclude_scopes=('Sigmoid',))
  assert 'FakeQuantWithMinMaxArgs' not in _OpTypes('Sigmoid')


def testPerChannelDepthwise_WeightsQuantizedOnce():
  images = tf.compat.v1.placeholder(tf.float32, _SHAPE, name='input')
  with tf_slim.arg_scope([tf_slim.separable_conv2d], normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': False}, activation_fn=tf.nn.relu6):
    tf_slim.separable_conv2d(images, None, 3, depth_multiplier=1, scope='depthwise')
  contrib_quantize.experimental_create_eval_graph(per_channel=True)
  names = {v.op.name for v in tf.compat.v1.global_variables()}
  assert 'depthwise/weights_quant/min' in names
  assert not [n for n in names if 'weights_quant_1' in n]


@pytest.mark.parametrize('per_channel', [False, True])
def testDilatedDepthwise_ConvertsToOneFusedIntegerOp(per_channel):
  # SpaceToBatchND -> depthwise -> BatchToSpaceND must stay free of FakeQuant ops so that TFLite
  # fuses them into one dilated DEPTHWISE_CONV_2D (per-channel int8 would otherwise keep it float).
  images = tf.compat.v1.placeholder(tf.float32, [1, 17, 17, 8], name='input')
  with tf_slim.arg_scope([tf_slim.batch_norm], is_training=False):
    net = tf_slim.conv2d(images, 16, 1, normalizer_fn=tf_slim.batch_norm,
                         activation_fn=tf.nn.relu6, scope='expand')
    net = tf_slim.separable_conv2d(net, None, 3, depth_multiplier=1, rate=2,
                                   normalizer_fn=tf_slim.batch_norm, activation_fn=tf.nn.relu6,
                                   scope='depthwise')
    net = tf_slim.conv2d(net, 4, 1, normalizer_fn=tf_slim.batch_norm, activation_fn=None,
                         scope='project')
  tf.argmax(net, 3, name='ArgMax')
  contrib_quantize.experimental_create_eval_graph(per_channel=per_channel)
  graph = tf.compat.v1.get_default_graph()
  space_to_batch = graph.get_operation_by_name('depthwise/depthwise/SpaceToBatchND')
  assert {c.type for c in space_to_batch.outputs[0].consumers()} == {'DepthwiseConv2dNative'}
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    frozen = convert.freeze_session(sess, ['ArgMax'])
  convert_fn = convert.convert_int8 if per_channel else convert.convert_uint8
  model = convert_fn(frozen, ['input'], ['ArgMax'], [[1, 17, 17, 8]])
  assert tflite_inspect.op_histogram(model) == {'CONV_2D': 2, 'DEPTHWISE_CONV_2D': 1,
                                                'ARG_MAX': 1}
