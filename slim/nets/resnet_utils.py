"""Building blocks shared by the ResNet-style nets: block specs as data, and a dense stacker.

A network body is a list of `Block(scope, unit_fn, args)` records: `args` holds one kwargs dict per
unit (e.g. `{'depth': 256, 'depth_bottleneck': 64, 'stride': 1, 'unit_rate': 1}`).
`stack_blocks_dense` walks them under `<block scope>/unit_<i>` and implements `output_stride` the
way slim and DeepLab do: once the running stride reaches the target, later strides become atrous
rates, so the features stay dense.

Graph names here are checkpoint API (`conv1`, `shortcut`, `unit_%d`, `Pad`), as in slim's
`nets/resnet_utils.py`.
"""

import collections
import contextlib

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

# Variable scope of each unit inside a block (1-based, as in the released checkpoints).
UNIT_SCOPE = 'unit_%d'
# Default variable scope of a block opened without a name.
DEFAULT_BLOCK_SCOPE = 'block'


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """One stage of a ResNet-style network, as data.

  Attributes:
    scope: Variable scope of the block (e.g. 'block1' or 'entry_flow/block2').
    unit_fn: `unit_fn(net, rate=..., **unit_args) -> net`, e.g. a bottleneck.
    args: A sequence of kwargs dicts, one per unit (they all take 'stride').
  """


@contextlib.contextmanager
def scope_all(scope, default_scope, inputs, reuse):
  """Opens the network's variable scope with a name scope equal to it.

  Re-entering a VariableScope object would open a fresh name scope ('x_1'); resetting the name
  scope to the original keeps op names equal to variable names (as mobilenet does).

  Args:
    scope: Variable scope (string or VariableScope) or None.
    default_scope: Scope name used when `scope` is None.
    inputs: The network's input tensor (for the scope's graph).
    reuse: Reuse the variables.

  Yields:
    The VariableScope.
  """
  with tf.compat.v1.variable_scope(scope, default_scope, [inputs], reuse=reuse) as sc, \
      tf.compat.v1.name_scope(sc.original_name_scope):
    yield sc


def fixed_padding(inputs, kernel_size, rate=1):
  """Pads `inputs` spatially as 'SAME' would for a stride-1 conv, independent of its size.

  Args:
    inputs: A 4-D NHWC tensor.
    kernel_size: Integer kernel size of the conv that follows.
    rate: Atrous rate of the conv that follows.

  Returns:
    The padded tensor (op 'Pad' in the current name scope).
  """
  kernel_size_effective = kernel_size + (kernel_size - 1) * (rate - 1)
  pad_total = kernel_size_effective - 1
  pad_beg = pad_total // 2
  pad_end = pad_total - pad_beg
  return tf.pad(inputs, [[0, 0], [pad_beg, pad_end], [pad_beg, pad_end], [0, 0]])


def subsample(inputs, factor, scope=None):
  """Subsamples `inputs` by `factor` with a 1x1 max pool (identity if factor is 1).

  Args:
    inputs: A 4-D NHWC tensor.
    factor: Integer subsampling factor.
    scope: Name scope of the pooling op.

  Returns:
    The subsampled tensor.
  """
  if factor == 1:
    return inputs
  return tf_slim.max_pool2d(inputs, [1, 1], stride=factor, scope=scope)


def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None,
                conv_fn=tf_slim.conv2d):
  """A strided 2-D convolution whose output does not depend on the input size parity.

  With stride 1 this is a 'SAME' conv; otherwise the input is padded explicitly (as 'SAME' would
  pad a stride-1 conv) and convolved 'VALID', so that e.g. a 225x225 input gives 113x113 both with
  an even and an odd input and features line up across output strides.

  Args:
    inputs: A 4-D NHWC tensor.
    num_outputs: Number of output channels.
    kernel_size: Integer kernel size.
    stride: Integer stride.
    rate: Integer atrous rate.
    scope: Variable scope of the convolution.
    conv_fn: New: the convolution (`tf_slim.conv2d`, or DeepLab's `conv2d_ws.conv2d`).

  Returns:
    The output of `conv_fn` (with the arg scope's normalizer and activation).
  """
  if stride == 1:
    return conv_fn(inputs, num_outputs, kernel_size, stride=1, rate=rate, padding='SAME',
                   scope=scope)
  inputs = fixed_padding(inputs, kernel_size, rate)
  return conv_fn(inputs, num_outputs, kernel_size, stride=stride, rate=rate, padding='VALID',
                 scope=scope)


# The original messages (users match on them); the details follow in parentheses.
OUTPUT_STRIDE_UNREACHABLE = 'The target output_stride cannot be reached.'
OUTPUT_STRIDE_MULTIPLE = 'The output_stride needs to be a multiple of %d.'


def _unreachable(output_stride):
  return ValueError('%s (output_stride=%d)' % (OUTPUT_STRIDE_UNREACHABLE, output_stride))


