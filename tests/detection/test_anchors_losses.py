"""Anchors, box coder, matcher and losses on hand-made cases (numbers worked out by hand)."""
import math

import numpy as np
import pytest
import tensorflow as tf

from detection import anchors
from detection import architecture
from detection import box_coder
from detection import losses
from detection import matcher
from detection import postprocess

SPEC = architecture.get('retinanet_mobilenet_v2')


def _run(tensors):
  with tf.compat.v1.Session() as sess:
    return sess.run(tensors)


def testAnchorCount_256Is12276():
  assert anchors.count(SPEC, 256) == 12276
  assert anchors.generate(SPEC, 256).shape == (12276, 4)
  # Per level: 32^2, 16^2, 8^2, 4^2, 2^2 cells x 9.
  assert [len(anchors.level_anchors(SPEC, 256, l)) for l in SPEC.levels] == [
      9216, 2304, 576, 144, 36]


def testLevelAnchors_FirstCellScalesAndRatios():
  boxes = anchors.level_anchors(SPEC, 256, 3)
  # Cell (0, 0) at stride 8: centre (4, 4); scale 0, ratio 1 (index 1): side 3 * 8 = 24.
  np.testing.assert_allclose(boxes[1], [4 - 12, 4 - 12, 4 + 12, 4 + 12], rtol=1e-6)
  # Ratio 0.5 (index 0): h = 24 / sqrt(0.5), w = 24 * sqrt(0.5).
  h, w = 24 / math.sqrt(0.5), 24 * math.sqrt(0.5)
  np.testing.assert_allclose(boxes[0], [4 - h / 2, 4 - w / 2, 4 + h / 2, 4 + w / 2], rtol=1e-6)
  # Scale 1 (index 3..5): side 24 * 2^(1/3); next cell (index 9) moves right by the stride.
  side = 24 * 2**(1 / 3)
  np.testing.assert_allclose(boxes[4, 2] - boxes[4, 0], side, rtol=1e-5)
  np.testing.assert_allclose(boxes[9, [1, 3]], boxes[0, [1, 3]] + 8, rtol=1e-6)


def testToCenterSize_Normalized():
  out = anchors.to_center_size(np.array([[0, 64, 128, 256]], np.float32), 256)
  np.testing.assert_allclose(out, [[0.25, 0.625, 0.5, 0.75]])


def testBoxCoder_EncodeDecodeRoundTrip():
  rng = np.random.default_rng(0)
  a = anchors.generate(SPEC, 64)[:50]
  boxes = a + rng.uniform(-3, 3, a.shape).astype(np.float32)
  for scales in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
    enc = _run(box_coder.encode(tf.constant(boxes), tf.constant(a), scales))
    np.testing.assert_allclose(box_coder.decode_np(enc, a, scales), boxes, atol=1e-3)


def testFocalLoss_HandValues():
  # p = sigmoid(0) = 0.5: positive: 0.25 * 0.5^1.5 * log 2; negative: 0.75 * 0.5^1.5 * log 2.
  out = _run(losses.focal_loss(tf.zeros([2]), tf.constant([1.0, 0.0]), 0.25, 1.5))
  np.testing.assert_allclose(out, [0.25 * 0.5**1.5 * math.log(2), 0.75 * 0.5**1.5 * math.log(2)],
                             rtol=1e-5)


def testHuber_QuadraticThenLinear():
  out = _run(losses.huber(tf.constant([0.05, -0.3]), 0.1))
  np.testing.assert_allclose(out, [0.5 * 0.05**2, 0.5 * 0.01 + 0.1 * 0.2], rtol=1e-5)


