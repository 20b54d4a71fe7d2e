"""Xception-41/65/71 as DeepLab modified them (core/xception.py), as data, with the same names.

A variant is a block table walked by one builder, `xception`:

  inputs -> entry_flow/conv1_1 (3x3/2, 32) -> entry_flow/conv1_2 (3x3, 64)
         -> entry_flow/blockN, middle_flow/block1 (xception modules), exit_flow/block1..2
         -> [global_pool] -> [prelogits_dropout -> logits 1x1 conv with biases] -> [SpatialSqueeze]

Every xception module holds three separable convs and a skip connection:

  inputs --+--> [relu] sep_conv1 --> [relu] sep_conv2 --> [relu] sep_conv3 /stride --+
           |                                                                         (+) -> out
           +--> 'conv': shortcut 1x1 conv /stride (no act) | 'sum': inputs | 'none' -+

With `activation_fn_in_separable_conv` the ReLU follows each separable conv instead of preceding
it (exit_flow/block2). Unless `regularize_depthwise`, a separable conv is split in two convs,
`separable_convK_depthwise` (weights `depthwise_weights`, BN, no L2) and
`separable_convK_pointwise` (1x1, BN, L2): these are the names of the released checkpoints
(e.g. `xception_65/entry_flow/block1/unit_1/xception_module/separable_conv1_depthwise/
depthwise_weights`). With `regularize_depthwise` it is one `separable_convK` op (L2 on both).

Usage:

  with tf_slim.arg_scope(xception.xception_arg_scope()):
    logits, end_points = xception.xception_65(images, num_classes=1001, is_training=False)
"""

import collections
import functools

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import deep_backbone
from slim.nets import partials
from slim.nets import resnet_utils

# Graph names (checkpoint API).
MODULE_NAME = 'xception_module'
SEPARABLE_CONV_NAME = 'separable_conv%d'
DEPTHWISE_SUFFIX = '_depthwise'
POINTWISE_SUFFIX = '_pointwise'
SHORTCUT_NAME = 'shortcut'
ROOT_CONV_NAMES = ('entry_flow/conv1_1', 'entry_flow/conv1_2')
GLOBAL_POOL_NAME = 'global_pool'
DROPOUT_NAME = 'prelogits_dropout'
LOGITS_NAME = 'logits'
SQUEEZE_NAME = 'SpatialSqueeze'
PREDICTIONS_NAME = 'predictions'
DEFAULT_SCOPE = 'xception'

# Skip connection types of an xception module.
SKIP_CONV = 'conv'
SKIP_SUM = 'sum'
SKIP_NONE = 'none'
_SKIP_TYPES = (SKIP_CONV, SKIP_SUM, SKIP_NONE)

# The stem downsamples by 2 (conv1_1): output_stride is divided by this.
ROOT_STRIDE = 2
# Stem: (conv scope, output depth, kernel size, stride).
ROOT_BLOCK = ((ROOT_CONV_NAMES[0], 32, 3, 2), (ROOT_CONV_NAMES[1], 64, 3, 1))
# Bound of the clipped activations of `use_bounded_activation` (quantization friendly).
CLIP_CAP = 6.0

# One row of a block table: every unit of the block is the same xception module. `multi_grid`
# (the unit rates of the three separable convs) applies to the rows with takes_multi_grid.
XceptionBlockDef = collections.namedtuple('XceptionBlockDef', [
    'scope', 'depth_list', 'skip_connection_type', 'activation_fn_in_separable_conv',
    'num_units', 'stride', 'takes_multi_grid'])


def _entry(scope, depth, num_units=1, stride=2):
  return XceptionBlockDef(scope, (depth,) * 3, SKIP_CONV, False, num_units, stride, False)


def _middle(num_units):
  return XceptionBlockDef('middle_flow/block1', (728,) * 3, SKIP_SUM, False, num_units, 1, False)


_EXIT_FLOW = (
    XceptionBlockDef('exit_flow/block1', (728, 1024, 1024), SKIP_CONV, False, 1, 2, False),
    XceptionBlockDef('exit_flow/block2', (1536, 1536, 2048), SKIP_NONE, True, 1, 1, True),
)
# Block tables of DeepLab's variants.
XCEPTION_41_BLOCKS = (_entry('entry_flow/block1', 128), _entry('entry_flow/block2', 256),
                      _entry('entry_flow/block3', 728), _middle(8)) + _EXIT_FLOW
