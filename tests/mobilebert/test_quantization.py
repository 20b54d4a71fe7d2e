"""The two QAT placements (hand-inserted, slim.quantize) by op name, and the int8 TFLite models."""
import math

import numpy as np
import pytest
import tensorflow as tf

from mobilebert import attention_ranges
from mobilebert import export
from mobilebert import hand_quantize
from mobilebert import modeling
from mobilebert import squad_model
from slim.quantize import quantizers
from slim.tflite import convert
from slim.tflite import inspection
from tests.mobilebert import test_modeling

tf1 = tf.compat.v1
SEQ = 32
LAYER = 'bert/encoder/layer_0/'


_GRAPHS = {}


def _graph(quantizer, is_training=False, num_hidden_layers=2):
  """The tiny model's graph with a placement, built once per module (tests only read it)."""
  key = (quantizer, is_training, num_hidden_layers)
  if key not in _GRAPHS:
    with tf.Graph().as_default() as graph:
      inputs = [tf1.placeholder(tf.int32, [1, SEQ], name=n)
                for n in export.squad_data.INPUT_NAMES]
      config = test_modeling.tiny_config(num_hidden_layers=num_hidden_layers)
      squad_model.create_model(config, is_training, *inputs, quantizer=quantizer)
      squad_model.quantize_graph(quantizer, is_training, config)
    _GRAPHS[key] = graph
  return _GRAPHS[key]


def _fake_quant_inputs(graph, op_type):
  """{op name: [whether input i comes from a FakeQuant]} for ops of a type."""
  result = {}
  for op in graph.get_operations():
    if op.type == op_type:
      result[op.name] = [t.op.type.startswith('FakeQuant') for t in op.inputs]
  return result


def _consumer_types(tensor):
  return sorted(c.type for c in tensor.consumers())


def testHand_DenseLayerUnitsByName():
  graph = _graph('hand')
  scope = LAYER + 'bottleneck/input/dense/'
  act = graph.get_operation_by_name(scope + hand_quantize.ACT_PREFIX + '/FakeQuantWithMinMaxVars')
  weight = graph.get_operation_by_name(
      scope + hand_quantize.WEIGHT_PREFIX + '/FakeQuantWithMinMaxVars')
  assert act.get_attr('narrow_range') is False
  assert weight.get_attr('narrow_range') is True
  assert weight.inputs[0].op.name == scope + 'kernel/read'
  matmul = graph.get_operation_by_name(scope + 'MatMul')
  assert matmul.inputs[0].op.type == 'Reshape' and matmul.inputs[0].op.inputs[0].op is act
  assert matmul.inputs[1].op is weight
  # Every encoder/head MatMul reads a quantized kernel except the head (the original leaves it).
  for name, from_fq in _fake_quant_inputs(graph, 'MatMul').items():
    assert from_fq[1] == name.startswith('bert/encoder'), name
  # The embeddings carry no hand-placed unit.
  assert not [op for op in graph.get_operations()
              if op.name.startswith('bert/embeddings') and op.type.startswith('FakeQuant')]


def testHand_NoNormAndAttentionUnits():
  graph = _graph('hand')
  norm = LAYER + 'attention/output/FakeLayerNorm/'
  mul = graph.get_operation_by_name(norm + 'mul')
  # x * gamma with both factors quantized, then the product quantized before + beta.
  assert [t.op.type for t in mul.inputs] == ['FakeQuantWithMinMaxVars'] * 2
  assert _consumer_types(mul.outputs[0]) == ['FakeQuantWithMinMaxVars']
  add = graph.get_operation_by_name(norm + 'add')
  assert [t.op.type for t in add.inputs] == ['FakeQuantWithMinMaxVars'] * 2
  attention = LAYER + 'attention/self/'
  scores, context = [graph.get_operation_by_name(attention + n) for n in ('MatMul', 'MatMul_1')]
  assert _consumer_types(scores.outputs[0]) == ['FakeQuantWithMinMaxVars']
  assert _consumer_types(context.outputs[0]) == ['FakeQuantWithMinMaxVars']
  clip = [op for op in graph.get_operations()
          if op.name.startswith(attention + 'clip_by_value') and op.type == 'Minimum']
  assert clip and graph.get_operation_by_name(attention + 'Softmax').inputs[0].op.type == 'Maximum'
  # No unit on the softmax output (the original's placement).
  assert _consumer_types(graph.get_operation_by_name(attention + 'Softmax').outputs[0]) == [
      'BatchMatMulV2']


def testRewriter_CoversMatMulsBatchMatMulsSoftmaxAndTables():
  graph = _graph('rewriter')
  for name, from_fq in _fake_quant_inputs(graph, 'MatMul').items():
    assert from_fq[1], name            # every kernel, the QA head's included
  for name in _fake_quant_inputs(graph, 'BatchMatMulV2'):
    op = graph.get_operation_by_name(name)
    assert _consumer_types(op.outputs[0]) == ['FakeQuantWithMinMaxVars'], name
  softmax = graph.get_operation_by_name(LAYER + 'attention/self/Softmax')
  assert _consumer_types(softmax.outputs[0]) == ['FakeQuantWithMinMaxArgs']
  for table in ('word_embeddings', 'token_type_embeddings', 'position_embeddings'):
    unit = 'bert/embeddings/%s/weights_quant/FakeQuantWithMinMaxVars' % table
    assert graph.get_operation_by_name(unit).inputs[0].op.name == (
        'bert/embeddings/%s/read' % table)
  # NoNorm's multiply and the residual add feeding it carry ranges.
  for name in ('attention/output/FakeLayerNorm/mul', 'attention/output/add'):
    op = graph.get_operation_by_name(LAYER + name)
    assert _consumer_types(op.outputs[0]) == ['FakeQuantWithMinMaxVars'], name


