"""Freeze a graph and convert it to TFLite: legacy uint8, int8 per-channel, or float.

Quantized conversions use the v1 converter (`tf.compat.v1.lite.TFLiteConverter.from_frozen_graph`)
on a graph carrying FakeQuant ranges, as `tflite_convert --enable_v1_converter` does. TF 2.21's
converter does NOT fail when an op lacks a range: it silently keeps that op in float. So every
quantized conversion here inspects the result and raises `NotFullyQuantizedError`, listing the
float ops, unless `allow_float_ops=True` asks for a mixed model on purpose.

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

from slim.tflite import inspect as tflite_inspect


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


def freeze_session(sess, output_node_names):
  """Returns a frozen GraphDef of `sess.graph` (variables as constants) for the outputs.

  Args:
    sess: a session whose variables hold the values to freeze.
    output_node_names: list of op names to keep (with everything they need).
  """
  graph_def = sess.graph.as_graph_def()
  # Variables' device pins would survive into the frozen graph otherwise.
  for node in graph_def.node:
    node.device = ''
  frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
      sess, graph_def, list(output_node_names))
  return tf.compat.v1.graph_util.extract_sub_graph(frozen, list(output_node_names))


# Weight-range variables of the QAT rewriter; per-channel ones can be derived from the weights.
_WEIGHT_RANGE_SUFFIXES = ('weights_quant/min', 'weights_quant/max')


def _fake_quant_consumer(variable):
  """Returns the FakeQuant op reading `variable` as its min or max input, or None."""
  names = {variable.op.name, variable.op.name + '/read'}
  for op in variable.graph.get_operations():
    if op.type.startswith('FakeQuantWithMinMaxVars') and (
        op.inputs[1].op.name in names or op.inputs[2].op.name in names):
      return op
  return None


def restore_for_export(sess, checkpoint_path):
  """Restores `checkpoint_path` into every global variable of `sess.graph`, for freezing.

  A per-tensor QAT checkpoint holds scalar `<layer>/weights_quant/{min,max}`; a graph rewritten
  with per-channel ranges needs one value per output channel. Those are derived from the
  restored weights as the per-channel training quantizer computes them: symmetric [-a, a] with
  a = max |w| over all axes but the last (the FakeQuant input, after BN folding), so every
  channel's zero point is 0 (the TFLite int8 spec, which XNNPACK enforces).

  Args:
    sess: a session on the export graph.
    checkpoint_path: checkpoint prefix.

  Raises:
    ValueError: the checkpoint lacks (or reshapes) variables of the graph that cannot be derived.
  """
  graph = sess.graph
  shapes = tf.compat.v1.train.NewCheckpointReader(checkpoint_path).get_variable_to_shape_map()
  restore, derive, missing = [], [], []
  for variable in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES):
    name = variable.op.name
    if shapes.get(name) == variable.shape.as_list():
      restore.append(variable)
    elif (name.endswith(_WEIGHT_RANGE_SUFFIXES) and variable.shape.rank == 1 and
          _fake_quant_consumer(variable) is not None):
      derive.append(variable)
    else:
      missing.append(name)
  if missing:
    raise ValueError('Checkpoint %s does not match the export graph: missing or reshaped '
                     'variables %s' % (checkpoint_path, sorted(missing)))
  with graph.as_default():
    tf.compat.v1.train.Saver(restore).restore(sess, checkpoint_path)
    for variable in derive:
      weights = _fake_quant_consumer(variable).inputs[0]
      bound = tf.reduce_max(tf.abs(weights), axis=list(range(weights.shape.rank - 1)))
      value = -bound if variable.op.name.endswith('/min') else bound
      sess.run(variable.assign(tf.reshape(value, variable.shape)))


def _converter(graph_def, input_arrays, output_arrays, input_shapes):
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


def _check(model, allow_float_ops, inference_type):
  if not allow_float_ops:
    float_ops = tflite_inspect.float_ops(model)
    if float_ops:
      raise NotFullyQuantizedError(float_ops, inference_type)
  return model


def convert_uint8(graph_def, input_arrays, output_arrays, input_shapes, mean_values=127.5,
                  std_dev_values=127.5, change_concat_input_ranges=False, allow_float_ops=False):
  """Legacy QUANTIZED_UINT8 (per-tensor) conversion of a frozen FakeQuant graph.

  Args:
    graph_def: frozen GraphDef after an eval rewrite.
    input_arrays: input op names (e.g. ['MobilenetV2/MobilenetV2/input']).
    output_arrays: output op names (e.g. ['ArgMax']).
    input_shapes: one shape per input (e.g. [[1, 513, 513, 3]]).
    mean_values, std_dev_values: real = (q - mean) / std for the uint8 inputs.
    change_concat_input_ranges: the converter flag of the same name.
    allow_float_ops: accept a model where some ops stayed float.

  Returns:
    The .tflite flatbuffer bytes.

  Raises:
    NotFullyQuantizedError: when ops stayed float and allow_float_ops is False.
  """
  converter = _converter(graph_def, input_arrays, output_arrays, input_shapes)
  converter.inference_type = tf.uint8
  converter.inference_input_type = tf.uint8
  converter.quantized_input_stats = {name: (mean_values, std_dev_values) for name in input_arrays}
  converter.change_concat_input_ranges = change_concat_input_ranges
  return _check(converter.convert(), allow_float_ops, 'uint8')


def convert_int8(graph_def, input_arrays, output_arrays, input_shapes, mean_values=127.5,
                 std_dev_values=127.5, allow_float_ops=False):
  """int8 conversion of a frozen FakeQuant graph (per-channel when the weights carry
  FakeQuantWithMinMaxVarsPerChannel, i.e. `experimental_create_eval_graph(per_channel=True)`).

  The v1 converter with `inference_type=tf.int8` keeps the per-channel weight scales (measured on
  TF 2.21); `optimizations=[DEFAULT]` alone would instead leave float kernels. Inputs are int8
  with real = (q - (mean - 128)) / std, i.e. the same real range as the uint8 path.

  Args and Raises: as `convert_uint8`.

  Returns:
    The .tflite flatbuffer bytes.
  """
  converter = _converter(graph_def, input_arrays, output_arrays, input_shapes)
  converter.inference_type = tf.int8
  converter.inference_input_type = tf.int8
  converter.quantized_input_stats = {
      name: (mean_values - 128.0, std_dev_values) for name in input_arrays}
  return _check(converter.convert(), allow_float_ops, 'int8')


def convert_float(graph_def, input_arrays, output_arrays, input_shapes):
  """Float32 conversion (FakeQuant-free graph, e.g. the float export)."""
  return _converter(graph_def, input_arrays, output_arrays, input_shapes).convert()
