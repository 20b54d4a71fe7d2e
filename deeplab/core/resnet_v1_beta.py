"""DeepLab's `core/resnet_v1_beta.py` API over the project's one ResNet (`slim.nets.resnet_v1`).

The originals' public names, signatures and defaults: `bottleneck` (with `unit_rate`),
`lite_bottleneck`, `root_block_fn_for_beta_variant`, `resnet_v1_beta` (a `blocks` list and a
`root_block_fn`), `resnet_v1_beta_block`, `resnet_v1_small_beta_block`, `resnet_v1_18`,
`resnet_v1_18_beta`, `resnet_v1_50`, `resnet_v1_50_beta`, `resnet_v1_101`, `resnet_v1_101_beta`
and `resnet_arg_scope` (group norm, weight standardization). Units, stage tables and the builder
are those of `slim.nets.resnet_v1` (the registry's DeepLab backbones build the same graphs);
this module only binds DeepLab's convolution, `conv2d_ws.conv2d`, so that its arg scope (and
weight standardization) reaches every conv, as in the original.

  with tf_slim.arg_scope(resnet_v1_beta.resnet_arg_scope()):
    features, end_points = resnet_v1_beta.resnet_v1_50_beta(images, output_stride=16,
                                                            multi_grid=[1, 2, 4])
"""

import functools

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from deeplab.core import conv2d_ws
from deeplab.core import utils
from slim.nets import partials
from slim.nets import resnet_utils
from slim.nets import resnet_v1

_DEFAULT_MULTI_GRID = [1, 1, 1]
_DEFAULT_MULTI_GRID_RESNET_18 = [1, 1]
# normalization_method values of resnet_arg_scope.
NORMALIZATION_METHODS = ('batch', 'none', 'group', 'unspecified')


@tf_slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, unit_rate=1, rate=1,
               outputs_collections=None, scope=None):
  """The ResNet-v1 bottleneck with DeepLab's `unit_rate` (see slim.nets.resnet_v1.bottleneck).

  Args:
    inputs: A 4-D NHWC tensor.
    depth: Output depth.
    depth_bottleneck: Depth of the bottleneck convs.
    stride: Stride of conv2 and the shortcut.
    unit_rate: Multiplier of conv2's atrous rate (multi_grid).
    rate: Atrous rate set by the output stride.
    outputs_collections: Collection receiving the output.
    scope: Variable scope; defaults to 'bottleneck_v1'.

  Returns:
    The unit's output tensor.
  """
  return resnet_v1.bottleneck(inputs, depth, depth_bottleneck, stride, rate=rate,
                              outputs_collections=outputs_collections, scope=scope,
                              unit_rate=unit_rate, conv_fn=conv2d_ws.conv2d)


@tf_slim.add_arg_scope
def lite_bottleneck(inputs, depth, stride, unit_rate=1, rate=1, outputs_collections=None,
                    scope=None):
  """ResNet-18's two-3x3-conv unit (see slim.nets.resnet_v1.lite_bottleneck).

  Args:
    inputs, depth, stride, unit_rate, rate, outputs_collections: as `bottleneck`.
    scope: Variable scope; defaults to 'lite_bottleneck_v1'.

  Returns:
    The unit's output tensor.
  """
  return resnet_v1.lite_bottleneck(inputs, depth, stride, unit_rate=unit_rate, rate=rate,
                                   outputs_collections=outputs_collections, scope=scope,
                                   conv_fn=conv2d_ws.conv2d)


def root_block_fn_for_beta_variant(net, depth_multiplier=1.0):
  """The beta stem: three 3x3 convs (conv1_1 /2, conv1_2, conv1_3) instead of the 7x7 conv1.

  Args:
    net: The input images [batch, height, width, channels].
    depth_multiplier: Multiplier of the stem depths (64, 64, 128).

  Returns:
    The stem output.
  """
  table = tuple((conv_scope, int(depth * depth_multiplier), kernel, stride)
                for conv_scope, depth, kernel, stride in resnet_v1.ROOT_BLOCK_BETA)
  return resnet_utils.stem(net, table, conv_fn=conv2d_ws.conv2d)


def _default_root_block_fn(net):
  return resnet_utils.stem(net, resnet_v1.ROOT_BLOCK, conv_fn=conv2d_ws.conv2d)


