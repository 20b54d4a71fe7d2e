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
  depth_args = {}
  # None keeps the multiplier function's defaults.
  if min_depth is not None:
    depth_args['min_depth'] = min_depth
  if divisible_by is not None:
    depth_args['divisible_by'] = divisible_by
  with tf_slim.arg_scope((lib.depth_multiplier,), **depth_args):
    return lib.mobilenet_base(input_tensor, conv_defs=conv_defs, multiplier=depth_multiplier,
                              scope=scope, **kwargs)


training_scope = lib.training_scope
