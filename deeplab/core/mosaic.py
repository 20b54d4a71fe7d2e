"""MOSAIC's encoder and decoder (arXiv 2112.11623) as a DeepLab segmentation head.

MOSAIC (Mobile Segmentation via decoding Aggregated Information and encoded Context) replaces
ASPP + decoder by a multi-scale context encoder over the stride-16 features and a light decoder
that merges two backbone skips. The architecture is data: `MosaicConfig` holds Model Garden's
best Cityscapes cfg (`official/projects/mosaic`, 77.24 mIoU with MobileNetMultiAVGSeg) and
`build_logits` walks it:

  features (stride 16, e.g. 448 ch) --+-- avg pool to a k x k grid (bin k >= 2) -> branch block -> resize --+
                                      +-- avg pool to 1x1 (bin 1) -> 1x1 conv, BN, ReLU ---------> resize --+
                                      +------------------------------------------------------------------+ concat
                                      -> 1x1 conv to sum(branch depths), BN, ReLU         (encoder output)
  encoder output -> resize to stride 8 -> concat with skip(8) -> 1x1, BN, ReLU -> DW 3x3, BN, ReLU
                 -> 1x1 to num_classes, BN, ReLU                                  (concat merge)
                 -> resize to stride 4 -> + [skip(4) -> 1x1 to num_classes, BN, ReLU]  (sum merge)
                 = logits at stride 4 (no extra classifier).

The branch block is ONE set of weights reused for every bin >= 2: the channels are split into
`len(conv_kernel_sizes)` groups, group i gets a k_i x k_i depthwise conv, BN, ReLU, a 1x1 conv to
`branch_filter_depths[i]`, BN, ReLU, and the groups are concatenated. Every conv is bias-free and
followed by batch norm and its activation, so the QAT rewriter folds and fuses every layer.
Resizes are bilinear with TF2's half-pixel centers (Model Garden's Keras layers); the skips are
the registry record's `decoder_endpoints` (for mobilenet_multi_avg_seg `layer_7/depthwise_output`,
192 ch, Model Garden's '3/depthwise', and `layer_3/depthwise_output`, 64 ch, '2/depthwise').

Variable names (no released TF1 checkpoint exists, so they are this project's, and stable):
`mosaic_encoder/{global_branch, branch_block/group_<i>/{depthwise, pointwise}, fusion}` and
`mosaic_decoder/stage_<j>/{conv, depthwise, projection, skip_projection}`.
"""

import dataclasses
from typing import Tuple

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

# Scope names (checkpoint API).
ENCODER_SCOPE = 'mosaic_encoder'
DECODER_SCOPE = 'mosaic_decoder'
GLOBAL_BRANCH_SCOPE = 'global_branch'
BRANCH_BLOCK_SCOPE = 'branch_block'
GROUP_SCOPE = 'group_%d'
DEPTHWISE_SCOPE = 'depthwise'
POINTWISE_SCOPE = 'pointwise'
FUSION_SCOPE = 'fusion'
STAGE_SCOPE = 'stage_%d'
CONV_SCOPE = 'conv'
PROJECTION_SCOPE = 'projection'
SKIP_PROJECTION_SCOPE = 'skip_projection'
# Name scope of each pyramid level's pooling (no variables).
POOL_SCOPE = 'pyramid_pool_%d'

# Decoder merge styles (Model Garden's names).
CONCAT_MERGE = 'concat_merge'
SUM_MERGE = 'sum_merge'
MERGE_STYLES = (CONCAT_MERGE, SUM_MERGE)


@dataclasses.dataclass(frozen=True)
class DecoderStage:
  """One decoder stage: merge the running features with the backbone skip at `output_stride`."""
  output_stride: int
  merge_style: str


