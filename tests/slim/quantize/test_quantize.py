"""Tests for slim.quantize.quantize (ports of upstream quantize_test, both train and eval)."""
import pytest
import tensorflow as tf
import tf_slim

from slim.quantize import quantize

_FQ = 'FakeQuantWithMinMaxVars'
conv2d = tf_slim.conv2d
separable_conv2d = tf_slim.separable_conv2d
both_modes = pytest.mark.parametrize('is_training', [True, False])


def _Graph():
  return tf.compat.v1.get_default_graph()


def _Input(shape=(1, 9, 9, 3)):
  return tf.compat.v1.placeholder(tf.float32, list(shape), name='input')


def _Init():
  return tf.compat.v1.truncated_normal_initializer(stddev=0.09)


def _ConsumerTypes(tensor):
  return [c.type for c in tensor.consumers()]


@both_modes
def testInsertQuantOpForAddAfterConv2d_NoAddQuantBeforeRelu(is_training):
  #   input -> Conv2D -> BiasAdd -> AddV2(x) -> Relu6
  x = _Input()
  conv = conv2d(x, 3, [5, 5], weights_initializer=_Init(), activation_fn=None,
                scope='test/test')
  node = tf.add(conv, x, name='test/add')
  tf.nn.relu6(node, name='test/relu6')
  quantize.Quantize(_Graph(), is_training, weight_bits=8, activation_bits=8)
  g = _Graph()
  assert g.get_operation_by_name('test/test/conv_quant/' + _FQ).type == _FQ
  relu6 = g.get_operation_by_name('test/relu6')
  assert relu6.inputs[0].op.type != _FQ
  assert _FQ in _ConsumerTypes(relu6.outputs[0])  # act_quant after the Relu6


@both_modes
def testInsertQuantOpInSeparableConv2d_DepthwiseAndPointwise(is_training):
  #   input -> depthwise -> Conv2D(pointwise) -> BiasAdd -> AddV2(x) -> Relu6
  x = _Input()
  conv = separable_conv2d(x, 3, [5, 5], depth_multiplier=1, weights_initializer=_Init(),
                          activation_fn=None, scope='test/test')
  tf.nn.relu6(tf.add(conv, x, name='test/add'), name='test/relu6')
  quantize.Quantize(_Graph(), is_training)
  names = {op.name for op in _Graph().get_operations()}
  for prefix in ('test/test/conv_quant', 'test/test/weights_quant',
                 'test/test/separable_conv2d/weights_quant',
                 'test/test/separable_conv2d/act_quant'):
    assert prefix + '/' + _FQ in names, prefix


@both_modes
def testLayerActivationQuantized_ConvWithoutBias(is_training):
  x = _Input()
  conv2d(x, 3, [3, 3], activation_fn=tf.nn.relu6, biases_initializer=None,
         scope='test')
  quantize.Quantize(_Graph(), is_training)
  g = _Graph()
  conv = g.get_operation_by_name('test/Conv2D')
  assert conv.inputs[1].name == 'test/weights_quant/' + _FQ + ':0'
  assert _FQ in _ConsumerTypes(g.get_operation_by_name('test/Relu6').outputs[0])


@both_modes
def testFinalLayerQuantized_BiasAddFeedsFakeQuant(is_training):
  x = _Input()
  conv2d(x, 3, [3, 3], activation_fn=None, scope='test')
  # (An Identity consumer would be an activation; a Mean is not.)
  tf.reduce_mean(_Graph().get_tensor_by_name('test/BiasAdd:0'), name='output')
  quantize.Quantize(_Graph(), is_training)
  bias_add = _Graph().get_operation_by_name('test/BiasAdd')
  assert _FQ in _ConsumerTypes(bias_add.outputs[0])
  assert 'Mean' not in _ConsumerTypes(bias_add.outputs[0])  # rerouted to the FakeQuant


