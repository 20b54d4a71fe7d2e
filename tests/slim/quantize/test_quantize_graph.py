"""Tests for the public API (slim.quantize / quantize_graph), ports of upstream tests + additions.

Most tests call the experimental functions with full_coverage=False so that they check this
module's passes alone; slim.quantize.coverage has its own tests.
"""
import functools
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim import fileio
import slim.quantize as contrib_quantize
from slim.quantize import quantize_graph

_FQ = 'FakeQuantWithMinMaxVars'
_TRAIN = functools.partial(contrib_quantize.experimental_create_training_graph,
                           full_coverage=False)
_EVAL = functools.partial(contrib_quantize.experimental_create_eval_graph,
                          full_coverage=False)
_REWRITES = [
    pytest.param(_TRAIN, True, id='train'),
    pytest.param(_EVAL, False, id='eval'),
    pytest.param(functools.partial(_TRAIN, symmetric=True), True, id='train_symmetric'),
    pytest.param(functools.partial(_EVAL, symmetric=True), False, id='eval_symmetric'),
]


def _Graph():
  return tf.compat.v1.get_default_graph()


def _OpNames(graph=None):
  return {op.name for op in (graph or _Graph()).get_operations()}


def _ConvLayer(x=None, scope='test', activation=tf.nn.relu6, batch_norm=True):
  if x is None:
    x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  params = {}
  if batch_norm:
    params = {'normalizer_fn': tf_slim.batch_norm,
              'normalizer_params': {'fused': True, 'is_training': True}}
  return tf_slim.conv2d(x, 4, 3, activation_fn=activation, scope=scope, **params)


def testPublicApi_ExactlyFourFunctions():
  assert sorted(contrib_quantize.__all__) == [
      'create_eval_graph', 'create_training_graph', 'experimental_create_eval_graph',
      'experimental_create_training_graph']


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testRewrite_AddsVariablesAndIsIdempotent(rewrite, is_training):
  _ConvLayer()
  n_vars = len(tf.compat.v1.global_variables())
  rewrite()
  assert len(tf.compat.v1.global_variables()) > n_vars
  graph_def = _Graph().as_graph_def()
  rewrite()
  assert _Graph().as_graph_def() == graph_def


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testRewrite_ExplicitGraphArgument(rewrite, is_training):
  graph = tf.Graph()
  with graph.as_default():
    _ConvLayer()
  rewrite(input_graph=graph)
  assert 'test/weights_quant/' + _FQ in _OpNames(graph)
  assert not _Graph().get_operations()


def testTrainingQuantization_AssignOpsPresent():
  _ConvLayer(batch_norm=False)
  _TRAIN()
  names = _OpNames()
  for suffix in ('weights_quant/AssignMinLast', 'weights_quant/AssignMaxLast',
                 'act_quant/AssignMinEma', 'act_quant/AssignMaxEma'):
    assert 'test/' + suffix in names


def testEvalQuantization_NoAssignOps():
  _ConvLayer(batch_norm=False)
  _EVAL()
  names = _OpNames()
  assert 'test/weights_quant/' + _FQ in names
  assert not any(s in n for n in names for s in ('AssignMinLast', 'AssignMinEma'))


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testWithPostActivationBypass(rewrite, is_training):
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 4], name='input')
  conv = _ConvLayer(x, scope='scope1/test', batch_norm=False)
  bypass = tf.add(conv, x, name='scope1/add')
  _ConvLayer(bypass, scope='scope1/next', batch_norm=False)
  rewrite()
  assert any('scope1/post_activation_bypass_quant/' in n for n in _OpNames())


def testQuantDelay_ConstHoldsDelay():
  _ConvLayer()
  _TRAIN(quant_delay=100)
  consts = [op for op in _Graph().get_operations()
            if op.type == 'Const' and 'activate_quant' in op.name]
  assert consts
  assert all(op.get_attr('value').int64_val == [100] for op in consts)