@dataclasses.dataclass(frozen=True)
class MosaicConfig:
  """MOSAIC's head as data; the defaults are Model Garden's best Cityscapes cfg.

  Attributes:
    pyramid_pool_bins: Grid sizes of the encoder's pyramid pooling; 1 is the global branch.
      The paper-reference cfg is (4, 8, 16) with depths (32, 32): 75.98 mIoU.
    branch_filter_depths: Output depth of each channel group of the branch block.
    conv_kernel_sizes: Depthwise kernel size of each channel group (one per depth).
    decoder_stages: The merges, in order (their strides descending).
    decoder_filters: Depth of a concat-merge stage's first 1x1 conv and depthwise conv.
    batch_norm_epsilon: Epsilon of every batch norm of the head (Model Garden: 1e-3).
    dropout_keep_prob: Dropout after the encoder's fusion conv (Model Garden's rate is 0).
  """
  pyramid_pool_bins: Tuple[int, ...] = (1, 4, 8, 16)
  branch_filter_depths: Tuple[int, ...] = (64, 64)
  conv_kernel_sizes: Tuple[int, ...] = (3, 5)
  decoder_stages: Tuple[DecoderStage, ...] = (DecoderStage(8, CONCAT_MERGE),
                                              DecoderStage(4, SUM_MERGE))
  decoder_filters: int = 64
  batch_norm_epsilon: float = 1e-3
  dropout_keep_prob: float = 1.0

  def __post_init__(self):
    # Normalise lists from flags to tuples, so that configs compare and hash as values.
    for name in ('pyramid_pool_bins', 'branch_filter_depths', 'conv_kernel_sizes',
                 'decoder_stages'):
      object.__setattr__(self, name, tuple(getattr(self, name)))
    if not self.pyramid_pool_bins or min(self.pyramid_pool_bins) < 1:
      raise ValueError('--mosaic_pyramid_pool_bins=%s: expected positive integers'
                       % _join(self.pyramid_pool_bins))
    if (not self.branch_filter_depths or
        len(self.branch_filter_depths) != len(self.conv_kernel_sizes)):
      raise ValueError('--mosaic_branch_filter_depths=%s and --mosaic_conv_kernel_sizes=%s: '
                       'expected one kernel size per branch depth'
                       % (_join(self.branch_filter_depths), _join(self.conv_kernel_sizes)))
    if min(self.branch_filter_depths) < 1 or min(self.conv_kernel_sizes) < 1:
      raise ValueError('--mosaic_branch_filter_depths=%s, --mosaic_conv_kernel_sizes=%s: '
                       'expected positive integers' % (_join(self.branch_filter_depths),
                                                       _join(self.conv_kernel_sizes)))
    if self.decoder_filters < 1:
      raise ValueError('--mosaic_decoder_filters=%d: expected a positive integer'
                       % self.decoder_filters)
    strides = [stage.output_stride for stage in self.decoder_stages]
    if not strides or strides != sorted(strides, reverse=True):
      raise ValueError('MOSAIC decoder stages %s: expected output strides in descending order'
                       % strides)
    for stage in self.decoder_stages:
      if stage.merge_style not in MERGE_STYLES:
        raise ValueError('MOSAIC decoder merge style %r: expected one of %s'
                         % (stage.merge_style, ', '.join(MERGE_STYLES)))

  @property
  def encoder_depth(self):
    """Depth of the encoder output: the sum of the branch depths (128 by default)."""
    return sum(self.branch_filter_depths)

  @property
  def logits_output_stride(self):
    """Stride of the logits: the last decoder stage's (4 by default)."""
    return self.decoder_stages[-1].output_stride


DEFAULT_CONFIG = MosaicConfig()


def _join(values):
  return ','.join(str(v) for v in values)


def bin_pooling(size, bins):
  """Average-pool window of one pyramid dimension: (kernel, stride) giving a `bins` grid.

  As Model Garden: stride floor(size / bins), kernel stride + size mod bins, VALID padding. A
  grid at least as large as the map is the map itself: (1, 1), i.e. no pooling.

  Args:
    size: Static size of the feature dimension.
    bins: Grid size along it.

  Returns:
    (kernel, stride).
  """
  if bins >= size:
    return 1, 1
  stride = size // bins
  return stride + size % bins, stride


def _resize(inputs, size, name):
  """Bilinear resize with half-pixel centers (TF2 / Keras `UpSampling`/`Resizing` semantics)."""
  if inputs.get_shape().as_list()[1:3] == list(size):
    return inputs
  return tf.compat.v1.image.resize_bilinear(inputs, size, align_corners=False,
                                            half_pixel_centers=True, name=name)


def _static_size(tensor, what):
  size = tensor.get_shape().as_list()[1:3]
  if None in size:
    raise ValueError('The MOSAIC head needs static feature sizes (set the crop size); %s has '
                     'shape %s' % (what, tensor.get_shape()))
  return size


