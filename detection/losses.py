"""RetinaNet losses: sigmoid focal loss (classes) and Huber loss (boxes), Model Garden's defaults.

  class loss = sum over anchors not ignored and classes of focal(p, y) / (num_positives + 1)
  box loss   = sum over positive anchors of huber(t - t*) / (4 * num_positives + 1)
  total      = class loss + box_loss_weight * box loss

focal(p, y) = -alpha_t (1 - p_t)^gamma log(p_t), with p_t = p for y = 1 and 1 - p otherwise,
alpha_t = alpha for y = 1 and 1 - alpha otherwise; classes are one-hot over 1..C (background is
all zeros, there is no background column).
"""
import tensorflow as tf


def focal_loss(logits, one_hot, alpha, gamma):
  """Elementwise sigmoid focal loss (same shape as `logits`)."""
  ce = tf.nn.sigmoid_cross_entropy_with_logits(labels=one_hot, logits=logits)
  p = tf.sigmoid(logits)
  p_t = one_hot * p + (1.0 - one_hot) * (1.0 - p)
  alpha_t = one_hot * alpha + (1.0 - one_hot) * (1.0 - alpha)
  return alpha_t * tf.pow(1.0 - p_t, gamma) * ce


def huber(x, delta):
  """Elementwise Huber loss of the error `x`: 0.5 x^2 inside |x| <= delta, linear outside."""
  ax = tf.abs(x)
  quadratic = tf.minimum(ax, delta)
  return 0.5 * quadratic**2 + delta * (ax - quadratic)


def retinanet_losses(class_logits, box_outputs, class_targets, box_targets, spec):
  """Returns (class loss, box loss) scalars for a batch.

  Args:
    class_logits: [B, N, C] float logits (class c at column c - 1).
    box_outputs: [B, N, 4] box encodings.
    class_targets: [B, N] int32 (class id, 0 background, -1 ignored; see detection.matcher).
    box_targets: [B, N, 4] encodings.
    spec: the `architecture.RetinaNetSpec` (alpha, gamma, delta).
  """
  num_classes = class_logits.shape[-1]
  positive = tf.cast(class_targets > 0, tf.float32)
  valid = tf.cast(class_targets >= 0, tf.float32)
  num_positives = tf.reduce_sum(positive)
  one_hot = tf.one_hot(class_targets - 1, num_classes)  # background / ignored rows: zeros
  class_loss = tf.reduce_sum(
      focal_loss(class_logits, one_hot, spec.focal_alpha, spec.focal_gamma) * valid[..., None])
  class_loss = class_loss / (num_positives + 1.0)
  box_loss = tf.reduce_sum(huber(box_outputs - box_targets, spec.huber_delta) * positive[..., None])
  box_loss = box_loss / (4.0 * num_positives + 1.0)
  return class_loss, box_loss
