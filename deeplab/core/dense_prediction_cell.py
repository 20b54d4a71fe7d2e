"""Dense Prediction Cell (DPC): a DeepLab head whose branches are read from a JSON config.

A config is a list of operations; operation i is built under scope `branch<i>` and reads either
the backbone features (`"input": -1`) or the output of an earlier branch (`"input": j`, j < i):

  {"op": "conv", "kernel": 1}                            1x1 conv -> BN -> ReLU
  {"op": "conv", "kernel": 3, "rate": [rh, rw]}          split separable 3x3 conv (atrous rates
                                                          [rh, rw] x conv_rate_multiplier):
                                                          branch<i>_depthwise, branch<i>_pointwise
  {"op": "pyramid_pooling", "grid_size": [gh, gw]}       average pool to a gh x gw grid -> 1x1
                                                          conv -> bilinear resize back

  features --> branch0 --> branch1 --> ...         (each branch reads the input it names)
           \\-> ...
  concat(branch0..branchN) -> [concat_projection_dropout] -> concat_projection 1x1
                           -> [concat_projection_dropout]

All of it lives under `meta_architecture` (one of DeepLab's extra layer scopes, so it is trained
as a last layer and restored like the original's checkpoints: `meta_architecture/branch0_
depthwise/depthwise_weights`, `meta_architecture/concat_projection/BatchNorm/gamma`, ...).
The released config `dense_prediction_cell_branch5_top1_cityscapes.json` (beside this module,
`RELEASED_CONFIG_PATH`) is the searched Cityscapes cell. Its ops are convolutions, batch norm,
ReLU and a concat: the QAT rewriter quantizes all of them (see tests/deeplab/test_dense_
prediction_cell.py for the fully integer TFLite conversion).

Usage (model.py does this for `--dense_prediction_cell_json`):

  cell = dense_prediction_cell.DensePredictionCell(
      config=json.load(open(path)), hparams={'conv_rate_multiplier': 16 // output_stride})
  features = cell.build_cell(features, output_stride=16, crop_size=[513, 513],
                             is_training=True, fine_tune_batch_norm=True)
"""

import os

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from deeplab.core import utils

# Graph names (checkpoint API, as the original).
META_ARCHITECTURE_SCOPE = 'meta_architecture'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
DROPOUT_SUFFIX = '_dropout'
BRANCH_SCOPE = 'branch%d'
# Config keys and operation names (the JSON format).
OP = 'op'
CONV = 'conv'
PYRAMID_POOLING = 'pyramid_pooling'
KERNEL = 'kernel'
RATE = 'rate'
GRID_SIZE = 'grid_size'
INPUT = 'input'
# The backbone features as a branch input.
FEATURES_INPUT = -1

# The searched Cityscapes cell released with DeepLab.
RELEASED_CONFIG_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    'dense_prediction_cell_branch5_top1_cityscapes.json')

# Batch norm of the cell (the original's fixed values; decay follows --batch_norm_decay here).
_BN_DECAY = 0.9997
_BN_EPSILON = 1e-5


def dense_prediction_cell_hparams():
  """The default hyper-parameters of the cell.

  Returns:
    A dict with keys:
      reduction_size: Output depth of every branch.
      dropout_on_concat_features: Dropout on the concatenated branches.
      dropout_on_projection_features: Dropout on the projected features.
      dropout_keep_prob: Keep probability of those dropouts.
      concat_channels: Output depth of the concat projection.
      conv_rate_multiplier: Multiplier of every conv rate (2 when the output stride goes from 16
        to 8).
  """
  return {
      'reduction_size': 256,
      'dropout_on_concat_features': True,
      'dropout_on_projection_features': False,
      'dropout_keep_prob': 0.9,
      'concat_channels': 256,
      'conv_rate_multiplier': 1,
  }


def _pair(value):
  """`3` or `[3, 3]` -> [3, 3]."""
  return [value, value] if isinstance(value, int) else list(value)


