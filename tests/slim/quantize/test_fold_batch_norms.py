"""Tests for slim.quantize.fold_batch_norms: structure by op name and numerics vs unfolded."""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from tests import helpers

from slim.quantize import fold_batch_norms
from slim.quantize import options as options_lib

_BATCH, _SIZE, _IN = 2, 9, 3
_MODES = options_lib.FOLD_MODES


def _Graph():
  return tf.compat.v1.get_default_graph()


def _Input():
  return tf.compat.v1.placeholder(tf.float32, [_BATCH, _SIZE, _SIZE, _IN], name='input')


def _BnParams(fused, is_training=True, scale=True):
  return {'fused': fused, 'is_training': is_training, 'scale': scale, 'decay': 0.5}


def _Conv(x, fused, is_training=True, scale=True, activation=tf.nn.relu6, rate=1,
          scope='test'):
  return tf_slim.conv2d(x, 4, 3, rate=rate, activation_fn=activation, scope=scope,
                        normalizer_fn=tf_slim.batch_norm,
                        normalizer_params=_BnParams(fused, is_training, scale))


def _Depthwise(x, fused, is_training=True, rate=1, scope='test'):
  return tf_slim.separable_conv2d(x, None, 3, depth_multiplier=2, rate=rate,
                                  activation_fn=tf.nn.relu6, scope=scope,
                                  normalizer_fn=tf_slim.batch_norm,
                                  normalizer_params=_BnParams(fused, is_training))


def _DilatedAttrLayer(x, depthwise, is_training):
  """A conv using the `dilations` attribute (not SpaceToBatchND) followed by slim BN."""
  with tf.compat.v1.variable_scope('test'):
    if depthwise:
      w = tf.compat.v1.get_variable('depthwise_weights', [3, 3, _IN, 2])
      # tf.nn.depthwise_conv2d emits SpaceToBatchND on CPU; build the dilations-attr form.
      y = tf.raw_ops.DepthwiseConv2dNative(input=x, filter=w, strides=[1, 1, 1, 1],
                                           padding='SAME', dilations=[1, 2, 2, 1],
                                           name='depthwise')
    else:
      w = tf.compat.v1.get_variable('weights', [3, 3, _IN, 4])
      y = tf.nn.conv2d(x, w, [1, 1, 1, 1], 'SAME', dilations=[1, 2, 2, 1], name='Conv2D')
    assert y.op.get_attr('dilations') == [1, 2, 2, 1]
    y = tf_slim.batch_norm(y, **_BnParams(True, is_training))
    return tf.nn.relu6(y, name='Relu6')


def _CompareFoldedAndUnfolded(build, is_training_rewrite, atol, check_gradient=False,
                              fold_mode=options_lib.FOLD_ONE_CONV):
  """Runs output (and d output/d input) before and after folding.

  The folded graph runs in a new session: a session ignores input changes of ops it has already
  run (TF only warns), so reusing it would compare the unfolded graph with itself.
  """
  x = _Input()
  y = build(x)
  feed = {x: np.random.RandomState(1).normal(size=x.shape.as_list()).astype(np.float32)}
  fetches = {'y': y}
  if check_gradient:
    fetches['grad'] = tf.gradients(tf.reduce_sum(y * y), x)[0]
  before = _RunRandomized(fetches, feed)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=is_training_rewrite,
                                  fold_mode=fold_mode)
  if check_gradient:
    fetches['grad'] = tf.gradients(tf.reduce_sum(y * y), x)[0]
  after = _RunRandomized(fetches, feed)
  np.testing.assert_allclose(after['y'], before['y'], atol=atol)
  if check_gradient:
    np.testing.assert_allclose(after['grad'], before['grad'], atol=1e-3, rtol=1e-3)


def _RunRandomized(fetches, feed):
  """Runs `fetches` in a new session with the variables of `helpers.randomize_bn_variables`."""
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    helpers.randomize_bn_variables(sess)
    return sess.run(fetches, feed)