@tf_slim.add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None, store_non_strided_activations=False,
                       outputs_collections=None):
  """Applies `blocks` in turn, keeping the features at `output_stride` through atrous rates.

  Each unit runs under `<block.scope>/unit_<i>`. While the running stride is below
  `output_stride`, a unit uses its own stride at rate 1; once it is reached, the unit runs with
  stride 1 at the current rate, and the rate grows by the stride the unit would have had.

  With `store_non_strided_activations`, the stride of each block's last unit moves to a 1x1
  subsampling after the block, so the block's end point holds the undecimated activations
  (4x the cost of that unit).

  Args:
    net: A 4-D NHWC tensor.
    blocks: A sequence of `Block` records.
    output_stride: Target ratio of input to output resolution (relative to `net`); None keeps
      every stride (the nominal network).
    store_non_strided_activations: See above.
    outputs_collections: Collection receiving each block's output under the block scope's name.

  Returns:
    The output tensor of the last block.

  Raises:
    ValueError: 'The target output_stride cannot be reached.'
  """
  current_stride = 1
  rate = 1

  def apply_stride(stride):
    """Strides by `stride` or, at the target already, turns it into rate; True if strided."""
    nonlocal current_stride, rate
    if output_stride is not None and current_stride == output_stride:
      rate *= stride
      return False
    current_stride *= stride
    if output_stride is not None and current_stride > output_stride:
      raise _unreachable(output_stride)
    return True

  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, DEFAULT_BLOCK_SCOPE, [net]) as sc:
      block_stride = 1
      for i, unit in enumerate(block.args):
        if store_non_strided_activations and i == len(block.args) - 1:
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        with tf.compat.v1.variable_scope(UNIT_SCOPE % (i + 1), values=[net]):
          unit_rate, stride = rate, unit.get('stride', 1)
          if apply_stride(stride):
            net = block.unit_fn(net, rate=1, **unit)
          else:
            net = block.unit_fn(net, rate=unit_rate, **dict(unit, stride=1))
      net = tf_slim.utils.collect_named_outputs(outputs_collections, sc.name, net)
      if apply_stride(block_stride):
        net = subsample(net, block_stride)
  if output_stride is not None and current_stride != output_stride:
    raise _unreachable(output_stride)
  return net


def stem(net, root_block, conv_fn=tf_slim.conv2d):
  """Applies the stem rows (conv scope, output depth, kernel size, stride) as `conv2d_same`s."""
  for conv_scope, depth, kernel_size, stride in root_block:
    net = conv2d_same(net, depth, kernel_size, stride=stride, scope=conv_scope, conv_fn=conv_fn)
  return net


def stem_and_blocks(net, root_fn, blocks, output_stride=None, root_stride=1,
                    end_points_collection=None, store_non_strided_activations=False):
  """Builds a network body: the root (stem), then the dense blocks.

  Args:
    net: The network's input tensor.
    root_fn: `f(net) -> net`, the layers before the blocks (e.g. `stem` + ResNet's pool1), or
      None for none.
    blocks: A sequence of `Block` records for `stack_blocks_dense`.
    output_stride: Ratio of input to output resolution of the whole body; None is nominal.
    root_stride: The total stride of `root_fn`.
    end_points_collection: The collection the body's layers record their outputs in; its
      content becomes the end points dict (and the collection is cleared).
    store_non_strided_activations: See `stack_blocks_dense`.

  Returns:
    (net, end_points).

  Raises:
    ValueError: if output_stride is not a multiple of root_stride or cannot be reached.
  """
  if root_fn is not None:
    if output_stride is not None:
      if output_stride % root_stride != 0:
        raise ValueError((OUTPUT_STRIDE_MULTIPLE % root_stride) + ' (got %d)' % output_stride)
      output_stride //= root_stride
    net = root_fn(net)
  net = stack_blocks_dense(net, blocks, output_stride, store_non_strided_activations)
  end_points = tf_slim.utils.convert_collection_to_dict(end_points_collection,
                                                        clear_collection=True)
  return net, end_points


def batch_norm_arguments(decay, epsilon, scale,
                         updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The `tf_slim.batch_norm` keyword arguments of the ResNet-style arg scopes."""
  return {'decay': decay, 'epsilon': epsilon, 'scale': scale,
          'updates_collections': updates_collections}


def resnet_arg_scope(weight_decay=0.0001, batch_norm_decay=0.997, batch_norm_epsilon=1e-5,
                     batch_norm_scale=True, activation_fn=tf.nn.relu, use_batch_norm=True,
                     batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The slim arg scope of ResNets: He init, l2 on conv weights, BN then ReLU.

  BN's `is_training` is not set here: the network builders set it from their own argument.

  Args:
    weight_decay: L2 weight decay of conv weights.
    batch_norm_decay: Moving-average decay of batch norm (DeepLab passes 0.95).
    batch_norm_epsilon: Batch-norm epsilon.
    batch_norm_scale: Whether batch norm learns a scale (gamma).
    activation_fn: Activation after each conv's batch norm.
    use_batch_norm: Whether convs are followed by batch norm.
    batch_norm_updates_collections: Collection of the moving-average update ops.

  Returns:
    An arg scope dict for `tf_slim.arg_scope`.
  """
  batch_norm_params = batch_norm_arguments(batch_norm_decay, batch_norm_epsilon,
                                           batch_norm_scale, batch_norm_updates_collections)
  with tf_slim.arg_scope(
      [tf_slim.conv2d],
      weights_regularizer=tf_slim.l2_regularizer(weight_decay),
      weights_initializer=tf_slim.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=tf_slim.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with tf_slim.arg_scope([tf_slim.batch_norm], **batch_norm_params):
      # Max pooling is 'SAME', as in the original (pool1 after the root block).
      with tf_slim.arg_scope([tf_slim.max_pool2d], padding='SAME') as arg_sc:
        return arg_sc
