"""Freeze a graph and convert it to TFLite: legacy uint8, int8 per-channel, or float.

Quantized conversions use the v1 converter (`tf.compat.v1.lite.TFLiteConverter.from_frozen_graph`)
on a graph carrying FakeQuant ranges, as `tflite_convert --enable_v1_converter` does. TF 2.21's
converter does NOT fail when an op lacks a range: it silently keeps that op in float. So every
quantized conversion here inspects the result and raises `NotFullyQuantizedError`, listing the
float ops, unless `allow_float_ops=True` asks for a mixed model on purpose (the float layers of
a quantization scheme, `slim.quantize.scheme`: the converter puts QUANTIZE/DEQUANTIZE at the
scheme's boundaries). A graph simulating other bit widths than 8 is refused before conversion
(`UnsupportedBitsError`, listing the layers and their bits).

The equivalent command line for the legacy uint8 path (DeepLab's recipe):

  tflite_convert --enable_v1_converter --graph_def_file=frozen_inference_graph.pb \\
    --output_file=model.tflite --output_format=TFLITE --input_shape=1,513,513,3 \\
    --input_arrays=MobilenetV2/MobilenetV2/input --inference_type=QUANTIZED_UINT8 \\
    --inference_input_type=QUANTIZED_UINT8 --std_dev_values=128 --mean_values=128 \\
    --change_concat_input_ranges=true --output_arrays=ArgMax
"""
import os
import tempfile

import tensorflow as tf

from slim.tflite import float_argmax as float_argmax_lib
from slim.tflite import inspection as tflite_inspect
from slim.tflite import interpreter as interpreter_lib


class NotFullyQuantizedError(ValueError):
  """A quantized conversion produced ops that compute in float."""

  def __init__(self, float_ops, inference_type):
    self.float_ops = float_ops
    super().__init__(
        'The %s TFLite model is not fully integer: %d op(s) stayed float because their tensors '
        'lack FakeQuant min/max ranges: %s. Rewrite the graph with slim.quantize (full coverage) '
        'before freezing, or pass allow_float_ops=True for a mixed model.' %
        (inference_type, len(float_ops),
         ', '.join('%s (%s)' % (name, op_type) for name, op_type in float_ops)))


# TFLite's quantized kernels run 8-bit values (and int32 biases); FakeQuant ops record theirs.
TFLITE_BITS = 8
_FAKE_QUANT_PREFIX = 'FakeQuantWithMinMax'
_UNIT_SUFFIX = '_quant'


class UnsupportedBitsError(ValueError):
  """The graph simulates bit widths TFLite cannot run (a scheme with non-8-bit layers)."""

  def __init__(self, units):
    self.units = units
    super().__init__(
        'TFLite runs %d-bit quantized layers only; %d fake-quant unit(s) of this graph use other '
        'bit widths: %s. Such layers are simulated in the TF graph only: evaluate them there, or '
        'convert a graph whose scheme gives these scopes %d bits (or leaves them float).' %
        (TFLITE_BITS, len(units), ', '.join('%s (%s: %d bits)' % u for u in units),
         TFLITE_BITS))


def non_tflite_bits(graph_def):
  """The fake-quant units of `graph_def` whose bit width is not 8.

  Args:
    graph_def: a (frozen) GraphDef.

  Returns:
    [(layer, unit, num_bits)], e.g. [('MobilenetV2/expanded_conv_2/depthwise', 'weights_quant',
    4)]; a FakeQuant outside a `*_quant` unit is listed under its own name and unit ''.
  """
  units = []
  for node in graph_def.node:
    if node.op.startswith(_FAKE_QUANT_PREFIX) and 'num_bits' in node.attr:
      bits = node.attr['num_bits'].i
      if bits != TFLITE_BITS:
        parts = node.name.split('/')
        index = max((i for i, p in enumerate(parts) if p.endswith(_UNIT_SUFFIX)), default=None)
        if index is None:
          units.append((node.name, '', bits))
        else:
          units.append(('/'.join(parts[:index]) or '(top level)', parts[index], bits))
  return units


def freeze_session(sess, output_node_names, add_shapes=False):
  """Returns a frozen GraphDef of `sess.graph` (variables as constants) for the outputs.

  Args:
    sess: a session whose variables hold the values to freeze.
    output_node_names: list of op names to keep (with everything they need).
    add_shapes: store each node's output shapes (`_output_shapes`), as DeepLab's export does.
  """
  graph_def = sess.graph.as_graph_def(add_shapes=add_shapes)
  # Variables' device pins would survive into the frozen graph otherwise.
  for node in graph_def.node:
    node.device = ''
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      sess, graph_def, list(output_node_names))
  return tf.compat.v1.graph_util.extract_sub_graph(frozen, list(output_node_names))


def load_graph_def(path, flag=None):
  """Reads a binary frozen GraphDef.

  Args:
    path: the .pb file.
    flag: the flag `path` came from (errors then start with `--flag=path`).

  Returns:
    A `tf.compat.v1.GraphDef`.

  Raises:
    ValueError: the file is missing or is not a binary GraphDef.
  """
  path = os.fspath(path)
  name = '--%s=%s' % (flag, path) if flag else 'frozen graph %s' % path
  if not os.path.isfile(path):
    raise ValueError('%s: file not found' % name)
  graph_def = tf.compat.v1.GraphDef()
  with open(path, 'rb') as f:
    try:
      graph_def.ParseFromString(f.read())
    except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError subclasses)
      raise ValueError('%s: not a binary GraphDef (%s)' % (name, e)) from None
  return graph_def


