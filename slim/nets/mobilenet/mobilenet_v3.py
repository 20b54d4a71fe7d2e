"""MobileNetV3 architecture tables (V3_LARGE, V3_SMALL and DeepLab's `_seg` variants).

Each variant is data: a spec of `op()` records walked by `mobilenet.mobilenet_base`. The `_SEG`
tables are DeepLab's `mobilenet_v3_{large,small}_seg` backbones: the last stage and the 1x1 conv
after it have half the channels (expansion sizes follow, being functions of the input depth).

Checkpoint names (scope 'MobilenetV3'): 'Conv' (stem), 'expanded_conv[_N]/{expand, depthwise,
squeeze_excite/{Conv, Conv_1}, project}', 'Conv_1' (960 / 576, BN), 'AvgPool' (reduce_to_1x1),
'Conv_2' (1280 / 1024, biases, no BN), then the classifier's 'Logits/Conv2d_1c_1x1'.
"""

import copy
import functools

import numpy as np

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import conv_blocks as ops
from slim.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor

# Variable scope of the network (fixed by the released checkpoints).
SCOPE = 'MobilenetV3'
# Name scope of the hard-swish ops (as the original).
HARD_SWISH_SCOPE = 'hard_swish'
# Name scope of the hard-sigmoid gate ops.
HARD_SIGMOID_SCOPE = 'hard_sigmoid'


def hard_swish(x):
  """h-swish(x) = x * relu6(x + 3) / 6, under name scope 'hard_swish'.

  Args:
    x: A float tensor.

  Returns:
    A tensor of the same shape.
  """
  with tf.name_scope(HARD_SWISH_SCOPE):
    return x * tf.nn.relu6(x + np.float32(3)) * np.float32(1. / 6.)


def hard_sigmoid(x):
  """The SE gate of MobileNetV3: relu6(x + 3) * 0.16667 (the original's constant).

  Args:
    x: A float tensor.

  Returns:
    A tensor of the same shape, in [0, 1].
  """
  with tf.name_scope(HARD_SIGMOID_SCOPE):
    return tf.nn.relu6(x + np.float32(3)) * np.float32(0.16667)


def _se4(expansion_tensor, input_tensor):
  """MobileNetV3's squeeze-excite: factor 4, inner relu, hard-sigmoid gate."""
  del input_tensor
  return ops.squeeze_excite(expansion_tensor, squeeze_factor=4, inner_activation_fn=tf.nn.relu,
                            gating_fn=hard_sigmoid)


def mbv3_op(ef, n, k, s=1, act=tf.nn.relu, se=None, **kwargs):
  """One MobileNetV3 inverted bottleneck as an `op()` record.

  Args:
    ef: Expansion factor (of the block's input depth).
    n: Output channels.
    k: Depthwise kernel size.
    s: Depthwise stride.
    act: Activation of the expansion and depthwise convs.
    se: Optional squeeze-excite transform (see `expanded_conv`'s expansion_transform).
    **kwargs: More `expanded_conv` arguments.

  Returns:
    An `op()` record.
  """
  return op(ops.expanded_conv, expansion_size=expand_input(ef), kernel_size=(k, k), stride=s,
            num_outputs=n, inner_activation_fn=act, expansion_transform=se, **kwargs)


mbv3_op_se = functools.partial(mbv3_op, se=_se4)

# Architecture defaults (training-only settings live in training_scope).
DEFAULTS = {
    (ops.expanded_conv,): dict(normalizer_fn=tf_slim.batch_norm, residual=True),
    (tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d): {
        'normalizer_fn': tf_slim.batch_norm,
        'activation_fn': tf.nn.relu,
    },
    (tf_slim.batch_norm,): {'center': True, 'scale': True},
}

# pyformat: disable
V3_LARGE = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(tf_slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3), activation_fn=hard_swish),
        mbv3_op(ef=1, n=16, k=3),
        mbv3_op(ef=4, n=24, k=3, s=2),
        mbv3_op(ef=3, n=24, k=3, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=2),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op_se(ef=3, n=40, k=5, s=1),
        mbv3_op(ef=6, n=80, k=3, s=2, act=hard_swish),
        mbv3_op(ef=2.5, n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=960, activation_fn=hard_swish),
        op(ops.reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280, normalizer_fn=None,
           activation_fn=hard_swish),
    ])

