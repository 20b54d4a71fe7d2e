"""The training session loop every trainer shares (DeepLab, classification, detection, ...).

A trainer builds its graph (inputs, model, loss, the QAT rewrite before the optimizer, a train
op that returns the loss) and hands it to `train`, which owns everything around the steps:

  - resume: a run restarted with the same command continues from the latest checkpoint in
    `logdir` (global step included); only a fresh run calls `init_fn` (fine-tuning restore);
  - SIGINT/SIGTERM: a checkpoint is saved at the current step and the loop returns normally;
  - NaN/Inf guard: a non-finite loss raises `NonFiniteLossError` and nothing is saved, so the
    last good checkpoint stays the latest;
  - progress: step, loss, the given log tensors, sec/step, steps/s and ETA every `log_steps`;
  - checkpoints every `save_interval_secs` and at the end; summaries every `save_summaries_secs`.

  step = train_loop.train(train_op, global_step, train_loop.LoopOptions(
      logdir='/tmp/run', number_of_steps=600), init_fn=init_fn,
      log_tensors={'lr': learning_rate})
"""
import dataclasses
import datetime
import os
import signal
import threading
import time

from absl import logging
import numpy as np
import tensorflow as tf

from slim.runtime import checkpoints
from slim.runtime import distributed

CHECKPOINT_BASENAME = 'model.ckpt'
# Message of the CheckNumerics op made by `guard_loss`; the loop turns its error into
# NonFiniteLossError.
LOSS_NOT_FINITE = 'Loss is inf or nan.'


class NonFiniteLossError(FloatingPointError):
  """The training loss became NaN or Inf (the last good checkpoint is kept)."""


@dataclasses.dataclass
class LoopOptions:
  """Options of `train` (the trainers' flags of the same meaning map onto these)."""
  logdir: str
  number_of_steps: int
  log_steps: int = 10
  save_interval_secs: float = 600
  save_summaries_secs: float = 600
  max_to_keep: int = 5
  master: str = ''


def guard_loss(loss):
  """Returns `loss` behind a CheckNumerics op: a NaN/Inf loss fails before any update.

  Build the gradients from the returned tensor; the loop reports the failure as
  `NonFiniteLossError`.
  """
  return tf.debugging.check_numerics(loss, LOSS_NOT_FINITE)


class _StopSignal(object):
  """Records SIGINT/SIGTERM while the loop runs (the handlers are restored afterwards)."""

  _SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    # Python only lets the main thread install handlers (a loop run in a thread gets none).
    if threading.current_thread() is not threading.main_thread():
      return self
    for sig in self._SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *unused_exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame):
    del frame
    self.received = signum


def _format_eta(seconds):
  return str(datetime.timedelta(seconds=int(round(seconds))))


def _non_finite(loss, step, logdir):
  return NonFiniteLossError('Loss is %s at global step %d; stopping. The last good checkpoint in '
                            '%s is kept.' % (loss, step, logdir))


def train(train_op, global_step, opts, init_fn=None, log_tensors=None, after_step_ops=(),
          saver=None, summary_op=None, explain_error=None, replica=None):
  """Runs training steps in the default graph until global step `opts.number_of_steps`.

  Args:
    train_op: a tensor whose evaluation runs one training step and returns the loss.
    global_step: the global step variable (incremented by the train op).
    opts: `LoopOptions`.
    init_fn: `f(sess)` restoring initial weights; called only when `opts.logdir` holds no
      checkpoint yet (a resumed run continues from its own checkpoint).
    log_tensors: {name: scalar tensor} fetched with each step and logged (e.g. learning rate,
      batch accuracy).
    after_step_ops: ops run after each step in their own `session.run`, so they see the
      updated weights and global step (e.g. pruning's mask update).
    saver: the checkpoint saver; default saves every global variable, keeping
      `opts.max_to_keep` checkpoints.
    summary_op: summaries written every `opts.save_summaries_secs`; default merges all.
    explain_error: `f(tf.errors.OpError) -> Exception or None`: turns an input-pipeline error
      (TF names no file for a truncated shard) into the clear error raised instead.
    replica: `slim.runtime.distributed.Replica` of a cluster worker (build the graph under its
      `device_scope()`); None trains on one machine (`opts.master` the session target). Only
      the chief (worker 0) initialises, resumes, saves and writes summaries; every worker
      stops at `opts.number_of_steps` and the chief then ends the cluster.

  Returns:
    The final global step.

  Raises:
    NonFiniteLossError: the loss became NaN/Inf (nothing is saved for that step).
  """
  tf.io.gfile.makedirs(opts.logdir)
  graph = tf.compat.v1.get_default_graph()
  log_tensors = dict(log_tensors or {})
  saver = saver or tf.compat.v1.train.Saver(tf.compat.v1.global_variables(),
                                            max_to_keep=opts.max_to_keep)
  if summary_op is None:
    summary_op = tf.compat.v1.summary.merge_all()
  prefix = os.path.join(opts.logdir, CHECKPOINT_BASENAME)
  worker = distributed.Worker(replica or distributed.LOCAL, global_step, opts.master)
  writer = None
  with worker.session(graph) as sess:
    try:
      if worker.is_chief:
        sess.run([tf.compat.v1.global_variables_initializer(),
                  tf.compat.v1.local_variables_initializer()])
        if not _resume(sess, saver, opts.logdir) and init_fn is not None:
          init_fn(sess)
        writer = tf.compat.v1.summary.FileWriter(opts.logdir, graph)
      worker.start(sess)
      with _StopSignal() as stop:
        step = _run_steps(sess, train_op, global_step, opts, log_tensors, after_step_ops,
                          saver if worker.is_chief else None, summary_op, writer, prefix, stop,
                          explain_error, worker)
      if worker.is_chief:
        saver.save(sess, prefix, global_step=step)
        if summary_op is not None:
          writer.add_summary(sess.run(summary_op), step)
      worker.finish(sess, completed=step >= opts.number_of_steps)
    finally:
      worker.close()
      if writer is not None:
        writer.close()
  return step