def testRewriter_NoHandUnitsAndTrainingGraphHasRangeUpdates():
  # One layer: the training-graph rewrite is the slow one.
  graph = _graph('rewriter', is_training=True, num_hidden_layers=1)
  names = [op.name for op in graph.get_operations()]
  assert not [n for n in names if 'MobileBert' in n]
  assert any(n.endswith('output_quant/AssignMinEma') for n in names)


def testRewriter_AttentionScoreRangesFloored():
  graph = _graph('rewriter', is_training=True, num_hidden_layers=1)
  scaled_floor = attention_ranges.SCORE_FLOOR
  raw_floor = scaled_floor * math.sqrt(modeling.attention_head_size(test_modeling.tiny_config()))
  attention = LAYER + 'attention/self/'
  for op, floor in (('MatMul', raw_floor), ('Mul', scaled_floor), ('mul_1', scaled_floor),
                    ('add', scaled_floor)):
    floored = graph.get_operation_by_name(
        attention + op + '/output_quant/' + attention_ranges.FLOORED_MIN_NAME)
    assert tf.get_static_value(floored.inputs[1]) == pytest.approx(floor), op
  # The context product and everything else keep plain EMA ranges.
  names = {op.name for op in graph.get_operations()}
  assert attention + 'MatMul_1/output_quant/BatchMin' in names
  assert not [n for n in names if attention_ranges.FLOORED_MIN_NAME in n and
              not n.startswith(attention)]


def testFlooredQuantizer_TrainingSaturatesBelowFloorEvalReadsRange():
  quantizer = attention_ranges.FlooredMovingAverageQuantizer(-12.0)
  def spec(is_training):
    return quantizers.UnitSpec(
        name_prefix='scores/output_quant', num_bits=8, per_channel=False, symmetric=False,
        narrow_range=False, init_min=-6.0, init_max=6.0, is_training=is_training,
        vars_collection=tf1.GraphKeys.MOVING_AVERAGE_VARIABLES, ema_decay=0.999)
  values = [-300.0, -1.0, 0.0, 12.0]
  with tf.Graph().as_default():
    x = tf1.placeholder(tf.float32, [4])
    trained = quantizer.quantize(x, spec(True))
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      out = sess.run(trained, {x: values})
      low, high = sess.run(['scores/output_quant/min:0', 'scores/output_quant/max:0'])
  # Zero-debiased: after one step the range is that batch's, its min floored.
  assert (low, high) == (pytest.approx(-12.0, rel=1e-4), pytest.approx(12.0, rel=1e-4))
  assert out[0] == pytest.approx(-12.0, abs=0.1) and out[1] == pytest.approx(-1.0, abs=0.06)
  with tf.Graph().as_default():
    x = tf1.placeholder(tf.float32, [4])
    served = quantizer.quantize(x, spec(False))
    assert not [op for op in tf1.get_default_graph().get_operations()
                if op.name.endswith(attention_ranges.FLOORED_MIN_NAME)]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for v, value in zip(tf1.global_variables(), (low, high)):
        v.load(value, sess)
      np.testing.assert_allclose(sess.run(served, {x: values}), out)
  with pytest.raises(ValueError, match='negative floor'):
    attention_ranges.FlooredMovingAverageQuantizer(0.0)


def _frozen(quantizer):
  graph = _graph(quantizer)
  with graph.as_default(), tf1.Session(graph=graph) as sess:
    sess.run(tf1.variables_initializer(tf1.global_variables()))
    # Trained-like NoNorm parameters: an all-zero beta behind a hand-placed unit makes the
    # calibrated converter emit an ADD that the interpreter aborts on (a degenerate range).
    rng = np.random.default_rng(1)
    for v in tf1.global_variables():
      if v.op.name.endswith(('/beta', '/gamma')):
        v.load(rng.uniform(0.5, 1.5, v.shape.as_list()) * (0.1 if 'beta' in v.op.name else 1),
               sess)
    return convert.freeze_session(sess, squad_model.OUTPUT_NAMES)


def _calibration(num=4):
  rng = np.random.default_rng(0)
  ids = rng.integers(5, 50, [num, SEQ]).astype(np.int32)
  mask = np.ones([num, SEQ], np.int32)
  mask[:, 20:] = 0
  segments = np.zeros([num, SEQ], np.int32)
  segments[:, 10:] = 1
  return {'input_ids': ids, 'input_mask': mask, 'segment_ids': segments}


@pytest.mark.parametrize('kind', ['rewriter', 'hand', 'ptq'])
def testInt8Tflite_IntegerInEveryFullyConnectedAndBatchMatmul(kind):
  graph_def = _frozen('none' if kind == 'ptq' else kind)
  model = export.convert_model(graph_def, kind, SEQ, _calibration())
  ops = inspection.op_histogram(model)
  assert ops['FULLY_CONNECTED'] == 1 + 2 * 11 + 1 and ops['BATCH_MATMUL'] == 4
  floats = inspection.float_ops(model)
  assert {op for _, op in floats} <= export.BOUNDARY_FLOAT_OPS
  assert not [op for _, op in floats if op in export.INTEGER_OPS]
  table = {row['name']: row['dtype'] for row in inspection.tensor_table(model)}
  assert table['input_ids'] == 'int32'
  start, end = export.TFLiteSpanModel(model).logits(_calibration(2))
  assert start.shape == end.shape == (2, SEQ) and np.all(np.isfinite(start))


def testCheckInteger_RefusesAFloatModel():
  model = export.convert_model(_frozen('none'), 'float', SEQ)
  with pytest.raises(convert.NotFullyQuantizedError, match='FULLY_CONNECTED'):
    export.check_integer(model, 'ptq')
