"""RetinaNet = registry backbone (levels 3-5) + FPN (P3-P7) + shared class/box head.

  outputs = model.build(images, spec, num_classes, is_training=True)
  outputs.class_logits   # [N, num_anchors, num_classes]
  outputs.box_outputs    # [N, num_anchors, 4] encodings against detection.anchors.generate

`images` are float in [-1, 1] (the backbone's input range; the registry record's preprocessing
maps [0, 255] pixels there, `preprocess` below). The backbone is the slim.nets registry's
record, built as DeepLab builds it (its arg scope, its variable scope, the input identity
'<scope>/<scope>/input'), so its variable names are the classification checkpoints'.
"""
import collections
import dataclasses

import tensorflow as tf
import tf_slim

from detection import fpn
from detection import head
from detection import layers
from slim.nets import registry

Outputs = collections.namedtuple('Outputs', ['class_logits', 'box_outputs', 'features',
                                             'backbone_end_points'])


def preprocess(images, spec):
  """[0, 255] pixels -> the backbone's input range (the record's preprocessing)."""
  return registry.get(spec.backbone).preprocess_fn(images, tf.float32)


def _backbone(images, spec, is_training, weight_decay, bn_decay):
  record = registry.get(spec.backbone)
  final = spec.backbone_endpoints[spec.backbone_levels[-1]]
  decay = {} if bn_decay is None else {'bn_decay': bn_decay}
  with tf_slim.arg_scope(record.arg_scope_fn(is_training=is_training,
                                             weight_decay=weight_decay, **decay)):
    with tf.compat.v1.variable_scope(record.scope) as scope:
      with tf.compat.v1.variable_scope(scope):
        net = tf.identity(images, registry.INPUT_NAME)
      _, end_points = record.build_fn(
          net, scope=scope, depth_multiplier=record.depth_multiplier, divisible_by=8,
          min_depth=8, final_endpoint=final, output_stride=None, use_explicit_padding=False,
          is_training=is_training)
  return end_points


def build(images, spec, num_classes, is_training=False, weight_decay=0.0, bn_decay=None):
  """Builds the detector in the default graph.

  Args:
    images: [N, H, W, 3] float images in [-1, 1] (static H, W).
    spec: the `architecture.RetinaNetSpec`.
    num_classes: foreground classes.
    is_training: batch norm in training mode.
    weight_decay: L2 weight decay of the conv kernels.
    bn_decay: BN moving-average decay of every layer (None: the backbone's default and
      spec.bn_decay for the FPN and head). Short from-scratch runs need ~0.9 (DESIGN.md).

  Returns:
    `Outputs` (class_logits, box_outputs, features {level: tensor}, backbone_end_points).
  """
  end_points = _backbone(images, spec, is_training, weight_decay, bn_decay)
  backbone_features = {l: end_points[name] for l, name in spec.backbone_endpoints.items()}
  if bn_decay is not None:
    spec = dataclasses.replace(spec, bn_decay=bn_decay)
  with tf_slim.arg_scope(layers.arg_scope(spec, is_training, weight_decay)):
    features = fpn.build(backbone_features, spec)
    class_logits, box_outputs = head.build(features, spec, num_classes)
  return Outputs(class_logits, box_outputs, features, end_points)

