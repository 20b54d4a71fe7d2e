"""Numpy post-processing of the raw outputs: what TFLite_Detection_PostProcess computes.

The op's default ("fast", use_regular_nms=false, max_classes_per_detection=1) path: per anchor
the best class and its score; anchors under the score threshold dropped; greedy class-agnostic
NMS by score at the IoU threshold; the first max_detections kept. The graph evaluator uses this
so that graph and TFLite AP differ only by the model's numerics.
"""
import numpy as np

from detection import box_coder


def _iou_one_to_many(box, boxes):
  ymin = np.maximum(box[0], boxes[:, 0])
  xmin = np.maximum(box[1], boxes[:, 1])
  ymax = np.minimum(box[2], boxes[:, 2])
  xmax = np.minimum(box[3], boxes[:, 3])
  inter = np.maximum(0.0, ymax - ymin) * np.maximum(0.0, xmax - xmin)
  area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
  return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def nms(boxes, scores, iou_threshold, max_outputs):
  """Greedy NMS; returns the kept indices, best score first."""
  order = np.argsort(-scores, kind='stable')
  keep = []
  while order.size and len(keep) < max_outputs:
    i = order[0]
    keep.append(i)
    rest = order[1:]
    order = rest[_iou_one_to_many(boxes[i], boxes[rest]) <= iou_threshold]
  return np.asarray(keep, np.int64)


def detect(box_encodings, class_scores, anchors, spec, max_detections=None,
           score_threshold=None, iou_threshold=None):
  """Detections of one image.

  Args:
    box_encodings: [N, 4] raw box outputs.
    class_scores: [N, C] sigmoid scores (column c is category id c + 1).
    anchors: [N, 4] anchors (ymin, xmin, ymax, xmax) in the units the boxes should come out in.
    spec: the `architecture.RetinaNetSpec` (box scales, thresholds).
    max_detections, score_threshold, iou_threshold: None uses the spec's.

  Returns:
    (boxes [D, 4] ymin, xmin, ymax, xmax, category ids [D] int, scores [D]).
  """
  max_detections = max_detections or spec.max_detections
  score_threshold = spec.score_threshold if score_threshold is None else score_threshold
  iou_threshold = spec.nms_iou_threshold if iou_threshold is None else iou_threshold
  best = np.argmax(class_scores, 1)
  scores = class_scores[np.arange(len(best)), best]
  candidates = np.nonzero(scores > score_threshold)[0]
  boxes = box_coder.decode_np(box_encodings[candidates], anchors[candidates], spec.box_scales)
  keep = nms(boxes, scores[candidates], iou_threshold, max_detections)
  return boxes[keep], best[candidates][keep] + 1, scores[candidates][keep]
