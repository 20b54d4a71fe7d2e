"""Tests of DeepLab's training graph on the shared session loop (stand-in backbone).

The stand-in backbone (tests.helpers) keeps these tests independent of slim.nets; the head,
loss, optimizer (deeplab.utils.train_utils), checkpointing and resume logic
(slim.runtime.train_loop) are the real ones.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from deeplab import common
from deeplab.utils import train_utils as deeplab_train_utils
from slim.runtime import train_loop

pytestmark = pytest.mark.usefixtures('stand_in_backbone')


def _build(num_clones=1, loss_scale=1.0):
  rng = np.random.RandomState(0)
  images = tf.constant(rng.uniform(0, 255, [2, 33, 33, 3]).astype(np.float32))
  labels = tf.constant(rng.randint(0, 3, [2, 33, 33, 1]).astype(np.int32))
  options = common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[33, 33], output_stride=16,
                                batch_norm_decay=0.9)
  global_step = tf.compat.v1.train.get_or_create_global_step()
  loss, update_ops = deeplab_train_utils.build_clone_losses(
      {common.IMAGE: images, common.LABEL: labels}, options, 3, 255, num_clones=num_clones)
  loss = loss * loss_scale
  optimizer = tf.compat.v1.train.AdamOptimizer(1e-3)
  grads = optimizer.minimize(loss, global_step=global_step)
  with tf.control_dependencies([grads] + list(update_ops)):
    train_op = tf.identity(loss)
  return train_op, loss, global_step, update_ops


def _run_loop(logdir, steps, **kwargs):
  train_op, _, global_step, _ = _build(**kwargs)
  return train_loop.train(train_op, global_step,
                          train_loop.LoopOptions(logdir=logdir, number_of_steps=steps,
                                                 log_steps=1))


def testTrainLoop_ResumeContinuesGlobalStep(tmp_path):
  logdir = str(tmp_path)
  assert _run_loop(logdir, 2) == 2
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-2')
  tf.compat.v1.reset_default_graph()
  assert _run_loop(logdir, 3) == 3
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-3')


def testTrainLoop_CheckpointHasOriginalVariableNames(tmp_path):
  _run_loop(str(tmp_path), 1)
  names = dict(tf.train.list_variables(str(tmp_path)))
  assert names['logits/semantic/weights'] == [1, 1, 256, 3]
  assert names['aspp0/BatchNorm/moving_mean'] == [256]
  assert 'global_step' in names


def testTrainLoop_NonFiniteLossStopsAndKeepsLastCheckpoint(tmp_path):
  logdir = str(tmp_path)
  _run_loop(logdir, 1)
  tf.compat.v1.reset_default_graph()
  with pytest.raises(train_loop.NonFiniteLossError, match='Loss is nan at global step 2'):
    _run_loop(logdir, 3, loss_scale=float('nan'))
  assert tf.train.latest_checkpoint(logdir) == os.path.join(logdir, 'model.ckpt-1')


def testBuildCloneLosses_TwoClonesShareVariablesAndSplitBatch():
  _build(num_clones=2)
  graph = tf.compat.v1.get_default_graph()
  assert graph.get_operation_by_name('clone_1/semantic_merged_logits/pixel_losses')
  weights = [v.op.name for v in tf.compat.v1.trainable_variables()
             if v.op.name.endswith('logits/semantic/weights')]
  assert weights == ['logits/semantic/weights']


def testMaybeQuantizeTrainingGraph_InsertsFakeQuantBeforeOptimizer():
  rng = np.random.RandomState(0)
  images = tf.constant(rng.uniform(0, 255, [2, 33, 33, 3]).astype(np.float32))
  labels = tf.constant(rng.randint(0, 3, [2, 33, 33, 1]).astype(np.int32))
  options = common.ModelOptions({common.OUTPUT_TYPE: 3}, crop_size=[33, 33], output_stride=16)
  tf.compat.v1.train.get_or_create_global_step()
  loss, _ = deeplab_train_utils.build_clone_losses(
      {common.IMAGE: images, common.LABEL: labels}, options, 3, 255)
  assert deeplab_train_utils.maybe_quantize_training_graph(0, num_clones=1)
  names = {op.name for op in tf.compat.v1.get_default_graph().get_operations()
           if op.type.startswith('FakeQuantWithMinMaxVars')}
  assert any(n.startswith('aspp0/weights_quant/') for n in names)
  assert any(n.startswith('concat_projection/act_quant/') for n in names)
  assert any(n.startswith('logits/semantic/weights_quant/') for n in names)
  tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)


def testOptimizerLearningRate_AdamIsConstantUnlessAskedToFollowThePolicy():
  global_step = tf.compat.v1.train.get_or_create_global_step()
  scheduled = deeplab_train_utils.get_model_learning_rate(
      'step', 1e-3, 550, 0.1, 700, 0.9, 0, 1e-4)
  constant = deeplab_train_utils.optimizer_learning_rate('adam', scheduled, 5e-4)
  followed = deeplab_train_utils.optimizer_learning_rate('adam', scheduled, 5e-4,
                                           adam_use_learning_policy=True)
  assert deeplab_train_utils.optimizer_learning_rate('momentum', scheduled, 5e-4) is scheduled
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    rates = []
    for step in (0, 549, 550, 699):
      sess.run(global_step.assign(step))
      rates.append(sess.run([constant, followed]))
  np.testing.assert_allclose(rates, [[5e-4, 1e-3], [5e-4, 1e-3], [5e-4, 1e-4], [5e-4, 1e-4]],
                             rtol=1e-6)