def _pool(features, bins, size):
  """Average-pools `features` [N, H, W, C] to a bins x bins grid (per dimension, `bin_pooling`)."""
  (kernel_h, stride_h), (kernel_w, stride_w) = (bin_pooling(s, bins) for s in size)
  if (kernel_h, kernel_w) == (1, 1):
    return features
  return tf_slim.avg_pool2d(features, [kernel_h, kernel_w], [stride_h, stride_w],
                            padding='VALID')


def _branch_block(inputs, config):
  """The multi-kernel grouped conv block (one weight set for every bin: AUTO_REUSE)."""
  groups = tf.split(inputs, len(config.branch_filter_depths), axis=3)
  outputs = []
  with tf.compat.v1.variable_scope(BRANCH_BLOCK_SCOPE, reuse=tf.compat.v1.AUTO_REUSE):
    for i, (group, depth, kernel) in enumerate(zip(groups, config.branch_filter_depths,
                                                   config.conv_kernel_sizes)):
      with tf.compat.v1.variable_scope(GROUP_SCOPE % i):
        net = tf_slim.separable_conv2d(group, None, kernel, depth_multiplier=1,
                                       weights_regularizer=None, scope=DEPTHWISE_SCOPE)
        outputs.append(tf_slim.conv2d(net, depth, 1, scope=POINTWISE_SCOPE))
  return tf.concat(outputs, 3)


def encode(features, config, is_training=False):
  """The multi-scale context encoder; returns [N, H, W, config.encoder_depth].

  Concatenation order as Model Garden: the input, the bins >= 2 in config order, then the global
  branch (bin 1).
  """
  size = _static_size(features, 'the backbone output')
  with tf.compat.v1.variable_scope(ENCODER_SCOPE, values=[features]):
    pooled, global_branch = [], []
    for bins in config.pyramid_pool_bins:
      with tf.name_scope(POOL_SCOPE % bins):
        net = _pool(features, bins, size)
        if bins == 1:
          net = tf_slim.conv2d(net, max(config.branch_filter_depths), 1,
                               scope=GLOBAL_BRANCH_SCOPE)
          global_branch.append(_resize(net, size, 'resize'))
        else:
          pooled.append(_resize(_branch_block(net, config), size, 'resize'))
    net = tf.concat([features] + pooled + global_branch, 3)
    net = tf_slim.conv2d(net, config.encoder_depth, 1, scope=FUSION_SCOPE)
    if config.dropout_keep_prob < 1.0:
      net = tf_slim.dropout(net, keep_prob=config.dropout_keep_prob, is_training=is_training,
                            scope=FUSION_SCOPE + '_dropout')
    return net


def _concat_merge(low, skip, config, num_classes):
  net = tf.concat([_resize(low, _static_size(skip, 'a decoder skip'), 'resize'), skip], 3)
  net = tf_slim.conv2d(net, config.decoder_filters, 1, scope=CONV_SCOPE)
  net = tf_slim.separable_conv2d(net, None, 3, depth_multiplier=1, weights_regularizer=None,
                                 scope=DEPTHWISE_SCOPE)
  return tf_slim.conv2d(net, num_classes, 1, scope=PROJECTION_SCOPE)


def _sum_merge(low, skip, num_classes):
  # Only branches whose depth differs from the output depth get a projection (Model Garden).
  if low.get_shape().as_list()[-1] != num_classes:
    low = tf_slim.conv2d(low, num_classes, 1, scope=PROJECTION_SCOPE)
  if skip.get_shape().as_list()[-1] != num_classes:
    skip = tf_slim.conv2d(skip, num_classes, 1, scope=SKIP_PROJECTION_SCOPE)
  return tf.add(_resize(low, _static_size(skip, 'a decoder skip'), 'resize'), skip, name='sum')


def decode(encoded, skips, config, num_classes):
  """The decoder: one merge per `config.decoder_stages` entry; returns the stride-4 logits.

  Args:
    encoded: The encoder output.
    skips: {output_stride: backbone end point tensor} for every stage's stride.
    config: A MosaicConfig.
    num_classes: Depth of every stage's output (Model Garden's projected filters).

  Returns:
    Logits [N, H / logits_output_stride, W / logits_output_stride, num_classes].
  """
  net = encoded
  with tf.compat.v1.variable_scope(DECODER_SCOPE, values=[encoded]):
    for j, stage in enumerate(config.decoder_stages):
      with tf.compat.v1.variable_scope(STAGE_SCOPE % j):
        skip = skips[stage.output_stride]
        if stage.merge_style == CONCAT_MERGE:
          net = _concat_merge(net, skip, config, num_classes)
        else:
          net = _sum_merge(net, skip, num_classes)
  return net