def resnet_v1_beta(inputs, blocks, num_classes=None, is_training=None, global_pool=True,
                   output_stride=None, root_block_fn=None, reuse=None, scope=None,
                   sync_batch_norm_method='None'):
  """DeepLab's generator of ResNet-v1 models: `root_block_fn`, pool1, then `blocks`.

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `resnet_utils.Block` (e.g. `resnet_v1_beta_block`s).
    num_classes: Number of logits (1x1 conv 'logits', no squeeze); None returns the features.
    is_training: Batch-norm training mode; None leaves it to an outer arg scope.
    global_pool: Average the last features spatially ('pool5').
    output_stride: Ratio of input to output resolution (a multiple of 4) or None.
    root_block_fn: The stem, `f(net) -> net` of stride 2; None is conv1 (7x7 /2, 64).
    reuse: Reuse the variables.
    scope: Variable scope; default 'resnet_v1'.
    sync_batch_norm_method: 'None' (the only method here; see core/utils.get_batch_norm_fn).

  Returns:
    (net, end_points), end points keyed by full scope name (plus 'predictions' with logits).

  Raises:
    ValueError: If the target output_stride is not valid.
  """
  root_block_fn = root_block_fn or _default_root_block_fn
  return resnet_v1.build_resnet(
      inputs, blocks, lambda net: resnet_v1.pool1(root_block_fn(net)), num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=False, reuse=reuse, scope=scope, conv_fn=conv2d_ws.conv2d,
      logits_conv_kwargs={'use_weight_standardization': False},
      batch_norm_fn=utils.get_batch_norm_fn(sync_batch_norm_method))


def resnet_v1_beta_block(scope, base_depth, num_units, stride):
  """A block of `num_units` DeepLab bottlenecks (4 * base_depth out; the last has `stride`)."""
  return resnet_v1.resnet_v1_blocks(((scope, base_depth, num_units, stride),),
                                    unit_fn=bottleneck)[0]


def resnet_v1_small_beta_block(scope, base_depth, num_units, stride):
  """A block of `num_units` lite bottlenecks (base_depth out; the last has `stride`)."""
  return resnet_v1.lite_blocks(((scope, base_depth, num_units, stride),),
                               unit_fn=lite_bottleneck)[0]


# Variant -> (stage table, block builder, default multi_grid, beta stem).
_VARIANTS = {
    'resnet_v1_18': (resnet_v1.RESNET_V1_18_BLOCKS, 'lite', _DEFAULT_MULTI_GRID_RESNET_18, False),
    'resnet_v1_18_beta': (resnet_v1.RESNET_V1_18_BLOCKS, 'lite', _DEFAULT_MULTI_GRID_RESNET_18,
                          True),
    'resnet_v1_50': (resnet_v1.RESNET_V1_50_BLOCKS, 'bottleneck', _DEFAULT_MULTI_GRID, False),
    'resnet_v1_50_beta': (resnet_v1.RESNET_V1_50_BLOCKS, 'bottleneck', _DEFAULT_MULTI_GRID, True),
    'resnet_v1_101': (resnet_v1.RESNET_V1_101_BLOCKS, 'bottleneck', _DEFAULT_MULTI_GRID, False),
    'resnet_v1_101_beta': (resnet_v1.RESNET_V1_101_BLOCKS, 'bottleneck', _DEFAULT_MULTI_GRID,
                           True),
}


def build_variant(variant, inputs, num_classes=None, is_training=None, global_pool=False,
                  output_stride=None, multi_grid=None, reuse=None, scope=None,
                  sync_batch_norm_method='None', root_depth_multiplier=1.0):
  """Builds DeepLab's ResNet `variant` (a key of _VARIANTS) with `resnet_v1_beta`.

  Args:
    variant: 'resnet_v1_18', 'resnet_v1_18_beta', 'resnet_v1_50', 'resnet_v1_50_beta',
      'resnet_v1_101' or 'resnet_v1_101_beta'.
    inputs, num_classes, is_training, global_pool, output_stride, reuse,
      sync_batch_norm_method: as `resnet_v1_beta`.
    multi_grid: Unit rates of block4 (2 values for ResNet-18, 3 otherwise); None -> all 1.
    scope: Variable scope ('resnet_v1_18', 'resnet_v1_50' or 'resnet_v1_101' by default).
    root_depth_multiplier: Multiplier of the beta stem's depths.

  Returns:
    (net, end_points) as `resnet_v1_beta`.

  Raises:
    ValueError: 'Expect multi_grid to have length 3.' (2 for ResNet-18), or a bad output_stride.
  """
  stage_table, unit_kind, default_grid, beta = _VARIANTS[variant]
  if unit_kind == 'lite':
    blocks = resnet_v1.lite_blocks(stage_table, multi_grid or default_grid,
                                   unit_fn=lite_bottleneck)
  else:
    blocks = resnet_v1.resnet_v1_blocks(stage_table, multi_grid or default_grid,
                                        unit_fn=bottleneck)
  root_block_fn = (functools.partial(root_block_fn_for_beta_variant,
                                     depth_multiplier=root_depth_multiplier) if beta else None)
  return resnet_v1_beta(inputs, blocks=blocks, num_classes=num_classes, is_training=is_training,
                        global_pool=global_pool, output_stride=output_stride,
                        root_block_fn=root_block_fn, reuse=reuse,
                        scope=scope or variant.replace('_beta', ''),
                        sync_batch_norm_method=sync_batch_norm_method)


