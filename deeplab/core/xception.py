"""DeepLab's `core/xception.py` API over the project's one Xception (`slim.nets.xception`).

The original public names, signatures and defaults: `fixed_padding`, `separable_conv2d_same`,
`xception_module`, `stack_blocks_dense`, `xception`, `xception_block`, `xception_41`,
`xception_65_factory`, `xception_65`, `xception_71_factory`, `xception_71` and
`xception_arg_scope` (with `use_bounded_activation` and `sync_batch_norm_method`). The block
tables, the module and the builder are slim.nets.xception's (the registry's DeepLab backbones
build the same graphs and checkpoint names, e.g. `xception_65/entry_flow/block1/unit_1/
xception_module/separable_conv1_depthwise/depthwise_weights`); as the original, `xception`
returns 4-D logits (no spatial squeeze).

  with tf_slim.arg_scope(xception.xception_arg_scope(use_bounded_activation=True)):
    features, end_points = xception.xception_65(images, global_pool=False, output_stride=16)

Not implemented: `use_squeeze_excite=True` (the factories and `xception_block` raise).
"""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)

from deeplab.core import utils
from slim.nets import partials
from slim.nets import resnet_utils
from slim.nets import xception as xception_lib

Block = resnet_utils.Block
fixed_padding = resnet_utils.fixed_padding
separable_conv2d_same = xception_lib.separable_conv2d_same
xception_module = xception_lib.xception_module
stack_blocks_dense = resnet_utils.stack_blocks_dense
_DEFAULT_MULTI_GRID = list(xception_lib.DEFAULT_MULTI_GRID)


def xception(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
             keep_prob=0.5, output_stride=None, reuse=None, scope=None,
             sync_batch_norm_method='None'):
  """Builds an Xception network from `blocks` (see slim.nets.xception.xception).

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    blocks: A list of `Block` (e.g. `xception_block`s).
    num_classes: Number of logits (4-D, no squeeze); None or 0 returns the features.
    is_training: Batch-norm and dropout training mode.
    global_pool: Average the last features spatially ('global_pool').
    keep_prob: Keep probability of the dropout before the logits.
    output_stride: Ratio of input to output resolution (even) or None.
    reuse: Reuse the variables.
    scope: Variable scope; default 'xception'.
    sync_batch_norm_method: 'None' (see core/utils.get_batch_norm_fn).

  Returns:
    (net, end_points) keyed by full scope name, plus 'global_pool', '<scope>/logits' and
    'predictions'.

  Raises:
    ValueError: 'The output_stride needs to be a multiple of 2.' or 'The target output_stride
      cannot be reached.'
  """
  utils.get_batch_norm_fn(sync_batch_norm_method)  # Only 'None' exists: raise early otherwise.
  return xception_lib.xception(inputs, blocks, num_classes=num_classes, is_training=is_training,
                               global_pool=global_pool, keep_prob=keep_prob,
                               output_stride=output_stride, spatial_squeeze=False, reuse=reuse,
                               scope=scope)


def xception_block(scope, depth_list, skip_connection_type, activation_fn_in_separable_conv,
                   regularize_depthwise, num_units, stride, kernel_size=3, unit_rate_list=None,
                   use_squeeze_excite=False, se_pool_size=None):
  """A block of `num_units` identical xception modules (the last one's stride is `stride`).

  Args:
    scope: The block's variable scope (e.g. 'entry_flow/block1').
    depth_list: Output depths of the three separable convs.
    skip_connection_type: 'conv', 'sum' or 'none'.
    activation_fn_in_separable_conv: ReLU after each separable conv instead of before it.
    regularize_depthwise: L2 on the depthwise weights (fused separable convs).
    num_units: Number of modules.
    stride: Stride of every module (as the original, which repeats one unit dict).
    kernel_size: Depthwise kernel size.
    unit_rate_list: Rate multipliers of the three separable convs; None -> [1, 1, 1].
    use_squeeze_excite: Not implemented here (True raises when the module is built).
    se_pool_size: Unused.

  Returns:
    A `Block`.
  """
  unit = {'depth_list': depth_list, 'skip_connection_type': skip_connection_type,
          'activation_fn_in_separable_conv': activation_fn_in_separable_conv,
          'regularize_depthwise': regularize_depthwise, 'stride': stride,
          'kernel_size': kernel_size, 'unit_rate_list': unit_rate_list or _DEFAULT_MULTI_GRID,
          'use_squeeze_excite': use_squeeze_excite, 'se_pool_size': se_pool_size}
  return Block(scope, xception_module, [unit] * num_units)


