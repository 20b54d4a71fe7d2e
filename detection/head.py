"""RetinaNet head: a class tower and a box tower, their convs shared by all pyramid levels.

Per level l and tower (class, box), spec.head_convs times:

  conv_i (3x3 separable, shared, no bias) ─ <tower>-conv-norm_{l}_{i} (BN per level) ─ relu6

then the output conv (3x3 separable with bias, shared): scores [N, H, W, A * C] with bias
-log((1 - prior) / prior), boxes [N, H, W, A * 4]. Outputs are reshaped to [N, H * W * A, C]
and concatenated over levels (finest first), the order of `detection.anchors.generate`.
"""
import math

import tensorflow as tf
import tf_slim

from detection import layers
from detection import names

# Output kernels start small so the initial predictions are the prior (boxes = anchors).
_OUTPUT_STDDEV = 0.01


def _tower(net, level, spec, conv_name, norm_name):
  for i in range(spec.head_convs):
    net = layers.conv(net, spec.head_filters, 3, conv_name % i, spec.separable)
    net = tf_slim.batch_norm(net, scope=norm_name % (level, i))
    net = tf.nn.relu6(net)
  return net


def _flatten(net, width):
  """[N, H, W, A * width] -> [N, H * W * A, width] (static H, W)."""
  h, w, c = net.shape[1:]
  return tf.reshape(net, [-1, int(h) * int(w) * int(c) // width, width])


def build(features, spec, num_classes):
  """Builds both towers on every level; call inside `layers.arg_scope`.

  Args:
    features: {level: [N, H, W, C]} pyramid (detection.fpn.build).
    spec: the `architecture.RetinaNetSpec`.
    num_classes: foreground classes (no background column).

  Returns:
    (class_logits [N, num_anchors, num_classes], box_outputs [N, num_anchors, 4]).
  """
  anchors_per_cell = spec.num_anchors_per_cell
  bias = -math.log((1.0 - spec.class_prior) / spec.class_prior)
  output_init = tf.compat.v1.random_normal_initializer(stddev=_OUTPUT_STDDEV)
  class_outputs, box_outputs = [], []
  with tf.compat.v1.variable_scope(names.HEAD_SCOPE, reuse=tf.compat.v1.AUTO_REUSE):
    for level in spec.levels:
      net = _tower(features[level], level, spec, names.CLASS_TOWER_CONV, names.CLASS_TOWER_NORM)
      scores = layers.conv(net, anchors_per_cell * num_classes, 3, names.CLASS_OUTPUT,
                           spec.separable,
                           biases_initializer=tf.compat.v1.constant_initializer(bias),
                           pointwise_initializer=output_init)
      class_outputs.append(_flatten(scores, num_classes))
      net = _tower(features[level], level, spec, names.BOX_TOWER_CONV, names.BOX_TOWER_NORM)
      boxes = layers.conv(net, anchors_per_cell * 4, 3, names.BOX_OUTPUT, spec.separable,
                          biases_initializer=tf.compat.v1.zeros_initializer(),
                          pointwise_initializer=output_init)
      box_outputs.append(_flatten(boxes, 4))
  return (tf.concat(class_outputs, 1, name='class_logits'),
          tf.concat(box_outputs, 1, name='box_outputs'))