def _OpNames():
  return {op.name for op in _Graph().get_operations()}


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('freeze', [None, 100])
@pytest.mark.parametrize('mode', _MODES)
def testFoldConv2d_TrainingStructure(fused, freeze, mode):
  y = _Conv(_Input(), fused)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True, freeze_batch_norm_delay=freeze,
                                  fold_mode=mode)
  g = _Graph()
  mul_fold = g.get_operation_by_name('test/mul_fold')
  weight_scale = ({'test/correction_mult'} if mode == options_lib.FOLD_CONTRIB else
                  {'test/BatchNorm_Fold/moving_multiplier'})
  assert {t.op.name for t in mul_fold.inputs} & weight_scale
  conv_fold = g.get_operation_by_name('test/Conv2D_Fold')
  assert conv_fold.inputs[0].op.name == 'input'
  assert conv_fold.inputs[1].op is mul_fold
  consumers = sorted(c.name for c in conv_fold.outputs[0].consumers())
  conv = g.get_operation_by_name('test/Conv2D')
  if mode == options_lib.FOLD_CONTRIB:
    assert consumers == ['test/post_conv_mul']
    assert conv.outputs[0].consumers()
  else:
    # The statistics read the clone's output (rescaled after); the original conv is unused.
    assert consumers == ['test/BatchNorm_Fold/statistics_input', 'test/post_conv_mul']
    statistics = (['test/BatchNorm/FusedBatchNormV3'] if fused else
                  ['test/BatchNorm/batchnorm_1/mul_1', 'test/BatchNorm/moments/SquaredDifference',
                   'test/BatchNorm/moments/mean'])
    statistics_input = g.get_operation_by_name('test/BatchNorm_Fold/statistics_input')
    assert sorted(c.name for c in statistics_input.outputs[0].consumers()) == statistics
    assert not conv.outputs[0].consumers()
    # The EMA update reads the batch mean rescaled to the unfolded output.
    ema_sub = g.get_operation_by_name('test/BatchNorm/AssignMovingAvg/mul').inputs[0].op
    assert [t.op.name for t in ema_sub.inputs] == ['test/BatchNorm/moving_mean/read',
                                                   'test/BatchNorm_Fold/unfolded_mean']
  add_fold = g.get_operation_by_name('test/add_fold')
  assert add_fold.inputs[0].op.name == 'test/correction_add'
  assert y.op.inputs[0].op is add_fold
  assert not any('//' in name for name in _OpNames())
  if freeze is not None:
    mul = g.get_operation_by_name('test/BatchNorm/AssignMovingAvg/mul')
    assert any('freeze_moving_mean/Merge' in t.name for t in mul.inputs)
    mul = g.get_operation_by_name('test/BatchNorm/AssignMovingAvg_1/mul')
    assert any('freeze_moving_var/Merge' in t.name for t in mul.inputs)


@pytest.mark.parametrize('fused', [True, False])
def testFoldConv2d_EvalIsPlainFold(fused):
  y = _Conv(_Input(), fused, is_training=False)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=False)
  g = _Graph()
  assert 'test/correction_mult' not in _OpNames()
  assert g.get_operation_by_name('test/Conv2D_Fold').inputs[1].op.name == 'test/mul_fold'
  assert y.op.inputs[0].op.name == 'test/add_fold'


def testFoldDepthwiseConv2d_ScaleReshape():
  _Depthwise(_Input(), fused=True)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  g = _Graph()
  mul_fold = g.get_operation_by_name('test/mul_fold')
  assert 'test/BatchNorm_Fold/scale_reshape:0' in [t.name for t in mul_fold.inputs]
  assert g.get_operation_by_name('test/depthwise_Fold').inputs[1].op is mul_fold


def testFoldAtrousDepthwise_BatchToSpaceFold():
  _Depthwise(_Input(), fused=True, rate=2)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  g = _Graph()
  fold = g.get_operation_by_name('test/depthwise_Fold')
  assert fold.inputs[0].op.name == 'test/depthwise/SpaceToBatchND'
  assert [c.name for c in fold.outputs[0].consumers()] == ['test/BatchToSpaceND_Fold']