class DensePredictionCell(object):
  """The cell, built from its config by `build_cell` (see the module docstring)."""

  def __init__(self, config, hparams=None):
    """Initializes the dense prediction cell.

    Args:
      config: A list of operation dicts (the JSON config).
      hparams: A dict updating `dense_prediction_cell_hparams()`.

    Raises:
      ValueError: If `conv_rate_multiplier` has value < 1.
    """
    self.hparams = dense_prediction_cell_hparams()
    if hparams is not None:
      self.hparams.update(hparams)
    self.config = config
    if self.hparams['conv_rate_multiplier'] < 1:
      raise ValueError('conv_rate_multiplier cannot have value < 1.')

  def _get_pyramid_pooling_arguments(self, crop_size, output_stride, image_grid,
                                     image_pooling_crop_size=None):
    """Returns ([resize_height, resize_width], [pooled_height, pooled_width]) of a pooling op.

    Args:
      crop_size: [crop_height, crop_width] of the whole input.
      output_stride: Output stride of the features.
      image_grid: [grid_height, grid_width] of the pooling.
      image_pooling_crop_size: Crop size the pooling kernel is computed from; None is crop_size.
    """
    resize = [utils.scale_dimension(size, 1. / output_stride) for size in crop_size]
    pooling_crop_size = image_pooling_crop_size or crop_size
    pooled = [utils.scale_dimension(size, 1. / (output_stride * grid))
              for size, grid in zip(pooling_crop_size, image_grid)]
    return resize, pooled

  def _parse_operation(self, config, crop_size, output_stride, image_pooling_crop_size=None):
    """Returns a copy of one operation's config, with the pooling sizes of a pyramid pooling.

    Args:
      config: The operation's dict.
      crop_size, output_stride, image_pooling_crop_size: as `build_cell`.

    Returns:
      The dict, with 'target_size' and 'kernel' added for 'pyramid_pooling'.

    Raises:
      ValueError: if a pyramid pooling has no crop_size to derive its sizes from.
    """
    config = dict(config)
    if config[OP] == PYRAMID_POOLING:
      if crop_size is None:
        raise ValueError('The pyramid_pooling operation of the dense prediction cell needs '
                         'crop_size (got None).')
      config['target_size'], config[KERNEL] = self._get_pyramid_pooling_arguments(
          crop_size, output_stride, config[GRID_SIZE], image_pooling_crop_size)
    return config

  def _operation(self, index, config, operation_input, weight_decay):
    """Builds operation `index` of the cell on `operation_input`."""
    depth = self.hparams['reduction_size']
    scope = BRANCH_SCOPE % index
    if config[OP] == CONV:
      kernel = _pair(config[KERNEL])
      if kernel == [1, 1]:
        return tf_slim.conv2d(operation_input, depth, 1, scope=scope)
      rate = [r * self.hparams['conv_rate_multiplier'] for r in _pair(config[RATE])]
      return utils.split_separable_conv2d(operation_input, filters=depth, kernel_size=kernel,
                                          rate=rate, weight_decay=weight_decay, scope=scope)
    if config[OP] == PYRAMID_POOLING:
      pooled = tf_slim.avg_pool2d(operation_input, kernel_size=config[KERNEL], stride=[1, 1],
                                  padding='VALID')
      pooled = tf_slim.conv2d(pooled, depth, 1, scope=scope)
      pooled = utils.resize_bilinear(pooled, config['target_size'], pooled.dtype)
      height, width = [None if isinstance(s, tf.Tensor) else s for s in config['target_size']]
      pooled.set_shape([None, height, width, depth])
      return pooled
    raise ValueError('Unrecognized operation.')

  def build_cell(self, features, output_stride=16, crop_size=None, image_pooling_crop_size=None,
                 weight_decay=0.00004, reuse=None, is_training=False,
                 fine_tune_batch_norm=False, scope=None, batch_norm_decay=_BN_DECAY):
    """Builds the dense prediction cell based on the config.

    Args:
      features: Input feature map [batch, height, width, channels].
      output_stride: Output stride at which the features were extracted.
      crop_size: [crop_height, crop_width] of the input (pyramid pooling only).
      image_pooling_crop_size: Crop size of the pooling kernels; None is crop_size.
      weight_decay: L2 weight decay of the convolutions.
      reuse: Reuse the variables.
      is_training: Training mode (dropout; batch norm with fine_tune_batch_norm).
      fine_tune_batch_norm: Update the batch-norm statistics when training.
      scope: Variable scope; default 'meta_architecture'.
      batch_norm_decay: New: batch-norm decay (the original fixed 0.9997).

    Returns:
      The cell's features [batch, height, width, concat_channels].

    Raises:
      ValueError: on an unknown operation ('Unrecognized operation.'), an input index that does
        not name an earlier branch, or a pyramid pooling without crop_size.
    """
    batch_norm_params = utils.get_batch_norm_params(
        decay=batch_norm_decay, epsilon=_BN_EPSILON, scale=True,
        is_training=is_training and fine_tune_batch_norm)
    hparams = self.hparams
    with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.separable_conv2d],
                           weights_regularizer=tf_slim.l2_regularizer(weight_decay),
                           activation_fn=tf.nn.relu, normalizer_fn=tf_slim.batch_norm,
                           padding='SAME', stride=1, reuse=reuse), \
        tf_slim.arg_scope([tf_slim.batch_norm], **batch_norm_params), \
        tf.compat.v1.variable_scope(scope, META_ARCHITECTURE_SCOPE, [features]):
      branch_logits = []
      for i, operation in enumerate(self.config):
        operation = self._parse_operation(operation, crop_size, output_stride,
                                          image_pooling_crop_size)
        source = operation[INPUT]
        if not FEATURES_INPUT <= source < i:
          raise ValueError('Operation %d of the dense prediction cell reads input %d; expected '
                           '-1 (the features) or an earlier operation (0..%d).'
                           % (i, source, i - 1))
        operation_input = features if source == FEATURES_INPUT else branch_logits[source]
        branch_logits.append(self._operation(i, operation, operation_input, weight_decay))
      concat_logits = tf.concat(branch_logits, 3)
      dropout_scope = CONCAT_PROJECTION_SCOPE + DROPOUT_SUFFIX
      if hparams['dropout_on_concat_features']:
        concat_logits = tf_slim.dropout(concat_logits, keep_prob=hparams['dropout_keep_prob'],
                                        is_training=is_training, scope=dropout_scope)
      concat_logits = tf_slim.conv2d(concat_logits, hparams['concat_channels'], 1,
                                     scope=CONCAT_PROJECTION_SCOPE)
      if hparams['dropout_on_projection_features']:
        concat_logits = tf_slim.dropout(concat_logits, keep_prob=hparams['dropout_keep_prob'],
                                        is_training=is_training, scope=dropout_scope)
      return concat_logits
