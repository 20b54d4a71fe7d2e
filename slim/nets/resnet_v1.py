"""ResNet-v1 (slim's nets/resnet_v1.py API), with DeepLab's `_beta` stem and `multi_grid`, as data.

A variant is a stem table plus a stage table, walked by one builder, `build_resnet`:

  inputs -> [root: stem convs (conv1, or conv1_1..conv1_3 for beta) -> pool1 (3x3 max /2)]
         -> block1..block4 (bottleneck units; the last unit of block1..3 has stride 2)
         -> [pool5 global mean] -> [logits 1x1 conv with biases] -> [SpatialSqueeze]

slim's public functions keep their names, signatures and defaults: `bottleneck`, `resnet_v1`
(a `blocks` list), `resnet_v1_block`, `resnet_v1_50/101/152/200`; DeepLab's
`deeplab/core/resnet_v1_beta.py` is a thin module over the same builder and units (its
bottleneck with `unit_rate`, `lite_bottleneck`, weight-standardized convs through `conv_fn`).
Variable and end point names are those of the originals (and so of their released
checkpoints), e.g. `resnet_v1_50/block1/unit_1/bottleneck_v1/conv2/weights`.
`multi_grid` gives the unit rates of the last block (DeepLab); its conv2 runs at
`rate * unit_rate`, where `rate` comes from the output stride.

Usage:

  with tf_slim.arg_scope(resnet_utils.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1_50(images, num_classes=1000, is_training=False)
"""

import collections
import contextlib

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import deep_backbone
from slim.nets import partials
from slim.nets import resnet_utils

# Graph names (checkpoint API).
DEFAULT_SCOPE = 'resnet_v1'
UNIT_NAME = 'bottleneck_v1'
LITE_UNIT_NAME = 'lite_bottleneck_v1'
SHORTCUT_NAME = 'shortcut'
POOL1_NAME = 'pool1'
GLOBAL_POOL_NAME = 'pool5'
LOGITS_NAME = 'logits'
SQUEEZE_NAME = 'SpatialSqueeze'
PREDICTIONS_NAME = 'predictions'
# End point keys outside the scope-named collection (as the original).
GLOBAL_POOL_END_POINT = 'global_pool'
PREDICTIONS_END_POINT = 'predictions'
# Suffixes of '<scope>/...' end point keys.
LOGITS_END_POINT = LOGITS_NAME
SQUEEZE_END_POINT = 'spatial_squeeze'

# The stem downsamples by 4 (strided conv + pool1): output_stride is divided by this.
ROOT_STRIDE = 4
# Stems: (conv scope, output depth, kernel size, stride) per conv, applied before pool1.
ROOT_BLOCK = (('conv1', 64, 7, 2),)
# DeepLab's beta stem: three 3x3 convs replace the 7x7 one.
ROOT_BLOCK_BETA = (('conv1_1', 64, 3, 2), ('conv1_2', 64, 3, 1), ('conv1_3', 128, 3, 1))
# Bound of use_bounded_activations (quantization friendly ReLU6 / clipping).
CLIP_CAP = 6.0

# Stage tables: (block scope, base depth, number of units, stride of the last unit).
# A unit outputs 4 * base depth channels through a base-depth bottleneck.
RESNET_V1_50_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 6, 2),
                       ('block4', 512, 3, 1))
RESNET_V1_101_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 23, 2),
                        ('block4', 512, 3, 1))
RESNET_V1_152_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 8, 2), ('block3', 256, 36, 2),
                        ('block4', 512, 3, 1))
RESNET_V1_200_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 24, 2), ('block3', 256, 36, 2),
                        ('block4', 512, 3, 1))
# DeepLab's ResNet-18 (lite units: the depth is the output depth).
RESNET_V1_18_BLOCKS = (('block1', 64, 2, 2), ('block2', 128, 2, 2), ('block3', 256, 2, 2),
                       ('block4', 512, 2, 1))
# Bottleneck expansion: output depth / base depth.
EXPANSION = 4

ResNetDef = collections.namedtuple('ResNetDef', ['scope', 'root_block', 'blocks'])

