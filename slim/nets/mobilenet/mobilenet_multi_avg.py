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

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tf_slim

from slim.nets.mobilenet import conv_blocks as ops
from slim.nets.mobilenet import mobilenet as lib
from slim.nets.mobilenet import mobilenet_v3

op = lib.op
expand_input = ops.expand_input_by_factor

# Variable scope of both tables (our choice, see the module docstring).
SCOPE = 'MobilenetMultiAVG'


def _ib(ef, n, k, s=1):
  """One ReLU inverted bottleneck (expansion `ef` of the input depth, k x k depthwise)."""
  return op(ops.expanded_conv, expansion_size=expand_input(ef), kernel_size=(k, k), stride=s,
            num_outputs=n)


# Architecture defaults: MobileNetV3's (BN everywhere, ReLU, residual blocks); the blocks above
# pass no h-swish or squeeze-excite. Training settings are training_scope's.
DEFAULTS = mobilenet_v3.DEFAULTS

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


def _table(last_stage, last_conv_channels):
  """A Multi-AVG table: the shared stem and stages 1-4, then `last_stage` and the head."""
  return dict(defaults=dict(DEFAULTS),
              spec=_STEM_AND_STAGES_1_TO_4 + last_stage + _head(last_conv_channels))


# Last stage (blocks 14-16) and the 1x1 conv after it: the classification net ...
MULTI_AVG = _table([_ib(4, 192, 5), _ib(4, 192, 5), _ib(4, 192, 5)], 960)
# ... and MOSAIC's Seg backbone (last stage halved, expansions 2, 4, 4).
MULTI_AVG_SEG = _table([_ib(2, 96, 5), _ib(4, 96, 5), _ib(4, 96, 5)], 448)

# What this module fixes for the shared builders.
MODULE_DEFAULTS = lib.ModuleDefaults(scope=SCOPE, conv_defs=MULTI_AVG,
                                     finegrain_below_one_only=True)

mobilenet = lib.wrapped_partial(
    lib.module_mobilenet, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""A Multi-HW-AVG classifier: scope 'MobilenetMultiAVG', table `MULTI_AVG` by default.

    Args and returns as `mobilenet.module_mobilenet` (without `defaults`).
    """)

mobilenet_base = lib.wrapped_partial(
    lib.module_mobilenet_base, MODULE_DEFAULTS, new_defaults={'scope': SCOPE},
    doc="""The Multi-HW-AVG feature layers of `conv_defs` (default `MULTI_AVG`), no classifier.

    Args and returns as `mobilenet.module_mobilenet_base` (without `defaults`).
    """)

multi_avg = lib.wrapped_partial(mobilenet, conv_defs=MULTI_AVG,
                                doc='MobileNet Multi-HW-AVG (224). Args as `mobilenet`.')
multi_avg_seg = lib.wrapped_partial(
    mobilenet, conv_defs=MULTI_AVG_SEG,
    doc="MOSAIC's Multi-HW-AVG Seg backbone with a classification head. Args as `mobilenet`.")

training_scope = lib.training_scope
