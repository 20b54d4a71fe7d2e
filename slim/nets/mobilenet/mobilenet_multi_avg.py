"""MobileNet Multi-HW-AVG ("MobileNetV3.5", Chu et al. arXiv 2008.08178) and its Seg variant.

Model Garden defines these only as Keras block specs (no TF1 checkpoint exists), so the variable
scope is our choice: 'MobilenetMultiAVG' for both tables, so that an ImageNet checkpoint of the
classification net initializes every shared layer of the Seg backbone by name (as DeepLab's
MobileNetV3 `_seg` variants share 'MobilenetV3'). Layer names follow the slim MobileNet builder:
'Conv', 'expanded_conv[_N]/{expand, depthwise, project}', 'Conv_1', 'AvgPool', 'Conv_2'.

All blocks use ReLU, no squeeze-excite and no h-swish. As in Model Garden, the 1280-channel head
conv has batch norm and no bias ("to support QAT"). The Seg table (MOSAIC's backbone) halves the
last stage (blocks 14-16: k5, 96 filters, expansions 2, 4, 4) and its 1x1 conv has 448 channels
(DeepLab final end point 'layer_18'); for classification it keeps the pool + 1280 head.
"""

import copy
import functools

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import conv_blocks as ops
from slim.nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor

# Variable scope of both tables (our choice, see the module docstring).
SCOPE = 'MobilenetMultiAVG'


def _ib(ef, n, k, s=1):
  """One ReLU inverted bottleneck (expansion `ef` of the input depth, k x k depthwise)."""
  return op(ops.expanded_conv, expansion_size=expand_input(ef), kernel_size=(k, k), stride=s,
            num_outputs=n)


# Architecture defaults: BN everywhere, ReLU, residual blocks (training settings: training_scope).
DEFAULTS = {
    (ops.expanded_conv,): dict(normalizer_fn=tf_slim.batch_norm, residual=True),
    (tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d): {
        'normalizer_fn': tf_slim.batch_norm,
        'activation_fn': tf.nn.relu,
    },
    (tf_slim.batch_norm,): {'center': True, 'scale': True},
}

# The last stage (blocks 13-16) and the head differ between the two tables.
_STEM_AND_STAGES_1_TO_4 = [
    op(tf_slim.conv2d, stride=2, num_outputs=32, kernel_size=(3, 3)),
    _ib(3, 32, 3, s=2),
    _ib(2, 32, 3),
    _ib(5, 64, 5, s=2),
    _ib(3, 64, 3),
    _ib(2, 64, 3),
    _ib(3, 64, 3),
    _ib(6, 128, 5, s=2),
    _ib(3, 128, 3),
    _ib(3, 128, 3),
    _ib(3, 128, 3),
    _ib(6, 160, 3),
    _ib(4, 160, 3),
    _ib(6, 192, 3, s=2),
]


def _head(last_conv_channels):
  """1x1 conv, pool to 1x1, 1280 conv with BN (no bias)."""
  return [
      op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=last_conv_channels),
      op(ops.reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
      op(tf_slim.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280),
  ]


# pyformat: disable
MULTI_AVG = dict(
    defaults=dict(DEFAULTS),
    spec=_STEM_AND_STAGES_1_TO_4 + [
        _ib(4, 192, 5),
        _ib(4, 192, 5),
        _ib(4, 192, 5),
    ] + _head(960))

MULTI_AVG_SEG = dict(
    defaults=dict(DEFAULTS),
    spec=_STEM_AND_STAGES_1_TO_4 + [
        _ib(2, 96, 5),
        _ib(4, 96, 5),
        _ib(4, 96, 5),
    ] + _head(448))
# pyformat: enable


def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
              min_depth=None, divisible_by=None, **kwargs):
  """Builds a Multi-HW-AVG classifier (MULTI_AVG by default).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    num_classes: Logits width; 0/None returns the embedding.
    depth_multiplier: Channel multiplier.
    scope: Variable scope.
    conv_defs: Architecture table.
    min_depth: Minimum channels after the multiplier (None keeps 8).
    divisible_by: Channel rounding (None keeps 8).
    **kwargs: Passed to `mobilenet.mobilenet` (is_training, reuse, ...).

  Returns:
    (logits, end_points) as `mobilenet.mobilenet`.
  """
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet(input_tensor, num_classes=num_classes,
                         conv_defs=copy.deepcopy(conv_defs or MULTI_AVG), scope=scope,
                         multiplier=depth_multiplier, **kwargs)


def mobilenet_base(input_tensor, depth_multiplier=1.0, scope=SCOPE, conv_defs=None,
                   min_depth=None, divisible_by=None, **kwargs):
  """Builds the Multi-HW-AVG feature layers of `conv_defs` (no classifier).

  Args:
    input_tensor: A 4-D NHWC float tensor.
    depth_multiplier: Channel multiplier.
    scope: Variable scope (string or VariableScope).
    conv_defs: Architecture table (default MULTI_AVG).
    min_depth: Minimum channels after the multiplier (None keeps 8).
    divisible_by: Channel rounding (None keeps 8).
    **kwargs: Passed to `mobilenet.mobilenet_base`.

  Returns:
    (net, end_points).
  """
  with lib.depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return lib.mobilenet_base(input_tensor, conv_defs=copy.deepcopy(conv_defs or MULTI_AVG),
                              multiplier=depth_multiplier, scope=scope, **kwargs)


multi_avg = functools.partial(mobilenet, conv_defs=MULTI_AVG)
multi_avg_seg = functools.partial(mobilenet, conv_defs=MULTI_AVG_SEG)

training_scope = lib.training_scope