def _variant(name, doc):
  """`build_variant` with `name` bound, the original's default scope, no root multiplier."""
  return partials.wrapped_partial(build_variant, name, root_depth_multiplier=1.0,
                                  new_defaults={'scope': name.replace('_beta', '')}, doc=doc)


# pyformat: disable
resnet_v1_18 = _variant('resnet_v1_18', 'ResNet-18 v1 (lite units). Args as `build_variant`.')
resnet_v1_50 = _variant('resnet_v1_50', 'ResNet-50 v1. Args as `build_variant`.')
resnet_v1_50_beta = _variant('resnet_v1_50_beta',
                             'ResNet-50 v1, beta stem. Args as `build_variant`.')
resnet_v1_101 = _variant('resnet_v1_101', 'ResNet-101 v1. Args as `build_variant`.')
resnet_v1_101_beta = _variant('resnet_v1_101_beta',
                              'ResNet-101 v1, beta stem. Args as `build_variant`.')
# pyformat: enable


def resnet_v1_18_beta(inputs, num_classes=None, is_training=None, global_pool=False,
                      output_stride=None, multi_grid=None, root_depth_multiplier=0.25, reuse=None,
                      scope='resnet_v1_18', sync_batch_norm_method='None'):
  """ResNet-18 v1 (lite units), beta stem at 0.25 depth. Args as `build_variant`."""
  return build_variant('resnet_v1_18_beta', inputs, num_classes, is_training, global_pool,
                       output_stride, multi_grid, reuse, scope, sync_batch_norm_method,
                       root_depth_multiplier)


def resnet_arg_scope(weight_decay=0.0001, batch_norm_decay=0.997, batch_norm_epsilon=1e-5,
                     batch_norm_scale=True, activation_fn=tf.nn.relu, use_batch_norm=True,
                     sync_batch_norm_method='None', normalization_method='unspecified',
                     use_weight_standardization=False):
  """DeepLab's ResNet arg scope: He init, L2, a normalizer, on `conv2d_ws.conv2d`.

  Args:
    weight_decay: L2 weight decay of the convs.
    batch_norm_decay: Batch-norm moving-average decay.
    batch_norm_epsilon: Batch-norm epsilon.
    batch_norm_scale: Batch norm learns gamma.
    activation_fn: Activation after each conv's normalizer.
    use_batch_norm: With normalization_method 'unspecified': batch norm or none.
    sync_batch_norm_method: 'None' (see core/utils.get_batch_norm_fn).
    normalization_method: 'batch', 'none', 'group' or 'unspecified' (use_batch_norm decides).
    use_weight_standardization: Standardize every conv's kernel (see conv2d_ws).

  Returns:
    An arg scope dict for `tf_slim.arg_scope`.

  Raises:
    ValueError: 'Unrecognized normalization_method <value>'.
  """
  batch_norm = utils.get_batch_norm_fn(sync_batch_norm_method)
  normalizers = {'batch': batch_norm, 'none': None, 'group': tf_slim.group_norm,
                 'unspecified': batch_norm if use_batch_norm else None}
  if normalization_method not in normalizers:
    raise ValueError('Unrecognized normalization_method %s' % normalization_method)
  with tf_slim.arg_scope([conv2d_ws.conv2d],
                         weights_regularizer=tf_slim.l2_regularizer(weight_decay),
                         weights_initializer=tf_slim.variance_scaling_initializer(),
                         activation_fn=activation_fn,
                         normalizer_fn=normalizers[normalization_method],
                         use_weight_standardization=use_weight_standardization), \
      tf_slim.arg_scope([batch_norm], **resnet_utils.batch_norm_arguments(
          batch_norm_decay, batch_norm_epsilon, batch_norm_scale)):
    # pool1 is 'SAME' (feature alignment for dense prediction), as the original.
    with tf_slim.arg_scope([tf_slim.max_pool2d], padding='SAME') as arg_sc:
      return arg_sc