# Variant name -> (default variable scope, stem, stage table). The beta variants keep the non-beta
# scope, as DeepLab's checkpoints do.
VARIANTS = {
    'resnet_v1_50': ResNetDef('resnet_v1_50', ROOT_BLOCK, RESNET_V1_50_BLOCKS),
    'resnet_v1_101': ResNetDef('resnet_v1_101', ROOT_BLOCK, RESNET_V1_101_BLOCKS),
    'resnet_v1_152': ResNetDef('resnet_v1_152', ROOT_BLOCK, RESNET_V1_152_BLOCKS),
    'resnet_v1_200': ResNetDef('resnet_v1_200', ROOT_BLOCK, RESNET_V1_200_BLOCKS),
    'resnet_v1_50_beta': ResNetDef('resnet_v1_50', ROOT_BLOCK_BETA, RESNET_V1_50_BLOCKS),
    'resnet_v1_101_beta': ResNetDef('resnet_v1_101', ROOT_BLOCK_BETA, RESNET_V1_101_BLOCKS),
}
# Classification input size.
DEFAULT_IMAGE_SIZE = 224
# The original messages (users match on them); the details follow in parentheses.
MULTI_GRID_LENGTH = 'Expect multi_grid to have length %d.'


@tf_slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1, outputs_collections=None,
               scope=None, use_bounded_activations=False, unit_rate=1, conv_fn=tf_slim.conv2d):
  """The ResNet-v1 bottleneck unit: 1x1 -> 3x3 (strided, atrous) -> 1x1, plus shortcut, ReLU.

    inputs --+--> conv1 1x1 --> conv2 3x3 /stride, rate*unit_rate --> conv3 1x1 (no act) --+
             |                                                                             add -> Relu
             +--> shortcut: 1x1 conv /stride (no act) if depths differ, else 1x1 max pool --+

  Args:
    inputs: A 4-D NHWC tensor.
    depth: Output depth.
    depth_bottleneck: Depth of the bottleneck convs.
    stride: Stride of conv2 and the shortcut.
    rate: Atrous rate set by the output stride.
    outputs_collections: Collection receiving the output by scope name.
    scope: Variable scope; defaults to 'bottleneck_v1'.
    use_bounded_activations: ReLU6 on the shortcut conv and the output, the residual clipped to
      [-6, 6] (bounded ranges for quantization).
    unit_rate: New (DeepLab's multi_grid): multiplier of conv2's rate.
    conv_fn: New: the convolution (`tf_slim.conv2d`; DeepLab's module passes `conv2d_ws.conv2d`).

  Returns:
    The unit's output tensor.
  """
  with tf.compat.v1.variable_scope(scope, UNIT_NAME, [inputs]) as sc:
    depth_in = tf_slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, SHORTCUT_NAME)
    else:
      shortcut = conv_fn(inputs, depth, [1, 1], stride=stride,
                         activation_fn=tf.nn.relu6 if use_bounded_activations else None,
                         scope=SHORTCUT_NAME)
    residual = conv_fn(inputs, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate * unit_rate, scope='conv2', conv_fn=conv_fn)
    residual = conv_fn(residual, depth, [1, 1], stride=1, activation_fn=None, scope='conv3')
    if use_bounded_activations:
      residual = tf.clip_by_value(residual, -CLIP_CAP, CLIP_CAP)
      output = tf.nn.relu6(shortcut + residual)
    else:
      output = tf.nn.relu(shortcut + residual)
    return tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