def testFoldFullyConnectedLayer_MatMulFold():
  x = tf.compat.v1.placeholder(tf.float32, [_BATCH, 5])
  y = tf_slim.fully_connected(x, 6, activation_fn=tf.nn.relu6, scope='test',
                              normalizer_fn=tf_slim.batch_norm,
                              normalizer_params=_BnParams(False))
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  assert _Graph().get_operation_by_name('test/MatMul_Fold').inputs[1].op.name == 'test/mul_fold'
  assert y.op.inputs[0].op.name == 'test/add_fold'


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('mode', _MODES)
def testFold_Idempotent(fused, mode):
  _Conv(_Input(), fused)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True, fold_mode=mode)
  graph_def = _Graph().as_graph_def()
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True, fold_mode=mode)
  assert _Graph().as_graph_def() == graph_def


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('mode', _MODES)
def testCompareFoldAndUnfolded_Training(fused, mode):
  _CompareFoldedAndUnfolded(lambda x: _Conv(x, fused), True, atol=1e-3, check_gradient=True,
                            fold_mode=mode)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('rate', [1, 2])
@pytest.mark.parametrize('mode', _MODES)
def testCompareFoldAndUnfolded_TrainingDepthwise(fused, rate, mode):
  _CompareFoldedAndUnfolded(lambda x: _Depthwise(x, fused, rate=rate), True, atol=1e-3,
                            check_gradient=True, fold_mode=mode)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('mode', _MODES)
def testCompareFoldAndUnfolded_TrainingFullyConnected(fused, mode):
  def build(x):
    x = tf.reshape(x, [_BATCH, -1])
    return tf_slim.fully_connected(x, 6, activation_fn=tf.nn.relu6, scope='test',
                                   normalizer_fn=tf_slim.batch_norm,
                                   normalizer_params=_BnParams(fused))
  _CompareFoldedAndUnfolded(build, True, atol=1e-3, check_gradient=True, fold_mode=mode)
  assert 'test/MatMul_Fold' in _OpNames()


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('layer', ['conv', 'depthwise'])
def testCompareFoldAndUnfolded_EvalDilatedSpaceToBatch(fused, layer):
  if layer == 'conv':
    build = lambda x: _Conv(x, fused, is_training=False, rate=2)
  else:
    build = lambda x: _Depthwise(x, fused, is_training=False, rate=2)
  _CompareFoldedAndUnfolded(build, False, atol=1e-4)


def testCompareFoldAndUnfolded_EvalDilationsAttrKept():
  _CompareFoldedAndUnfolded(lambda x: _DilatedAttrLayer(x, False, False), False, atol=1e-4)
  fold = _Graph().get_operation_by_name('test/Conv2D_Fold')
  assert fold.get_attr('dilations') == [1, 2, 2, 1]


def testFoldDepthwise_DilationsAttrKept():
  # The CPU DepthwiseConv2dNative kernel rejects dilations > 1 (TF emits SpaceToBatchND for
  # dilated depthwise on CPU), so only the copied attribute can be checked here.
  _DilatedAttrLayer(_Input(), True, False)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=False)
  fold = _Graph().get_operation_by_name('test/depthwise_Fold')
  assert fold.get_attr('dilations') == [1, 2, 2, 1]
  assert fold.get_attr('data_format') == b'NHWC'


@pytest.mark.parametrize('fused', [True, False])
def testInferenceModeBatchNorm_TrainingRewriteIsPlainFold(fused):
  # DeepLab fine_tune_batch_norm=False: the original crashed with a NoneType error here.
  _CompareFoldedAndUnfolded(lambda x: _Conv(x, fused, is_training=False), True, atol=1e-4)
  names = _OpNames()
  assert 'test/add_fold' in names
  assert not any('correction' in name for name in names)


