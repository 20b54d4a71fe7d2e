"""Tests of slim.runtime.eval_driver: each new checkpoint evaluated once, in order."""
import os
import threading
import time

import tensorflow as tf

from slim.runtime import eval_driver


def _save(folder, step):
  with tf.Graph().as_default():
    global_step = tf.compat.v1.train.get_or_create_global_step()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(global_step.assign(step))
      return tf.compat.v1.train.Saver().save(sess, os.path.join(folder, 'model.ckpt'),
                                             global_step=step)


def testEvaluateCheckpoints_OneShotTakesTheLatest(tmp_path):
  _save(str(tmp_path), 1)
  latest = _save(str(tmp_path), 2)
  assert eval_driver.evaluate_checkpoints(str(tmp_path), lambda c: c, eval_interval_secs=0,
                                          max_number_of_evaluations=1) == [latest]


def testEvaluateCheckpoints_WaitsForNewOnesAndStopsOnTimeout(tmp_path):
  first = _save(str(tmp_path), 1)
  later = []

  def _train_more():
    time.sleep(1.5)
    later.append(_save(str(tmp_path), 5))

  writer = threading.Thread(target=_train_more)
  writer.start()
  results = eval_driver.evaluate_checkpoints(str(tmp_path), lambda c: c, eval_interval_secs=1,
                                             timeout=4)
  writer.join()
  assert results == [first, later[0]]
