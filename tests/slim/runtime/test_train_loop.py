"""Tests of slim.runtime.train_loop on a tiny linear model (resume, NaN guard, signals, logs)."""
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from slim.runtime import train_loop


def _build(loss_scale=1.0, guard=False):
  """y = w * x fitted to 2x; the train op returns the loss (optionally scaled to NaN)."""
  global_step = tf.compat.v1.train.get_or_create_global_step()
  w = tf.compat.v1.get_variable('w', [], initializer=tf.compat.v1.zeros_initializer())
  x = tf.constant(np.arange(1.0, 5.0, dtype=np.float32))
  loss = tf.reduce_mean(tf.square(w * x - 2.0 * x)) * loss_scale
  if guard:
    loss = train_loop.guard_loss(loss)
  update = tf.compat.v1.train.GradientDescentOptimizer(0.01).minimize(loss, global_step)
  with tf.control_dependencies([update]):
    train_op = tf.identity(loss)
  return train_op, global_step


def _train(logdir, steps, after_step_ops=(), **kwargs):
  train_op, global_step = _build(**kwargs)
  opts = train_loop.LoopOptions(logdir=logdir, number_of_steps=steps, log_steps=1)
  return train_loop.train(train_op, global_step, opts, after_step_ops=after_step_ops,
                          log_tensors={'w': tf.compat.v1.trainable_variables()[0]})


def testTrain_ResumeContinuesGlobalStep(tmp_path):
  logdir = str(tmp_path)
  assert _train(logdir, 2) == 2
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-2')
  tf.compat.v1.reset_default_graph()
  assert _train(logdir, 5) == 5
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-5')
  # Resumed from step 2, not restarted: 5 steps of descent in all.
  w = tf.train.load_variable(logdir, 'w')
  expected = 0.0
  for _ in range(5):
    expected -= 0.01 * np.mean(2 * (expected - 2.0) * np.arange(1.0, 5.0) ** 2)
  assert w == pytest.approx(expected, rel=1e-5)


def testTrain_InitFnOnlyForAFreshRun(tmp_path):
  calls = []
  train_op, global_step = _build()
  opts = train_loop.LoopOptions(logdir=str(tmp_path), number_of_steps=1)
  train_loop.train(train_op, global_step, opts, init_fn=calls.append)
  assert len(calls) == 1
  opts.number_of_steps = 2
  train_loop.train(train_op, global_step, opts, init_fn=calls.append)
  assert len(calls) == 1


def testTrain_NonFiniteLossStopsAndKeepsLastCheckpoint(tmp_path):
  logdir = str(tmp_path)
  _train(logdir, 1)
  tf.compat.v1.reset_default_graph()
  with pytest.raises(train_loop.NonFiniteLossError,
                     match='^Loss is nan at global step 2; stopping. The last good checkpoint'):
    _train(logdir, 3, loss_scale=float('nan'))
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-1')


def testTrain_GuardedLossFailsBeforeTheUpdate(tmp_path):
  logdir = str(tmp_path)
  _train(logdir, 1)
  w_before = tf.train.load_variable(logdir, 'w')
  tf.compat.v1.reset_default_graph()
  with pytest.raises(train_loop.NonFiniteLossError, match='^Loss is inf or nan at global step 2'):
    _train(logdir, 3, loss_scale=float('inf'), guard=True)
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-1')
  assert tf.train.load_variable(logdir, 'w') == w_before


def testTrain_SigtermSavesAtTheCurrentStepAndReturns(tmp_path):
  logdir = str(tmp_path)
  previous = signal.getsignal(signal.SIGTERM)

  def _signal_at_step_3(step):
    if step == 3:
      os.kill(os.getpid(), signal.SIGTERM)
    return step

  # An after-step op reads the step the train op reached (run in its own session call).
  global_step = tf.compat.v1.train.get_or_create_global_step()
  kill = tf.compat.v1.py_func(_signal_at_step_3, [global_step], tf.int64)
  assert _train(logdir, 50, after_step_ops=[kill]) == 3
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-3')
  assert signal.getsignal(signal.SIGTERM) is previous


def testTrain_LogsProgressWithRateAndEta(tmp_path, monkeypatch):
  messages = []
  # absl's handler may not propagate to pytest's caplog once absl logging is initialised.
  monkeypatch.setattr(train_loop.logging, 'info', lambda fmt, *args: messages.append(fmt % args))
  _train(str(tmp_path), 2)
  lines = [m for m in messages if m.startswith('global step')]
  assert len(lines) == 2
  assert 'loss = ' in lines[1] and ', w = ' in lines[1]
  assert 'sec/step' in lines[1] and 'steps/s' in lines[1] and 'ETA 0:00:00' in lines[1]


def testTrain_AfterStepOpsSeeTheUpdatedStep(tmp_path):
  train_op, global_step = _build()
  seen = tf.compat.v1.get_variable('seen', [], tf.int64, trainable=False,
                                   initializer=tf.compat.v1.zeros_initializer())
  record = tf.compat.v1.assign(seen, global_step)
  opts = train_loop.LoopOptions(logdir=str(tmp_path), number_of_steps=3)
  train_loop.train(train_op, global_step, opts, after_step_ops=[record])
  assert tf.train.load_variable(str(tmp_path), 'seen') == 3


