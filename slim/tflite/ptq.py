"""Post-training full-integer quantization (PTQ) of a float frozen graph, and a TFLite runner.

PTQ needs no FakeQuant ops: the converter runs the float graph on a representative dataset
(typically a few hundred preprocessed train images) to calibrate every tensor's range, then
quantizes weights per channel (int8) and activations per tensor (int8). It is the baseline that
QAT is compared against (Model Garden: MobileNetV3-Large 75.1 -> 34.5 top-1 with PTQ, 74.4 with
QAT).

  model = ptq.convert_ptq_int8('frozen.pb', ['input'], ['MobilenetV2/Predictions/Reshape_1'],
                               [[1, 224, 224, 3]], representative_images, io_type='uint8')

Model input/output types: `io_type='int8'` (the TF2 default for full-integer models) or
`'uint8'` (the legacy io of `convert_uint8`, for drop-in use with uint8 camera pixels); the
kernels inside are int8 either way, with one QUANTIZE op at each uint8 boundary.
"""
import os

import numpy as np
import tensorflow as tf

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect
from slim.tflite import interpreter as interpreter_lib

IO_TYPES = {'int8': tf.int8, 'uint8': tf.uint8}


def _calibration_batches(representative_images, input_shape, num_calibration_images):
  """Yields [batch-1 float32 array] lists shaped like the model input."""
  count = 0
  for image in representative_images:
    if num_calibration_images is not None and count >= num_calibration_images:
      break
    array = np.asarray(image, np.float32)
    if array.ndim == len(input_shape) - 1:
      array = array[None]
    if list(array.shape[1:]) != list(input_shape[1:]):
      raise ValueError('representative image %d has shape %s; the model input is %s'
                       % (count, list(array.shape), list(input_shape)))
    for row in array:
      yield [row[None]]
      count += 1


def convert_ptq_int8(frozen_graph, input_arrays, output_arrays, input_shapes,
                     representative_images, io_type='int8', num_calibration_images=None,
                     allow_float_ops=False):
  """Full-integer post-training quantization of a float frozen graph.

  Args:
    frozen_graph: a float (FakeQuant-free) GraphDef, or the path of a binary .pb.
    input_arrays: input op names (one input supported).
    output_arrays: output op names.
    input_shapes: one shape per input, e.g. [[1, 224, 224, 3]].
    representative_images: iterable of float arrays in the model's input range (after the
      preprocessing), each [H, W, C] or [N, H, W, C]; consumed once during calibration.
    io_type: 'int8' or 'uint8' model input/output type.
    num_calibration_images: stop calibrating after this many images (None: all).
    allow_float_ops: accept a model where some ops stayed float.

  Returns:
    The .tflite flatbuffer bytes.

  Raises:
    ValueError: unknown io_type, bad graph file, or images not shaped like the input.
    slim.tflite.convert.NotFullyQuantizedError: some ops stayed float (and not allowed).
  """
  if io_type not in IO_TYPES:
    raise ValueError('io_type must be one of %s, got %r' % (sorted(IO_TYPES), io_type))
  if len(input_arrays) != 1:
    raise ValueError('convert_ptq_int8 supports one input, got %s' % list(input_arrays))
  if isinstance(frozen_graph, (str, os.PathLike)):
    frozen_graph = convert.load_graph_def(frozen_graph)
  converter = convert.v1_converter(frozen_graph, input_arrays, output_arrays, input_shapes)
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = lambda: _calibration_batches(
      representative_images, input_shapes[0], num_calibration_images)
  # Only int8 builtins: an op without an int8 kernel fails conversion instead of staying float.
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  converter.inference_input_type = IO_TYPES[io_type]
  converter.inference_output_type = IO_TYPES[io_type]
  model = converter.convert()
  return convert.check_model(model, allow_float_ops, 'PTQ %s' % io_type)


class TFLiteClassifier(object):
  """Runs a .tflite classifier on float images in the model's input range.

  Quantized inputs are quantized with the model's own input scale/zero point, so one evaluator
  serves float, PTQ (int8/uint8 io) and QAT (uint8) models alike.
  """

  def __init__(self, model, num_threads=1):
    """Loads `model` (bytes or a .tflite path) into the default interpreter."""
    self._interp = interpreter_lib.load(model, num_threads=num_threads)
    self._input = self._interp.get_input_details()[0]
    self._output = self._interp.get_output_details()[0]
    self.input_shape = list(self._input['shape'])
    self._batch = int(self.input_shape[0])

  def _quantize(self, images):
    dtype = self._input['dtype']
    if dtype == np.float32:
      return images.astype(np.float32)
    scale, zero_point = self._input['quantization']
    info = np.iinfo(dtype)
    q = np.round(images / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)

  def scores(self, images):
    """Returns dequantized output scores for a float [N, H, W, C] batch (any N)."""
    images = np.asarray(images, np.float32)
    rows = []
    for start in range(0, len(images), self._batch):
      chunk = images[start:start + self._batch]
      pad = self._batch - len(chunk)
      if pad:
        chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
      self._interp.set_tensor(self._input['index'], self._quantize(chunk))
      self._interp.invoke()
      out = self._interp.get_tensor(self._output['index']).astype(np.float32)
      if self._output['dtype'] != np.float32:
        scale, zero_point = self._output['quantization']
        out = (out - zero_point) * scale
      rows.append(out.reshape(self._batch, -1)[:len(chunk) - pad])
    return np.concatenate(rows)


def evaluate_top1(model, batches, num_threads=1):
  """Top-1 accuracy of a .tflite classifier.

  Args:
    model: .tflite bytes or path.
    batches: iterable of (float images [N, H, W, C], int labels [N]).
    num_threads: interpreter threads.

  Returns:
    (top-1 accuracy, number of images).
  """
  classifier = TFLiteClassifier(model, num_threads=num_threads)
  correct = total = 0
  for images, labels in batches:
    predictions = np.argmax(classifier.scores(images), axis=-1)
    correct += int(np.sum(predictions == np.asarray(labels).reshape(-1)))
    total += len(predictions)
  if not total:
    raise ValueError('evaluate_top1: no image to evaluate')
  return correct / total, total