V3_SMALL = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(tf_slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3), activation_fn=hard_swish),
        mbv3_op_se(ef=1, n=16, k=3, s=2),
        mbv3_op(ef=72. / 16, n=24, k=3, s=2),
        mbv3_op(ef=88. / 24, n=24, k=3, s=1),
        mbv3_op_se(ef=4, n=40, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=2, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
        mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=576, activation_fn=hard_swish),
        op(ops.reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1024, normalizer_fn=None,
           activation_fn=hard_swish),
    ])
# pyformat: enable


def reduce_consecutive_layers(conv_defs, start_id, end_id, multiplier=0.5):
  """Returns a copy of `conv_defs` with num_outputs of spec[start_id..end_id] scaled.

  Args:
    conv_defs: An architecture table.
    start_id: First spec index (0-based) to scale.
    end_id: Last spec index (inclusive).
    multiplier: Channel factor.

  Returns:
    The new table.
  """
  defs = copy.deepcopy(conv_defs)
  for d in defs['spec'][start_id:end_id + 1]:
    d.params.update({'num_outputs': int(np.round(d.params['num_outputs'] * multiplier))})
  return defs


# DeepLab's segmentation backbones: the last stage and the 1x1 conv after it halved
# (large: 160 -> 80 and 960 -> 480, spec 13..16; small: 96 -> 48 and 576 -> 288, spec 9..12).
V3_LARGE_SEG = reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_SEG = reduce_consecutive_layers(V3_SMALL, 9, 12)


def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
              finegrain_classification_mode=False, min_depth=None, divisible_by=None, **kwargs):
  """Builds a MobileNetV3 classifier (V3_LARGE by default).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    num_classes: Logits width; 0/None returns the embedding.
    depth_multiplier: Channel multiplier.
    scope: Variable scope.
    conv_defs: Architecture table (default V3_LARGE).
    finegrain_classification_mode: Keep the last conv at full width whatever the multiplier.
    min_depth: Minimum channels after the multiplier (None keeps 8).
    divisible_by: Channel rounding (None keeps 8).
    **kwargs: Passed to `mobilenet.mobilenet` (is_training, reuse, ...).

  Returns:
    (logits, end_points) as `mobilenet.mobilenet`.
  """
  if conv_defs is None:
    conv_defs = V3_LARGE
  conv_defs = copy.deepcopy(conv_defs)
  if finegrain_classification_mode:
    conv_defs['spec'][-1] = conv_defs['spec'][-1]._replace(
        multiplier_func=lambda params, multiplier: params)
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet(input_tensor, num_classes=num_classes, conv_defs=conv_defs, scope=scope,
                         multiplier=depth_multiplier, **kwargs)


def mobilenet_base(input_tensor, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
                   min_depth=None, divisible_by=None, **kwargs):
  """Builds the MobileNetV3 feature layers of `conv_defs` (no classifier).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    depth_multiplier: Channel multiplier.
    scope: Variable scope (string or VariableScope).
    conv_defs: Architecture table (default V3_LARGE).
    min_depth: Minimum channels after the multiplier (None keeps 8).
    divisible_by: Channel rounding (None keeps 8).
    **kwargs: Passed to `mobilenet.mobilenet_base`.

  Returns:
    (net, end_points).
  """
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet_base(input_tensor, conv_defs=copy.deepcopy(conv_defs or V3_LARGE),
                              multiplier=depth_multiplier, scope=scope, **kwargs)


def _wrapped_partial(func, *args, **kwargs):
  partial = functools.partial(func, *args, **kwargs)
  functools.update_wrapper(partial, func)
  return partial


large = _wrapped_partial(mobilenet, conv_defs=V3_LARGE)
small = _wrapped_partial(mobilenet, conv_defs=V3_SMALL)
large_seg = _wrapped_partial(mobilenet, conv_defs=V3_LARGE_SEG)
small_seg = _wrapped_partial(mobilenet, conv_defs=V3_SMALL_SEG)

training_scope = lib.training_scope