def build_factory(variant, inputs, num_classes=None, is_training=True, global_pool=True,
                  keep_prob=0.5, output_stride=None, regularize_depthwise=False, kernel_size=3,
                  multi_grid=None, reuse=None, scope=None, use_squeeze_excite=False,
                  se_pool_size=None, sync_batch_norm_method='None'):
  """The original's model factory of `variant` ('xception_41', 'xception_65', 'xception_71').

  Args:
    variant: A key of slim.nets.xception.VARIANTS (its block table).
    inputs, num_classes, is_training, global_pool, keep_prob, output_stride, reuse,
      sync_batch_norm_method: as `xception`.
    regularize_depthwise: Fused, L2-regularized separable convs (other variable names).
    kernel_size: Depthwise kernel size of every module.
    multi_grid: Rates of the exit_flow/block2 separable convs (3 values).
    scope: Variable scope; None is the variant name.
    use_squeeze_excite: Must be False (not implemented here).
    se_pool_size: Unused.

  Returns:
    (net, end_points) as `xception`.

  Raises:
    ValueError: with use_squeeze_excite, a bad multi_grid or a bad output_stride.
  """
  del se_pool_size
  if use_squeeze_excite:
    raise ValueError('use_squeeze_excite=True: the squeeze-and-excite xception module is not '
                     'implemented here (expected False).')
  blocks = xception_lib.xception_blocks(xception_lib.VARIANTS[variant], multi_grid=multi_grid,
                                        regularize_depthwise=regularize_depthwise,
                                        kernel_size=kernel_size)
  return xception(inputs, blocks, num_classes=num_classes, is_training=is_training,
                  global_pool=global_pool, keep_prob=keep_prob, output_stride=output_stride,
                  reuse=reuse, scope=scope or variant,
                  sync_batch_norm_method=sync_batch_norm_method)


def build_model(variant, inputs, num_classes=None, is_training=True, global_pool=True,
                keep_prob=0.5, output_stride=None, regularize_depthwise=False, multi_grid=None,
                reuse=None, scope=None, sync_batch_norm_method='None'):
  """The original's `xception_41/65/71`: `build_factory` with 3x3 kernels and no SE."""
  return build_factory(variant, inputs, num_classes, is_training, global_pool, keep_prob,
                       output_stride, regularize_depthwise, multi_grid=multi_grid, reuse=reuse,
                       scope=scope, sync_batch_norm_method=sync_batch_norm_method)


def _bind(builder, name, doc):
  return partials.wrapped_partial(builder, name, new_defaults={'scope': name}, doc=doc)


# pyformat: disable
xception_41 = _bind(build_model, 'xception_41', 'Xception-41 model. Args as `build_model`.')
xception_65 = _bind(build_model, 'xception_65', 'Xception-65 model. Args as `build_model`.')
xception_71 = _bind(build_model, 'xception_71', 'Xception-71 model. Args as `build_model`.')
xception_65_factory = _bind(build_factory, 'xception_65',
                            'Xception-65 model factory. Args as `build_factory`.')
xception_71_factory = _bind(build_factory, 'xception_71',
                            'Xception-71 model factory. Args as `build_factory`.')
# pyformat: enable


def xception_arg_scope(weight_decay=0.00004, batch_norm_decay=0.9997, batch_norm_epsilon=0.001,
                       batch_norm_scale=True, weights_initializer_stddev=0.09,
                       regularize_depthwise=False, use_batch_norm=True,
                       use_bounded_activation=False, sync_batch_norm_method='None'):
  """The original's Xception arg scope (see slim.nets.xception.xception_arg_scope).

  Args:
    weight_decay, batch_norm_decay, batch_norm_epsilon, batch_norm_scale,
      weights_initializer_stddev, regularize_depthwise, use_batch_norm,
      use_bounded_activation: as slim.nets.xception.xception_arg_scope.
    sync_batch_norm_method: 'None' (see core/utils.get_batch_norm_fn).

  Returns:
    An arg scope dict for `tf_slim.arg_scope`.
  """
  utils.get_batch_norm_fn(sync_batch_norm_method)
  return xception_lib.xception_arg_scope(
      weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
      batch_norm_epsilon=batch_norm_epsilon, batch_norm_scale=batch_norm_scale,
      weights_initializer_stddev=weights_initializer_stddev,
      regularize_depthwise=regularize_depthwise, use_batch_norm=use_batch_norm,
      use_bounded_activation=use_bounded_activation)
