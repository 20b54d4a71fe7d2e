"""Tests for deeplab/utils/train_utils.py and deeplab/core/utils.py (no backbone needed)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

from deeplab.core import utils
from deeplab.utils import train_utils


def _run(fetches, feed_dict=None):
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    return sess.run(fetches, feed_dict)


def testScaleDimension_MatchesOriginalFormula():
  assert utils.scale_dimension(513, 1. / 16) == 33
  assert utils.scale_dimension(129, 1. / 16) == 9
  assert _run(utils.scale_dimension(tf.constant(65), 0.5)) == 33


def testGetLabelWeightMask_ZeroForIgnoreAndPerClassWeights():
  labels = tf.constant([0, 4, 1, 3, 2], tf.int32)
  mask = utils.get_label_weight_mask(labels, ignore_label=4, num_classes=4,
                                     label_weights=[0.1, 0.2, 0.3, 0.4])
  np.testing.assert_allclose(_run(mask), [0.1, 0.0, 0.2, 0.4, 0.3], rtol=1e-6)
  scalar = utils.get_label_weight_mask(labels, ignore_label=4, num_classes=4, label_weights=2.0)
  np.testing.assert_allclose(_run(scalar), [2, 0, 2, 2, 2])


def testGetLabelWeightMask_RejectsWrongLength():
  with pytest.raises(ValueError, match='Length of label_weights must be equal to num_classes'):
    utils.get_label_weight_mask(tf.constant([0]), 255, 3, label_weights=[1.0, 2.0])


def testSplitSeparableConv2d_CreatesOriginalVariableNames():
  images = tf.zeros([1, 9, 9, 8])
  utils.split_separable_conv2d(images, filters=4, rate=2, scope='aspp1')
  names = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert names['aspp1_depthwise/depthwise_weights'] == [3, 3, 8, 1]
  assert names['aspp1_pointwise/weights'] == [1, 1, 8, 4]


def _manual_loss(logits, labels, ignore):
  flat_logits = logits.reshape(-1, logits.shape[-1])
  flat_labels = labels.reshape(-1)
  keep = flat_labels != ignore
  shifted = flat_logits - flat_logits.max(axis=1, keepdims=True)
  logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  losses = -logp[np.arange(len(flat_labels)), np.where(keep, flat_labels, 0)] * keep
  return losses


def testSoftmaxLoss_IgnoresIgnoreLabelAndNormalizesByPresentPixels():
  rng = np.random.RandomState(0)
  logits = rng.randn(1, 4, 4, 3).astype(np.float32)
  labels = rng.randint(0, 3, size=(1, 4, 4, 1)).astype(np.int32)
  labels[0, :2, :, 0] = 255
  train_utils.add_softmax_cross_entropy_loss_for_each_scale(
      {'merged_logits': tf.constant(logits)}, tf.constant(labels), 3, 255, scope='semantic')
  losses = tf.compat.v1.losses.get_losses()
  assert [l.op.name.split('/')[0] for l in losses] == ['semantic_merged_logits']
  expected = _manual_loss(logits, labels, 255)
  np.testing.assert_allclose(_run(losses[0]), expected.sum() / 8, rtol=1e-5)


def testSoftmaxLoss_HardExampleMiningKeepsTopK():
  rng = np.random.RandomState(1)
  logits = rng.randn(1, 4, 4, 3).astype(np.float32)
  labels = rng.randint(0, 3, size=(1, 4, 4, 1)).astype(np.int32)
  train_utils.add_softmax_cross_entropy_loss_for_each_scale(
      {'merged_logits': tf.constant(logits)}, tf.constant(labels), 3, 255,
      top_k_percent_pixels=0.25)
  loss = tf.compat.v1.losses.get_losses()[0]
  assert loss.op.name.startswith('softmax_hard_example_mining')
  expected = np.sort(_manual_loss(logits, labels, 255))[-4:].mean()
  np.testing.assert_allclose(_run(loss), expected, rtol=1e-5)


def testLearningRate_PolyWithSlowStart():
  lr = train_utils.get_model_learning_rate(
      'poly', 0.01, 2000, 0.1, training_number_of_steps=110, learning_power=1.0,
      slow_start_step=10, slow_start_learning_rate=1e-4)
  step = tf.compat.v1.train.get_global_step()
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    values = []
    for s in (0, 9, 10, 60, 110):
      sess.run(step.assign(s))
      values.append(sess.run(lr))
  np.testing.assert_allclose(values, [1e-4, 1e-4, 0.01, 0.005, 0.0], rtol=1e-5, atol=1e-9)


def testLearningRate_StepPolicyAndUnknownPolicy():
  lr = train_utils.get_model_learning_rate('step', 1.0, 10, 0.1, 100, 0.9, 0, 1e-4)
  step = tf.compat.v1.train.get_global_step()
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    sess.run(step.assign(25))
    np.testing.assert_allclose(sess.run(lr), 0.01, rtol=1e-5)
  with pytest.raises(ValueError, match='Unknown learning policy'):
    train_utils.get_model_learning_rate('exp', 1.0, 10, 0.1, 100, 0.9, 0, 1e-4)


def testGradientMultipliers_BiasesDoubledAndLastLayersScaled():
  images = tf.zeros([1, 4, 4, 3])
  tf_slim.conv2d(images, 2, 1, scope='MobilenetV2/Conv')
  with tf.compat.v1.variable_scope('logits'):
    tf_slim.conv2d(images, 2, 1, scope='semantic')
  mult = train_utils.get_model_gradient_multipliers(['logits'], 10.0)
  assert mult == {'MobilenetV2/Conv/biases': 2.0, 'logits/semantic/weights': 10.0,
                  'logits/semantic/biases': 20.0}


def testModelInitFn_SkipsWhenLogdirHasCheckpointAndExcludesLastLayers(tmp_path):
  images = tf.zeros([1, 4, 4, 3])
  tf_slim.conv2d(images, 2, 1, scope='aspp0', normalizer_fn=None)
  with tf.compat.v1.variable_scope('logits'):
    tf_slim.conv2d(images, 2, 1, scope='semantic')
  tf.compat.v1.train.get_or_create_global_step()
  ckpt_dir = tmp_path / 'init'
  ckpt_dir.mkdir()
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    path = tf.compat.v1.train.Saver().save(sess, str(ckpt_dir / 'model.ckpt'))
    reference = sess.run('aspp0/weights:0')
  logdir = tmp_path / 'logdir'
  logdir.mkdir()
  init_fn = train_utils.get_model_init_fn(str(logdir), path, False, ['logits'],
                                          ignore_missing_vars=True)
  assert init_fn is not None
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    init_fn(sess)
    np.testing.assert_array_equal(sess.run('aspp0/weights:0'), reference)
  # A checkpoint in train_logdir wins: nothing to initialize from tf_initial_checkpoint.
  assert train_utils.get_model_init_fn(str(ckpt_dir), path, True, ['logits']) is None
  assert train_utils.get_model_init_fn(str(logdir), None, True, ['logits']) is None
