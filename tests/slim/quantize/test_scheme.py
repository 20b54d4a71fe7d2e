"""Schemes in the rewriter: FakeQuant only where the scheme says, with its bits and quantizers.

Toy model (BN layers folded by the rewrite):

    input -> c1: conv3x3+BN+Relu6 -> c2: conv3x3+BN+Relu6 -> logits: conv1x1+bias -> output
"""
import logging

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.quantize import quantizers
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme

FQ_TYPES = ('FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxVarsPerChannel',
            'FakeQuantWithMinMaxArgs')


def _Conv(net, depth, scope, is_training):
  return tf_slim.conv2d(net, depth, 3, scope=scope, activation_fn=tf.nn.relu6,
                        normalizer_fn=tf_slim.batch_norm,
                        normalizer_params={'fused': True, 'is_training': is_training})


def _BuildModel(is_training=True, annotate_c2=None):
  x = tf.compat.v1.placeholder(tf.float32, [2, 8, 8, 3], name='input')
  net = _Conv(x, 8, 'c1', is_training)
  if annotate_c2 is None:
    net = _Conv(net, 8, 'c2', is_training)
  else:
    with contrib_quantize.annotate(**annotate_c2):
      net = _Conv(net, 8, 'c2', is_training)
  net = tf_slim.conv2d(net, 5, 1, scope='logits', activation_fn=None)
  return tf.identity(net, name='output')


def _Rewrite(scheme=None, is_training=True, annotate_c2=None, **kwargs):
  graph = tf.Graph()
  with graph.as_default():
    _BuildModel(is_training, annotate_c2)
    rewrite = (contrib_quantize.experimental_create_training_graph if is_training else
               contrib_quantize.experimental_create_eval_graph)
    rewrite(graph, scheme=scheme, **kwargs)
  return graph


def _Units(graph):
  """{unit prefix: FakeQuant op} ('c1/weights_quant' -> its FakeQuant op)."""
  units = {}
  for op in graph.get_operations():
    if op.type in FQ_TYPES:
      units[op.name.rpartition('/')[0]] = op
  return units


def _OpSignature(graph):
  return [(op.name, op.type, tuple(t.name for t in op.inputs),
           op.get_attr('num_bits') if op.type in FQ_TYPES else None)
          for op in graph.get_operations()]


def _Float(scope):
  return Rule(scope, LayerConfig(quantize=False))


@pytest.mark.parametrize('is_training', [True, False])
def test_empty_scheme_builds_the_plain_rewrite(is_training):
  assert _OpSignature(_Rewrite(Scheme(), is_training)) == _OpSignature(
      _Rewrite(None, is_training))


def test_plain_rewrite_units():
  # The reference the other tests take away from or change.
  assert sorted(_Units(_Rewrite())) == [
      'c1/act_quant', 'c1/weights_quant', 'c2/act_quant', 'c2/weights_quant',
      'logits/act_quant', 'logits/weights_quant']


def test_float_first_layer_keeps_only_its_boundary_range():
  units = _Units(_Rewrite(Scheme(rules=(_Float('^c1/'),))))
  # No weights unit: c1 computes in float; its output range stays because c2 (quantized)
  # reads it: the QUANTIZE of the mixed model goes there.
  assert 'c1/weights_quant' not in units
  assert 'c1/act_quant' in units
  assert {'c2/weights_quant', 'c2/act_quant', 'logits/weights_quant'} <= set(units)


def test_float_logits_get_no_unit_and_the_input_range_stays():
  units = _Units(_Rewrite(Scheme(rules=(_Float('^logits/'),))))
  assert not [name for name in units if name.startswith('logits/')]
  # c2's output is the last quantized tensor (the DEQUANTIZE boundary).
  assert 'c2/act_quant' in units


def test_float_middle_layer_between_quantized_ones():
  units = _Units(_Rewrite(Scheme(rules=(_Float('^c2/'),))))
  assert 'c2/weights_quant' not in units
  assert 'c2/act_quant' in units  # logits (quantized) read it
  assert 'c1/act_quant' in units  # c1 is quantized itself


def test_bits_per_scope_and_first_matching_rule_wins():
  scheme = Scheme(default=LayerConfig(activation_bits=7), rules=(
      Rule('^c2/', LayerConfig(weight_bits=4)),
      Rule('c2', LayerConfig(weight_bits=3, activation_bits=5)),  # shadowed for c2/...
      Rule('^logits/', LayerConfig(weight_bits=6))))
  units = _Units(_Rewrite(scheme))
  bits = {name: op.get_attr('num_bits') for name, op in units.items()}
  assert bits == {'c1/weights_quant': 8, 'c1/act_quant': 7, 'c2/weights_quant': 4,
                  'c2/act_quant': 7, 'logits/weights_quant': 6, 'logits/act_quant': 7}


def test_per_channel_and_narrow_range_per_scope():
  scheme = Scheme(rules=(Rule('^c2/', LayerConfig(per_channel=True, narrow_range=False)),))
  units = _Units(_Rewrite(scheme))
  assert units['c2/weights_quant'].type == 'FakeQuantWithMinMaxVarsPerChannel'
  assert not units['c2/weights_quant'].get_attr('narrow_range')
  assert units['c1/weights_quant'].type == 'FakeQuantWithMinMaxVars'
  assert units['c1/weights_quant'].get_attr('narrow_range')
  # Per-channel weights are symmetric (TFLite int8): the range update is the symmetric one.
  c2_ops = {op.name for op in _Rewrite(scheme).get_operations()}
  assert 'c2/weights_quant/Minimum' in c2_ops or 'c2/weights_quant/Minimum_1' in c2_ops


