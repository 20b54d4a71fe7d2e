"""Tests of deeplab/convert_to_tflite.py on a tiny hand-quantized frozen graph.

Graph (every tensor has a FakeQuant range, as the QAT export has):
  ImageTensor(uint8) -> Cast -> mul,sub -> input/FakeQuant -> Conv2D(fq weights) + bias
    -> Relu6 -> act FakeQuant -> ArgMax
"""

import numpy as np
import pytest
import tensorflow as tf

from deeplab.utils import tflite_utils
from slim.tflite import convert as tflite_convert
from slim.tflite import inspection as tflite_inspect
from tests import helpers


@pytest.mark.parametrize('inference_type', ['uint8', 'int8'])
def testConvert_FullyIntegerAndAgreesWithGraph(inference_type):
  graph_def = helpers.tiny_quantized_graph()
  model = tflite_utils.convert(graph_def, 'input:0', 'ArgMax:0', inference_type)
  assert tflite_inspect.is_fully_integer(model)
  input_type = tf.lite.Interpreter(model_content=model).get_input_details()[0]['dtype']
  assert input_type == {'uint8': np.uint8, 'int8': np.int8}[inference_type]
  image = np.random.RandomState(1).randint(0, 256, [8, 8, 3]).astype(np.uint8)
  graph_out = tflite_utils.run_graph(graph_def, image, 'ArgMax:0')
  tflite_out = tflite_utils.run_tflite(model, image)
  assert tflite_out.shape == (1, 8, 8)
  assert np.mean(graph_out == tflite_out) > 0.9


def testLoadGraphDef_MissingFileNamesFlag(tmp_path):
  with pytest.raises(ValueError, match='--quantized_graph_def_path=.*file not found'):
    tflite_convert.load_graph_def(str(tmp_path / 'nope.pb'), 'quantized_graph_def_path')


def testConvert_UnquantizedOpIsNamed():
  with tf.Graph().as_default() as graph:
    x = tf.compat.v1.placeholder(tf.float32, [1, 4, 4, 3], name='input')
    x = tf.quantization.fake_quant_with_min_max_args(x, -1.0, 1.0)
    tf.argmax(tf.multiply(x, x, name='NoRange'), 3, name='ArgMax')
    graph_def = graph.as_graph_def()
  with pytest.raises(tflite_convert.NotFullyQuantizedError, match='NoRange'):
    tflite_utils.convert(graph_def, 'input:0', 'ArgMax:0')


def testConvert_FloatArgmaxSameLabelsAsIntegerModel():
  graph_def = helpers.tiny_quantized_graph()
  integer = tflite_utils.convert(graph_def, 'input:0', 'ArgMax:0', 'int8')
  model = tflite_utils.convert(graph_def, 'input:0', 'ArgMax:0', 'int8', float_argmax=True)
  assert [op for _, op in tflite_inspect.float_ops(model)] == ['DEQUANTIZE', 'ARG_MAX']
  for seed in range(3):
    image = np.random.RandomState(seed).randint(0, 256, [8, 8, 3]).astype(np.uint8)
    np.testing.assert_array_equal(tflite_utils.run_tflite(model, image),
                                  tflite_utils.run_tflite(integer, image))
