"""Per-layer sparsity reports: from a live session (masked weights), a frozen GraphDef or a .tflite.

Each record gives the weight's name, shape, number of zeros, size and sparsity (zeros / size),
measured on the values the model really computes with (mask * weight), not on the mask alone.
"""
import collections

import numpy as np
import tensorflow as tf

from slim.pruning import pruning
from slim.tflite import interpreter as interpreter_lib

_v1 = tf.compat.v1

# Layer op types and the input index of their weight; used to find weights in a GraphDef.
_WEIGHT_INPUT_INDEX = {
    'Conv2D': 1, 'DepthwiseConv2dNative': 1, 'MatMul': 1, 'Conv2DBackpropInput': 1,
}
# TFLite builtin ops and the input index of their weight (the ops whose kernels
# `masked_variable_getter` prunes by default: convolutions and fully-connected layers).
TFLITE_PRUNED_WEIGHT_OPS = {'CONV_2D': 1, 'FULLY_CONNECTED': 1}
# Ops a frozen weight passes through before reaching the layer.
_PASS_THROUGH_OPS = frozenset(['Identity', 'FakeQuantWithMinMaxVars',
                               'FakeQuantWithMinMaxVarsPerChannel'])

SparsityRecord = collections.namedtuple('SparsityRecord', 'name shape zeros size sparsity')


def _record(name, value):
  value = np.asarray(value)
  zeros = int(value.size - np.count_nonzero(value))
  return SparsityRecord(name, tuple(value.shape), zeros, int(value.size),
                        zeros / float(max(value.size, 1)))


def sparsity_report(sess, graph=None):
  """Per-layer sparsity of every masked weight (the `masked_weights` collection).

  Args:
    sess: a session holding the model's variables.
    graph: the graph (default: sess.graph).

  Returns:
    A list of SparsityRecord, one per masked weight, in collection order.
  """
  graph = graph or sess.graph
  masked = pruning.get_masked_weights(graph)
  values = sess.run(masked)
  return [_record(t.op.name, v) for t, v in zip(masked, values)]


def _const_producer(node_by_name, input_name):
  """Follows Identity/FakeQuant inputs back to a Const node, or None."""
  name = input_name.split(':')[0].lstrip('^')
  for _ in range(len(node_by_name)):
    node = node_by_name.get(name)
    if node is None:
      return None
    if node.op == 'Const':
      return node
    if node.op not in _PASS_THROUGH_OPS or not node.input:
      return None
    name = node.input[0].split(':')[0].lstrip('^')
  return None


def sparsity_report_from_graph_def(graph_def):
  """Per-layer sparsity of the constant weights of Conv2D/Depthwise/MatMul/transposed convs.

  Works on any frozen GraphDef: a dense export, a `strip_pruning_vars` output (whose
  `.../masked_weight` Consts are the pruned kernels), or a frozen QAT graph.

  Args:
    graph_def: a frozen GraphDef.

  Returns:
    A list of SparsityRecord, one per distinct weight Const, in graph order.
  """
  node_by_name = {node.name: node for node in graph_def.node}
  records, seen = [], set()
  for node in graph_def.node:
    index = _WEIGHT_INPUT_INDEX.get(node.op)
    if index is None or len(node.input) <= index:
      continue
    const = _const_producer(node_by_name, node.input[index])
    if const is None or const.name in seen:
      continue
    seen.add(const.name)
    records.append(_record(const.name, tf.make_ndarray(const.attr['value'].tensor)))
  return records


def format_sparsity_report(records):
  """Formats SparsityRecords as a text table with a total row.

  Args:
    records: list of SparsityRecord.

  Returns:
    The table as a string.
  """
  width = max([len(r.name) for r in records] + [len('total')])
  lines = ['%-*s  %-18s  %10s  %10s  %8s' % (width, 'weight', 'shape', 'zeros', 'size',
                                              'sparsity')]
  for r in records:
    lines.append('%-*s  %-18s  %10d  %10d  %8.4f' % (width, r.name, 'x'.join(map(str, r.shape)),
                                                      r.zeros, r.size, r.sparsity))
  zeros = sum(r.zeros for r in records)
  size = sum(r.size for r in records)
  lines.append('%-*s  %-18s  %10d  %10d  %8.4f' % (width, 'total', '', zeros, size,
                                                    zeros / float(max(size, 1))))
  return '\n'.join(lines)


def tflite_weight_sparsity(model, weight_ops=None):
  """Per-tensor sparsity of the weights of a .tflite model, as the interpreter stores them.

  A weight entry counts as zero when it encodes real 0.0: equal to its zero point in a
  quantized tensor (per-channel zero points broadcast over the output-channel axis), equal to
  0 in a float one.

  Args:
    model: .tflite path or bytes.
    weight_ops: {builtin op name: weight input index}; default TFLITE_PRUNED_WEIGHT_OPS
      (CONV_2D and FULLY_CONNECTED; depthwise kernels are not pruned by default).

  Returns:
    A list of SparsityRecord, one per distinct constant weight tensor.
  """
  weight_ops = TFLITE_PRUNED_WEIGHT_OPS if weight_ops is None else weight_ops
  # Only stored tensors are read: no delegate (XNNPACK refuses some valid int8 layouts).
  interpreter = interpreter_lib.load(model, default_delegates=False)
  details = {d['index']: d for d in interpreter.get_tensor_details()}
  records, seen = [], set()
  for op in interpreter._get_ops_details():  # pylint: disable=protected-access
    index = weight_ops.get(op['op_name'])
    if index is None or len(op['inputs']) <= index:
      continue
    tensor = op['inputs'][index]
    if tensor < 0 or tensor in seen:
      continue
    seen.add(tensor)
    detail = details[tensor]
    value = interpreter.get_tensor(tensor)
    zero_points = np.asarray(detail['quantization_parameters']['zero_points'])
    if value.dtype != np.float32 and zero_points.size:
      axis = detail['quantization_parameters'].get('quantized_dimension', 0)
      shape = [1] * value.ndim
      if zero_points.size > 1:
        shape[axis] = zero_points.size
      is_zero = value == zero_points.reshape(shape)
    else:
      is_zero = value == 0
    zeros = int(is_zero.sum())
    records.append(SparsityRecord(detail['name'], tuple(value.shape), zeros, int(value.size),
                                  zeros / float(max(value.size, 1))))
  return records


def overall_sparsity(records):
  """Zeros / size over all records (size-weighted), 0.0 for no records."""
  size = sum(r.size for r in records)
  return sum(r.zeros for r in records) / float(size) if size else 0.0