def testQuantDelay_BypassedBeforeDelayActiveAfter():
  x = tf.compat.v1.placeholder(tf.float32, [4], name='input')
  w = tf.compat.v1.get_variable('test/weights', initializer=tf.eye(4))
  y = tf.matmul(tf.reshape(x, [1, 4]), w, name='test/MatMul')
  y = tf.identity(tf.nn.relu6(y, name='test/Relu6'), name='output')
  _TRAIN(quant_delay=2)
  feed = {x: np.array([0.1, 0.2, 0.3, 0.4], np.float32)}
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    first = sess.run(y, feed)  # step 1 < 2: float values pass through
    second = sess.run(y, feed)  # step 2 >= 2: fake-quantized (255 levels over [0, 0.4])
  np.testing.assert_allclose(first, [[0.1, 0.2, 0.3, 0.4]], rtol=1e-6)
  step = 0.4 / 255
  assert np.max(np.abs(second - first)) <= step / 2 + 1e-5
  np.testing.assert_allclose(second / step, np.round(second / step), atol=1e-2)  # on the grid
  assert not np.allclose(first, second, rtol=0, atol=1e-7)


@pytest.mark.parametrize('rewrite', [contrib_quantize.create_training_graph, _TRAIN,
                                     contrib_quantize.create_eval_graph, _EVAL])
def testTrainingOpsCheck_RaisesAfterMinimize(rewrite):
  y = _ConvLayer(batch_norm=False)
  tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(y))
  with pytest.raises(ValueError, match='Training op found in graph, exiting'):
    rewrite()


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testWeightAndActivationBits(rewrite, is_training):
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 4], name='input')
  conv = _ConvLayer(x, scope='test/a', activation=None)
  _ConvLayer(tf.nn.relu(tf.add(conv, x)), scope='test/b')
  rewrite(weight_bits=4, activation_bits=3)
  fqs = [op for op in _Graph().get_operations() if op.type == _FQ]
  assert fqs
  for op in fqs:
    expected = 4 if 'weights_quant' in op.name else 3
    assert op.get_attr('num_bits') == expected, op.name


def testIdentityNode_BnInputStillFeedsStats():
  #   input -> Conv2D -> Identity(conv_out) -> FusedBatchNorm -> Identity(bn_out)
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  with tf.compat.v1.variable_scope('test/Conv'):
    w = tf.compat.v1.get_variable('weights', [3, 3, 3, 4])
  conv = tf.nn.conv2d(x, w, [1, 1, 1, 1], 'SAME', name='test/Conv/Conv2D')
  conv_out = tf.identity(conv, name='test/conv_out')
  bn = tf_slim.batch_norm(conv_out, fused=True, is_training=True, scope='test/BatchNorm')
  bn_out = tf.identity(bn, name='test/bn_out')
  _TRAIN()
  names = _OpNames()
  assert 'test/Conv/weights_quant/' + _FQ in names
  assert 'test/Conv/act_quant/' + _FQ in names
  assert bn_out.op.inputs[0].op.name == 'test/Conv/add_fold'
  assert [c.name for c in conv_out.consumers()] == ['test/BatchNorm/FusedBatchNormV3']


def testActivationQuantization_SecondPassNames():
  relu = _ConvLayer(batch_norm=False)
  tf.add(tf.multiply(relu, 2.0, name='test/Mul'), tf.multiply(relu, 3.0, name='test/Mul_1'),
         name='test/add')
  _TRAIN()
  names = _OpNames()
  for prefix in ('test/Mul/activation_Mul_quant', 'test/Mul_1/activation_Mul_quant',
                 'test/add/activation_AddV2_quant'):
    assert prefix + '/' + _FQ in names


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testRewriteWithScope_OnlyThatScope(rewrite, is_training):
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  _ConvLayer(x, scope='scope1/test')
  _ConvLayer(x, scope='scope2/test')
  rewrite(scope='scope1')
  fq_names = [op.name for op in _Graph().get_operations() if op.type == _FQ]
  assert any(n.startswith('scope1/') for n in fq_names)
  assert not any(n.startswith('scope2/') for n in fq_names)


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testRewriteWithNonMatchingScope_NoFakeQuant(rewrite, is_training):
  _ConvLayer(batch_norm=False)
  rewrite(scope='NonExisting')
  assert not [op for op in _Graph().get_operations() if op.type == _FQ]