def extra_layer_scopes(logits_only=False):
  """Scopes of the head (DeepLab's `get_extra_layer_scopes` for the MOSAIC head).

  Args:
    logits_only: Only the convs whose depth is num_classes (the decoder's projections), i.e.
      what a checkpoint of another dataset cannot initialize.

  Returns:
    A list of variable scope names.
  """
  if not logits_only:
    return [ENCODER_SCOPE, DECODER_SCOPE]
  scopes = []
  for j, stage in enumerate(DEFAULT_CONFIG.decoder_stages):
    names = ((PROJECTION_SCOPE,) if stage.merge_style == CONCAT_MERGE
             else (PROJECTION_SCOPE, SKIP_PROJECTION_SCOPE))
    scopes += ['%s/%s/%s' % (DECODER_SCOPE, STAGE_SCOPE % j, name) for name in names]
  return scopes


def arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, is_training,
              fine_tune_batch_norm, reuse=None):
  """Conv -> batch norm -> ReLU everywhere, L2 on the 1x1 weights (the depthwise ones opt out)."""
  bn_params = dict(is_training=is_training and fine_tune_batch_norm, decay=batch_norm_decay,
                   epsilon=batch_norm_epsilon, scale=True, center=True)
  convs = [tf_slim.conv2d, tf_slim.separable_conv2d]
  with tf_slim.arg_scope(convs, weights_regularizer=tf_slim.l2_regularizer(weight_decay),
                         activation_fn=tf.nn.relu, normalizer_fn=tf_slim.batch_norm,
                         normalizer_params=bn_params, padding='SAME', stride=1,
                         reuse=reuse) as scope:
    return scope


def build_logits(features, end_points, backbone_scope, decoder_endpoints, num_classes,
                 config=DEFAULT_CONFIG, weight_decay=0.0001, batch_norm_decay=0.9997,
                 reuse=None, is_training=False, fine_tune_batch_norm=False):
  """MOSAIC's encoder and decoder on a DeepLab backbone; returns the logits.

  Usage (deeplab.model dispatches here for `--segmentation_head=mosaic`):

    features, end_points = feature_extractor.extract_features(images, output_stride=16, ...)
    logits = mosaic.build_logits(features, end_points, 'MobilenetMultiAVG',
                                 registry.get('mobilenet_multi_avg_seg').decoder_endpoints, 19)

  Args:
    features: Backbone output (e.g. the 448-ch `layer_18` of mobilenet_multi_avg_seg at OS 16),
      with a static spatial size.
    end_points: The backbone's end points, keyed '<backbone_scope>/<name>'.
    backbone_scope: The backbone's scope (registry record `scope`).
    decoder_endpoints: {output_stride: end point name} (registry record `decoder_endpoints`).
    num_classes: Number of classes (every decoder stage's output depth).
    config: A MosaicConfig.
    weight_decay: L2 weight decay of the 1x1 convs.
    batch_norm_decay: Decay of the head's batch norms (DeepLab's --batch_norm_decay).
    reuse: Reuse the variables or not.
    is_training: Is training or not.
    fine_tune_batch_norm: Train the batch norms (with is_training).

  Returns:
    Logits [N, H / config.logits_output_stride, W / ..., num_classes].

  Raises:
    ValueError: a decoder stride the backbone has no end point for, or unknown feature sizes.
  """
  skips = {}
  for stage in config.decoder_stages:
    if stage.output_stride not in decoder_endpoints:
      raise ValueError('The MOSAIC decoder merges at output stride %d, but the backbone %r has '
                       'end points only for strides %s' % (stage.output_stride, backbone_scope,
                                                           sorted(decoder_endpoints)))
    skips[stage.output_stride] = end_points['%s/%s' % (
        backbone_scope, decoder_endpoints[stage.output_stride])]
  with tf_slim.arg_scope(arg_scope(weight_decay, batch_norm_decay, config.batch_norm_epsilon,
                                   is_training, fine_tune_batch_norm, reuse)):
    encoded = encode(features, config, is_training=is_training)
    return decode(encoded, skips, config, num_classes)
