"""Feature pyramid P3..P7 over the backbone levels (Model Garden's FPN, separable convs).

  C5 ─ lateral_5 (1x1 + bias) ───────────────┬─ post_hoc_5 (3x3) ─ norm_5 ─ P5 ─ coarser_6 (3x3/2) ─ norm_6 ─ P6
  C4 ─ lateral_4 (1x1 + bias) ─ Add(nearest x2) ┴─ post_hoc_4 (3x3) ─ norm_4 ─ P4     relu6(P6) ─ coarser_7 (3x3/2) ─ norm_7 ─ P7
  C3 ─ lateral_3 (1x1 + bias) ─ Add(nearest x2) ── post_hoc_3 (3x3) ─ norm_3 ─ P3

One difference from Model Garden: coarser_6 reads P5 after its batch norm (Model Garden's
reads the conv output before it). Then every BN-followed conv has the BN as its only consumer,
which is what the eval rewrite folds; with two consumers the fold would keep an unfolded copy
of the conv beside the folded one. No activation after the per-level BN, as in Model Garden.
"""
import tensorflow as tf
import tf_slim

from detection import layers
from detection import names


def _upsample2x(net, like):
  size = tf.shape(like)[1:3] if like.shape[1] is None else like.shape[1:3]
  return tf.compat.v1.image.resize_nearest_neighbor(net, size, name='upsample')


def build(backbone_features, spec):
  """Builds the pyramid; call inside `layers.arg_scope`.

  Args:
    backbone_features: {level: tensor} for spec.backbone_levels.
    spec: the `architecture.RetinaNetSpec`.

  Returns:
    {level: [N, H_l, W_l, fpn_filters]} for spec.levels.
  """
  levels = spec.backbone_levels
  top = levels[-1]
  with tf.compat.v1.variable_scope(names.FPN_SCOPE):
    laterals = {
        l: layers.conv(backbone_features[l], spec.fpn_filters, 1, names.FPN_LATERAL % l,
                       spec.separable, biases_initializer=tf.compat.v1.zeros_initializer())
        for l in levels}
    merged = {top: laterals[top]}
    for l in reversed(levels[:-1]):
      merged[l] = tf.add(_upsample2x(merged[l + 1], laterals[l]), laterals[l],
                         name='merge_%d' % l)
    features = {}
    for l in levels:
      net = layers.conv(merged[l], spec.fpn_filters, 3, names.FPN_POST_HOC % l, spec.separable)
      features[l] = tf_slim.batch_norm(net, scope=names.FPN_NORM % l)
    for l in range(top + 1, spec.max_level + 1):
      net = features[l - 1] if l == top + 1 else tf.nn.relu6(features[l - 1])
      net = layers.conv(net, spec.fpn_filters, 3, names.FPN_COARSER % l, spec.separable,
                        stride=2)
      features[l] = tf_slim.batch_norm(net, scope=names.FPN_NORM % l)
  return {l: features[l] for l in spec.levels}