@both_modes
def testPostActivationBypassQuantized_BeforeAndAfterAdd(is_training):
  x = _Input((1, 9, 9, 3))
  conv = conv2d(x, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test/test')
  bypass = tf.add(conv, x, name='test/add')
  conv2d(bypass, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test/unused')
  quantize.Quantize(_Graph(), is_training)
  add = _Graph().get_operation_by_name('test/add')
  assert add.inputs[0].op.type == _FQ
  assert _FQ in _ConsumerTypes(add.outputs[0])
  assert 'test/post_activation_bypass_quant/' + _FQ in {op.name for op in
                                                        _Graph().get_operations()}


@both_modes
def testOverlappingPostActivationBypassQuantized_NotFollowedWhenRelu(is_training):
  x = _Input((1, 9, 9, 3))
  conv1 = conv2d(x, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test/test1')
  conv2 = conv2d(x, 3, [5, 5], activation_fn=None, scope='test/test2')
  bypass = tf.add(conv1, conv2, name='test/add')
  tf.nn.relu6(bypass, name='test/output')
  quantize.Quantize(_Graph(), is_training)
  g = _Graph()
  add = g.get_operation_by_name('test/add')
  assert all(t.op.type == _FQ for t in add.inputs)
  assert 'Relu6' in _ConsumerTypes(add.outputs[0])
  assert _FQ not in _ConsumerTypes(add.outputs[0])
  for name in ('test/test1/weights_quant', 'test/test2/weights_quant', 'test/test1/act_quant',
               'test/act_quant'):
    assert g.get_operation_by_name(name + '/' + _FQ).type == _FQ
  assert g.get_operation_by_name('test/test1/act_quant/' + _FQ).inputs[0].op.type == 'Relu6'
  assert g.get_operation_by_name('test/act_quant/' + _FQ).inputs[0].op.type == 'Relu6'


@both_modes
def testWithNameScope_NoDoubledNames(is_training):
  x = _Input()
  with tf.name_scope('name_scope'):
    conv2d(x, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test')
    quantize.Quantize(_Graph(), is_training)
  assert not any(op.name.startswith('name_scope/name_scope/')
                 for op in _Graph().get_operations())
  assert 'name_scope/test/weights_quant/' + _FQ in {op.name for op in
                                                    _Graph().get_operations()}


@both_modes
def testWithNonMatchingNameScope_NothingChanged(is_training):
  x = _Input()
  conv2d(x, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test')
  before = {op.name for op in _Graph().get_operations()}
  quantize.Quantize(_Graph(), is_training, scope='NonExisting/')
  assert {op.name for op in _Graph().get_operations()} == before


@pytest.mark.parametrize('partitions', [1, 2])
def testPartitionedVariable_WeightsQuantized(partitions):
  x = _Input()
  with tf.compat.v1.variable_scope(
      'part', partitioner=tf.compat.v1.fixed_size_partitioner(partitions)):
    conv2d(x, 4, [3, 3], activation_fn=tf.nn.relu6, scope='test/test')
  quantize.Quantize(_Graph(), True)
  assert 'part/test/test/weights_quant/' + _FQ in {op.name for op in
                                                   _Graph().get_operations()}


@pytest.mark.parametrize('with_fake_quant', [True, False])
def testSkipReshapeQuantization(with_fake_quant):
  x = _Input()
  conv = conv2d(x, 4, [3, 3], activation_fn=tf.nn.relu6, scope='test/test')
  reshape = tf.reshape(conv, [1, -1], name='test/reshape')
  if with_fake_quant:
    tf.quantization.fake_quant_with_min_max_vars(reshape, -6.0, 6.0, name='test/user_fq')
  quantize.Quantize(_Graph(), True)
  reshape_input = _Graph().get_operation_by_name('test/reshape').inputs[0]
  assert (reshape_input.op.type == _FQ) != with_fake_quant


def testSeparableConvWithResourceVar_BothLayersQuantized():
  x = _Input((1, 9, 9, 1))
  with tf.compat.v1.variable_scope('', use_resource=True):
    w = tf.compat.v1.get_variable('w', [3, 3, 1, 1])
  d1 = tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], 'SAME', name='depthwise_conv_1')
  d2 = tf.nn.depthwise_conv2d(d1, w, [1, 1, 1, 1], 'SAME', name='depthwise_conv_2')
  tf.add(d2, 0.75, name='add')
  quantize.Quantize(_Graph(), True)
  # Top-level layer ops have an empty context: units are numbered (weights_quant_1, ...).
  g = _Graph()
  conv1 = g.get_operation_by_name('depthwise_conv_1')
  conv2 = g.get_operation_by_name('depthwise_conv_2')
  assert {conv1.inputs[1].name, conv2.inputs[1].name} == {
      'weights_quant/' + _FQ + ':0', 'weights_quant_1/' + _FQ + ':0'}
  assert conv2.inputs[0].op.type == _FQ
  # The Add after the last conv is a bias add for the patterns: act_quant follows it.
  assert _FQ in _ConsumerTypes(g.get_operation_by_name('add').outputs[0])


def testSecondPass_AddAndMulChainsQuantized():
  x = _Input()
  relu = conv2d(x, 3, [3, 3], activation_fn=tf.nn.relu6, scope='test')
  m1 = tf.multiply(relu, 2.0, name='test/Mul')
  m2 = tf.multiply(relu, 3.0, name='test/Mul_1')
  tf.add(m1, m2, name='test/add')
  quantize.Quantize(_Graph(), True)
  names = {op.name for op in _Graph().get_operations()}
  for prefix in ('test/Mul/activation_Mul_quant', 'test/Mul_1/activation_Mul_quant',
                 'test/add/activation_AddV2_quant'):
    assert prefix + '/' + _FQ in names, prefix


def testExcludeScopes_LayerLeftFloat():
  x = _Input()
  y = conv2d(x, 3, [3, 3], activation_fn=tf.nn.relu6, scope='head')
  conv2d(y, 3, [3, 3], activation_fn=tf.nn.relu6, scope='body')
  quantize.Quantize(_Graph(), True, exclude_scopes=('head/',))
  names = {op.name for op in _Graph().get_operations()}
  assert 'body/weights_quant/' + _FQ in names
  assert not any(name.startswith('head/') and 'quant' in name for name in names)


@both_modes
def testWithNullNameScope_DoesNotCrash(is_training):
  x = _Input()
  with tf.compat.v1.name_scope(None):
    conv2d(x, 3, [5, 5], activation_fn=tf.nn.relu6, scope='test')
    quantize.Quantize(_Graph(), is_training)
  assert 'test/weights_quant/' + _FQ in {op.name for op in _Graph().get_operations()}


def testSecondPass_LongUnquantizedAddChainIsFast():
  # Each Add reads the two previous ones and nothing is quantized upstream, so every check
  # explores the whole chain: without memoization the search is exponential (fib(40) calls).
  x = tf.compat.v1.placeholder(tf.float32, [4], name='input')
  prev, cur = x, tf.add(x, 1.0, name='chain/add_0')
  for i in range(1, 40):
    prev, cur = cur, tf.add(cur, prev, name='chain/add_%d' % i)
  tf.identity(cur, name='output')
  quantize.Quantize(_Graph(), False)
  assert not [op for op in _Graph().get_operations() if op.type == _FQ]
