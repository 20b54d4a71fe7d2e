"""MobileNetV2 architecture table (V2_DEF); `mobilenet`/`mobilenet_base` are the shared builders.

Usage:

  with tf_slim.arg_scope(mobilenet_v2.training_scope(is_training=False)):
    logits, end_points = mobilenet_v2.mobilenet(images, num_classes=1001)
"""

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


# What this module fixes for the shared builders (V2's finegrain mode acts below 1.0 only).
MODULE_DEFAULTS = lib.ModuleDefaults(scope=SCOPE, conv_defs=V2_DEF, finegrain_below_one_only=True)

mobilenet_base = lib.wrapped_partial(
    lib.module_mobilenet_base, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""The MobileNetV2 feature layers (no classifier): scope 'MobilenetV2', table `V2_DEF`.

    Args and returns as `mobilenet.module_mobilenet_base` (without `defaults`).
    """)

mobilenet = lib.wrapped_partial(
    lib.module_mobilenet, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""The MobileNetV2 classifier (base + `Conv_1` 1280 + global pool + logits).

    Args and returns as `mobilenet.module_mobilenet` (without `defaults`); scope 'MobilenetV2',
    table `V2_DEF`; finegrain mode keeps `Conv_1` at 1280 for multipliers below 1 only, and
    `activation_fn` replaces relu6 everywhere.
    """)

# slim's named multipliers of the released classification checkpoints.
mobilenet_v2_100 = lib.wrapped_partial(
    mobilenet, depth_multiplier=1.0, doc='MobileNetV2 1.0 (224: 300M MAdds). Args as `mobilenet`.')
mobilenet_v2_140 = lib.wrapped_partial(
    mobilenet, depth_multiplier=1.4, doc='MobileNetV2 1.4 (all layers 1.4x). Args as `mobilenet`.')
mobilenet_v2_050 = lib.wrapped_partial(
    mobilenet, depth_multiplier=0.5, finegrain_classification_mode=True,
    doc='MobileNetV2 0.5 with a full-width (1280) last conv. Args as `mobilenet`.')
mobilenet_v2_035 = lib.wrapped_partial(
    mobilenet, depth_multiplier=0.35, finegrain_classification_mode=True,
    doc='MobileNetV2 0.35 with a full-width (1280) last conv. Args as `mobilenet`.')

training_scope = lib.training_scope
