"""MobileNetV2 architecture table (V2_DEF) and its base-network builder."""

import copy

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import conv_blocks as ops
from slim.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor

# Variable scope of the network (fixed by the released checkpoints).
SCOPE = 'MobilenetV2'

# pyformat: disable
V2_DEF = dict(
    defaults={
        # BN with learned scale and offset everywhere.
        (tf_slim.batch_norm,): {'center': True, 'scale': True},
        (tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d): {
            'normalizer_fn': tf_slim.batch_norm, 'activation_fn': tf.nn.relu6
        },
        (ops.expanded_conv,): {
            'expansion_size': expand_input(6),
            'split_expansion': 1,
            'normalizer_fn': tf_slim.batch_norm,
            'residual': True
        },
        (tf_slim.conv2d, tf_slim.separable_conv2d): {'padding': 'SAME'}
    },
    spec=[
        op(tf_slim.conv2d, stride=2, num_outputs=32, kernel_size=[3, 3]),
        op(ops.expanded_conv, expansion_size=expand_input(1, divisible_by=1), num_outputs=16),
        op(ops.expanded_conv, stride=2, num_outputs=24),
        op(ops.expanded_conv, stride=1, num_outputs=24),
        op(ops.expanded_conv, stride=2, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=1, num_outputs=32),
        op(ops.expanded_conv, stride=2, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=64),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=1, num_outputs=96),
        op(ops.expanded_conv, stride=2, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=160),
        op(ops.expanded_conv, stride=1, num_outputs=320),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280)
    ],
)
# pyformat: enable


def mobilenet_base(input_tensor, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
                   min_depth=None, divisible_by=None, **kwargs):
  """Builds the MobileNetV2 feature layers (no classifier).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    depth_multiplier: Channel multiplier for every layer.
    scope: Variable scope (string or VariableScope).
    conv_defs: Architecture table; defaults to a copy of `V2_DEF`.
    min_depth: Minimum channel count after the multiplier (None keeps the default 8).
    divisible_by: Channel rounding after the multiplier (None keeps the default 8).
    **kwargs: Passed to `mobilenet.mobilenet_base` (final_endpoint, output_stride,
      use_explicit_padding, is_training).

  Returns:
    (net, end_points) as `mobilenet.mobilenet_base`.
  """
  if conv_defs is None:
    conv_defs = copy.deepcopy(V2_DEF)
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet_base(input_tensor, conv_defs=conv_defs, multiplier=depth_multiplier,
                              scope=scope, **kwargs)


def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
              finegrain_classification_mode=False, min_depth=None, divisible_by=None,
              activation_fn=None, **kwargs):
  """Builds the MobileNetV2 classifier (base + `Conv_1` 1280 + global pool + logits).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    num_classes: Logits width (1001 for the ImageNet checkpoints); 0/None returns the embedding.
    depth_multiplier: Channel multiplier for every layer.
    scope: Variable scope.
    conv_defs: Architecture table; defaults to a copy of `V2_DEF`.
    finegrain_classification_mode: With depth_multiplier < 1, keep the last conv at its full
      width (1280), as the released 0.35/0.5 checkpoints do.
    min_depth: Minimum channel count after the multiplier (None keeps the default 8).
    divisible_by: Channel rounding after the multiplier (None keeps the default 8).
    activation_fn: Replaces relu6 everywhere if set.
    **kwargs: Passed to `mobilenet.mobilenet` (is_training, reuse, prediction_fn, ...).

  Returns:
    (logits, end_points) as `mobilenet.mobilenet`.
  """
  if conv_defs is None:
    conv_defs = copy.deepcopy(V2_DEF)
  if activation_fn:
    conv_defs = copy.deepcopy(conv_defs)
    defaults = conv_defs['defaults']
    conv_defaults = defaults[(tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d)]
    conv_defaults['activation_fn'] = activation_fn
  if finegrain_classification_mode and depth_multiplier < 1:
    conv_defs = copy.deepcopy(conv_defs)
    # Undo the multiplier on the last layer only.
    conv_defs['spec'][-1].params['num_outputs'] /= depth_multiplier
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet(input_tensor, num_classes=num_classes, conv_defs=conv_defs, scope=scope,
                         multiplier=depth_multiplier, **kwargs)


training_scope = lib.training_scope
