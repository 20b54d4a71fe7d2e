"""deeplab.core.utils as the original: label-weight checks and messages, batch-norm helpers."""
import numpy as np
import pytest

import slim  # noqa: F401
import tensorflow as tf
import tf_slim

from deeplab.core import utils

_LABELS = [0, 4, 1, 3, 2]


def _mask(label_weights):
  mask = utils.get_label_weight_mask(tf.constant(_LABELS), ignore_label=4, num_classes=5,
                                     label_weights=label_weights)
  with tf.compat.v1.Session() as sess:
    return sess.run(mask)


def testGetLabelWeightMask_FloatAndListWeights():
  np.testing.assert_array_equal(_mask(0.5), [0.5, 0.0, 0.5, 0.5, 0.5])
  np.testing.assert_allclose(_mask([0.0, 0.1, 0.2, 0.3, 0.4]), [0.0, 0.0, 0.1, 0.3, 0.2])


@pytest.mark.parametrize('label_weights', [None, 1, (0.1,) * 5, np.ones(5)])
def testGetLabelWeightMask_InvalidTypeHasOriginalMessage(label_weights):
  with pytest.raises(ValueError, match=r'^The type of label_weights is invalid, it must be a '
                                       r'float or a list\.$'):
    _mask(label_weights)


def testGetLabelWeightMask_InvalidLengthHasOriginalMessage():
  with pytest.raises(ValueError, match=r'^Length of label_weights must be equal to num_classes '
                                       r'if it is a list, label_weights: \[0.0, 0.1, 0.2\], '
                                       r'num_classes: 5\.$'):
    _mask([0.0, 0.1, 0.2])


def testScaleDimension_OriginalValues():
  assert [utils.scale_dimension(321, s) for s in (0.5, 0.6, 0.75)] == [161, 193, 241]


def testBatchNorm_OnlyTheUnsyncedMethodExists():
  assert utils.get_batch_norm_fn('None') is tf_slim.batch_norm
  with pytest.raises(ValueError, match='^Unsupported sync_batch_norm_method.'):
    utils.get_batch_norm_fn('tpu')
  # As the original: the method is only checked where it matters (gamma initialized as zeros).
  assert utils.get_batch_norm_params(sync_batch_norm_method='tpu')['decay'] == 0.9997
  with pytest.raises(ValueError, match='^Unsupported sync_batch_norm_method.'):
    utils.get_batch_norm_params(sync_batch_norm_method='tpu', initialize_gamma_as_zeros=True)
  params = utils.get_batch_norm_params(initialize_gamma_as_zeros=True)
  assert list(params['param_initializers']) == ['gamma']


def testQSigmoid_IsRelu6OfXPlus3Over6():
  x = np.array([-4.0, -3.0, 0.0, 3.0, 4.0], np.float32)
  with tf.compat.v1.Session() as sess:
    np.testing.assert_allclose(sess.run(utils.q_sigmoid(tf.constant(x))),
                               np.clip(x + 3, 0, 6) * 0.16667, rtol=1e-6)