XCEPTION_65_BLOCKS = (_entry('entry_flow/block1', 128), _entry('entry_flow/block2', 256),
                      _entry('entry_flow/block3', 728), _middle(16)) + _EXIT_FLOW
XCEPTION_71_BLOCKS = (_entry('entry_flow/block1', 128), _entry('entry_flow/block2', 256, stride=1),
                      _entry('entry_flow/block3', 256), _entry('entry_flow/block4', 728, stride=1),
                      _entry('entry_flow/block5', 728), _middle(16)) + _EXIT_FLOW
# Variant name -> block table; the variant name is also its default variable scope.
VARIANTS = {
    'xception_41': XCEPTION_41_BLOCKS,
    'xception_65': XCEPTION_65_BLOCKS,
    'xception_71': XCEPTION_71_BLOCKS,
}
# Rates of the three separable convs of the multi_grid block when none are given.
DEFAULT_MULTI_GRID = (1, 1, 1)
# Classification input size.
DEFAULT_IMAGE_SIZE = 299


@tf_slim.add_arg_scope
def separable_conv2d_same(inputs, num_outputs, kernel_size, depth_multiplier, stride, rate=1,
                          use_explicit_padding=True, regularize_depthwise=False, scope=None,
                          **kwargs):
  """A separable conv, split in `<scope>_depthwise` + `<scope>_pointwise` unless regularized.

  With stride > 1 and explicit padding, the input is padded as a stride-1 'SAME' conv would and
  convolved 'VALID', so the output does not depend on the input size parity.

  Args:
    inputs: A 4-D NHWC tensor.
    num_outputs: Output depth of the pointwise conv.
    kernel_size: Integer kernel size of the depthwise conv.
    depth_multiplier: Depthwise channel multiplier.
    stride: Depthwise stride.
    rate: Depthwise atrous rate.
    use_explicit_padding: Pad explicitly for strided convs.
    regularize_depthwise: One `separable_conv2d` op (whose weights the arg scope regularizes)
      instead of the split depthwise/pointwise pair.
    scope: Variable scope (base name).
    **kwargs: Passed to both convs (e.g. activation_fn).

  Returns:
    The output tensor.
  """
  padding = 'SAME'
  if stride > 1 and use_explicit_padding:
    inputs = resnet_utils.fixed_padding(inputs, kernel_size, rate)
    padding = 'VALID'
  if regularize_depthwise:
    return tf_slim.separable_conv2d(inputs, num_outputs, kernel_size,
                                    depth_multiplier=depth_multiplier, stride=stride, rate=rate,
                                    padding=padding, scope=scope, **kwargs)
  # num_outputs=None makes separable_conv2d a depthwise conv ('depthwise_weights').
  outputs = tf_slim.separable_conv2d(inputs, None, kernel_size, depth_multiplier=depth_multiplier,
                                     stride=stride, rate=rate, padding=padding,
                                     scope=scope + DEPTHWISE_SUFFIX, **kwargs)
  return tf_slim.conv2d(outputs, num_outputs, 1, scope=scope + POINTWISE_SUFFIX, **kwargs)


