"""Tests for slim.quantize.quant_ops (ports of upstream quant_ops_test, plus per-channel)."""
import numpy as np
import pytest
import tensorflow as tf

from slim.quantize import quant_ops

_RATIO = 127.0 / 128.0  # wide symmetric 8-bit: negative side is 128/127 of the positive side


def _Assign(builder, feeds, shape=(2,), **kwargs):
  x = tf.compat.v1.placeholder(tf.float32, shape=shape)
  q = builder(x, init_min=0.0, init_max=0.0, is_training=True, vars_collection='qvars',
              **kwargs)
  min_var, max_var = tf.compat.v1.get_collection('qvars')
  assert [min_var.op.name, max_var.op.name] == ['LastValueQuant/min', 'LastValueQuant/max'] or (
      [min_var.op.name, max_var.op.name] == ['MovingAvgQuantize/min', 'MovingAvgQuantize/max'])
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    for feed in feeds:
      sess.run(q, {x: np.asarray(feed, np.float32)})
    return sess.run([min_var, max_var])


def testLastValueQuantizeTrainingAssign_Asymmetric():
  mn, mx = _Assign(quant_ops.LastValueQuantize, [[-1.0, 1.0]])
  assert (mn, mx) == (-1.0, 1.0)


def testLastValueQuantizeTrainingAssign_SymmetricWide():
  mn, mx = _Assign(quant_ops.LastValueQuantize, [[-_RATIO, _RATIO]], symmetric=True)
  np.testing.assert_allclose([mn, mx], [-1.0, _RATIO], rtol=1e-6)


def testLastValueQuantizeTrainingAssign_SymmetricNarrow():
  mn, mx = _Assign(quant_ops.LastValueQuantize, [[-1.0, 0.5]], symmetric=True,
                   narrow_range=True)
  assert (mn, mx) == (-1.0, 1.0)


@pytest.mark.parametrize('shape', [(2,), None])
def testMovingAvgQuantizeTrainingAssign_ZeroDebiased(shape):
  mn, mx = _Assign(quant_ops.MovingAvgQuantize, [[-1.0, 1.0], [0.0, 0.0]], shape=shape)
  np.testing.assert_allclose([mn, mx], [-0.5, 0.5], atol=1e-3)


def testMovingAvgQuantizeTrainingAssign_Symmetric():
  mn, mx = _Assign(quant_ops.MovingAvgQuantize, [[-1.0, 1.0], [0.0, 0.0]], symmetric=True)
  # Batch ranges: [-1/r, 1] then [0, 0]; the debiased EMA is about half of the first.
  np.testing.assert_allclose(mx, 0.5, atol=1e-3)
  np.testing.assert_allclose(mx, -mn * _RATIO, rtol=1e-5)


def testMovingAvgQuantizeTrainingAssign_SymmetricNarrow():
  mn, mx = _Assign(quant_ops.MovingAvgQuantize, [[-1.0, 1.0], [0.0, 0.0]], symmetric=True,
                   narrow_range=True)
  np.testing.assert_allclose([mn, mx], [-0.5, 0.5], atol=1e-3)
  assert mx == -mn


def testMovingAvgQuantize_VariableNamesAndCollections():
  x = tf.compat.v1.placeholder(tf.float32, [2])
  quant_ops.MovingAvgQuantize(x, name_prefix='c/act_quant', vars_collection='qvars')
  q = quant_ops.MovingAvgQuantize(x, name_prefix='c/act_quant', vars_collection='qvars')
  assert q.op.name == 'c/act_quant_1/FakeQuantWithMinMaxVars'
  names = [v.op.name for v in tf.compat.v1.global_variables()]
  assert 'c/act_quant/c/act_quant/min/biased' in names
  assert 'c/act_quant/c/act_quant/max/local_step' in names
  assert [v.op.name for v in tf.compat.v1.get_collection('qvars')] == [
      'c/act_quant/min', 'c/act_quant/max', 'c/act_quant_1/min', 'c/act_quant_1/max']
  assert not tf.compat.v1.trainable_variables()
  graph = tf.compat.v1.get_default_graph()
  fake_quant = graph.get_operation_by_name('c/act_quant/FakeQuantWithMinMaxVars')
  assert [t.op.name for t in fake_quant.inputs[1:]] == ['c/act_quant/AssignMinEma',
                                                       'c/act_quant/AssignMaxEma']


def testEval_ReadsVariables():
  x = tf.compat.v1.placeholder(tf.float32, [2])
  q = quant_ops.LastValueQuantize(x, name_prefix='w/weights_quant', is_training=False)
  assert q.op.name == 'w/weights_quant/FakeQuantWithMinMaxVars'
  assert [t.name for t in q.op.inputs[1:]] == ['w/weights_quant/min/read:0',
                                               'w/weights_quant/max/read:0']


@pytest.mark.parametrize('builder', [quant_ops.LastValueQuantize, quant_ops.MovingAvgQuantize])
def testVariablesNotPartitioned(builder):
  x = tf.compat.v1.placeholder(tf.float32, [2])
  with tf.compat.v1.variable_scope(
      'part', partitioner=tf.compat.v1.fixed_size_partitioner(2)):
    builder(x, init_min=0.0, init_max=0.0, is_training=True, vars_collection='qvars')
  assert all(v.shape == () for v in tf.compat.v1.get_collection('qvars'))


def testPerChannel_OneRangePerLastAxisChannel():
  w = tf.constant(np.arange(-12, 12, dtype=np.float32).reshape(1, 1, 4, 6))
  q = quant_ops.LastValueQuantize(w, per_channel=True, vars_collection='qvars',
                                  narrow_range=True)
  assert q.op.type == 'FakeQuantWithMinMaxVarsPerChannel'
  min_var, max_var = tf.compat.v1.get_collection('qvars')
  assert min_var.shape == (6,)
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    sess.run(q)
    np.testing.assert_allclose(sess.run(min_var), np.minimum(w.eval(session=sess)
                                                             .reshape(4, 6).min(0), 0))
    np.testing.assert_allclose(sess.run(max_var), np.maximum(w.eval(session=sess)
                                                             .reshape(4, 6).max(0), 0))
