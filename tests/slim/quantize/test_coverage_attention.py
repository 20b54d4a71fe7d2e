"""Coverage rows for attention models: table lookups, int -> float casts, BatchMatMul outputs.

  ids (int32) -> Gather(table var) -> [table/weights_quant on the table] -> Reshape
  mask (int32) -> Cast -> [Cast/output_quant]
  x = Gather(...) * Cast(...)  ->  BatchMatMulV2(x, x^T) -> [output_quant] -> Softmax
"""
import tensorflow as tf

from slim.quantize import quantize_graph
from slim.tflite import convert
from slim.tflite import inspection

tf1 = tf.compat.v1


def _graph():
  ids = tf1.placeholder(tf.int32, [1, 6], name='ids')
  mask = tf1.placeholder(tf.int32, [1, 6], name='mask')
  table = tf1.get_variable('emb/table', [10, 4], initializer=tf1.random_normal_initializer())
  # Reshaped before the cast (as MobileBERT's mask): the converter then quantizes right after
  # the CAST (a float RESHAPE would sit between them otherwise).
  x = tf.nn.embedding_lookup(table, ids) * tf.cast(mask[:, :, None], tf.float32)
  scores = tf.matmul(x, x, transpose_b=True)
  tf.identity(tf.nn.softmax(scores), name='probs')
  quantize_graph.experimental_create_eval_graph(symmetric=True)
  return tf1.get_default_graph()


def _consumer_types(graph, name):
  return sorted(c.type for c in graph.get_operation_by_name(name).outputs[0].consumers())


def testTableCastAndBatchMatMul_GetRanges():
  graph = _graph()
  unit = graph.get_operation_by_name('emb/table/weights_quant/FakeQuantWithMinMaxVars')
  assert unit.inputs[0].op.name == 'emb/table/read'
  assert _consumer_types(graph, 'Cast') == ['FakeQuantWithMinMaxVars']
  assert _consumer_types(graph, 'MatMul') == ['FakeQuantWithMinMaxVars']
  assert _consumer_types(graph, 'embedding_lookup') == ['FakeQuantWithMinMaxVars']


def testTableCastAndBatchMatMul_ConvertInt8WithoutFloatKernels():
  graph = _graph()
  with tf1.Session(graph=graph) as sess:
    sess.run(tf1.global_variables_initializer())
    frozen = convert.freeze_session(sess, ['probs'])
  converter = convert.v1_converter(frozen, ['ids', 'mask'], ['probs'], [[1, 6], [1, 6]])
  converter.inference_type = tf.int8
  converter.quantized_input_stats = {'ids': (0.0, 1.0), 'mask': (0.0, 1.0)}
  model = convert.check_model(converter.convert(), True, 'int8')
  floats = {op for _, op in inspection.float_ops(model)}
  # The int32 -> float cast and its quantization are the only float ops left.
  assert floats <= {'CAST', 'QUANTIZE'}, floats
  assert 'BATCH_MATMUL' in inspection.op_histogram(model)
