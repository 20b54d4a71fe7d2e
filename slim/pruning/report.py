"""Per-layer sparsity reports: from a live session (masked weights) or from a frozen GraphDef.

Each record gives the weight's name, shape, number of zeros, size and sparsity (zeros / size),
measured on the values the model really computes with (mask * weight), not on the mask alone.
"""
import collections

import numpy as np
import tensorflow as tf

from slim.pruning import pruning

_v1 = tf.compat.v1

# Layer op types and the input index of their weight; used to find weights in a GraphDef.
_WEIGHT_INPUT_INDEX = {
    'Conv2D': 1, 'DepthwiseConv2dNative': 1, 'MatMul': 1, 'Conv2DBackpropInput': 1,
}
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