@tf_slim.add_arg_scope
def xception_module(inputs, depth_list, skip_connection_type, stride, kernel_size=3,
                    unit_rate_list=None, rate=1, activation_fn_in_separable_conv=False,
                    regularize_depthwise=False, outputs_collections=None, scope=None,
                    use_bounded_activation=False, use_explicit_padding=True,
                    use_squeeze_excite=False, se_pool_size=None):
  """One xception module: three separable convs and a skip connection (see the module doc).

  Args:
    inputs: A 4-D NHWC tensor.
    depth_list: Output depths of the three separable convs.
    skip_connection_type: 'conv', 'sum' or 'none'.
    stride: Stride of the last separable conv (and of the 'conv' shortcut).
    kernel_size: Depthwise kernel size.
    unit_rate_list: Rate multipliers of the three separable convs; None -> (1, 1, 1).
    rate: Atrous rate set by the output stride.
    activation_fn_in_separable_conv: ReLU after each separable conv instead of before it.
    regularize_depthwise: Use one regularized separable conv op (see separable_conv2d_same).
    outputs_collections: Collection receiving the output by scope name.
    scope: Variable scope; defaults to 'xception_module'.
    use_bounded_activation: ReLU6 and clipping to [-6, 6] instead of ReLU (for quantization).
    use_explicit_padding: Pad strided convs explicitly.
    use_squeeze_excite: The original's squeeze-and-excite after the separable convs: not
      implemented here (no released checkpoint uses it); True raises.
    se_pool_size: Pooling size of that squeeze-and-excite (unused).

  Returns:
    The module's output tensor.

  Raises:
    ValueError: if depth_list or unit_rate_list does not have 3 elements, the skip connection
      type is unknown, or use_squeeze_excite is set (the original messages, details after).
  """
  del se_pool_size
  if len(depth_list) != 3:
    raise ValueError('Expect three elements in depth_list. (got %r)' % (list(depth_list),))
  if unit_rate_list is None:
    unit_rate_list = DEFAULT_MULTI_GRID
  if len(unit_rate_list) != 3:
    raise ValueError('Expect three elements in unit_rate_list. (got %r)' %
                     (list(unit_rate_list),))
  if skip_connection_type not in _SKIP_TYPES:
    raise ValueError('Unsupported skip connection type. (got %r; expected one of %s)' %
                     (skip_connection_type, ', '.join(_SKIP_TYPES)))
  if use_squeeze_excite:
    raise ValueError('use_squeeze_excite=True: the squeeze-and-excite xception module is not '
                     'implemented here (expected False).')
  clip = lambda x: tf.clip_by_value(x, -CLIP_CAP, CLIP_CAP)
  with tf.compat.v1.variable_scope(scope, MODULE_NAME, [inputs]) as sc:
    residual = inputs
    for i in range(3):
      if activation_fn_in_separable_conv:
        activation_fn = tf.nn.relu6 if use_bounded_activation else tf.nn.relu
      elif use_bounded_activation:
        activation_fn = clip
        residual = tf.nn.relu6(residual)
      else:
        activation_fn = None
        residual = tf.nn.relu(residual)
      residual = separable_conv2d_same(
          residual, depth_list[i], kernel_size, depth_multiplier=1,
          stride=stride if i == 2 else 1, rate=rate * unit_rate_list[i],
          activation_fn=activation_fn, use_explicit_padding=use_explicit_padding,
          regularize_depthwise=regularize_depthwise, scope=SEPARABLE_CONV_NAME % (i + 1))
    if skip_connection_type == SKIP_NONE:
      outputs = residual
    else:
      if skip_connection_type == SKIP_CONV:
        shortcut = tf_slim.conv2d(inputs, depth_list[-1], [1, 1], stride=stride,
                                  activation_fn=None, scope=SHORTCUT_NAME)
      else:
        shortcut = inputs
      if use_bounded_activation:
        residual = clip(residual)
        shortcut = clip(shortcut)
      outputs = residual + shortcut
      if use_bounded_activation:
        outputs = tf.nn.relu6(outputs)
    return tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def xception_blocks(block_table, multi_grid=None, regularize_depthwise=False, kernel_size=3):
  """Turns a block table into `resnet_utils.Block` records of xception modules.

  Args:
    block_table: `XceptionBlockDef` rows.
    multi_grid: Unit rates (3 values) of the rows marked takes_multi_grid; None -> (1, 1, 1).
    regularize_depthwise: Passed to every module.
    kernel_size: Depthwise kernel size of every module.

  Returns:
    A list of `resnet_utils.Block`.

  Raises:
    ValueError: if multi_grid does not have 3 values.
  """
  if multi_grid is not None and len(multi_grid) != 3:
    raise ValueError('Expect multi_grid to have length 3. (got %r)' % (list(multi_grid),))
  blocks = []
  for row in block_table:
    unit = {
        'depth_list': tuple(row.depth_list),
        'skip_connection_type': row.skip_connection_type,
        'activation_fn_in_separable_conv': row.activation_fn_in_separable_conv,
        'regularize_depthwise': regularize_depthwise,
        'stride': row.stride,
        'kernel_size': kernel_size,
        'unit_rate_list': tuple((multi_grid if row.takes_multi_grid and multi_grid is not None
                                 else DEFAULT_MULTI_GRID)),
    }
    blocks.append(resnet_utils.Block(row.scope, xception_module, [unit] * row.num_units))
  return blocks


