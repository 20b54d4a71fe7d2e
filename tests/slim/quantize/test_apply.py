"""Each transform's `apply(graph, options)` builds exactly what its contrib-style wrapper builds.

Toy graph (one graph per rewrite, built identically):

    input -> c1: Conv2D -> FusedBatchNorm -> Relu -> c2: Conv2D -> BiasAdd -> Sigmoid -> output
"""
import pytest
import tensorflow as tf
import tf_slim

from slim.quantize import coverage
from slim.quantize import fold_batch_norms
from slim.quantize import quantize
from slim.quantize import quantize_graph
from slim.quantize.options import QuantizeOptions


def _BuildConvBnRelu(is_training):
  x = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name='input')
  net = tf_slim.conv2d(x, 4, 3, scope='c1', activation_fn=tf.nn.relu,
                       normalizer_fn=tf_slim.batch_norm,
                       normalizer_params={'fused': True, 'is_training': is_training})
  net = tf_slim.conv2d(net, 4, 1, scope='c2', activation_fn=None)
  return tf.sigmoid(net, name='output')


def _Ops(graph):
  return [(op.name, op.type, tuple(t.name for t in op.inputs)) for op in graph.get_operations()]


def _Rewritten(is_training, rewrite):
  graph = tf.Graph()
  with graph.as_default():
    _BuildConvBnRelu(is_training)
    rewrite(graph)
  return graph


def _Wrappers(is_training, per_channel):
  def rewrite(graph):
    fold_batch_norms.FoldBatchNorms(graph, is_training, freeze_batch_norm_delay=3)
    quantize.Quantize(graph, is_training, weight_bits=4, quant_delay=2, per_channel=per_channel,
                      scope='c1', ema_decay=0.9)
    coverage.QuantizeRemaining(graph, is_training, weight_bits=4, quant_delay=2,
                               per_channel=per_channel, ema_decay=0.9)
  return rewrite


def _Applies(is_training, per_channel):
  def rewrite(graph):
    options = QuantizeOptions(is_training=is_training, weight_bits=4, quant_delay=2,
                              freeze_bn_delay=3, per_channel=per_channel, ema_decay=0.9)
    fold_batch_norms.apply(graph, options)
    quantize.apply(graph, options.replace(scope='c1'))
    coverage.apply(graph, options)
  return rewrite


@pytest.mark.parametrize('per_channel', [False, True])
@pytest.mark.parametrize('is_training', [True, False])
def testApply_SameOpsAsContribWrappers(is_training, per_channel):
  by_wrappers = _Rewritten(is_training, _Wrappers(is_training, per_channel))
  by_apply = _Rewritten(is_training, _Applies(is_training, per_channel))
  ops = _Ops(by_apply)
  assert ops == _Ops(by_wrappers)
  names = {name: op_type for name, op_type, _ in ops}
  weight_type = ('FakeQuantWithMinMaxVarsPerChannel' if per_channel else
                 'FakeQuantWithMinMaxVars')
  # The rewrite did its work: fold, weights, activation, fixed output range, delay.
  assert names['c1/Conv2D_Fold'] == 'Conv2D'
  assert names['c1/weights_quant/' + weight_type] == weight_type
  assert names['c1/act_quant/FakeQuantWithMinMaxVars'] == 'FakeQuantWithMinMaxVars'
  assert names['output/fixed_quant/FakeQuantWithMinMaxArgs'] == 'FakeQuantWithMinMaxArgs'
  # c2 lies outside the pattern pass's scope: the coverage pass quantized it.
  assert names['c2/weights_quant/' + weight_type] == weight_type
  assert names['c2/BiasAdd/output_quant/FakeQuantWithMinMaxVars'] == 'FakeQuantWithMinMaxVars'
  assert names['c1/act_quant/delayed_quant/Merge'] == 'Merge'
  assert by_apply.get_operation_by_name(
      'c1/weights_quant/' + weight_type).get_attr('num_bits') == 4


@pytest.mark.parametrize('is_training', [True, False])
def testCreateGraph_SameOpsAsTheThreeWrappers(is_training):
  def public(graph):
    quantize_graph._create_graph(graph, is_training=is_training, quant_delay=2,  # pylint: disable=protected-access
                                 per_channel=True)

  def wrappers(graph):
    fold_batch_norms.FoldBatchNorms(graph, is_training)
    quantize.Quantize(graph, is_training, quant_delay=2, per_channel=True)
    coverage.QuantizeRemaining(graph, is_training, quant_delay=2, per_channel=True)

  assert _Ops(_Rewritten(is_training, public)) == _Ops(_Rewritten(is_training, wrappers))


def testNameConstants_SharedAcrossModules():
  # Names are API (checkpoints, the freezer, coverage's skip rules): spelled once, reused.
  units = [quantize.WEIGHTS_QUANT, quantize.ACT_QUANT, quantize.CONV_QUANT, quantize.ADD_QUANT,
           quantize.POST_ACTIVATION_BYPASS_QUANT, quantize.ACTIVATION_LAYER_QUANT % 'Mul',
           quantize.DELAYED_QUANT, coverage.OUTPUT_QUANT, coverage.FIXED_QUANT]
  assert all(u.endswith(quantize.UNIT_NAME_SUFFIX) for u in units)
  assert (coverage.OUTPUT_QUANT, coverage.FIXED_QUANT) == ('output_quant', 'fixed_quant')
  assert quantize.DELAYED_QUANT_MERGE == 'delayed_quant/Merge'
  assert coverage.FOLD_TAIL_SUFFIXES == ('/post_conv_mul', '/correction_add', '/add_fold',
                                         '/correction_mult', '/mul_fold')
