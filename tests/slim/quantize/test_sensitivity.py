"""Sensitivity table on a tiny model: one group quantized at a time, drops against float.

Model: a fixed batch [4, 8, 8, 3] -> c1 (conv3x3 + BN + Relu6) -> c2 (same) -> logits (1x1).
The metric is minus the mean squared distance of the logits to the float model's logits
(computed once from the checkpoint), so the float row scores exactly 0 and every quantized
group strictly less.
"""
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from slim.quantize import sensitivity

INPUTS = np.random.RandomState(0).uniform(-1, 1, [4, 8, 8, 3]).astype(np.float32)


def _Model():
  net = tf.constant(INPUTS)
  for scope in ('c1', 'c2'):
    net = tf_slim.conv2d(net, 8, 3, scope=scope, activation_fn=tf.nn.relu6,
                         normalizer_fn=tf_slim.batch_norm,
                         normalizer_params={'fused': True, 'is_training': False})
  return tf_slim.conv2d(net, 5, 1, scope='logits', activation_fn=None)


class _TinyTask(sensitivity.Task):
  metric_name = 'neg. MSE'

  def __init__(self, reference):
    self.reference = reference
    self.calibrations = 0

  def build(self):
    return _Model()

  def calibrate(self, sess, handle):
    self.calibrations += 1
    sess.run(handle)

  def evaluate(self, sess, handle):
    return -float(np.mean((sess.run(handle) - self.reference) ** 2))


@pytest.fixture
def float_checkpoint(tmp_path):
  with tf.Graph().as_default():
    logits = _Model()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      reference = sess.run(logits)
      prefix = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'float'))
  return prefix, reference


def test_layer_groups_cut_scopes_to_depth():
  with tf.Graph().as_default() as graph:
    net = tf.zeros([1, 4, 4, 3])
    with tf.compat.v1.variable_scope('net'):
      net = tf_slim.conv2d(net, 2, 1, scope='block1/a')
      net = tf_slim.conv2d(net, 2, 1, scope='block1/b')
      net = tf_slim.conv2d(net, 2, 1, scope='block2')
    tf_slim.conv2d(net, 2, 1, scope='head')
  assert sensitivity.layer_groups(graph, 2) == [
      sensitivity.Group('net/block1', '^net/block1/'), sensitivity.Group('net/block2',
                                                                         '^net/block2/'),
      sensitivity.Group('head', '^head/')]
  assert [g.label for g in sensitivity.layer_groups(graph, 1)] == ['net', 'head']


def test_table_of_drops_per_group(float_checkpoint, tmp_path):
  prefix, reference = float_checkpoint
  task = _TinyTask(reference)
  rows = sensitivity.run(task, prefix, depth=1, weight_bits=4, activation_bits=4)
  assert [r['label'] for r in rows] == ['float', 'all groups', 'c1', 'c2', 'logits']
  assert rows[0]['metric'] == 0.0 and rows[0]['drop'] == 0.0
  for row in rows[1:]:
    assert row['drop'] > 0.0 and row['drop'] == pytest.approx(-row['metric'])
  # Quantizing everything costs more than quantizing any one group.
  assert rows[1]['drop'] > max(r['drop'] for r in rows[2:])
  assert task.calibrations == 4  # one per quantized row

  table = sensitivity.write(rows, str(tmp_path / 'out'), task.metric_name)
  assert table.splitlines()[0] == '| group | scope regex | neg. MSE | drop vs float |'
  assert table.splitlines()[3].startswith('| all groups | - | ')
  assert (tmp_path / 'out' / 'report.json').exists()
  assert (tmp_path / 'out' / sensitivity.PLOT_NAME).stat().st_size > 0


def test_plot_is_optional_without_matplotlib(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'matplotlib', None)
  rows = [dict(label='float', regex=None, metric=1.0, drop=0.0),
          dict(label='c1', regex='^c1/', metric=0.9, drop=0.1)]
  table = sensitivity.write(rows, str(tmp_path), 'mIoU')
  assert '| c1 | ^c1/ | 0.9000 | +0.1000 |' in table
  assert not (tmp_path / sensitivity.PLOT_NAME).exists()


@pytest.mark.parametrize('name, kwargs, message', [
    ('nope', {}, '--task=nope: expected "package.module:function"'),
    ('no_such_module:f', {}, "--task=no_such_module:f: cannot import it (No module named "
     "'no_such_module')"),
    ('deeplab.sensitivity:make_task', {'dataset_dir': 'd', 'crop_size': 'big'},
     '--task_arg=crop_size=big: expected int'),
    ('deeplab.sensitivity:make_task', {'dataset_dir': 'd', 'size': '3'},
     "--task=deeplab.sensitivity:make_task with --task_arg ['dataset_dir', 'size']: "
     "make_task() got an unexpected keyword argument 'size'"),
    ('json:dumps', {'obj': '1'}, "--task=json:dumps returned '\"1\"', not a "
     "slim.quantize.sensitivity.Task"),
])
def test_task_errors(name, kwargs, message):
  with pytest.raises(ValueError) as info:
    sensitivity._load_task(name, kwargs)  # pylint: disable=protected-access
  assert str(info.value) == message
