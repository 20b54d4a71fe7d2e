"""Converts a quantized DeepLab frozen graph to a fully 8-bit TFLite model.

Same flags as the original. The input is the backbone input (after the in-graph preprocessing),
e.g. `MobilenetV2/MobilenetV2/input:0`, with mean/std 127.5; the output is `ArgMax:0`. With
--test_image_path it prints the percentage of pixels on which the frozen graph (fed at
`ImageTensor:0`) and the TFLite model agree.

New flags: --inference_type=int8 converts a per-channel export (`export_model.py
--quantize_per_channel`) to int8 with per-channel weight scales (on x86 the uint8 per-tensor model
is not faster than float; int8 is). A model that still contains float ops is refused, naming them,
unless --allow_float_ops is set.
"""

import os
import sys

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
from slim import fileio  # noqa: E402
from slim.tflite import convert as tflite_convert  # noqa: E402
from slim.tflite import inspect as tflite_inspect  # noqa: E402
import tensorflow as tf  # noqa: E402

from deeplab import evaluate_tflite  # noqa: E402

flags.DEFINE_string('quantized_graph_def_path', None, 'Path to quantized graphdef.')
flags.DEFINE_string('output_tflite_path', None, 'Output TFlite model path.')
flags.DEFINE_string('input_tensor_name', None, 'Input tensor to TFlite model. This usually should '
                    'be the input tensor to model backbone.')
flags.DEFINE_string('output_tensor_name', 'ArgMax:0', 'Output tensor name of TFlite model. By '
                    'default we output the raw semantic label predictions.')
flags.DEFINE_string('test_image_path', None, 'Path to an image to test the consistency between '
                    'input graphdef / converted tflite model.')
flags.DEFINE_enum('inference_type', 'uint8', ['uint8', 'int8'], 'New: uint8 (the original, '
                  'per-tensor) or int8 (for a --quantize_per_channel export).',
                  allow_override=True)
flags.DEFINE_bool('allow_float_ops', False, 'New: accept a converted model that still has float '
                  'ops (mixed model) instead of refusing it.')

FLAGS = flags.FLAGS

IMAGE_TENSOR = 'ImageTensor:0'
# real = (q - 127.5) / 127.5: the [-1, 1] range of the MobileNet preprocessing.
INPUT_MEAN = 127.5
INPUT_STD = 127.5
_CONVERTERS = {'uint8': tflite_convert.convert_uint8, 'int8': tflite_convert.convert_int8}


def load_graph_def(path):
  """Reads a frozen GraphDef from `path` (clear error if missing or not a GraphDef)."""
  if not path or not tf.io.gfile.exists(path):
    raise ValueError('--quantized_graph_def_path=%s: file not found' % path)
  graph_def = tf.compat.v1.GraphDef()
  with tf.io.gfile.GFile(path, 'rb') as f:
    try:
      graph_def.ParseFromString(f.read())
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError('--quantized_graph_def_path=%s: not a frozen GraphDef (%s)' % (path, e))
  return graph_def


def _op_name(tensor_name):
  return tensor_name.split(':')[0]


def convert(graph_def, input_tensor_name, output_tensor_name, inference_type='uint8',
            allow_float_ops=False):
  """Converts a frozen QAT graph to an 8-bit TFLite flatbuffer.

  Args:
    graph_def: frozen GraphDef with FakeQuant ranges.
    input_tensor_name: e.g. 'MobilenetV2/MobilenetV2/input:0' (its static shape is the model
      input shape).
    output_tensor_name: e.g. 'ArgMax:0'.
    inference_type: 'uint8' (QUANTIZED_UINT8, the original) or 'int8'.
    allow_float_ops: accept a mixed model.

  Returns:
    The .tflite bytes.

  Raises:
    slim.tflite.convert.NotFullyQuantizedError: if ops stayed float (naming them).
    ValueError: if the input tensor has no static shape.
  """
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    shape = graph.get_tensor_by_name(input_tensor_name).shape
  if not shape.is_fully_defined():
    raise ValueError('--input_tensor_name=%s has no static shape (%s); export with a fixed '
                     '--crop_size' % (input_tensor_name, shape))
  return _CONVERTERS[inference_type](
      graph_def, [_op_name(input_tensor_name)], [_op_name(output_tensor_name)],
      [shape.as_list()], mean_values=INPUT_MEAN, std_dev_values=INPUT_STD,
      allow_float_ops=allow_float_ops)


def run_tflite(tflite_model, image):
  """Runs the model on one uint8 image [h, w, 3] already at the model input size.

  Returns:
    The class ids with a batch dimension, [1, h, w].
  """
  return evaluate_tflite.TFLiteSegmenter(tflite_model).predict(image)[np.newaxis]


def run_graph(graph_def, image, output_tensor_name):
  """Runs the frozen graph fed at ImageTensor:0 and returns `output_tensor_name`."""
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    with tf.compat.v1.Session(graph=graph) as sess:
      return sess.run(output_tensor_name, {IMAGE_TENSOR: image[np.newaxis]})


def pixel_agreement(graph_def, tflite_model, image_path, input_tensor_name, output_tensor_name):
  """Percentage of pixels with equal labels from the graph and the TFLite model on one image."""
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    height, width = graph.get_tensor_by_name(input_tensor_name).shape.as_list()[1:3]
  image = np.asarray(Image.open(image_path).convert('RGB').resize((width, height)), np.uint8)
  graph_out = run_graph(graph_def, image, output_tensor_name)
  tflite_out = run_tflite(tflite_model, image)
  return 100.0 * float(np.mean(graph_out.reshape(-1) == tflite_out.reshape(-1)))


def main(unused_argv):
  for name in ('quantized_graph_def_path', 'output_tflite_path', 'input_tensor_name'):
    if not FLAGS[name].value:
      raise ValueError('--%s is required' % name)
  graph_def = load_graph_def(FLAGS.quantized_graph_def_path)
  tflite_model = convert(graph_def, FLAGS.input_tensor_name, FLAGS.output_tensor_name,
                         FLAGS.inference_type, FLAGS.allow_float_ops)
  fileio.atomic_write_bytes(FLAGS.output_tflite_path, tflite_model)
  print('Wrote %s (%s, %d bytes, %d float ops)' % (
      FLAGS.output_tflite_path, FLAGS.inference_type, len(tflite_model),
      len(tflite_inspect.float_ops(tflite_model))))
  if FLAGS.test_image_path:
    agreement = pixel_agreement(graph_def, tflite_model, FLAGS.test_image_path,
                                FLAGS.input_tensor_name, FLAGS.output_tensor_name)
    print('%.2f%% pixels have matched semantic labels.' % agreement)


if __name__ == '__main__':
  app.run(main)