def test_fixed_range_quantizer_creates_no_variables():
  scheme = Scheme(rules=(Rule('^c2/', LayerConfig(
      activation_quantizer=quantizers.FixedRangeQuantizer(0.0, 6.0))),))
  graph = _Rewrite(scheme)
  unit = _Units(graph)['c2/act_quant']
  assert unit.type == 'FakeQuantWithMinMaxArgs'
  assert (unit.get_attr('min'), unit.get_attr('max')) == (0.0, 6.0)
  names = {v.op.name for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)}
  assert 'c2/act_quant/min' not in names and 'c1/act_quant/min' in names


class _CountingQuantizer(quantizers.Quantizer):
  """A user quantizer: a fixed symmetric range from a constructor argument, recorded calls."""

  def __init__(self, bound):
    self.bound = bound
    self.specs = []

  def quantize(self, inputs, spec):
    self.specs.append(spec)
    with tf.compat.v1.name_scope(spec.name_prefix + '/'):
      return tf.quantization.fake_quant_with_min_max_vars(
          inputs, -self.bound, self.bound, num_bits=spec.num_bits,
          narrow_range=spec.narrow_range, name='UserFakeQuant')

  # Recorded specs are not part of the quantizer's identity.
  def __eq__(self, other):
    return self is other

  def __hash__(self):
    return id(self)


def test_user_quantizer_plugs_in_without_touching_the_rewriter():
  user = _CountingQuantizer(2.0)
  graph = _Rewrite(Scheme(rules=(Rule('^c2/', LayerConfig(weight_bits=4,
                                                          weight_quantizer=user)),)))
  assert [(s.name_prefix, s.num_bits, s.narrow_range, s.is_training) for s in user.specs] == [
      ('c2/weights_quant', 4, True, True)]
  fq = graph.get_operation_by_name('c2/weights_quant/UserFakeQuant')
  # The folded conv reads the user's FakeQuant.
  conv = graph.get_operation_by_name('c2/Conv2D_Fold')
  assert fq.outputs[0] in list(conv.inputs) or any(
      fq.name in t.op.name or fq.outputs[0] in list(t.op.inputs) for t in conv.inputs)


def test_four_bit_weights_have_at_most_16_levels():
  graph = _Rewrite(Scheme(rules=(Rule('^c2/', LayerConfig(weight_bits=4)),)))
  unit = _Units(graph)['c2/weights_quant']
  with graph.as_default(), tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    # Training fold: the folded weights depend on the batch statistics.
    feed = {'input:0': np.random.RandomState(0).uniform(-1, 1, [2, 8, 8, 3])}
    weights, quantized = sess.run([unit.inputs[0], unit.outputs[0]], feed)
  assert len(np.unique(quantized)) <= 16 < len(np.unique(weights))


def test_annotate_overrides_and_quantize_annotated_only():
  graph = _Rewrite(annotate_c2={'weight_bits': 4})
  units = _Units(graph)
  assert units['c2/weights_quant'].get_attr('num_bits') == 4
  assert units['c1/weights_quant'].get_attr('num_bits') == 8

  only = _Units(_Rewrite(annotate_c2={}, quantize_annotated_only=True))
  assert 'c2/weights_quant' in only and 'c2/act_quant' in only
  assert 'c1/weights_quant' not in only and 'logits/weights_quant' not in only
  # c1's output feeds the annotated c2: its boundary range stays.
  assert 'c1/act_quant' in only
  assert 'logits/act_quant' not in only


def test_original_functions_ignore_annotations():
  graph = tf.Graph()
  with graph.as_default():
    _BuildModel(annotate_c2={'weight_bits': 4})
    contrib_quantize.create_training_graph(graph)
  assert _Units(graph)['c2/weights_quant'].get_attr('num_bits') == 8


def test_annotate_rejects_unknown_keywords():
  with pytest.raises(ValueError, match='annotate\\(\\): unknown keyword\\(s\\) weight_bit$'):
    with contrib_quantize.annotate(weight_bit=4):
      pass
  with pytest.raises(ValueError, match=r'^weight_bits: expected an integer in \[2, 16\], got 1$'):
    with contrib_quantize.annotate(weight_bits=1):
      pass


def test_unmatched_rule_is_reported(caplog):
  scheme = Scheme(rules=(_Float('^c1/'), _Float('^MobilenetV2/Conv/')))
  with caplog.at_level(logging.WARNING):
    _Rewrite(scheme)
  assert ("slim.quantize scheme: 1 rule(s) match no op of the graph: scope "
          "'^MobilenetV2/Conv/'") in caplog.text


def test_training_and_eval_rewrites_share_variables():
  scheme = Scheme(rules=(_Float('^c1/'), Rule('^c2/', LayerConfig(weight_bits=4))))

  def names(graph):
    return sorted(v.op.name for v in graph.get_collection(
        tf.compat.v1.GraphKeys.GLOBAL_VARIABLES) if v.op.name.endswith(('_quant/min',
                                                                          '_quant/max')))
  train, evaluate = _Rewrite(scheme, True), _Rewrite(scheme, False)
  assert names(train) == names(evaluate)
  assert _Units(evaluate)['c2/weights_quant'].get_attr('num_bits') == 4


def test_scheme_argument_type_is_checked():
  with pytest.raises(ValueError, match='scheme must be None, a slim.quantize.scheme.Scheme or '
                     'a JSON file path, got 3'):
    _Rewrite(3)