def _truncate_data_file(checkpoint):
  data = checkpoint + '.data-00000-of-00001'
  with open(data, 'rb') as f:
    content = f.read()
  with open(data, 'wb') as f:
    f.write(content[:len(content) // 2])


def testTrain_ResumeSkipsAnUnreadableNewestCheckpoint(tmp_path, monkeypatch):
  logdir = str(tmp_path)
  _train(logdir, 2)
  tf.compat.v1.reset_default_graph()
  _train(logdir, 3)
  # As a run killed while writing its newest checkpoint might leave it.
  _truncate_data_file(os.path.join(logdir, 'model.ckpt-3'))
  messages = []
  monkeypatch.setattr(train_loop.logging, 'info', lambda fmt, *args: messages.append(fmt % args))
  tf.compat.v1.reset_default_graph()
  assert _train(logdir, 4) == 4
  assert 'Resuming from %s' % os.path.join(logdir, 'model.ckpt-2') in messages


_KILLED_RUN = '''
import sys, time
import numpy as np
import slim
import tensorflow as tf
from absl import logging
from slim.runtime import train_loop
logging.set_verbosity(logging.INFO)
global_step = tf.compat.v1.train.get_or_create_global_step()
w = tf.compat.v1.get_variable('w', [64, 64], initializer=tf.compat.v1.zeros_initializer())
loss = tf.reduce_mean(tf.square(w - 1.0))
update = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step)
slow = tf.compat.v1.py_func(lambda: time.sleep(0.02) or np.float32(0), [], tf.float32)
with tf.control_dependencies([update, slow]):
  train_op = tf.identity(loss)
train_loop.train(train_op, global_step, train_loop.LoopOptions(
    logdir=sys.argv[1], number_of_steps=int(sys.argv[2]), log_steps=1, save_interval_secs=0,
    max_to_keep=100))
'''


def testTrain_SigkillLosesOnlyTheStepsSinceTheLastCheckpoint(tmp_path):
  import subprocess
  import sys
  import time
  logdir = str(tmp_path / 'run')
  command = [sys.executable, '-c', _KILLED_RUN, logdir, '100000']
  process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 120
    while time.time() < deadline:
      state = tf.train.get_checkpoint_state(logdir)
      if state is not None and len(state.all_model_checkpoint_paths) >= 5:
        break
      time.sleep(0.05)
    else:
      pytest.fail('the run wrote no checkpoints in 120 s')
  finally:
    process.kill()  # SIGKILL: no handler runs, no final save.
    process.wait()
  killed_at = int(tf.train.latest_checkpoint(logdir).rsplit('-', 1)[1])
  result = subprocess.run([sys.executable, '-c', _KILLED_RUN, logdir, str(killed_at + 3)],
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'Resuming from %s/model.ckpt-' % logdir in result.stderr
  resumed = int(result.stderr.split('Resuming from %s/model.ckpt-' % logdir)[1].split()[0])
  assert resumed >= killed_at - 1  # The newest checkpoint, or the one before it if torn.
  assert tf.train.latest_checkpoint(logdir).endswith('model.ckpt-%d' % (killed_at + 3))


def testTrain_NoReadableCheckpointIsAnErrorNotAFreshStart(tmp_path):
  logdir = str(tmp_path)
  _train(logdir, 1)
  _truncate_data_file(os.path.join(logdir, 'model.ckpt-1'))
  tf.compat.v1.reset_default_graph()
  with pytest.raises(train_loop.checkpoints.CheckpointError,
                     match=r'^.*: none of its 1 checkpoints can be read'):
    _train(logdir, 2)


def testTrain_InputErrorsAreExplainedByTheTrainersHook(tmp_path):
  shard = str(tmp_path / 'train-00000-of-00001.tfrecord')
  with tf.io.TFRecordWriter(shard) as writer:
    for _ in range(3):
      writer.write(b'x' * 100)
  with open(shard, 'rb') as f:
    content = f.read()
  with open(shard, 'wb') as f:
    f.write(content[:-10])
  records = tf.compat.v1.data.make_one_shot_iterator(
      tf.data.TFRecordDataset([shard]).repeat()).get_next()
  global_step = tf.compat.v1.train.get_or_create_global_step()
  w = tf.compat.v1.get_variable('w', [], initializer=tf.compat.v1.zeros_initializer())
  loss = tf.square(w - tf.cast(tf.strings.length(records), tf.float32))
  train_op = tf.compat.v1.train.GradientDescentOptimizer(1e-4).minimize(loss, global_step)
  with tf.control_dependencies([train_op]):
    train_op = tf.identity(loss)

  def explain(error):
    bad = train_loop.checkpoints.error_reason(error)
    return ValueError('%s: truncated (%s)' % (shard, bad)) if isinstance(
        error, tf.errors.DataLossError) else None

  with pytest.raises(ValueError, match=r'^.*train-00000-of-00001\.tfrecord: truncated \(.+\)$'):
    train_loop.train(train_op, global_step, train_loop.LoopOptions(
        logdir=str(tmp_path / 'run'), number_of_steps=10), explain_error=explain)
