"""ResNet-v1 50/101 (slim names), with DeepLab's `_beta` stem and `multi_grid`, as data.

A variant is a stem table plus a stage table, walked by one builder, `resnet_v1`:

  inputs -> stem convs (conv1, or conv1_1..conv1_3 for beta) -> pool1 (3x3 max, stride 2)
         -> block1..block4 (bottleneck units; the last unit of block1..3 has stride 2)
         -> [pool5 global mean] -> [logits 1x1 conv with biases] -> [SpatialSqueeze]

Variable and end point names are those of slim's `nets/resnet_v1.py` and DeepLab's
`core/resnet_v1_beta.py` (and so of their released checkpoints), e.g.
`resnet_v1_50/block1/unit_1/bottleneck_v1/conv2/weights` and `.../conv2/BatchNorm/gamma`.
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

# Stage tables: (block scope, base depth, number of units, stride of the last unit).
# A unit outputs 4 * base depth channels through a base-depth bottleneck.
RESNET_V1_50_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 6, 2),
                       ('block4', 512, 3, 1))
RESNET_V1_101_BLOCKS = (('block1', 64, 3, 2), ('block2', 128, 4, 2), ('block3', 256, 23, 2),
                        ('block4', 512, 3, 1))
# Bottleneck expansion: output depth / base depth.
EXPANSION = 4

ResNetDef = collections.namedtuple('ResNetDef', ['scope', 'root_block', 'blocks'])

# Variant name -> (default variable scope, stem, stage table). The beta variants keep the non-beta
# scope, as DeepLab's checkpoints do.
VARIANTS = {
    'resnet_v1_50': ResNetDef('resnet_v1_50', ROOT_BLOCK, RESNET_V1_50_BLOCKS),
    'resnet_v1_101': ResNetDef('resnet_v1_101', ROOT_BLOCK, RESNET_V1_101_BLOCKS),
    'resnet_v1_50_beta': ResNetDef('resnet_v1_50', ROOT_BLOCK_BETA, RESNET_V1_50_BLOCKS),
    'resnet_v1_101_beta': ResNetDef('resnet_v1_101', ROOT_BLOCK_BETA, RESNET_V1_101_BLOCKS),
}
# Classification input size.
DEFAULT_IMAGE_SIZE = 224


@tf_slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, unit_rate=1, rate=1,
               outputs_collections=None, scope=None):
  """The ResNet-v1 bottleneck unit: 1x1 -> 3x3 (strided, atrous) -> 1x1, plus shortcut, ReLU.

    inputs --+--> conv1 1x1 --> conv2 3x3 /stride, rate*unit_rate --> conv3 1x1 (no act) --+
             |                                                                             add -> Relu
             +--> shortcut: 1x1 conv /stride (no act) if depths differ, else 1x1 max pool --+

  Args:
    inputs: A 4-D NHWC tensor.
    depth: Output depth.
    depth_bottleneck: Depth of the bottleneck convs.
    stride: Stride of conv2 and the shortcut.
    unit_rate: Multiplier of conv2's rate (DeepLab's multi_grid).
    rate: Atrous rate set by the output stride.
    outputs_collections: Collection receiving the output (and each conv's) by scope name.
    scope: Variable scope; defaults to 'bottleneck_v1'.

  Returns:
    The unit's output tensor.
  """
  with tf.compat.v1.variable_scope(scope, UNIT_NAME, [inputs]) as sc:
    depth_in = tf_slim.utils.last_dimension(inputs.get_shape(), min_rank=4)
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, SHORTCUT_NAME)
    else:
      shortcut = tf_slim.conv2d(inputs, depth, [1, 1], stride=stride, activation_fn=None,
                                scope=SHORTCUT_NAME)
    residual = tf_slim.conv2d(inputs, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride,
                                        rate=rate * unit_rate, scope='conv2')
    residual = tf_slim.conv2d(residual, depth, [1, 1], stride=1, activation_fn=None,
                              scope='conv3')
    output = tf.nn.relu(shortcut + residual)
    return tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


def resnet_v1_blocks(stage_table, multi_grid=None):
  """Turns a stage table into `resnet_utils.Block` records of bottleneck units.

  Args:
    stage_table: Rows (block scope, base depth, number of units, stride of the last unit).
    multi_grid: Unit rates of the last block (one per unit); None -> all 1.

  Returns:
    A list of `resnet_utils.Block`.

  Raises:
    ValueError: if `multi_grid` does not have one rate per unit of the last block.
  """
  last_units = stage_table[-1][2]
  if multi_grid is None:
    multi_grid = [1] * last_units
  elif len(multi_grid) != last_units:
    raise ValueError('Expect multi_grid to have length %d, got %r.' % (last_units,
                                                                      list(multi_grid)))
  blocks = []
  for index, (block_scope, base_depth, num_units, stride) in enumerate(stage_table):
    is_last = index == len(stage_table) - 1
    units = []
    for i in range(num_units):
      units.append({
          'depth': base_depth * EXPANSION,
          'depth_bottleneck': base_depth,
          'stride': stride if i == num_units - 1 else 1,
          'unit_rate': multi_grid[i] if is_last else 1,
      })
    blocks.append(resnet_utils.Block(block_scope, bottleneck, units))
  return blocks


def resnet_v1(inputs, blocks, root_block=ROOT_BLOCK, num_classes=None, is_training=True,
              global_pool=True, output_stride=None, spatial_squeeze=True, reuse=None,
              scope=None):
  """Builds a ResNet-v1 from a stem table and bottleneck blocks.

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `resnet_utils.Block` (see `resnet_v1_blocks`).
    root_block: Stem rows (conv scope, depth, kernel size, stride): ROOT_BLOCK or
      ROOT_BLOCK_BETA.
    num_classes: Number of logits; None or 0 returns the features (no logits layer).
    is_training: Batch-norm training mode; None leaves it to an outer arg scope.
    global_pool: Average the last features spatially ('pool5', keepdims).
    output_stride: Ratio of input to output resolution (multiple of 4); None is nominal (32).
    spatial_squeeze: Squeeze the [N, 1, 1, C] logits to [N, C] (requires global pooling or a
      1x1 feature map).
    reuse: Reuse the variables.
    scope: Variable scope (string or VariableScope); default 'resnet_v1'.

  Returns:
    (net, end_points): logits (or features without num_classes) and a dict of end points keyed
    by full scope name ('<scope>/block1/unit_1/bottleneck_v1/conv1', '<scope>/block4', ...),
    plus 'global_pool', '<scope>/logits', '<scope>/spatial_squeeze' and 'predictions'.

  Raises:
    ValueError: if output_stride is not a multiple of 4 or cannot be reached.
  """
  with resnet_utils.scope_all(scope, DEFAULT_SCOPE, inputs, reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with tf_slim.arg_scope([tf_slim.conv2d, bottleneck, resnet_utils.stack_blocks_dense],
                           outputs_collections=end_points_collection), \
        _batch_norm_mode(is_training):
      net, end_points = resnet_utils.stem_and_blocks(
          inputs, root_block, blocks, output_stride, root_stride=ROOT_STRIDE,
          after_stem=_pool1, end_points_collection=end_points_collection)
      if global_pool:
        net = tf.reduce_mean(net, [1, 2], name=GLOBAL_POOL_NAME, keepdims=True)
        end_points[GLOBAL_POOL_END_POINT] = net
      if num_classes:
        net = tf_slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                             scope=LOGITS_NAME)
        end_points['%s/%s' % (sc.name, LOGITS_END_POINT)] = net
        if spatial_squeeze:
          net = tf.squeeze(net, [1, 2], name=SQUEEZE_NAME)
          end_points['%s/%s' % (sc.name, SQUEEZE_END_POINT)] = net
        end_points[PREDICTIONS_END_POINT] = tf_slim.softmax(net, scope=PREDICTIONS_NAME)
  return net, end_points


def _pool1(net):
  return tf_slim.max_pool2d(net, [3, 3], stride=2, padding='SAME', scope=POOL1_NAME)


@contextlib.contextmanager
def _batch_norm_mode(is_training):
  if is_training is None:
    yield
  else:
    with tf_slim.arg_scope([tf_slim.batch_norm], is_training=is_training):
      yield


def build_variant(variant, inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True, multi_grid=None, reuse=None,
                  scope=None):
  """Builds the registered ResNet-v1 `variant` (a key of VARIANTS).

  Args:
    variant: 'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_50_beta' or 'resnet_v1_101_beta'.
    inputs, num_classes, is_training, global_pool, output_stride, spatial_squeeze, reuse: as
      `resnet_v1`.
    multi_grid: Unit rates of block4 (3 values); None -> [1, 1, 1].
    scope: Variable scope; None -> the variant's ('resnet_v1_50' also for the beta variant).

  Returns:
    (net, end_points) as `resnet_v1`.

  Raises:
    ValueError: on an unknown variant (listing the valid ones) or a bad multi_grid/output_stride.
  """
  if variant not in VARIANTS:
    raise ValueError('Unknown ResNet-v1 variant %r; valid names: %s' %
                     (variant, ', '.join(sorted(VARIANTS))))
  spec = VARIANTS[variant]
  return resnet_v1(inputs, resnet_v1_blocks(spec.blocks, multi_grid), root_block=spec.root_block,
                   num_classes=num_classes, is_training=is_training, global_pool=global_pool,
                   output_stride=output_stride, spatial_squeeze=spatial_squeeze, reuse=reuse,
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
    scopes={name: spec.scope for name, spec in VARIANTS.items()},
    decoder_end_points=DECODER_END_POINTS,
    deeplab_final_endpoint=DEEPLAB_FINAL_ENDPOINT,
    deeplab_bn_decay=DEEPLAB_BN_DECAY,
    deeplab_bn_epsilon=DEEPLAB_BN_EPSILON,
    default_image_size=DEFAULT_IMAGE_SIZE,
    predictions_end_point=PREDICTIONS_END_POINT,
)