def _resume(sess, saver, logdir):
  """Restores the newest readable checkpoint of `logdir`; returns whether one was restored.

  A run killed (even by SIGKILL) while saving can leave its newest checkpoint unreadable; the
  one before it is then used, so at most the steps since that checkpoint are lost. The saver
  takes over the older checkpoints, so `max_to_keep` still bounds the folder.

  Raises:
    CheckpointError: the folder holds checkpoints but none of them can be read (starting over
      would silently discard the run).
  """
  found = checkpoints.saved_checkpoints(logdir, CHECKPOINT_BASENAME)
  for checkpoint in found:
    try:
      checkpoints.restore(saver, sess, checkpoint)
    except checkpoints.CheckpointError as e:
      logging.warning('Skipping %s', e)
      continue
    logging.info('Resuming from %s', checkpoint)
    saver.recover_last_checkpoints(list(reversed(found)))
    return True
  if found:
    raise checkpoints.CheckpointError(
        '%s: none of its %d checkpoints can be read (%s ...); move them away to train from '
        'scratch or from --tf_initial_checkpoint' % (logdir, len(found), found[0]))
  return False


def _run_steps(sess, train_op, global_step, opts, log_tensors, after_step_ops, saver, summary_op,
               writer, prefix, stop, explain_error, worker):
  """The step loop of `train`; returns the global step reached.

  `saver` and `writer` are None on a non-chief worker (it neither saves nor summarizes).
  """
  step = start_step = int(sess.run(global_step))
  start_time = last_save = last_summary = time.time()
  names = sorted(log_tensors)
  fetches = [train_op] + [log_tensors[n] for n in names]
  while step < opts.number_of_steps:
    try:
      values = sess.run(fetches)
    except tf.errors.OpError as e:
      if LOSS_NOT_FINITE in str(e):
        raise _non_finite('inf or nan', step + 1, opts.logdir) from None
      clear = explain_error(e) if explain_error else None
      if clear is None:
        raise
      raise clear from None
    for op in after_step_ops:
      sess.run(op)
    worker.check()
    step = int(sess.run(global_step))
    loss = values[0]
    if not np.isfinite(loss):
      raise _non_finite(loss, step, opts.logdir)
    now = time.time()
    if opts.log_steps and (step % opts.log_steps == 0 or step >= opts.number_of_steps):
      done = max(1, step - start_step)
      sec_per_step = (now - start_time) / done
      extra = ''.join(', %s = %.6g' % (n, v) for n, v in zip(names, values[1:]))
      logging.info('global step %d: loss = %.4f%s (%.3f sec/step, %.2f steps/s, ETA %s)',
                   step, loss, extra, sec_per_step, 1.0 / sec_per_step,
                   _format_eta(sec_per_step * max(0, opts.number_of_steps - step)))
    if writer is not None and summary_op is not None and (
        now - last_summary >= opts.save_summaries_secs):
      writer.add_summary(sess.run(summary_op), step)
      last_summary = now
    if saver is not None and now - last_save >= opts.save_interval_secs:
      saver.save(sess, prefix, global_step=step)
      last_save = now
    if stop.received is not None:
      logging.info('Signal %d received: %s at step %d and exiting.', stop.received,
                   'saving a checkpoint' if saver is not None else 'stopping', step)
      break
  return step
