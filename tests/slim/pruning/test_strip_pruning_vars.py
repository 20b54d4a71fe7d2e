"""Tests for strip_pruning_vars (library and CLI) and the GraphDef sparsity report."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim import pruning
from slim.pruning import strip_pruning_vars

_v1 = tf.compat.v1
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
_OUTPUT = 'logits/BiasAdd'
_INPUT_SHAPE = [2, 9, 9, 3]


def _build_pruned(sparsity=0.6):
  """Tiny masked conv net, pruned once to `sparsity`. Returns (images, logits, update)."""
  _v1.set_random_seed(0)
  images = _v1.placeholder(tf.float32, _INPUT_SHAPE, name='images')
  with _v1.variable_scope('', custom_getter=pruning.masked_variable_getter()):
    net = tf_slim.conv2d(images, 8, 3, normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'is_training': False}, scope='conv1')
    net = tf_slim.conv2d(net, 16, 3, stride=2, scope='conv2')
    net = tf.reduce_mean(net, [1, 2])
    logits = tf_slim.fully_connected(net, 5, activation_fn=None, scope='logits')
  global_step = _v1.train.get_or_create_global_step()
  update = pruning.Pruning(global_step=global_step,
                           sparsity=tf.constant(sparsity)).mask_update_op()
  return images, logits, update


def _run_graph_def(graph_def, feed):
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(graph_def, name='')
    with _v1.Session(graph=graph) as sess:
      return sess.run(_OUTPUT + ':0', {'images:0': feed})


def _frozen_pruned_graph():
  images, logits, update = _build_pruned()
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(update)
    report = pruning.sparsity_report(sess)
    frozen = _v1.graph_util.convert_variables_to_constants(
        sess, sess.graph.as_graph_def(), [_OUTPUT])
  assert images.op.name == 'images' and logits.op.name == _OUTPUT
  return frozen, report


def testStripPruningVarsFn_RemovesMasksKeepsOutput():
  frozen, session_report = _frozen_pruned_graph()
  stripped = pruning.strip_pruning_vars_fn(frozen, [_OUTPUT])
  by_name = {node.name: node for node in stripped.node}
  masked = ['conv1/weights/masked_weight', 'conv2/weights/masked_weight',
            'logits/weights/masked_weight']
  assert [by_name[name].op for name in masked] == ['Const'] * 3
  assert by_name['conv1/Conv2D'].input[1] == 'conv1/weights/masked_weight'
  leftovers = [name for name in by_name
               if set(name.split('/')) & {'mask', 'threshold'} or
               name.endswith('/weights') or name.endswith('/weights/read')]
  assert leftovers == []
  assert frozen.node and any(n.name == 'conv1/mask' for n in frozen.node)
  # Before stripping the frozen graph held kernel + mask (about twice the weight bytes).
  assert stripped.ByteSize() < 0.6 * frozen.ByteSize()
  feed = np.random.RandomState(0).rand(*_INPUT_SHAPE).astype(np.float32)
  np.testing.assert_allclose(_run_graph_def(stripped, feed), _run_graph_def(frozen, feed),
                             rtol=1e-6, atol=1e-6)
  # The GraphDef report sees the same zeros as the live session report.
  graph_report = pruning.sparsity_report_from_graph_def(stripped)
  assert graph_report == session_report
  for record in graph_report:
    assert record.sparsity == pytest.approx(0.6, abs=0.1)
  table = pruning.format_sparsity_report(graph_report)
  assert table.splitlines()[0].split() == ['weight', 'shape', 'zeros', 'size', 'sparsity']
  assert table.splitlines()[1].split()[:2] == ['conv1/weights/masked_weight', '3x3x3x8']


def testStripPruningVarsFn_BadInputRaises():
  frozen, _ = _frozen_pruned_graph()
  with pytest.raises(ValueError, match=r'Output node\(s\) nope not in the graph'):
    pruning.strip_pruning_vars_fn(frozen, ['nope'])
  with pytest.raises(ValueError, match='needs a frozen GraphDef; found variables: '):
    pruning.strip_pruning_vars_fn(_v1.get_default_graph().as_graph_def(), [_OUTPUT])


def testSparsityReportFromGraphDef_DenseGraph():
  images = _v1.placeholder(tf.float32, [1, 4], name='images')
  weights = tf.constant([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
  tf.matmul(images, tf.identity(weights), name='out')
  (record,) = pruning.sparsity_report_from_graph_def(_v1.get_default_graph().as_graph_def())
  assert record == (weights.op.name, (4, 2), 4, 8, 0.5)


def _save_checkpoint(train_dir):
  _, _, update = _build_pruned()
  saver = _v1.train.Saver()
  with _v1.Session() as sess:
    sess.run(_v1.global_variables_initializer())
    sess.run(update)
    expected = [r.zeros for r in pruning.sparsity_report(sess)]
    saver.save(sess, os.path.join(train_dir, 'model.ckpt'), global_step=7)
  return expected


def testGraphDefFromCheckpoint_ThenStrip(tmp_path):
  expected_zeros = _save_checkpoint(str(tmp_path))
  out_path, stripped = strip_pruning_vars.strip_checkpoint(
      str(tmp_path), [_OUTPUT], str(tmp_path / 'export'), 'pruning_stripped.pb')
  assert out_path == str(tmp_path / 'export' / 'pruning_stripped.pb')
  on_disk = _v1.GraphDef.FromString(open(out_path, 'rb').read())
  assert on_disk == stripped
  assert [r.zeros for r in pruning.sparsity_report_from_graph_def(on_disk)] == expected_zeros
  assert not [n for n in on_disk.node if n.op in ('VariableV2', 'Mul')]


def testGraphDefFromCheckpoint_MissingCheckpointRaises(tmp_path):
  with pytest.raises(ValueError, match='Could not find a checkpoint at: %s' % tmp_path):
    pruning.graph_def_from_checkpoint(str(tmp_path), [_OUTPUT])


def testGraphDefFromCheckpoint_UnknownOutputRaises(tmp_path):
  _save_checkpoint(str(tmp_path))
  with pytest.raises(ValueError, match=r'Output node\(s\) nope not in the meta graph of .*'
                     r'model.ckpt-7'):
    pruning.graph_def_from_checkpoint(str(tmp_path), ['nope'])


def testStripPruningVarsCli_RunsByPathAndWritesFile(tmp_path):
  _save_checkpoint(str(tmp_path))
  script = os.path.join(_REPO, 'slim', 'pruning', 'strip_pruning_vars.py')
  result = subprocess.run(
      [sys.executable, script, '--checkpoint_dir=%s' % tmp_path,
       '--output_node_names=%s' % _OUTPUT, '--output_dir=%s' % (tmp_path / 'out')],
      capture_output=True, text=True, timeout=300, cwd=str(tmp_path), check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Checkpoint: %s' % (tmp_path / 'model.ckpt-7') in result.stdout
  assert 'conv2/weights/masked_weight' in result.stdout
  assert os.path.exists(tmp_path / 'out' / 'pruning_stripped.pb')
  assert not [f for f in os.listdir(tmp_path / 'out') if '.tmp-' in f]


def testStripPruningVarsCli_MissingFlagFails(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'slim.pruning.strip_pruning_vars',
       '--checkpoint_dir=%s' % tmp_path],
      capture_output=True, text=True, timeout=300, cwd=_REPO, check=False)
  assert result.returncode != 0
  assert 'Missing required flag(s): --output_node_names, --output_dir' in result.stderr