@pytest.mark.parametrize('rewrite,is_training', _REWRITES)
def testExcludeScopes_NoFakeQuantAndNoFold(rewrite, is_training):
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  _ConvLayer(_ConvLayer(x, scope='keep'), scope='skip')
  rewrite(exclude_scopes=('skip/',))
  names = _OpNames()
  assert 'keep/weights_quant/' + _FQ in names
  assert not any(n.startswith('skip/') and ('quant' in n or 'fold' in n.lower())
                 for n in names)


@pytest.mark.parametrize('quant_delay', [0, 1])
def testWithSharedWeights_QuantizedOnce(quant_delay):
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  conv = tf.compat.v1.make_template('shared', lambda t: tf_slim.conv2d(
      t, 3, 3, activation_fn=tf.nn.relu6, scope='test'))
  conv(conv(x))
  _TRAIN(quant_delay=quant_delay)
  g = _Graph()
  weight_fqs = [op for op in g.get_operations()
                if op.type == _FQ and 'weights_quant' in op.name]
  assert len(weight_fqs) == 1
  convs = [op for op in g.get_operations() if op.type == 'Conv2D']
  assert len(convs) == 2
  merges = [op for op in g.get_operations()
            if 'weights_quant/delayed_quant/Merge' in op.name]
  assert len(merges) == quant_delay
  for c in convs:
    assert c.inputs[1].op in ([weight_fqs[0]] + merges)


def testInferenceModeBatchNorm_TrainingRewriteDoesNotCrash():
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  tf_slim.conv2d(x, 4, 3, activation_fn=tf.nn.relu6, scope='test',
                 normalizer_fn=tf_slim.batch_norm,
                 normalizer_params={'fused': True, 'is_training': False})
  _TRAIN(freeze_bn_delay=10)
  names = _OpNames()
  assert 'test/add_fold' in names
  assert 'test/weights_quant/' + _FQ in names


def testPerChannel_WeightUnitsStructure():
  x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
  y = _ConvLayer(x, scope='c')
  tf_slim.separable_conv2d(y, None, 3, depth_multiplier=2, activation_fn=tf.nn.relu6,
                           scope='d')
  _TRAIN(per_channel=True)
  g = _Graph()
  c_fq = g.get_operation_by_name('c/weights_quant/FakeQuantWithMinMaxVarsPerChannel')
  assert g.get_operation_by_name('c/Conv2D_Fold').inputs[1].op is c_fq
  d_fq = g.get_operation_by_name('d/weights_quant/FakeQuantWithMinMaxVarsPerChannel')
  # Depthwise [3, 3, 4, 2] weights are quantized along in*mult = 8 channels.
  assert d_fq.inputs[0].shape.as_list() == [3, 3, 1, 8]
  assert g.get_operation_by_name('d/depthwise').inputs[1].op.name == (
      'd/weights_quant/depthwise_weights')
  shapes = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert shapes['c/weights_quant/min'] == [4]
  assert shapes['d/weights_quant/max'] == [8]
  assert shapes['c/act_quant/min'] == []


