"""Schemes through export and conversion: 8-bit converts, float layers need allow_float_ops,
other bit widths are refused with the layers listed.

Model: input [1, 16, 16, 3] -> c1, c2, c3 (conv3x3+BN+Relu6) -> logits (conv1x1) -> ArgMax; a
per-channel QAT training graph (the int8 path: XNNPACK takes symmetric int8 weights only) runs
three steps on random images, the eval graph freezes its checkpoint.
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import slim.quantize as contrib_quantize
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme
from slim.tflite import convert
from slim.tflite import inspection

SHAPE = [1, 16, 16, 3]


def _Build(is_training):
  net = tf.compat.v1.placeholder(tf.float32, SHAPE, name='input')
  for i in range(3):
    net = tf_slim.conv2d(net, 8, 3, scope='c%d' % (i + 1), activation_fn=tf.nn.relu6,
                         normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'fused': True, 'is_training': is_training})
  net = tf_slim.conv2d(net, 5, 1, scope='logits', activation_fn=None)
  tf.argmax(net, 3, name='ArgMax')


def _Frozen(scheme, tmp_path):
  with tf.Graph().as_default():
    _Build(True)
    contrib_quantize.experimental_create_training_graph(quant_delay=0, per_channel=True,
                                                        scheme=scheme)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      rng = np.random.RandomState(0)
      for _ in range(3):
        sess.run('ArgMax:0', {'input:0': rng.uniform(-1, 1, SHAPE)})
      prefix = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'qat'))
  with tf.Graph().as_default():
    _Build(False)
    contrib_quantize.experimental_create_eval_graph(per_channel=True, scheme=scheme)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, prefix)
      return convert.freeze_session(sess, ['ArgMax'])


def _Int8(graph_def, **kwargs):
  return convert.convert_int8(graph_def, ['input'], ['ArgMax'], [SHAPE], **kwargs)


def _Dtypes(model):
  return {row['name']: row['dtype'] for row in inspection.tensor_table(model)}


def test_float_logits_convert_only_when_asked_with_one_dequantize(tmp_path):
  frozen = _Frozen(Scheme(rules=(Rule('^logits/', LayerConfig(quantize=False)),)), tmp_path)
  with pytest.raises(convert.NotFullyQuantizedError) as info:
    _Int8(frozen)
  assert [op_type for _, op_type in info.value.float_ops] == [
      'DEQUANTIZE', 'CONV_2D', 'ARG_MAX']
  model = _Int8(frozen, allow_float_ops=True)
  histogram = inspection.op_histogram(model)
  # The only boundary: c3's range becomes the DEQUANTIZE in front of the float logits.
  assert histogram == {'ARG_MAX': 1, 'CONV_2D': 4, 'DEQUANTIZE': 1}
  float_ops = inspection.float_ops(model)
  assert float_ops[0] == ('c3/act_quant/FakeQuantWithMinMaxVars', 'DEQUANTIZE')
  assert [op for _, op in float_ops[1:]] == ['CONV_2D', 'ARG_MAX']
  dtypes = _Dtypes(model)
  assert dtypes['input'] == 'int8' and dtypes['c3/Relu6;c3/Conv2D_Fold'] == 'int8'


def test_float_first_layer_is_quantized_by_the_v1_converter(tmp_path):
  # Measured TF 2.21 behaviour, documented in g3doc/scheme.md: a layer between two ranged
  # tensors (the model input has the converter's input statistics, its output the boundary
  # range) is converted to int8 anyway, its constant weights scaled by the converter.
  frozen = _Frozen(Scheme(rules=(Rule('^c1/', LayerConfig(quantize=False)),)), tmp_path)
  model = _Int8(frozen)
  assert inspection.is_fully_integer(model)
  assert _Dtypes(model)['c1/Conv2D_Fold'] == 'int8'


def test_non_8_bit_layers_are_refused_with_layers_and_bits(tmp_path):
  frozen = _Frozen(Scheme(rules=(Rule('^c2/', LayerConfig(weight_bits=4)),
                                 Rule('^c3/', LayerConfig(activation_bits=6)))), tmp_path)
  assert convert.non_tflite_bits(frozen) == [('c2', 'weights_quant', 4),
                                             ('c3', 'act_quant', 6)]
  for fn in (convert.convert_int8, convert.convert_uint8):
    with pytest.raises(convert.UnsupportedBitsError) as info:
      fn(frozen, ['input'], ['ArgMax'], [SHAPE], allow_float_ops=True)
    assert str(info.value) == (
        'TFLite runs 8-bit quantized layers only; 2 fake-quant unit(s) of this graph use other '
        'bit widths: c2 (weights_quant: 4 bits), c3 (act_quant: 6 bits). Such layers are '
        'simulated in the TF graph only: evaluate them there, or convert a graph whose scheme '
        'gives these scopes 8 bits (or leaves them float).')
