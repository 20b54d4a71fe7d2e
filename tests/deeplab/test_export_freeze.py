"""Tests of inference.freeze: restore, clear error, per-channel weight ranges."""

import numpy as np
import pytest
import tensorflow as tf

from deeplab.utils import inference

_W = np.array([[[[-1.0, 2.0], [0.5, 3.0]]]], np.float32)  # [1, 1, 2 in, 2 out]


def _save_per_tensor_checkpoint(path):
  with tf.Graph().as_default():
    with tf.compat.v1.variable_scope('layer'):
      tf.compat.v1.get_variable('weights', initializer=_W)
      tf.compat.v1.get_variable('weights_quant/min', initializer=-1.0)
      tf.compat.v1.get_variable('weights_quant/max', initializer=3.0)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return tf.compat.v1.train.Saver().save(sess, path)


def _per_channel_graph():
  with tf.compat.v1.variable_scope('layer'):
    weights = tf.compat.v1.get_variable('weights', shape=[1, 1, 2, 2])
    vmin = tf.compat.v1.get_variable('weights_quant/min', shape=[2])
    vmax = tf.compat.v1.get_variable('weights_quant/max', shape=[2])
  fq = tf.quantization.fake_quant_with_min_max_vars_per_channel(weights, vmin, vmax,
                                                                narrow_range=True)
  return tf.identity(fq, name='out')


def testFreeze_DerivesPerChannelWeightRangesFromPerTensorCheckpoint(tmp_path):
  ckpt = _save_per_tensor_checkpoint(str(tmp_path / 'model.ckpt'))
  _per_channel_graph()
  frozen = inference.freeze(ckpt, ['out'])
  consts = {n.name: tf.make_ndarray(n.attr['value'].tensor) for n in frozen.node
            if n.op == 'Const'}
  # Symmetric per channel (zero point 0): a = max |w| of each output channel.
  np.testing.assert_allclose(consts['layer/weights_quant/min'], [-1.0, -3.0])
  np.testing.assert_allclose(consts['layer/weights_quant/max'], [1.0, 3.0])
  np.testing.assert_allclose(consts['layer/weights'], _W)


def testFreeze_MissingVariableRaisesWithName(tmp_path):
  ckpt = _save_per_tensor_checkpoint(str(tmp_path / 'model.ckpt'))
  _per_channel_graph()
  tf.compat.v1.get_variable('extra/weights', shape=[3])
  with pytest.raises(ValueError, match=r"missing or reshaped variables \['extra/weights'\]"):
    inference.freeze(ckpt, ['out'])
