"""RetinaNet variants as data: one frozen record per variant, looked up by name.

A record holds every per-variant fact the model, the trainer, the evaluator and the exporter
share (backbone and its level end points, FPN and head widths, anchors, loss constants, BN
defaults, input size, post-processing defaults), so no other module keeps per-variant tables.
Adding a variant is one `RetinaNetSpec(...)` entry in `_RECORDS`.

  spec = architecture.get('retinanet_mobilenet_v2')
  spec.num_anchors_per_cell   # 9

The defaults are Model Garden's `coco_mobilenetv2_qat_tpu_e2e.yaml` (RetinaNet, MobileNetV2 1.0,
256x256, levels 3-7, FPN and head of 128 separable filters, 4 head convs, anchor size 3,
3 scales x aspect ratios (0.5, 1, 2), focal alpha 0.25 / gamma 1.5, Huber delta 0.1 with box
weight 50, BN momentum 0.99 / epsilon 1e-3, relu6).
"""
import dataclasses
import types
from typing import Mapping, Tuple


@dataclasses.dataclass(frozen=True)
class RetinaNetSpec:
  """Facts about one RetinaNet variant.

  Attributes:
    name: registry key (the --model_variant of the detection scripts).
    backbone: slim.nets.registry name of the backbone.
    backbone_endpoints: {level: backbone end point name} for the levels the FPN reads.
    min_level, max_level: pyramid levels P_min..P_max (stride 2**level); the levels above the
      largest backbone level are stride-2 convs.
    fpn_filters: channels of every pyramid level.
    head_convs: convs per tower (class and box) before the output conv.
    head_filters: channels of the tower convs.
    separable: FPN and head convs are depthwise-separable.
    num_scales: anchor scales per octave (2**(k / num_scales)).
    aspect_ratios: anchor aspect ratios (w / h).
    anchor_size: anchor base size in strides (base side = anchor_size * 2**level).
    image_size: default square input size.
    focal_alpha, focal_gamma: focal loss constants.
    huber_delta: Huber box loss delta.
    box_loss_weight: weight of the box loss against the class loss.
    matched_threshold, unmatched_threshold: IoU >= matched: positive; < unmatched: negative
      (in between: ignored).
    class_prior: initial foreground probability of the class output (bias -log((1-p)/p)).
    bn_decay, bn_epsilon: batch norm of the FPN and head (the backbone keeps its own default
      unless the trainer overrides it).
    box_scales: (y, x, h, w) scale factors of the box coder; (1, 1, 1, 1) is Model Garden's
      coder without scale factors.
    score_threshold, nms_iou_threshold, max_detections: post-processing defaults.
  """
  name: str
  backbone: str
  backbone_endpoints: Mapping[int, str]
  min_level: int = 3
  max_level: int = 7
  fpn_filters: int = 128
  head_convs: int = 4
  head_filters: int = 128
  separable: bool = True
  num_scales: int = 3
  aspect_ratios: Tuple[float, ...] = (0.5, 1.0, 2.0)
  anchor_size: float = 3.0
  image_size: int = 256
  focal_alpha: float = 0.25
  focal_gamma: float = 1.5
  huber_delta: float = 0.1
  box_loss_weight: float = 50.0
  matched_threshold: float = 0.5
  unmatched_threshold: float = 0.5
  class_prior: float = 0.01
  bn_decay: float = 0.99
  bn_epsilon: float = 1e-3
  box_scales: Tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
  score_threshold: float = 0.05
  nms_iou_threshold: float = 0.5
  max_detections: int = 100

  @property
  def levels(self):
    """The pyramid levels, finest first."""
    return tuple(range(self.min_level, self.max_level + 1))

  @property
  def num_anchors_per_cell(self):
    return self.num_scales * len(self.aspect_ratios)

  @property
  def backbone_levels(self):
    """The levels read from the backbone, finest first."""
    return tuple(sorted(self.backbone_endpoints))


# MobileNetV2 blocks at strides 8, 16 and 32 (32, 96 and 320 channels at multiplier 1.0); the
# 1280-channel conv (layer_19) is not used, as in Model Garden.
_MNV2_LEVELS = types.MappingProxyType({3: 'layer_7', 4: 'layer_14', 5: 'layer_18'})

_RECORDS = (
    RetinaNetSpec(name='retinanet_mobilenet_v2', backbone='mobilenet_v2',
                  backbone_endpoints=_MNV2_LEVELS),
)
_REGISTRY = types.MappingProxyType({r.name: r for r in _RECORDS})
DEFAULT_VARIANT = 'retinanet_mobilenet_v2'


def names():
  """Returns the sorted registered variant names."""
  return sorted(_REGISTRY)


def get(name):
  """Returns the `RetinaNetSpec` named `name`.

  Raises:
    ValueError: unknown name (the message lists the registered ones).
  """
  if name not in _REGISTRY:
    raise ValueError('Unknown detection model variant %r; valid names: %s'
                     % (name, ', '.join(names())))
  return _REGISTRY[name]
