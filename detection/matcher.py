"""Anchor labelling for RetinaNet training: IoU matcher + target assignment (per image, in TF).

Model Garden's rules: an anchor whose best IoU with a ground-truth box is >= matched_threshold
is positive (class and box targets of that box); < unmatched_threshold is negative (background);
in between it is ignored. Every ground-truth box is also force-matched to its best anchor, so a
small or oddly shaped object still gets one positive.

  targets = matcher.assign(anchors, gt_boxes, gt_classes, num_boxes, spec)
  targets.class_targets   # [N] int32: class id >= 1, 0 background, -1 ignored
"""
import collections

import tensorflow as tf

from detection import box_coder

IGNORED = -1
BACKGROUND = 0

Targets = collections.namedtuple('Targets', ['class_targets', 'box_targets', 'num_positives'])


def iou(boxes_a, boxes_b):
  """Pairwise IoU of [N, 4] and [M, 4] boxes (ymin, xmin, ymax, xmax) -> [N, M]."""
  a = boxes_a[:, None, :]
  b = boxes_b[None, :, :]
  inter_h = tf.maximum(0.0, tf.minimum(a[..., 2], b[..., 2]) - tf.maximum(a[..., 0], b[..., 0]))
  inter_w = tf.maximum(0.0, tf.minimum(a[..., 3], b[..., 3]) - tf.maximum(a[..., 1], b[..., 1]))
  inter = inter_h * inter_w
  area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
  area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
  return inter / tf.maximum(area_a + area_b - inter, 1e-8)


def assign(anchors, gt_boxes, gt_classes, num_boxes, spec):
  """Labels every anchor of one image.

  Args:
    anchors: [N, 4] float32 pixel anchors.
    gt_boxes: [M, 4] float32 pixel boxes (rows >= num_boxes are padding).
    gt_classes: [M] int32 class ids (1-based).
    num_boxes: scalar int32, the real boxes.
    spec: the `architecture.RetinaNetSpec` (thresholds, box scales).

  Returns:
    `Targets`: class_targets [N] int32 (class id, 0 background, -1 ignored), box_targets
    [N, 4] float32 encodings (meaningful where class_targets > 0), num_positives scalar.
  """
  anchors = tf.convert_to_tensor(anchors, tf.float32)
  gt_boxes = gt_boxes[:num_boxes]
  gt_classes = gt_classes[:num_boxes]
  n = tf.shape(anchors)[0]

  def labelled():
    overlaps = iou(anchors, gt_boxes)  # [N, M]
    best_gt = tf.argmax(overlaps, 1, output_type=tf.int32)
    best_iou = tf.reduce_max(overlaps, 1)
    # Force match: each ground truth's best anchor takes that ground truth.
    best_anchor = tf.argmax(overlaps, 0, output_type=tf.int32)  # [M]
    # (When two boxes share a best anchor, the later one keeps it; empty segments are the
    # int32 minimum, clipped to -1: not forced.)
    forced = tf.maximum(tf.math.unsorted_segment_max(tf.range(num_boxes) + 1, best_anchor, n),
                        0) - 1
    is_forced = forced >= 0
    best_gt = tf.where(is_forced, forced, best_gt)
    classes = tf.gather(gt_classes, best_gt)
    labels = tf.where(best_iou >= spec.matched_threshold, classes,
                      tf.where(best_iou < spec.unmatched_threshold,
                               tf.fill([n], BACKGROUND), tf.fill([n], IGNORED)))
    labels = tf.where(is_forced, classes, labels)
    boxes = box_coder.encode(tf.gather(gt_boxes, best_gt), anchors, spec.box_scales)
    positive = labels > 0
    boxes = tf.where(positive[:, None], boxes, tf.zeros_like(boxes))
    return labels, boxes

  def empty():
    return tf.fill([n], BACKGROUND), tf.zeros([n, 4])

  labels, boxes = tf.cond(num_boxes > 0, labelled, empty)
  return Targets(labels, boxes, tf.reduce_sum(tf.cast(labels > 0, tf.float32)))