def testFoldedTrainingGraph_Trains():
  x = _Input()
  y = _Conv(x, True)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True, freeze_batch_norm_delay=1)
  loss = tf.reduce_mean(y * y)
  update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    train = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    feed = {x: np.ones(x.shape.as_list(), np.float32)}
    for _ in range(3):
      sess.run(train, feed)
    assert np.isfinite(sess.run(loss, feed))


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('mode', _MODES)
def testFreezeBatchNorm_FoldedTrainingEqualsMovingStatisticsBn(fused, mode):
  # After freeze_batch_norm_delay the training fold must compute moving-statistics BN: compare
  # with an inference-mode copy of the same layer (shared variables).
  x = _Input()
  y_train = _Conv(x, fused, is_training=True)
  y_infer = tf_slim.conv2d(x, 4, 3, activation_fn=tf.nn.relu6, scope='test', reuse=True,
                           normalizer_fn=tf_slim.batch_norm,
                           normalizer_params=_BnParams(fused, is_training=False))
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True, freeze_batch_norm_delay=0,
                                  fold_mode=mode)
  feed = {x: np.random.RandomState(2).normal(size=x.shape.as_list()).astype(np.float32)}
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    helpers.randomize_bn_variables(sess)
    train_out, infer_out = sess.run([y_train, y_infer], feed)
  np.testing.assert_allclose(train_out, infer_out, atol=1e-4)


def testFoldFullyConnectedLayer_FusedWithReshape():
  x = tf.compat.v1.placeholder(tf.float32, [_BATCH, 5])
  y = tf_slim.fully_connected(x, 6, activation_fn=tf.nn.relu6, scope='test',
                              normalizer_fn=tf_slim.batch_norm,
                              normalizer_params=_BnParams(True))
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  assert _Graph().get_operation_by_name('test/MatMul_Fold').inputs[1].op.name == 'test/mul_fold'
  assert y.op.inputs[0].op.name == 'test/add_fold'


@pytest.mark.parametrize('fused', [True, False])
def testFoldConv2dUnknownShape(fused):
  x = tf.compat.v1.placeholder(tf.float32, [5, None, None, 3], name='input')
  y = _Conv(x, fused)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  assert y.op.inputs[0].op.name == 'test/add_fold'


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('mode', _MODES)
def testFold_ResourceVariables(fused, mode):
  with tf.compat.v1.variable_scope('', use_resource=True):
    _CompareFoldedAndUnfolded(lambda x: _Conv(x, fused), True, atol=1e-3, fold_mode=mode)
  assert 'test/Conv2D_Fold' in _OpNames()


def testMultipleLayerConv2d_NestedScopesPickOwnTensors():
  x = _Input()
  with tf.compat.v1.variable_scope('topnet/testnet'):
    y = _Conv(x, False, scope='testnet/layer1')
    y = _Conv(y, False, scope='testnet/layer2')
  with tf.compat.v1.variable_scope('sibling'):
    tf_slim.batch_norm(x, fused=False, is_training=True)
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  g = _Graph()
  for layer in ('layer1', 'layer2'):
    ctx = 'topnet/testnet/testnet/%s/' % layer
    conv_fold = g.get_operation_by_name(ctx + 'Conv2D_Fold')
    assert conv_fold.inputs[1].op.name == ctx + 'mul_fold'
    assert g.get_operation_by_name(ctx + 'add_fold').inputs[1].op.name == (
        ctx + 'BatchNorm/batchnorm_1/sub')
    assert g.get_operation_by_name(ctx + 'Relu6').inputs[0].op.name == ctx + 'add_fold'


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('is_training_rewrite', [True, False])
def testCompareFoldAndUnfolded_WithoutScaling(fused, is_training_rewrite):
  bn_training = is_training_rewrite
  _CompareFoldedAndUnfolded(lambda x: _Conv(x, fused, is_training=bn_training, scale=False),
                            is_training_rewrite, atol=1e-3)
