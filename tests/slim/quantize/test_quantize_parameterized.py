"""Parameterized structure tests (reduced port of upstream quantize_parameterized_test).

Each case builds one layer under scope 'test' (optionally with a bypass Add and a batch norm),
runs the rewrite, checks the exact inputs and consumers of weights_quant / conv_quant /
act_quant, then checks that a second rewrite leaves the GraphDef unchanged.
"""
import itertools

import pytest
import tensorflow as tf
import tf_slim

from slim.quantize import fold_batch_norms
from slim.quantize import quantize

_FQ = 'FakeQuantWithMinMaxVars'
_LAYERS = ('conv', 'fc', 'depthwise', 'atrous')
# (activation, with_bypass, quant_delay): a representative subset of the upstream 12 combos.
_COMBOS = ((tf.nn.relu6, True, None), (tf.nn.relu, False, 5000), (tf.identity, True, 5000),
           (tf.nn.relu6, False, None))
_LAYER_OP = {'conv': 'Conv2D', 'fc': 'MatMul', 'depthwise': 'depthwise', 'atrous': 'depthwise'}


def _Graph():
  return tf.compat.v1.get_default_graph()


def _BuildLayer(layer, activation, with_bypass, batch_norm=None):
  """Builds `test/<layer>` -> [AddV2(x)] -> activation; batch_norm in (None, fused, unfused)."""
  normalizer = {}
  if batch_norm is not None:
    normalizer = {'normalizer_fn': tf_slim.batch_norm,
                  'normalizer_params': {'fused': batch_norm == 'fused', 'is_training': True}}
  act_fn = None if with_bypass else activation
  if layer == 'fc':
    x = tf.compat.v1.placeholder(tf.float32, [2, 6], name='input')
    out = tf_slim.fully_connected(x, 6, activation_fn=act_fn, scope='test', **normalizer)
  else:
    x = tf.compat.v1.placeholder(tf.float32, [2, 9, 9, 3], name='input')
    if layer == 'conv':
      out = tf_slim.conv2d(x, 3, 3, activation_fn=act_fn, scope='test', **normalizer)
    else:
      out = tf_slim.separable_conv2d(x, None, 3, depth_multiplier=1,
                                     rate=2 if layer == 'atrous' else 1,
                                     activation_fn=act_fn, scope='test', **normalizer)
  if with_bypass:
    out = tf.add(x, out, name='test/AddV2')
    out = activation(out, name='test/act')
  tf.identity(out, name='control_dependency')
  return out


def _CheckUnit(prefix, is_training, moving_avg, expected_input, delay, consumer=None):
  g = _Graph()
  fq = g.get_operation_by_name(prefix + '/' + _FQ)
  assert fq.inputs[0].op.name == expected_input
  if is_training:
    kind = 'Ema' if moving_avg else 'Last'
    assert [t.op.name for t in fq.inputs[1:]] == [prefix + '/AssignMin' + kind,
                                                  prefix + '/AssignMax' + kind]
  else:
    assert [t.op.name for t in fq.inputs[1:]] in (
        [prefix + '/min/read', prefix + '/max/read'],
        [prefix + '/' + _FQ + '/ReadVariableOp', prefix + '/' + _FQ + '/ReadVariableOp_1'])
  consumers = [c.name for c in fq.outputs[0].consumers()]
  if delay:
    assert consumers == [prefix + '/delayed_quant/Switch_1']
    assert g.get_operation_by_name(prefix + '/activate_quant/y').get_attr(
        'value').int64_val == [delay]
  elif consumer is not None:
    assert consumer in consumers