def xception(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
             keep_prob=0.5, output_stride=None, spatial_squeeze=True, reuse=None, scope=None):
  """Builds an Xception network from xception-module blocks.

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `resnet_utils.Block` (see `xception_blocks`).
    num_classes: Number of logits; None or 0 returns the features.
    is_training: Batch-norm and dropout training mode.
    global_pool: Average the last features spatially ('global_pool', keepdims).
    keep_prob: Keep probability of the dropout before the logits.
    output_stride: Ratio of input to output resolution (even); None is nominal (32).
    spatial_squeeze: Squeeze [N, 1, 1, C] logits to [N, C] ('SpatialSqueeze'; an addition: the
      DeepLab original returns the 4-D logits).
    reuse: Reuse the variables.
    scope: Variable scope (string or VariableScope); default 'xception'.

  Returns:
    (net, end_points): logits (or features) and a dict of end points keyed by full scope name
    ('<scope>/entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise', ...), plus
    'global_pool', '<scope>/logits' and 'predictions'.

  Raises:
    ValueError: if output_stride is odd or cannot be reached.
  """
  with resnet_utils.scope_all(scope, DEFAULT_SCOPE, inputs, reuse) as sc:
    end_points_collection = sc.original_name_scope + 'end_points'
    with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.separable_conv2d, xception_module,
                            resnet_utils.stack_blocks_dense],
                           outputs_collections=end_points_collection), \
        tf_slim.arg_scope([tf_slim.batch_norm], is_training=is_training):
      net, end_points = resnet_utils.stem_and_blocks(
          inputs, functools.partial(resnet_utils.stem, root_block=ROOT_BLOCK), blocks,
          output_stride, root_stride=ROOT_STRIDE, end_points_collection=end_points_collection)
      if global_pool:
        net = tf.reduce_mean(net, [1, 2], name=GLOBAL_POOL_NAME, keepdims=True)
        end_points[GLOBAL_POOL_NAME] = net
      if num_classes:
        net = tf_slim.dropout(net, keep_prob=keep_prob, is_training=is_training,
                              scope=DROPOUT_NAME)
        net = tf_slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                             scope=LOGITS_NAME)
        end_points['%s/%s' % (sc.name, LOGITS_NAME)] = net
        if spatial_squeeze:
          net = tf.squeeze(net, [1, 2], name=SQUEEZE_NAME)
        end_points[PREDICTIONS_NAME] = tf_slim.softmax(net, scope=PREDICTIONS_NAME)
  return net, end_points


def build_variant(variant, inputs, num_classes=None, is_training=True, global_pool=True,
                  keep_prob=0.5, output_stride=None, spatial_squeeze=True,
                  regularize_depthwise=False, multi_grid=None, reuse=None, scope=None):
  """Builds the Xception `variant` ('xception_41', 'xception_65' or 'xception_71').

  Args:
    variant: A key of VARIANTS.
    inputs, num_classes, is_training, global_pool, keep_prob, output_stride, spatial_squeeze,
      reuse: as `xception`.
    regularize_depthwise: One regularized separable conv op per separable conv (other names).
    multi_grid: Rates of the exit_flow/block2 separable convs (3 values).
    scope: Variable scope; None -> the variant name.

  Returns:
    (net, end_points) as `xception`.

  Raises:
    ValueError: on an unknown variant (listing the valid ones) or bad multi_grid/output_stride.
  """
  if variant not in VARIANTS:
    raise ValueError('Unknown Xception variant %r; valid names: %s' %
                     (variant, ', '.join(sorted(VARIANTS))))
  blocks = xception_blocks(VARIANTS[variant], multi_grid=multi_grid,
                           regularize_depthwise=regularize_depthwise)
  return xception(inputs, blocks, num_classes=num_classes, is_training=is_training,
                  global_pool=global_pool, keep_prob=keep_prob, output_stride=output_stride,
                  spatial_squeeze=spatial_squeeze, reuse=reuse, scope=scope or variant)


xception.default_image_size = DEFAULT_IMAGE_SIZE
build_variant.default_image_size = DEFAULT_IMAGE_SIZE

def _variant(name, doc):
  """`build_variant` with `name` bound; the default scope is the variant name, as the original."""
  return partials.wrapped_partial(build_variant, name, new_defaults={'scope': name}, doc=doc)


# The variants.
# pyformat: disable
xception_41 = _variant(
    'xception_41', 'Xception-41 (middle flow 8 units). Args/returns as `build_variant`.')
xception_65 = _variant(
    'xception_65',
    'Xception-65 (entry flow 3 blocks, middle flow 16 units). Args/returns as `build_variant`.')
