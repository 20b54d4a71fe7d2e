"""slim/tflite/float_argmax.py: an 8-bit ARG_MAX fed through a DEQUANTIZE gives the same labels."""
import numpy as np
import pytest
import tensorflow as tf

from slim.tflite import convert
from slim.tflite import float_argmax
from slim.tflite import inspection
from slim.tflite import interpreter as interpreter_lib


def _tied_logits_graph():
  """input -> FakeQuant -> ArgMax over 6 channels quantized to 8 levels (many exact ties)."""
  with tf.Graph().as_default() as graph:
    x = tf.compat.v1.placeholder(tf.float32, [1, 16, 16, 6], name='input')
    x = tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0)
    y = tf.quantization.fake_quant_with_min_max_args(tf.nn.relu6(x * 3.0), 0.0, 6.0)
    tf.argmax(y, 3, name='ArgMax')
    return graph.as_graph_def()


def _labels(model, value):
  interpreter = interpreter_lib.load(model, num_threads=1)
  interpreter.set_tensor(interpreter.get_input_details()[0]['index'], value)
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]['index'])


@pytest.mark.parametrize('inference_type', ['uint8', 'int8'])
def testDequantizeArgmaxInputs_SameLabelsIncludingTies(inference_type):
  graph_def = _tied_logits_graph()
  converter = {'uint8': convert.convert_uint8, 'int8': convert.convert_int8}[inference_type]
  args = (graph_def, ['input'], ['ArgMax'], [[1, 16, 16, 6]])
  integer = converter(*args)
  rewritten = converter(*args, float_argmax=True)
  assert inspection.is_fully_integer(integer)
  assert sorted(inspection.float_ops(rewritten)) == [
      ('ArgMax', 'ARG_MAX'), (inspection.tensor_table(rewritten)[-1]['name'], 'DEQUANTIZE')]
  histogram = inspection.op_histogram(rewritten)
  assert histogram['DEQUANTIZE'] == inspection.op_histogram(integer).get('DEQUANTIZE', 0) + 1
  dtype = np.uint8 if inference_type == 'uint8' else np.int8
  info = np.iinfo(dtype)
  rng = np.random.default_rng(0)
  ties = 0
  for _ in range(5):
    value = rng.integers(info.min, info.max + 1, [1, 16, 16, 6]).astype(dtype)
    expected = _labels(integer, value)
    np.testing.assert_array_equal(_labels(rewritten, value), expected)
    ties += int(np.sum(expected == 0))
  assert ties > 0  # The inputs did exercise the first-maximum rule (relu6 zeros tie at 0).


def testDequantizeArgmaxInputs_NameAndNoArgmaxUnchanged():
  model = convert.convert_int8(_tied_logits_graph(), ['input'], ['ArgMax'], [[1, 16, 16, 6]])
  rewritten = float_argmax.dequantize_argmax_inputs(model)
  names = [row['name'] for row in inspection.tensor_table(rewritten)]
  assert any(n.endswith(float_argmax.DEQUANTIZED_SUFFIX) for n in names)
  # Applying it twice changes nothing more: the ARG_MAX already reads float.
  assert float_argmax.dequantize_argmax_inputs(rewritten) == rewritten
  with tf.Graph().as_default() as graph:
    x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name='input')
    tf.identity(tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0), name='out')
    no_argmax = convert.convert_int8(graph.as_graph_def(), ['input'], ['out'], [[1, 4, 4, 3]])
  assert float_argmax.dequantize_argmax_inputs(no_argmax) == no_argmax


def testConvertInt8_FloatArgmaxStillRefusesUnrangedOps():
  with tf.Graph().as_default() as graph:
    x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name='input')
    x = tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0)
    tf.argmax(tf.multiply(x, x, name='NoRange'), 3, name='ArgMax')
    graph_def = graph.as_graph_def()
  with pytest.raises(convert.NotFullyQuantizedError, match='NoRange'):
    convert.convert_int8(graph_def, ['input'], ['ArgMax'], [[1, 4, 4, 3]], float_argmax=True)