@tf_slim.add_arg_scope
def lite_bottleneck(inputs, depth, stride, unit_rate=1, rate=1, outputs_collections=None,
                    scope=None, conv_fn=tf_slim.conv2d):
  """DeepLab's ResNet-18 unit: two 3x3 convs, plus shortcut, ReLU.

    inputs --+--> conv1 3x3 (rate*unit_rate) --> conv2 3x3 /stride (no act) --+
             |                                                                add -> Relu
             +--> shortcut: 1x1 conv /stride (no act) | 1x1 max pool --------+

  Args:
    inputs, depth, stride, unit_rate, rate, outputs_collections, conv_fn: as `bottleneck`.
    scope: Variable scope; defaults to 'lite_bottleneck_v1'.

  Returns:
    The unit's output tensor.
  """
  with tf.compat.v1.variable_scope(scope, LITE_UNIT_NAME, [inputs]) as sc:
    depth_in = tf_slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, SHORTCUT_NAME)
    else:
      shortcut = conv_fn(inputs, depth, [1, 1], stride=stride, activation_fn=None,
                         scope=SHORTCUT_NAME)
    residual = resnet_utils.conv2d_same(inputs, depth, 3, 1, rate=rate * unit_rate,
                                        scope='conv1', conv_fn=conv_fn)
    with tf_slim.arg_scope([conv_fn], activation_fn=None):
      residual = resnet_utils.conv2d_same(residual, depth, 3, stride, rate=rate * unit_rate,
                                          scope='conv2', conv_fn=conv_fn)
    output = tf.nn.relu(shortcut + residual)
    return tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of `num_units` bottlenecks (4 * base_depth out); the last one has `stride`.

  Args:
    scope: The block's variable scope.
    base_depth: Depth of the bottleneck convs.
    num_units: Number of units.
    stride: Stride of the last unit (the others have 1).

  Returns:
    A `resnet_utils.Block`.
  """
  unit = {'depth': base_depth * EXPANSION, 'depth_bottleneck': base_depth, 'stride': 1}
  return resnet_utils.Block(scope, bottleneck,
                            [unit] * (num_units - 1) + [dict(unit, stride=stride)])


def check_multi_grid(multi_grid, num_units):
  """Returns `multi_grid` (None -> all 1) after checking it has one rate per unit.

  Raises:
    ValueError: 'Expect multi_grid to have length <num_units>.'
  """
  if multi_grid is None:
    return [1] * num_units
  if len(multi_grid) != num_units:
    raise ValueError((MULTI_GRID_LENGTH % num_units) + ' (got %r)' % (list(multi_grid),))
  return list(multi_grid)


def _bottleneck_depths(base_depth):
  return {'depth': base_depth * EXPANSION, 'depth_bottleneck': base_depth}


def _lite_depths(depth):
  return {'depth': depth}


def _table_blocks(stage_table, multi_grid, unit_fn, depths_fn):
  """Blocks of a stage table: `depths_fn(depth)` per unit, strides and last-block unit rates."""
  multi_grid = check_multi_grid(multi_grid, stage_table[-1][2])
  blocks = []
  for index, (block_scope, depth, num_units, stride) in enumerate(stage_table):
    is_last = index == len(stage_table) - 1
    units = [dict(depths_fn(depth), stride=stride if i == num_units - 1 else 1,
                  unit_rate=multi_grid[i] if is_last else 1) for i in range(num_units)]
    blocks.append(resnet_utils.Block(block_scope, unit_fn, units))
  return blocks


def resnet_v1_blocks(stage_table, multi_grid=None, unit_fn=bottleneck):
  """Turns a stage table into `resnet_utils.Block` records of bottleneck units.

  Args:
    stage_table: Rows (block scope, base depth, number of units, stride of the last unit).
    multi_grid: Unit rates of the last block (one per unit); None -> all 1.
    unit_fn: The bottleneck (DeepLab's module passes its own, with its conv).

  Returns:
    A list of `resnet_utils.Block`.

  Raises:
    ValueError: if `multi_grid` does not have one rate per unit of the last block.
  """
  return _table_blocks(stage_table, multi_grid, unit_fn, _bottleneck_depths)


def lite_blocks(stage_table, multi_grid=None, unit_fn=lite_bottleneck):
  """Turns a stage table into blocks of `lite_bottleneck` units (DeepLab's ResNet-18).

  Args:
    stage_table: Rows (block scope, depth, number of units, stride of the last unit); a lite
      unit outputs `depth` channels.
    multi_grid, unit_fn: as `resnet_v1_blocks` (the lite unit).

  Returns:
    A list of `resnet_utils.Block`.

  Raises:
    ValueError: if `multi_grid` does not have one rate per unit of the last block.
  """
  return _table_blocks(stage_table, multi_grid, unit_fn, _lite_depths)


def scale_stage_table(stage_table, depth_multiplier=1, min_base_depth=8):
  """The table with base depths max(int(depth * depth_multiplier), min_base_depth)."""
  return tuple((scope, max(int(depth * depth_multiplier), min_base_depth), units, stride)
               for scope, depth, units, stride in stage_table)


def pool1(net):
  """The 3x3 stride-2 max pool after the stem ('SAME', as the original arg scopes)."""
  return tf_slim.max_pool2d(net, [3, 3], stride=2, padding='SAME', scope=POOL1_NAME)


def root_fn_from_table(root_block, conv_fn=tf_slim.conv2d):
  """The root of a stem table: its convs, then pool1."""
  return lambda net: pool1(resnet_utils.stem(net, root_block, conv_fn=conv_fn))


@contextlib.contextmanager
def _batch_norm_mode(is_training, batch_norm_fn):
  if is_training is None:
    yield
  else:
    with tf_slim.arg_scope([batch_norm_fn], is_training=is_training):
      yield


def build_resnet(inputs, blocks, root_fn, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, spatial_squeeze=True, store_non_strided_activations=False,
                 reuse=None, scope=None, conv_fn=tf_slim.conv2d, logits_conv_kwargs=None,
                 batch_norm_fn=tf_slim.batch_norm):
  """The one ResNet builder: root, dense blocks, optional pool5 / logits / squeeze.

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `resnet_utils.Block`.
    root_fn: `f(net) -> net` before the blocks, of stride 4 (`root_fn_from_table`), or None.
    num_classes: Number of logits; None or 0 returns the features (no logits layer).
    is_training: Batch-norm training mode; None leaves it to an outer arg scope.
    global_pool: Average the last features spatially ('pool5', keepdims).
    output_stride: Ratio of input to output resolution (a multiple of 4 with a root); None is
      nominal (32).
    spatial_squeeze: Squeeze the [N, 1, 1, C] logits to [N, C].
    store_non_strided_activations: See `resnet_utils.stack_blocks_dense`.
    reuse: Reuse the variables.
    scope: Variable scope (string or VariableScope); default 'resnet_v1'.
    conv_fn: The convolution of the root, the units' shortcuts and the logits.
    logits_conv_kwargs: Extra arguments of the logits conv (DeepLab: no weight standardization).
    batch_norm_fn: The batch norm whose `is_training` is set.

  Returns:
    (net, end_points): logits (or features without num_classes) and a dict of end points keyed
    by full scope name ('<scope>/block1/unit_1/bottleneck_v1/conv1', '<scope>/block4', ...),
    plus 'global_pool', '<scope>/logits', '<scope>/spatial_squeeze' and 'predictions'.

  Raises:
    ValueError: if output_stride is not a multiple of 4 or cannot be reached.
  """
  unit_fns = {block.unit_fn for block in blocks if tf_slim.has_arg_scope(block.unit_fn)}
  with resnet_utils.scope_all(scope, DEFAULT_SCOPE, inputs, reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with tf_slim.arg_scope([conv_fn, resnet_utils.stack_blocks_dense] + list(unit_fns),
                           outputs_collections=end_points_collection), \
        _batch_norm_mode(is_training, batch_norm_fn):
      net, end_points = resnet_utils.stem_and_blocks(
          inputs, root_fn, blocks, output_stride, root_stride=ROOT_STRIDE,
          end_points_collection=end_points_collection,
          store_non_strided_activations=store_non_strided_activations)
      if global_pool:
        net = tf.reduce_mean(net, [1, 2], name=GLOBAL_POOL_NAME, keepdims=True)
        end_points[GLOBAL_POOL_END_POINT] = net
      if num_classes:
        net = conv_fn(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                      scope=LOGITS_NAME, **(logits_conv_kwargs or {}))
        end_points['%s/%s' % (sc.name, LOGITS_END_POINT)] = net
        if spatial_squeeze:
          net = tf.squeeze(net, [1, 2], name=SQUEEZE_NAME)
          end_points['%s/%s' % (sc.name, SQUEEZE_END_POINT)] = net
        end_points[PREDICTIONS_END_POINT] = tf_slim.softmax(net, scope=PREDICTIONS_NAME)
  return net, end_points


def resnet_v1(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              store_non_strided_activations=False, reuse=None, scope=None,
              root_block=ROOT_BLOCK):
  """slim's generator of ResNet-v1 models from a `blocks` list (see `build_resnet`).

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `resnet_utils.Block` (e.g. `resnet_v1_block`s).
    num_classes, is_training, global_pool, output_stride, spatial_squeeze,
      store_non_strided_activations, reuse, scope: as `build_resnet`.
    include_root_block: Build the stem and pool1 (False: the blocks read `inputs`).
    root_block: New: the stem table (ROOT_BLOCK, or ROOT_BLOCK_BETA for DeepLab's beta stem).

  Returns:
    (net, end_points) as `build_resnet`.

  Raises:
    ValueError: If the target output_stride is not valid.
  """
  root_fn = root_fn_from_table(root_block) if include_root_block else None
  return build_resnet(inputs, blocks, root_fn, num_classes=num_classes, is_training=is_training,
                      global_pool=global_pool, output_stride=output_stride,
                      spatial_squeeze=spatial_squeeze,
                      store_non_strided_activations=store_non_strided_activations, reuse=reuse,
                      scope=scope)


def build_variant(variant, inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True, store_non_strided_activations=False,
                  min_base_depth=8, depth_multiplier=1, reuse=None, scope=None,
                  multi_grid=None):
  """Builds the registered ResNet-v1 `variant` (a key of VARIANTS).

  Args:
    variant: 'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_200',
      'resnet_v1_50_beta' or 'resnet_v1_101_beta'.
    inputs, num_classes, is_training, global_pool, output_stride, spatial_squeeze,
      store_non_strided_activations, reuse: as `build_resnet`.
    min_base_depth: Smallest base depth after depth_multiplier.
    depth_multiplier: Multiplier of every block's base depth (the stem keeps its depth).
    scope: Variable scope; None -> the variant's ('resnet_v1_50' also for the beta variant).
    multi_grid: New (DeepLab): unit rates of block4 (3 values); None -> [1, 1, 1].

  Returns:
    (net, end_points) as `build_resnet`.

  Raises:
    ValueError: on an unknown variant (listing the valid ones) or a bad multi_grid/output_stride.
  """
  if variant not in VARIANTS:
    raise ValueError('Unknown ResNet-v1 variant %r; valid names: %s' %
                     (variant, ', '.join(sorted(VARIANTS))))
  spec = VARIANTS[variant]
  table = scale_stage_table(spec.blocks, depth_multiplier, min_base_depth)
  return build_resnet(inputs, resnet_v1_blocks(table, multi_grid),
                      root_fn_from_table(spec.root_block), num_classes=num_classes,
                      is_training=is_training, global_pool=global_pool,
                      output_stride=output_stride, spatial_squeeze=spatial_squeeze,
                      store_non_strided_activations=store_non_strided_activations, reuse=reuse,
                      scope=scope or spec.scope)


resnet_v1.default_image_size = DEFAULT_IMAGE_SIZE
build_variant.default_image_size = DEFAULT_IMAGE_SIZE


def _variant(name, doc):
  """`build_variant` with `name` bound; the default scope is the variant's, as the original."""
  return partials.wrapped_partial(build_variant, name, new_defaults={'scope': VARIANTS[name].scope},
                                  doc=doc)


# The variants (scope defaults: 'resnet_v1_50' also for the beta variant, as its checkpoints).
# pyformat: disable
resnet_v1_50 = _variant(
    'resnet_v1_50',
    'ResNet-50 v1 (stem conv1 7x7; blocks of 3, 4, 6, 3 units). Args/returns as '
    '`build_variant`.')
resnet_v1_101 = _variant(
    'resnet_v1_101',
    'ResNet-101 v1 (blocks of 3, 4, 23, 3 units). Args/returns as `build_variant`.')
resnet_v1_50_beta = _variant(
    'resnet_v1_50_beta',
    "ResNet-50 v1 with DeepLab's beta stem (conv1_1..conv1_3). Args/returns as "
    '`build_variant`.')
resnet_v1_101_beta = _variant(
    'resnet_v1_101_beta',
    "ResNet-101 v1 with DeepLab's beta stem. Args/returns as `build_variant`.")
# pyformat: enable


# slim's 152 and 200 take store_non_strided_activations before spatial_squeeze (by position).
def resnet_v1_152(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, store_non_strided_activations=False, spatial_squeeze=True,
                  min_base_depth=8, depth_multiplier=1, reuse=None, scope='resnet_v1_152',
                  multi_grid=None):
  """ResNet-152 v1 (blocks of 3, 8, 36, 3 units). Args/returns as `build_variant`."""
  return build_variant(
      'resnet_v1_152', inputs, num_classes, is_training, global_pool, output_stride,
      spatial_squeeze=spatial_squeeze, store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse, scope=scope,
      multi_grid=multi_grid)


def resnet_v1_200(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, store_non_strided_activations=False, spatial_squeeze=True,
                  min_base_depth=8, depth_multiplier=1, reuse=None, scope='resnet_v1_200',
                  multi_grid=None):
  """ResNet-200 v1 (blocks of 3, 24, 36, 3 units). Args/returns as `build_variant`."""
  return build_variant(
      'resnet_v1_200', inputs, num_classes, is_training, global_pool, output_stride,
      spatial_squeeze=spatial_squeeze, store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse, scope=scope,
      multi_grid=multi_grid)


resnet_v1_152.default_image_size = DEFAULT_IMAGE_SIZE
resnet_v1_200.default_image_size = DEFAULT_IMAGE_SIZE
# slim's module exports the arg scope here too (`resnet_v1.resnet_arg_scope`).
resnet_arg_scope = resnet_utils.resnet_arg_scope


# --- Facts for the registry's deep-backbone adapter (slim.nets.deep_backbone) ---------------

# Batch norm of DeepLab's ResNet backbones (feature_extractor.py), not slim's classifier defaults.
DEEPLAB_BN_DECAY = 0.95
DEEPLAB_BN_EPSILON = 1e-5
# The last end point DeepLab builds (the whole network body).
DEEPLAB_FINAL_ENDPOINT = 'block4'
# DeepLab decoder end points {output stride: end point} (bare names, under the variant's scope).
DECODER_END_POINTS = {
    'resnet_v1_50': {4: 'block1/unit_2/bottleneck_v1/conv3',
                     8: 'block2/unit_3/bottleneck_v1/conv3',
                     16: 'block3/unit_5/bottleneck_v1/conv3'},
    'resnet_v1_101': {4: 'block1/unit_2/bottleneck_v1/conv3',
                      8: 'block2/unit_3/bottleneck_v1/conv3',
                      16: 'block3/unit_22/bottleneck_v1/conv3'},
}
DECODER_END_POINTS['resnet_v1_50_beta'] = DECODER_END_POINTS['resnet_v1_50']
DECODER_END_POINTS['resnet_v1_101_beta'] = DECODER_END_POINTS['resnet_v1_101']

FAMILY = deep_backbone.DeepFamily(
    build_variant=build_variant,
    arg_scope=resnet_utils.resnet_arg_scope,
    scopes={name: VARIANTS[name].scope for name in DECODER_END_POINTS},
    decoder_end_points=DECODER_END_POINTS,
    deeplab_final_endpoint=DEEPLAB_FINAL_ENDPOINT,
    deeplab_bn_decay=DEEPLAB_BN_DECAY,
    deeplab_bn_epsilon=DEEPLAB_BN_EPSILON,
    default_image_size=DEFAULT_IMAGE_SIZE,
    predictions_end_point=PREDICTIONS_END_POINT,
)