def v1_converter(graph_def, input_arrays, output_arrays, input_shapes):
  """Returns `tf.compat.v1.lite.TFLiteConverter.from_frozen_graph` for an in-memory GraphDef."""
  # from_frozen_graph reads a file; the temp copy is removed right after loading.
  fd, pb_path = tempfile.mkstemp(suffix='.pb')
  with os.fdopen(fd, 'wb') as f:
    f.write(graph_def.SerializeToString())
  try:
    shapes = {name: list(shape) for name, shape in zip(input_arrays, input_shapes)}
    return tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
        pb_path, list(input_arrays), list(output_arrays), input_shapes=shapes)
  finally:
    os.remove(pb_path)


def check_model(model, allow_float_ops, inference_type, float_argmax=False):
  """Returns a converted `model` after checking it is usable.

  It must run in the default interpreter (XNNPACK included), and a quantized one must be fully
  integer unless `allow_float_ops`. With `float_argmax` the checked integer model's ARG_MAX is
  then fed through a DEQUANTIZE (`slim.tflite.float_argmax`: the same labels, faster on x86);
  those two ops are the only float ones it adds.

  Raises:
    NotFullyQuantizedError: float ops in a quantized model, listed.
    slim.tflite.interpreter.ModelNotRunnableError: the interpreter refuses or fails to run it.
  """
  if inference_type != 'float' and not allow_float_ops:
    float_ops = tflite_inspect.float_ops(model)
    if float_ops:
      raise NotFullyQuantizedError(float_ops, inference_type)
  if float_argmax:
    model = float_argmax_lib.dequantize_argmax_inputs(model)
  return interpreter_lib.check_runs(model, 'The converted %s model' % inference_type)


def convert_uint8(graph_def, input_arrays, output_arrays, input_shapes, mean_values=127.5,
                  std_dev_values=127.5, change_concat_input_ranges=False, allow_float_ops=False,
                  float_argmax=False):
  """Legacy QUANTIZED_UINT8 (per-tensor) conversion of a frozen FakeQuant graph.

  Args:
    graph_def: frozen GraphDef after an eval rewrite.
    input_arrays: input op names (e.g. ['MobilenetV2/MobilenetV2/input']).
    output_arrays: output op names (e.g. ['ArgMax']).
    input_shapes: one shape per input (e.g. [[1, 513, 513, 3]]).
    mean_values, std_dev_values: real = (q - mean) / std for the uint8 inputs.
    change_concat_input_ranges: the converter flag of the same name.
    allow_float_ops: accept a model where some ops stayed float.
    float_argmax: feed ARG_MAX a DEQUANTIZE'd float input (`slim.tflite.float_argmax`): the
      same labels; TFLite's 8-bit ARG_MAX kernel is several times slower than its float one
      on x86. The model is then not integer-only.

  Returns:
    The .tflite flatbuffer bytes.

  Raises:
    NotFullyQuantizedError: when ops stayed float and allow_float_ops is False.
    UnsupportedBitsError: fake-quant units with other than 8 bits (listed).
    slim.tflite.interpreter.ModelNotRunnableError: the default interpreter cannot run the model.
  """
  _refuse_non_tflite_bits(graph_def)
  converter = v1_converter(graph_def, input_arrays, output_arrays, input_shapes)
  converter.inference_type = tf.uint8
  converter.inference_input_type = tf.uint8
  converter.quantized_input_stats = {name: (mean_values, std_dev_values) for name in input_arrays}
  converter.change_concat_input_ranges = change_concat_input_ranges
  return check_model(converter.convert(), allow_float_ops, 'uint8', float_argmax)


def convert_int8(graph_def, input_arrays, output_arrays, input_shapes, mean_values=127.5,
                 std_dev_values=127.5, allow_float_ops=False, float_argmax=False):
  """int8 conversion of a frozen FakeQuant graph (per-channel when the weights carry
  FakeQuantWithMinMaxVarsPerChannel, i.e. `experimental_create_eval_graph(per_channel=True)`).

  The v1 converter with `inference_type=tf.int8` keeps the per-channel weight scales (measured on
  TF 2.21); `optimizations=[DEFAULT]` alone would instead leave float kernels. Inputs are int8
  with real = (q - (mean - 128)) / std, i.e. the same real range as the uint8 path.

  Args and Raises: as `convert_uint8`.

  Returns:
    The .tflite flatbuffer bytes.
  """
  _refuse_non_tflite_bits(graph_def)
  converter = v1_converter(graph_def, input_arrays, output_arrays, input_shapes)
  converter.inference_type = tf.int8
  converter.inference_input_type = tf.int8
  converter.quantized_input_stats = {
      name: (mean_values - 128.0, std_dev_values) for name in input_arrays}
  return check_model(converter.convert(), allow_float_ops, 'int8', float_argmax)


def _refuse_non_tflite_bits(graph_def):
  units = non_tflite_bits(graph_def)
  if units:
    raise UnsupportedBitsError(units)


def convert_float(graph_def, input_arrays, output_arrays, input_shapes):
  """Float32 conversion (FakeQuant-free graph, e.g. the float export), checked to run."""
  return check_model(
      v1_converter(graph_def, input_arrays, output_arrays, input_shapes).convert(), True, 'float')
