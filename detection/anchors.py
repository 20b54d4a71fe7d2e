"""RetinaNet anchors (Model Garden's multi-level generator), as numpy constants.

Per level l (stride 2**l) and cell (i, j): centre ((i + 0.5) * stride, (j + 0.5) * stride); per
scale k (outer loop) and aspect ratio a (inner loop): side = anchor_size * stride * 2**(k / S),
h = side / sqrt(a), w = side * sqrt(a). Boxes are [ymin, xmin, ymax, xmax] in pixels, unclipped,
ordered level, row, column, scale, aspect: the order of the head outputs after their reshape
([N, H, W, A * C] -> [N, H * W * A, C]). At 256x256 with levels 3-7 that is
(32^2 + 16^2 + 8^2 + 4^2 + 2^2) * 9 = 12,276 anchors.
"""
import math

import numpy as np


def grid_size(image_size, level):
  """Feature map side at `level` for a square input (SAME-padded stride-2 convs: ceil)."""
  return int(math.ceil(image_size / 2.0**level))


def level_anchors(spec, image_size, level):
  """Returns the [H * W * A, 4] pixel anchors of one level (see the module docstring)."""
  stride = 2.0**level
  size = grid_size(image_size, level)
  shapes = []
  for k in range(spec.num_scales):
    side = spec.anchor_size * stride * 2.0**(k / spec.num_scales)
    for ratio in spec.aspect_ratios:
      shapes.append((side / math.sqrt(ratio), side * math.sqrt(ratio)))
  shapes = np.asarray(shapes)  # [A, 2] (h, w)
  centres = (np.arange(size) + 0.5) * stride
  cy, cx = np.meshgrid(centres, centres, indexing='ij')
  cy = cy[:, :, None]
  cx = cx[:, :, None]
  h = shapes[None, None, :, 0]
  w = shapes[None, None, :, 1]
  boxes = np.stack(np.broadcast_arrays(cy - h / 2, cx - w / 2, cy + h / 2, cx + w / 2), -1)
  return boxes.reshape(-1, 4).astype(np.float32)


def generate(spec, image_size=None):
  """Returns all anchors [N, 4] (ymin, xmin, ymax, xmax pixels), levels finest first."""
  image_size = image_size or spec.image_size
  return np.concatenate([level_anchors(spec, image_size, l) for l in spec.levels])


def count(spec, image_size=None):
  """Number of anchors at `image_size` (the head's output rows)."""
  image_size = image_size or spec.image_size
  return sum(grid_size(image_size, l)**2 for l in spec.levels) * spec.num_anchors_per_cell


def to_center_size(boxes, image_size):
  """[ymin, xmin, ymax, xmax] pixels -> normalized [ycenter, xcenter, h, w].

  The layout of the `anchors` input of TFLite_Detection_PostProcess; normalized anchors make
  the op's decoded boxes normalized too, since box encodings are relative to the anchor size.
  """
  boxes = np.asarray(boxes, np.float32) / float(image_size)
  h = boxes[:, 2] - boxes[:, 0]
  w = boxes[:, 3] - boxes[:, 1]
  return np.stack([boxes[:, 0] + h / 2, boxes[:, 1] + w / 2, h, w], -1).astype(np.float32)
