"""Folds pruning masks into constants for export (contrib `strip_pruning_vars_lib`).

A frozen pruned graph carries each weight twice (kernel and mask) plus the Mul between them, so
it is about twice the dense size (tensorflow#20673). `strip_pruning_vars_fn` replaces every
`.../masked_weight` Mul by one Const holding mask * weight and drops what no output needs:

  kernel ─┐
          Mul (masked_weight) ─> Conv2D      becomes      Const (masked_weight) ─> Conv2D
  mask ───┘

The result is dense (zeros are stored): it only shrinks after compression (gzip) or a sparse
TFLite encoding, see `size_report`.
"""
import numpy as np
import tensorflow as tf

from slim.pruning import names
from slim.runtime import checkpoints

_v1 = tf.compat.v1


def _is_masked_weight(node):
  """A Mul named `<...>/masked_weight` (or `masked_weight_N`, uniquified by TF)."""
  return (node.op == 'Mul' and
          node.name.rpartition('/')[2].startswith(names.MASKED_WEIGHT_SUFFIX))


def _masked_weight_values(graph_def):
  """Evaluates every masked_weight node of a frozen GraphDef; logs its fraction of zeros."""
  nodes = [node.name for node in graph_def.node if _is_masked_weight(node)]
  if not nodes:
    return {}
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(graph_def, name='')
    with _v1.Session(graph=graph) as sess:
      values = sess.run({name: name + ':0' for name in nodes})
  for name in nodes:
    value = values[name]
    _v1.logging.info('%s has %d values, %1.2f%% zeros', name, value.size,
                     100.0 * (1.0 - np.count_nonzero(value) / max(value.size, 1)))
  return values


def strip_pruning_vars_fn(input_graph_def, output_node_names):
  """Replaces masked weights by constants and removes the masks, thresholds and kernels.

  Args:
    input_graph_def: a frozen GraphDef (variables already constants) of a pruned model.
    output_node_names: list of output op names to keep.

  Returns:
    A GraphDef with no mask or threshold node and one Const per former masked_weight Mul
    (same name, so consumers such as FakeQuant weight ops are unchanged).

  Raises:
    ValueError: if an output node is missing, or a masked weight cannot be evaluated because
      the graph still has variables (freeze it first).
  """
  output_node_names = list(output_node_names)
  present = {node.name for node in input_graph_def.node}
  missing = [name for name in output_node_names if name not in present]
  if missing:
    raise ValueError('Output node(s) %s not in the graph' % ', '.join(missing))
  variable_ops = sorted(n.name for n in input_graph_def.node
                        if n.op in ('VariableV2', 'Variable', 'VarHandleOp'))
  if variable_ops:
    raise ValueError('strip_pruning_vars_fn needs a frozen GraphDef; found variables: %s' %
                     ', '.join(variable_ops[:5]))
  values = _masked_weight_values(input_graph_def)
  stripped = tf.compat.v1.GraphDef()
  stripped.versions.CopyFrom(input_graph_def.versions)
  stripped.library.CopyFrom(input_graph_def.library)
  for node in input_graph_def.node:
    out = stripped.node.add()
    if node.name in values:
      out.op = 'Const'
      out.name = node.name
      out.device = node.device
      out.attr['dtype'].CopyFrom(node.attr['T'])
      out.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(values[node.name]))
    else:
      out.CopyFrom(node)
  return _v1.graph_util.extract_sub_graph(stripped, output_node_names)


def graph_def_from_checkpoint(checkpoint_dir, output_node_names):
  """Frozen GraphDef of the latest checkpoint in `checkpoint_dir` (meta graph + variables).

  Args:
    checkpoint_dir: folder with a `checkpoint` index file and `model.ckpt-N.{meta,index,data}`.
    output_node_names: list of output op names.

  Returns:
    The frozen GraphDef. The checkpoint used is logged: the masks are the values saved in it,
    which may lag the TensorBoard curves of a later step (tensorflow#32766).

  Raises:
    ValueError: no checkpoint, no meta graph, or an output node missing from the meta graph.
  """
  checkpoint_path = tf.train.latest_checkpoint(checkpoint_dir)
  if checkpoint_path is None:
    raise ValueError('Could not find a checkpoint at: %s (expected a "checkpoint" file written '
                     'by tf.train.Saver)' % checkpoint_dir)
  meta_path = checkpoint_path + '.meta'
  if not tf.io.gfile.exists(meta_path):
    raise ValueError('Checkpoint %s has no meta graph %s (save with write_meta_graph=True)' %
                     (checkpoint_path, meta_path))
  graph = tf.Graph()
  with graph.as_default():
    saver = _v1.train.import_meta_graph(meta_path, clear_devices=True)
    missing = [n for n in output_node_names
               if n not in {op.name for op in graph.get_operations()}]
    if missing:
      raise ValueError('Output node(s) %s not in the meta graph of %s' %
                       (', '.join(missing), checkpoint_path))
    with _v1.Session(graph=graph) as sess:
      checkpoints.restore(saver, sess, checkpoint_path)
      frozen = _v1.graph_util.convert_variables_to_constants(
          sess, graph.as_graph_def(), list(output_node_names))
  _v1.logging.info('Froze %s', checkpoint_path)
  return frozen