xception_71 = _variant(
    'xception_71', 'Xception-71 (entry flow 5 blocks). Args/returns as `build_variant`.')
# pyformat: enable


def xception_arg_scope(weight_decay=0.00004, batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
                       batch_norm_scale=True, weights_initializer_stddev=0.09,
                       regularize_depthwise=False, use_batch_norm=True,
                       use_bounded_activation=False):
  """DeepLab's Xception arg scope: truncated-normal init, BN, ReLU, L2 on conv2d weights.

  Args:
    weight_decay: L2 weight decay of conv2d (and pointwise) weights.
    batch_norm_decay: Batch-norm moving-average decay.
    batch_norm_epsilon: Batch-norm epsilon.
    batch_norm_scale: Whether batch norm learns gamma.
    weights_initializer_stddev: Truncated-normal stddev.
    regularize_depthwise: Also regularize separable_conv2d weights (depthwise ones included).
    use_batch_norm: Follow convs with batch norm.
    use_bounded_activation: ReLU6 everywhere and no explicit padding (as the original).

  Returns:
    An arg scope dict for `tf_slim.arg_scope`.
  """
  batch_norm_params = resnet_utils.batch_norm_arguments(batch_norm_decay, batch_norm_epsilon,
                                                        batch_norm_scale)
  depthwise_regularizer = tf_slim.l2_regularizer(weight_decay) if regularize_depthwise else None
  with tf_slim.arg_scope(
      [tf_slim.conv2d, tf_slim.separable_conv2d],
      weights_initializer=tf.compat.v1.truncated_normal_initializer(
          stddev=weights_initializer_stddev),
      activation_fn=tf.nn.relu6 if use_bounded_activation else tf.nn.relu,
      normalizer_fn=tf_slim.batch_norm if use_batch_norm else None):
    with tf_slim.arg_scope([tf_slim.batch_norm], **batch_norm_params):
      with tf_slim.arg_scope([tf_slim.conv2d],
                             weights_regularizer=tf_slim.l2_regularizer(weight_decay)):
        with tf_slim.arg_scope([tf_slim.separable_conv2d],
                               weights_regularizer=depthwise_regularizer):
          with tf_slim.arg_scope([xception_module],
                                 use_bounded_activation=use_bounded_activation,
                                 use_explicit_padding=not use_bounded_activation) as arg_sc:
            return arg_sc


# --- Facts for the registry's deep-backbone adapter (slim.nets.deep_backbone) ---------------

# Batch norm of DeepLab's Xception backbones (feature_extractor.py).
DEEPLAB_BN_DECAY = 0.9997
DEEPLAB_BN_EPSILON = 0.001
# The last end point DeepLab builds (the whole network body).
DEEPLAB_FINAL_ENDPOINT = 'exit_flow/block2'
# DeepLab decoder end points {output stride: end point} (bare names, under the variant's scope).
DECODER_END_POINTS = {
    'xception_41': {4: 'entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise',
                    8: 'entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise',
                    16: 'exit_flow/block1/unit_1/xception_module/separable_conv2_pointwise'},
    'xception_65': {4: 'entry_flow/block2/unit_1/xception_module/separable_conv2_pointwise',
                    8: 'entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise',
                    16: 'exit_flow/block1/unit_1/xception_module/separable_conv2_pointwise'},
    'xception_71': {4: 'entry_flow/block3/unit_1/xception_module/separable_conv2_pointwise',
                    8: 'entry_flow/block5/unit_1/xception_module/separable_conv2_pointwise',
                    16: 'exit_flow/block1/unit_1/xception_module/separable_conv2_pointwise'},
}

# The variant name is also its variable scope.
FAMILY = deep_backbone.DeepFamily(
    build_variant=build_variant,
    arg_scope=xception_arg_scope,
    scopes={name: name for name in VARIANTS},
    decoder_end_points=DECODER_END_POINTS,
    deeplab_final_endpoint=DEEPLAB_FINAL_ENDPOINT,
    deeplab_bn_decay=DEEPLAB_BN_DECAY,
    deeplab_bn_epsilon=DEEPLAB_BN_EPSILON,
    default_image_size=DEFAULT_IMAGE_SIZE,
    predictions_end_point=PREDICTIONS_NAME,
    regularize_depthwise_option=True,
)
