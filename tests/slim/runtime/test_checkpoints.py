"""Tests of slim.runtime.checkpoints: resolve, fine-tuning restore, restore for export."""
import os

import numpy as np
import pytest
import tensorflow as tf

from slim.runtime import checkpoints


def _save(folder, values, step=1):
  """Saves {name: array} as variables of a fresh graph; returns the checkpoint prefix."""
  with tf.Graph().as_default():
    variables = [tf.compat.v1.get_variable(n, initializer=np.asarray(v, np.float32))
                 for n, v in values.items()]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return tf.compat.v1.train.Saver(variables).save(
          sess, os.path.join(folder, 'model.ckpt'), global_step=step)


def testResolve_PrefixFolderAndMissingPathNamingTheFlag(tmp_path):
  prefix = _save(str(tmp_path), {'a': [1.0]}, step=7)
  assert checkpoints.resolve(prefix) == prefix
  assert checkpoints.resolve(str(tmp_path)) == prefix
  missing = str(tmp_path / 'nothing')
  with pytest.raises(checkpoints.CheckpointError,
                     match=r'^--checkpoint_path=.*nothing: no such checkpoint'):
    checkpoints.resolve(missing, flag='checkpoint_path')
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(checkpoints.CheckpointError,
                     match=r'^--tf_initial_checkpoint=.*empty: expected exactly one checkpoint'):
    checkpoints.resolve(str(empty), flag='tf_initial_checkpoint')


def testInitFn_RestoresPresentSkipsExcludedAndExpectedMissing(tmp_path):
  prefix = _save(str(tmp_path), {'net/w': [1.0, 2.0], 'logits/w': [3.0]})
  w = tf.compat.v1.get_variable('net/w', [2], initializer=tf.compat.v1.zeros_initializer())
  logits = tf.compat.v1.get_variable('logits/w', [1], initializer=tf.compat.v1.zeros_initializer())
  rng = tf.compat.v1.get_variable('net/act_quant/min', [], initializer=tf.compat.v1.zeros_initializer())
  fn = checkpoints.init_fn(prefix, [w, logits, rng], exclude_scopes=['logits'],
                           expected_missing=lambda n: n.endswith('/min'))
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    fn(sess)
    np.testing.assert_array_equal(sess.run(w), [1.0, 2.0])
    np.testing.assert_array_equal(sess.run(logits), [0.0])


def testInitFn_MissingShapeMismatchAndDisjointAreErrors(tmp_path):
  prefix = _save(str(tmp_path), {'net/w': [1.0, 2.0]})
  w = tf.compat.v1.get_variable('net/w', [2])
  extra = tf.compat.v1.get_variable('net/b', [2])
  with pytest.raises(checkpoints.CheckpointError,
                     match=r"^--ckpt=.*: .* lacks 1 model variable\(s\): \['net/b'\]. Hint"):
    checkpoints.init_fn(prefix, [w, extra], flag='ckpt', hint='. Hint')
  assert checkpoints.init_fn(prefix, [w, extra], ignore_missing_vars=True) is not None
  tf.compat.v1.reset_default_graph()
  wrong = tf.compat.v1.get_variable('net/w', [3])
  other = tf.compat.v1.get_variable('other', [1])
  with pytest.raises(checkpoints.CheckpointError, match='has variables with the wrong shape'):
    checkpoints.init_fn(prefix, [wrong, other], ignore_missing_vars=True)
  tf.compat.v1.reset_default_graph()
  with pytest.raises(checkpoints.CheckpointError, match='shares no variable with the model'):
    checkpoints.init_fn(prefix, [tf.compat.v1.get_variable('other', [1])])


def testRestoreForExport_DerivesPerChannelWeightRanges(tmp_path):
  prefix = _save(str(tmp_path), {'conv/weights': [[-1.0, 0.5], [0.25, -3.0]],
                                 'conv/weights_quant/min': -3.0, 'conv/weights_quant/max': 3.0})
  weights = tf.compat.v1.get_variable('conv/weights', [2, 2])
  low = tf.compat.v1.get_variable('conv/weights_quant/min', [2])
  high = tf.compat.v1.get_variable('conv/weights_quant/max', [2])
  tf.quantization.fake_quant_with_min_max_vars_per_channel(weights, low, high)
  with tf.compat.v1.Session() as sess:
    checkpoints.restore_for_export(sess, prefix)
    np.testing.assert_allclose(sess.run(low), [-1.0, -3.0])
    np.testing.assert_allclose(sess.run(high), [1.0, 3.0])
  tf.compat.v1.reset_default_graph()
  tf.compat.v1.get_variable('conv/weights', [2, 2])
  tf.compat.v1.get_variable('conv/bias', [2])
  with tf.compat.v1.Session() as sess:
    with pytest.raises(ValueError, match=r"missing or reshaped variables \['conv/bias'\]"):
      checkpoints.restore_for_export(sess, prefix)


def testRestore_TruncatedDataFileIsNamed(tmp_path):
  prefix = _save(str(tmp_path), {'w': np.ones([4096], np.float32)})
  data = prefix + '.data-00000-of-00001'
  with open(data, 'rb') as f:
    content = f.read()
  with open(data, 'wb') as f:
    f.write(content[:len(content) // 2])
  variable = tf.compat.v1.get_variable('w', [4096])
  with tf.compat.v1.Session() as sess:
    with pytest.raises(checkpoints.CheckpointError,
                       match=r'^.*model\.ckpt-1: the checkpoint cannot be read \(.*Read less bytes '
                             r'than requested.*\): its data file is truncated or corrupt'):
      checkpoints.restore(tf.compat.v1.train.Saver([variable]), sess, prefix)
