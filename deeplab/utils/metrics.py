"""Segmentation metrics: confusion matrix, per-class IoU and mIoU, and their summary tags.

Shared by eval.py (graph), the TFLite evaluation and the quantization report, so every row of a
report is measured by the same code.
"""
import numpy as np


def confusion_matrix(predictions, labels, num_classes, ignore_label):
  """Returns the [num_classes, num_classes] confusion matrix (rows: label) ignoring a label.

  Args:
    predictions: int array of predicted classes.
    labels: int array of labels, same number of elements.
    num_classes: number of classes.
    ignore_label: label value excluded from the counts.

  Returns:
    int64 numpy array.
  """
  predictions = np.asarray(predictions).reshape(-1).astype(np.int64)
  labels = np.asarray(labels).reshape(-1).astype(np.int64)
  keep = labels != ignore_label
  index = labels[keep] * num_classes + predictions[keep]
  return np.bincount(index, minlength=num_classes * num_classes).reshape(
      num_classes, num_classes)


def iou_from_confusion(confusion):
  """Per-class IoU tp/(tp+fp+fn) (NaN for absent classes) and mIoU over present classes.

  Args:
    confusion: [num_classes, num_classes] confusion matrix (rows: label, cols: prediction).

  Returns:
    (per_class_iou numpy array, miou float).
  """
  confusion = np.asarray(confusion, dtype=np.float64)
  tp = np.diag(confusion)
  denom = confusion.sum(axis=0) + confusion.sum(axis=1) - tp
  with np.errstate(divide='ignore', invalid='ignore'):
    iou = np.where(denom > 0, tp / np.maximum(denom, 1e-12), np.nan)
  miou = float(np.nanmean(iou)) if np.any(denom > 0) else float('nan')
  return iou, miou


def miou_tags(eval_scales, add_flipped_images, num_classes):
  """Returns (overall_tag, [per-class tags]) with the original summary names."""
  scales = '_'.join(map(str, eval_scales))
  suffix = '_flipped' if add_flipped_images else ''
  overall = 'eval/miou_%s%s_overall' % (scales, suffix)
  per_class = ['eval/miou_%s%s_class_%d' % (scales, suffix, c) for c in range(num_classes)]
  return overall, per_class
