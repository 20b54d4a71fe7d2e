"""The checkpoint-watching evaluation loop shared by every evaluator (eval.py, vis.py, ...).

As the original `slim.evaluation.evaluation_loop`: evaluate the latest checkpoint of a training
folder, then wait for the next one, at most once every `eval_interval_secs`, until
`max_number_of_evaluations` have run (<= 0: forever) or no new checkpoint came for `timeout`
seconds. The evaluation itself is the caller's `evaluate_fn(checkpoint_path)`.

  results = eval_driver.evaluate_checkpoints(
      '/tmp/train', lambda ckpt: evaluate_checkpoint(ckpt, ...), eval_interval_secs=300,
      max_number_of_evaluations=1)
"""
from absl import logging
import tensorflow as tf


def evaluate_checkpoints(checkpoint_dir, evaluate_fn, eval_interval_secs=300,
                         max_number_of_evaluations=0, timeout=None):
  """Runs `evaluate_fn` on each new checkpoint of `checkpoint_dir`.

  Args:
    checkpoint_dir: the training folder to watch (it may not exist yet: the trainer may start
      later, as in the original).
    evaluate_fn: `f(checkpoint_path) -> result`.
    eval_interval_secs: minimum seconds between two evaluations.
    max_number_of_evaluations: stop after this many; <= 0 evaluates forever.
    timeout: stop when no new checkpoint appears for this many seconds (None: wait forever).

  Returns:
    The list of results, one per evaluated checkpoint, oldest first.
  """
  results = []
  logging.info('Waiting for checkpoints in %s', checkpoint_dir)
  for checkpoint in tf.compat.v1.train.checkpoints_iterator(
      checkpoint_dir, min_interval_secs=eval_interval_secs, timeout=timeout):
    logging.info('Evaluating %s', checkpoint)
    results.append(evaluate_fn(checkpoint))
    if 0 < max_number_of_evaluations <= len(results):
      break
  return results
