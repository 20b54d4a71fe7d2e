"""Converts a quantized DeepLab frozen graph to a fully 8-bit (uint8) TFLite model.

Same flags as the original. The input is the backbone input (after the in-graph preprocessing),
e.g. `MobilenetV2/MobilenetV2/input:0`, with mean/std 127.5; the output is `ArgMax:0`. With
--test_image_path it prints the percentage of pixels on which the frozen graph (fed at
`ImageTensor:0`) and the TFLite model agree. A model that still contains float tensors is refused
unless --allow_float_ops (new) is set.
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
import tensorflow as tf  # noqa: E402

flags.DEFINE_string('quantized_graph_def_path', None, 'Path to quantized graphdef.')
flags.DEFINE_string('output_tflite_path', None, 'Output TFlite model path.')
flags.DEFINE_string('input_tensor_name', None, 'Input tensor to TFlite model. This usually should '
                    'be the input tensor to model backbone.')
flags.DEFINE_string('output_tensor_name', 'ArgMax:0', 'Output tensor name of TFlite model. By '
                    'default we output the raw semantic label predictions.')
flags.DEFINE_string('test_image_path', None, 'Path to an image to test the consistency between '
                    'input graphdef / converted tflite model.')
flags.DEFINE_bool('allow_float_ops', False, 'New: accept a converted model that still has float '
                  'tensors (mixed model) instead of refusing it.')

FLAGS = flags.FLAGS

IMAGE_TENSOR = 'ImageTensor:0'
QUANTIZED_INPUT_STATS = (127.5, 127.5)  # real = (q - 127.5) / 127.5, the MobileNet range [-1, 1].
_INTEGER_TYPES = (np.uint8, np.int8, np.int32, np.int64, np.int16)


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


def convert_uint8(graph_def, input_tensor_name, output_tensor_name):
  """Converts a frozen QAT graph to a QUANTIZED_UINT8 TFLite flatbuffer (original method).

  Args:
    graph_def: frozen GraphDef with FakeQuant ranges.
    input_tensor_name: e.g. 'MobilenetV2/MobilenetV2/input:0'.
    output_tensor_name: e.g. 'ArgMax:0'.

  Returns:
    The .tflite bytes.
  """
  with tf.Graph().as_default() as graph:
    tf.import_graph_def(graph_def, name='')
    with tf.compat.v1.Session(graph=graph) as sess:
      inputs = graph.get_tensor_by_name(input_tensor_name)
      outputs = graph.get_tensor_by_name(output_tensor_name)
      converter = tf.compat.v1.lite.TFLiteConverter.from_session(sess, [inputs], [outputs])
      converter.inference_type = tf.compat.v1.lite.constants.QUANTIZED_UINT8
      converter.quantized_input_stats = {inputs.op.name: QUANTIZED_INPUT_STATS}
      return converter.convert()


def float_tensors(tflite_model):
  """Returns the names of float tensors of a converted model (empty for a fully 8-bit model)."""
  interpreter = tf.lite.Interpreter(model_content=tflite_model)
  return [d['name'] for d in interpreter.get_tensor_details()
          if np.dtype(d['dtype']) not in [np.dtype(t) for t in _INTEGER_TYPES]]


def run_tflite(tflite_model, image):
  """Runs the model on one uint8 image [h, w, 3] already at the model input size."""
  interpreter = tf.lite.Interpreter(model_content=tflite_model)
  interpreter.allocate_tensors()
  detail = interpreter.get_input_details()[0]
  interpreter.set_tensor(detail['index'], image[np.newaxis].astype(detail['dtype']))
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]['index'])


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
  tflite_model = convert_uint8(graph_def, FLAGS.input_tensor_name, FLAGS.output_tensor_name)
  floats = float_tensors(tflite_model)
  if floats and not FLAGS.allow_float_ops:
    raise ValueError('The converted model is not fully 8-bit: %d float tensors (e.g. %s). Pass '
                     '--allow_float_ops to write a mixed model.' % (len(floats), floats[:5]))
  fileio.atomic_write_bytes(FLAGS.output_tflite_path, tflite_model)
  print('Wrote %s (%d bytes, %d float tensors)' % (FLAGS.output_tflite_path, len(tflite_model),
                                                    len(floats)))
  if FLAGS.test_image_path:
    agreement = pixel_agreement(graph_def, tflite_model, FLAGS.test_image_path,
                                FLAGS.input_tensor_name, FLAGS.output_tensor_name)
    print('%.2f%% pixels have matched semantic labels.' % agreement)


if __name__ == '__main__':
  app.run(main)