def testRetinanetLosses_IgnoredAndNormalized():
  # 3 anchors, 2 classes: anchor 0 positive class 2, anchor 1 background, anchor 2 ignored.
  logits = tf.zeros([1, 3, 2])
  box_out = tf.constant([[[0.2, 0.0, 0.0, 0.0], [9.0] * 4, [9.0] * 4]])
  cls_loss, box_loss = _run(losses.retinanet_losses(
      logits, box_out, tf.constant([[2, 0, -1]]), tf.zeros([1, 3, 4]), SPEC))
  pos, neg = 0.25 * 0.5**1.5 * math.log(2), 0.75 * 0.5**1.5 * math.log(2)
  # Anchor 0: one positive column + one negative; anchor 1: two negatives; / (1 + 1).
  np.testing.assert_allclose(cls_loss, (pos + 3 * neg) / 2, rtol=1e-5)
  # Only anchor 0's box counts: huber(0.2) = 0.5 * 0.01 + 0.1 * 0.1, / (4 + 1).
  np.testing.assert_allclose(box_loss, (0.005 + 0.01) / 5, rtol=1e-5)


def testAssign_ThresholdsAndForcedMatch():
  anchor_boxes = np.array([[0, 0, 10, 10],      # IoU 1 with gt 0 -> positive
                           [0, 0, 10, 14],      # IoU 10/14 = 0.71 -> positive
                           [0, 5, 10, 15],      # IoU 1/3 -> background
                           [50, 50, 60, 60],    # far -> background
                           [100, 100, 104, 104]], np.float32)  # gt 1's best (IoU 0.16): forced
  gt = np.array([[0, 0, 10, 10], [100, 100, 110, 110], [0, 0, 0, 0]], np.float32)
  t = _run(matcher.assign(tf.constant(anchor_boxes), tf.constant(gt), tf.constant([3, 1, 0]),
                          tf.constant(2), SPEC))
  np.testing.assert_array_equal(t.class_targets, [3, 3, 0, 0, 1])
  assert t.num_positives == 3
  np.testing.assert_allclose(t.box_targets[0], 0, atol=1e-6)
  np.testing.assert_allclose(t.box_targets[2:4], 0)
  # Anchor 4 (4x4 at centre 102) -> gt 1 (10x10 at centre 105): (3/4, 3/4, log 2.5, log 2.5).
  np.testing.assert_allclose(t.box_targets[4], [0.75, 0.75, math.log(2.5), math.log(2.5)],
                             rtol=1e-5)


def testAssign_TwoBoxesSameBestAnchor():
  # Both boxes' best anchor is anchor 0 (an index bug once summed their ids there).
  anchor_boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
  gt = np.array([[0, 0, 9, 9], [0, 0, 8, 8]], np.float32)
  t = _run(matcher.assign(tf.constant(anchor_boxes), tf.constant(gt), tf.constant([1, 2]),
                          tf.constant(2), SPEC))
  np.testing.assert_array_equal(t.class_targets, [2, 0])


def testAssign_NoBoxesAllBackground():
  t = _run(matcher.assign(tf.constant(anchors.generate(SPEC, 64)), tf.zeros([4, 4]),
                          tf.zeros([4], tf.int32), tf.constant(0), SPEC))
  assert (t.class_targets == 0).all() and t.num_positives == 0


def testPostprocess_DecodesAndSuppresses():
  a = np.array([[0, 0, 0.5, 0.5], [0, 0, 0.5, 0.52], [0.5, 0.5, 1, 1]], np.float32)
  scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.7]], np.float32)
  boxes, classes, s = postprocess.detect(np.zeros([3, 4], np.float32), scores, a, SPEC)
  # Anchor 1 overlaps anchor 0 (IoU 0.96) with a lower score: suppressed.
  np.testing.assert_allclose(boxes, a[[0, 2]], atol=1e-6)
  np.testing.assert_array_equal(classes, [1, 2])
  np.testing.assert_allclose(s, [0.9, 0.7])


def testRegistry_UnknownVariantListsNames():
  with pytest.raises(ValueError, match='retinanet_mobilenet_v2'):
    architecture.get('retinanet_resnet')
