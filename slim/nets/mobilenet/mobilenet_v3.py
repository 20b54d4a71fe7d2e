"""MobileNetV3 architecture tables (V3_LARGE, V3_SMALL and DeepLab's `_seg` variants).

Each variant is data: a spec of `op()` records walked by `mobilenet.mobilenet_base`. The `_SEG`
tables are DeepLab's `mobilenet_v3_{large,small}_seg` backbones: the last stage and the 1x1 conv
after it have half the channels (expansion sizes follow, being functions of the input depth).

Checkpoint names (scope 'MobilenetV3'): 'Conv' (stem), 'expanded_conv[_N]/{expand, depthwise,
squeeze_excite/{Conv, Conv_1}, project}', 'Conv_1' (960 / 576, BN), 'AvgPool' (reduce_to_1x1),
'Conv_2' (1280 / 1024, biases, no BN), then the classifier's 'Logits/Conv2d_1c_1x1'.
"""

import copy

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


mbv3_op_se = lib.wrapped_partial(mbv3_op, se=_se4)

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

# Minimalistic variants: no squeeze-excite, no hard-swish, no 5x5 depthwise (ReLU everywhere),
# friendly to a wide range of hardware.
V3_LARGE_MINIMALISTIC = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(tf_slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
        mbv3_op(ef=1, n=16, k=3),
        mbv3_op(ef=4, n=24, k=3, s=2),
        mbv3_op(ef=3, n=24, k=3, s=1),
        mbv3_op(ef=3, n=40, k=3, s=2),
        mbv3_op(ef=3, n=40, k=3, s=1),
        mbv3_op(ef=3, n=40, k=3, s=1),
        mbv3_op(ef=6, n=80, k=3, s=2),
        mbv3_op(ef=2.5, n=80, k=3, s=1),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1),
        mbv3_op(ef=184 / 80., n=80, k=3, s=1),
        mbv3_op(ef=6, n=112, k=3, s=1),
        mbv3_op(ef=6, n=112, k=3, s=1),
        mbv3_op(ef=6, n=160, k=3, s=2),
        mbv3_op(ef=6, n=160, k=3, s=1),
        mbv3_op(ef=6, n=160, k=3, s=1),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=960),
        op(ops.reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280, normalizer_fn=None),
    ])

V3_SMALL_MINIMALISTIC = dict(
    defaults=dict(DEFAULTS),
    spec=[
        op(tf_slim.conv2d, stride=2, num_outputs=16, kernel_size=(3, 3)),
        mbv3_op(ef=1, n=16, k=3, s=2),
        mbv3_op(ef=72. / 16, n=24, k=3, s=2),
        mbv3_op(ef=88. / 24, n=24, k=3, s=1),
        mbv3_op(ef=4, n=40, k=3, s=2),
        mbv3_op(ef=6, n=40, k=3, s=1),
        mbv3_op(ef=6, n=40, k=3, s=1),
        mbv3_op(ef=3, n=48, k=3, s=1),
        mbv3_op(ef=3, n=48, k=3, s=1),
        mbv3_op(ef=6, n=96, k=3, s=2),
        mbv3_op(ef=6, n=96, k=3, s=1),
        mbv3_op(ef=6, n=96, k=3, s=1),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=576),
        op(ops.reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
        op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1024, normalizer_fn=None),
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
# The original's names of the same tables (its object-detection backbones).
V3_LARGE_DETECTION = V3_LARGE_SEG
V3_SMALL_DETECTION = V3_SMALL_SEG


# What this module fixes for the shared builders.
MODULE_DEFAULTS = lib.ModuleDefaults(scope=SCOPE, conv_defs=V3_LARGE)

mobilenet = lib.wrapped_partial(
    lib.module_mobilenet, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""A MobileNetV3 classifier: scope 'MobilenetV3', table `V3_LARGE` unless `conv_defs`.

    Args and returns as `mobilenet.module_mobilenet` (without `defaults`); finegrain mode keeps
    the last conv (`Conv_2`) at full width for every multiplier.
    """)

mobilenet_base = lib.wrapped_partial(
    lib.module_mobilenet_base, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""The MobileNetV3 feature layers of `conv_defs` (default `V3_LARGE`), no classifier.

    Args and returns as `mobilenet.module_mobilenet_base` (without `defaults`).
    """)

# pyformat: disable
large = lib.wrapped_partial(mobilenet, conv_defs=V3_LARGE,
                            doc='MobileNetV3-Large (224: 217M MAdds). Args as `mobilenet`.')
small = lib.wrapped_partial(mobilenet, conv_defs=V3_SMALL,
                            doc='MobileNetV3-Small (224: 56.5M MAdds). Args as `mobilenet`.')
large_seg = lib.wrapped_partial(
    mobilenet, conv_defs=V3_LARGE_SEG,
    doc="DeepLab's MobileNetV3-Large backbone (last stage halved). Args as `mobilenet`.")
small_seg = lib.wrapped_partial(
    mobilenet, conv_defs=V3_SMALL_SEG,
    doc="DeepLab's MobileNetV3-Small backbone (last stage halved). Args as `mobilenet`.")
large_minimalistic = lib.wrapped_partial(
    mobilenet, conv_defs=V3_LARGE_MINIMALISTIC,
    doc='MobileNetV3-Large minimalistic (no SE, hard-swish or 5x5). Args as `mobilenet`.')
small_minimalistic = lib.wrapped_partial(
    mobilenet, conv_defs=V3_SMALL_MINIMALISTIC,
    doc='MobileNetV3-Small minimalistic (no SE, hard-swish or 5x5). Args as `mobilenet`.')
# pyformat: enable

training_scope = lib.training_scope
# The original module exports these helpers too.
wrapped_partial = lib.wrapped_partial
reduce_to_1x1 = ops.reduce_to_1x1