def _RunCase(layer, combo, use_resource, scope, is_training, batch_norm=None):
  activation, with_bypass, delay = combo
  with tf.compat.v1.variable_scope('', use_resource=use_resource):
    _BuildLayer(layer, activation, with_bypass, batch_norm)
  if batch_norm is not None:
    fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  quantize.Quantize(_Graph(), is_training, quant_delay=delay, scope=scope)
  g = _Graph()
  layer_op = g.get_operation_by_name('test/' + _LAYER_OP[layer] +
                                     ('_Fold' if batch_norm else ''))
  # weights_quant reads the variable (or folded weights) and feeds the layer.
  if batch_norm is not None:
    weight_name = 'test/mul_fold'
  elif use_resource:
    weight_name = layer_op.name + '/ReadVariableOp'
  else:
    weight_name = 'test/depthwise_weights/read' if 'depthwise' in layer_op.name else (
        'test/weights/read')
  _CheckUnit('test/weights_quant', is_training, False, weight_name, delay,
             consumer=layer_op.name)
  if with_bypass:
    bias_name = 'test/add_fold' if batch_norm else 'test/BiasAdd'
    _CheckUnit('test/conv_quant', is_training, True, bias_name, delay, consumer='test/AddV2')
    _CheckUnit('act_quant', is_training, True, 'test/act', delay)
  else:
    act_op = g.get_operation_by_name('control_dependency').inputs[0].op
    if act_op.type == _FQ or 'delayed_quant' in act_op.name:
      act_input = [op for op in g.get_operations() if op.name == 'test/act_quant/' + _FQ]
      assert act_input, 'no act_quant'
      expected = act_input[0].inputs[0].op.name
      assert expected.startswith('test/')
      _CheckUnit('test/act_quant', is_training, True, expected, delay,
                 consumer='control_dependency')
    else:
      raise AssertionError('activation not quantized: %s' % act_op.name)
  # Idempotence: folding and quantizing again changes nothing.
  graph_def = g.as_graph_def()
  if batch_norm is not None:
    fold_batch_norms.FoldBatchNorms(g, is_training=True)
  quantize.Quantize(g, is_training, quant_delay=delay, scope=scope)
  assert g.as_graph_def() == graph_def


@pytest.mark.parametrize('layer,combo,use_resource,scope', [
    (layer, combo, res, scope) for layer, combo, res, scope in itertools.product(
        _LAYERS, _COMBOS, (False, True), (None, 'test'))
    # Keep it fast: every layer and combo once per var kind; scopes alternate.
    if (_COMBOS.index(combo) + _LAYERS.index(layer) + res) % 2 == (scope is None)])
@pytest.mark.parametrize('is_training', [True, False])
def testQuantize_WithoutBatchNorm(layer, combo, use_resource, scope, is_training):
  _RunCase(layer, combo, use_resource, scope, is_training)


@pytest.mark.parametrize('layer', _LAYERS)
@pytest.mark.parametrize('batch_norm', ['fused', 'unfused'])
@pytest.mark.parametrize('combo', [_COMBOS[0], _COMBOS[1]])
def testQuantize_WithBatchNorm(layer, batch_norm, combo):
  _RunCase(layer, combo, False, None, True, batch_norm=batch_norm)


@pytest.mark.parametrize('fused', [True, False])
def testBatchNormForcedUpdates_PostActivationBypassQuantized(fused):
  #   conv1+BN(updates_collections=None)+Relu6 -> AddV2(x) -> conv2+BN+Relu6
  x = tf.compat.v1.placeholder(tf.float32, [2, 9, 9, 3], name='input')
  params = {'fused': fused, 'is_training': True, 'updates_collections': None}
  with tf_slim.arg_scope([tf_slim.conv2d], normalizer_fn=tf_slim.batch_norm,
                         normalizer_params=params, activation_fn=tf.nn.relu6):
    conv = tf_slim.conv2d(x, 3, 3, scope='test/test')
    bypass = tf.add(conv, x, name='test/add')
    tf_slim.conv2d(bypass, 3, 3, scope='test/unused')
  fold_batch_norms.FoldBatchNorms(_Graph(), is_training=True)
  quantize.Quantize(_Graph(), True)
  add = _Graph().get_operation_by_name('test/add')
  assert add.inputs[0].op.type == _FQ
  assert _FQ in [c.type for c in add.outputs[0].consumers()]