def testPerChannel_ConvertsToInt8WithPerChannelScales(tmp_path):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 3], name='input')
    bn = {'normalizer_fn': tf_slim.batch_norm, 'normalizer_params': {'is_training': False}}
    y = tf_slim.conv2d(x, 4, 3, activation_fn=tf.nn.relu6, scope='c', **bn)
    y = tf_slim.separable_conv2d(y, None, 3, depth_multiplier=2, activation_fn=tf.nn.relu6,
                                 scope='d', **bn)
    tf.identity(y, name='output')
    _EVAL(per_channel=True)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for v in tf.compat.v1.global_variables():
        if v.op.name.endswith('act_quant/max'):
          v.load(6.0, sess)
        elif 'weights_quant/' in v.op.name:
          sign = -1.0 if v.op.name.endswith('min') else 1.0
          v.load(sign * np.linspace(0.2, 1.0, v.shape[0]), sess)
      frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
          sess, graph.as_graph_def(), ['output'])
  path = os.path.join(str(tmp_path), 'frozen.pb')
  fileio.atomic_write_bytes(path, frozen.SerializeToString())
  converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(path, ['input'], ['output'])
  converter.inference_type = tf.int8
  converter.quantized_input_stats = {'input': (0.0, 1.0)}
  interpreter = tf.lite.Interpreter(model_content=converter.convert())
  ops = [op['op_name'] for op in interpreter._get_ops_details()]  # pylint: disable=protected-access
  assert ops == ['CONV_2D', 'DEPTHWISE_CONV_2D']
  weights = {}
  for detail in interpreter.get_tensor_details():
    if 'weights_quant' in detail['name']:
      weights['d' if 'depthwise' in detail['name'] else 'c'] = detail
  assert weights['c']['dtype'] == np.int8
  assert len(weights['c']['quantization_parameters']['scales']) == 4
  assert weights['d']['dtype'] == np.int8
  assert len(weights['d']['quantization_parameters']['scales']) == 8
  assert weights['d']['quantization_parameters']['quantized_dimension'] == 3


def testCheckForTrainingOps_MessageListsOps():
  var = tf.compat.v1.get_variable('v', [1])
  tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(var))
  with pytest.raises(ValueError, match=r"exiting \{'ApplyGradientDescent'\}"):
    quantize_graph._check_for_training_ops(_Graph())  # pylint: disable=protected-access


@pytest.mark.parametrize('rewrite', [contrib_quantize.create_training_graph,
                                     contrib_quantize.create_eval_graph])
def testDefaultApi_FullCoverageIsIdempotent(rewrite):
  _ConvLayer()
  rewrite()
  assert 'test/weights_quant/' + _FQ in _OpNames()
  graph_def = _Graph().as_graph_def()
  rewrite()
  assert _Graph().as_graph_def() == graph_def


def _MobilenetV2Block(bn_is_training):
  """expand 1x1 -> depthwise (rate 2) -> project 1x1 (Identity) -> AddV2(input) -> mean."""
  x = tf.compat.v1.placeholder(tf.float32, [1, 17, 17, 8], name='input')
  with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.separable_conv2d],
                         normalizer_fn=tf_slim.batch_norm, activation_fn=tf.nn.relu6), \
      tf_slim.arg_scope([tf_slim.batch_norm], is_training=bn_is_training):
    with tf.compat.v1.variable_scope('expanded_conv'):
      net = tf_slim.conv2d(x, 16, 1, scope='expand')
      net = tf_slim.separable_conv2d(net, None, 3, depth_multiplier=1, rate=2, scope='depthwise')
      net = tf_slim.conv2d(net, 8, 1, activation_fn=tf.identity, scope='project')
      net = tf.add(net, x, name='add')
  return tf.reduce_mean(net, [1, 2], name='output')


def _QuantVariableNames():
  return sorted(v.op.name for v in tf.compat.v1.global_variables()
                if v.op.name.endswith(('quant/min', 'quant/max')))


def testMobilenetV2Block_TrainAndEvalGraphsShareQuantVariables():
  _MobilenetV2Block(True)
  _TRAIN()
  train_vars = _QuantVariableNames()
  tf.compat.v1.reset_default_graph()
  _MobilenetV2Block(False)
  _EVAL()
  assert _QuantVariableNames() == train_vars
  units = {name.rsplit('/', 1)[0] for name in train_vars}
  assert units == {
      'expanded_conv/expand/weights_quant', 'expanded_conv/expand/act_quant',
      'expanded_conv/depthwise/weights_quant', 'expanded_conv/depthwise/act_quant',
      'expanded_conv/project/weights_quant', 'expanded_conv/project/act_quant',
      'expanded_conv/post_activation_bypass_quant'}
