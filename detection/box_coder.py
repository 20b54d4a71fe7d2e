"""Faster R-CNN box coder (Model Garden's, scale factors optional), in TF and numpy.

  ty = (yc - yca) / ha * sy    tx = (xc - xca) / wa * sx
  th = log(h / ha) * sh        tw = log(w / wa) * sw

Decoding clips th, tw at log(1000 / 16) as Model Garden does, so a wild prediction cannot
overflow exp(). The same formulas are what TFLite_Detection_PostProcess decodes with its
y/x/h/w_scale attributes, which is why the export passes `spec.box_scales` to it.
"""
import math

import numpy as np
import tensorflow as tf

BBOX_XFORM_CLIP = math.log(1000.0 / 16.0)
_EPSILON = 1e-8


def _center_size(boxes):
  ymin, xmin, ymax, xmax = [boxes[..., i] for i in range(4)]
  h = ymax - ymin
  w = xmax - xmin
  return ymin + 0.5 * h, xmin + 0.5 * w, h, w


def encode(boxes, anchors, scales=(1.0, 1.0, 1.0, 1.0)):
  """Encodes [N, 4] boxes against [N, 4] anchors (both ymin, xmin, ymax, xmax) -> [N, 4]."""
  yc, xc, h, w = _center_size(boxes)
  yca, xca, ha, wa = _center_size(anchors)
  h = tf.maximum(h, _EPSILON)
  w = tf.maximum(w, _EPSILON)
  sy, sx, sh, sw = scales
  return tf.stack([(yc - yca) / ha * sy, (xc - xca) / wa * sx,
                   tf.math.log(h / ha) * sh, tf.math.log(w / wa) * sw], -1)


def decode_np(encodings, anchors, scales=(1.0, 1.0, 1.0, 1.0)):
  """Numpy inverse of `encode`: [..., N, 4] encodings, [N, 4] anchors -> boxes."""
  encodings = np.asarray(encodings, np.float32)
  yca, xca, ha, wa = _center_size(np.asarray(anchors, np.float32))
  sy, sx, sh, sw = scales
  ty, tx = encodings[..., 0] / sy, encodings[..., 1] / sx
  th = np.minimum(encodings[..., 2] / sh, BBOX_XFORM_CLIP)
  tw = np.minimum(encodings[..., 3] / sw, BBOX_XFORM_CLIP)
  yc, xc = ty * ha + yca, tx * wa + xca
  h, w = np.exp(th) * ha, np.exp(tw) * wa
  return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], -1)
