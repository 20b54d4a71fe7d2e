"""MobileNet building blocks: inverted residual `expanded_conv`, `split_conv`,
`split_separable_conv2d`, `squeeze_excite`, `reduce_to_1x1`."""

import contextlib
import functools

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets.mobilenet import mobilenet as lib

# Scope / op names inside one expanded_conv block (fixed by the original checkpoints).
DEFAULT_SCOPE = 'expanded_conv'
EXPAND_SCOPE = 'expand'
DEPTHWISE_SCOPE = 'depthwise'
PROJECT_SCOPE = 'project'
INPUT_NAME = 'input'
EXPANSION_OUTPUT = 'expansion_output'
DEPTHWISE_OUTPUT = 'depthwise_output'
OUTPUT_NAME = 'output'
# Scope of the squeeze-and-excite sub-block inside expanded_conv (convs 'Conv' and 'Conv_1').
SQUEEZE_EXCITE_SCOPE = 'squeeze_excite'


def _expansion_size(expansion_size, num_inputs, divisible_by=8):
  return lib._make_divisible(num_inputs * expansion_size, divisible_by)  # pylint: disable=protected-access


def expand_input_by_factor(n, divisible_by=8):
  """Returns a callable giving the inner size `n * num_inputs` rounded to `divisible_by`.

  Args:
    n: Expansion factor.
    divisible_by: Rounding of the inner channel count.

  Returns:
    A function `f(num_inputs) -> int`.
  """
  return functools.partial(_expansion_size, n, divisible_by=divisible_by)


def _split_divisible(num, num_ways, divisible_by=8):
  """Splits `num` channels into `num_ways` multiples of `divisible_by`, as evenly as possible.

  Each part gets the base size, grown by `divisible_by` while the running total stays below
  the even share, so the parts sum to `num` (e.g. 48 in 3 ways of 8 -> [16, 16, 16]).
  """
  assert num % divisible_by == 0, (num, divisible_by)
  assert num / num_ways >= divisible_by, (num, num_ways, divisible_by)
  base = num // num_ways // divisible_by * divisible_by
  parts = []
  total = 0
  for i in range(num_ways):
    part = base
    while total + part < num * (i + 1) / num_ways:
      part += divisible_by
    parts.append(part)
    total += part
  assert total == num, (num, parts)
  return parts


def split_conv(input_tensor, num_outputs, num_ways, scope, divisible_by=8, **kwargs):
  """A 1x1 conv split into `num_ways` group convs over channel slices (fewer MACs).

    input -> split_<scope> --> <scope>_part_0 (1x1) -> <scope>_part_0_output --+
                           \-> <scope>_part_1 (1x1) -> <scope>_part_1_output --+-> concat

  A plain `<scope>` conv when num_ways is 1 or a part would get fewer than `divisible_by`
  input or output channels.

  Args:
    input_tensor: A 4-D NHWC tensor with a static channel count.
    num_outputs: Output channels (split the same way).
    num_ways: Number of parts.
    scope: Base scope of the convs.
    divisible_by: Every part's channel counts are multiples of it.
    **kwargs: Passed to every tf_slim.conv2d (stride, normalizer_fn, activation_fn, ...).

  Returns:
    The output tensor with `num_outputs` channels.
  """
  depth = input_tensor.get_shape().as_list()[3]
  if num_ways == 1 or min(depth // num_ways, num_outputs // num_ways) < divisible_by:
    return tf_slim.conv2d(input_tensor, num_outputs, [1, 1], scope=scope, **kwargs)
  inputs = tf.split(input_tensor, _split_divisible(depth, num_ways, divisible_by), axis=3,
                    name='split_' + scope)
  outputs = []
  for i, (part, part_outputs) in enumerate(
      zip(inputs, _split_divisible(num_outputs, num_ways, divisible_by))):
    part_scope = '%s_part_%d' % (scope, i)
    net = tf_slim.conv2d(part, part_outputs, [1, 1], scope=part_scope, **kwargs)
    outputs.append(tf.identity(net, part_scope + '_output'))
  # Named after the last part, as the original graphs.
  return tf.concat(outputs, 3, name=part_scope + '_concat')


@contextlib.contextmanager
def _v1_compatible_scope_naming(scope):
  """Yields the prefix of the two convs: '<scope>_', or '' in a fresh 'separable' scope."""
  if scope is None:
    with tf.compat.v1.variable_scope(None, default_name='separable') as s, \
        tf.compat.v1.name_scope(s.original_name_scope):
      yield ''
  else:
    yield scope + '_'


@tf_slim.add_arg_scope
def split_separable_conv2d(input_tensor, num_outputs, scope=None, normalizer_fn=None, stride=1,
                           rate=1, endpoints=None, use_explicit_padding=False):
  """A 3x3 depthwise conv then a 1x1 pointwise conv (MobileNet V1's layer), with its names.

    input -> <scope>_depthwise (3x3, stride, rate) -> <scope>_pointwise (1x1, num_outputs)

  Args:
    input_tensor: A 4-D NHWC tensor.
    num_outputs: Channels of the pointwise conv.
    scope: Prefix of the two scopes; None opens a uniquified 'separable' scope instead.
    normalizer_fn: Normalizer of both convs.
    stride: Depthwise stride.
    rate: Depthwise atrous rate.
    endpoints: Optional dict receiving both outputs under their scope names.
    use_explicit_padding: Pad explicitly and convolve 'VALID'.

  Returns:
    The pointwise output.
  """
  with _v1_compatible_scope_naming(scope) as prefix:
    kernel_size = [3, 3]
    padding = 'SAME'
    if use_explicit_padding:
      padding = 'VALID'
      # pylint: disable-next=protected-access
      input_tensor = lib._fixed_padding(input_tensor, kernel_size, rate)
    depthwise_scope = prefix + DEPTHWISE_SCOPE
    net = tf_slim.separable_conv2d(input_tensor, None, kernel_size, depth_multiplier=1,
                                   stride=stride, rate=rate, normalizer_fn=normalizer_fn,
                                   padding=padding, scope=depthwise_scope)
    pointwise_scope = prefix + 'pointwise'
    if endpoints is not None:
      endpoints[depthwise_scope] = net
    net = tf_slim.conv2d(net, num_outputs, [1, 1], stride=1, normalizer_fn=normalizer_fn,
                         scope=pointwise_scope)
    if endpoints is not None:
      endpoints[pointwise_scope] = net
  return net


@tf_slim.add_arg_scope
def expanded_conv(input_tensor, num_outputs, expansion_size=expand_input_by_factor(6), stride=1,
                  rate=1, kernel_size=(3, 3), residual=True, normalizer_fn=None,
                  split_projection=1, split_expansion=1, split_divisible_by=8, endpoints=None,
                  use_explicit_padding=False, padding='SAME',
                  inner_activation_fn=None, depthwise_activation_fn=None,
                  project_activation_fn=tf.identity, expansion_transform=None, scope=None):
  """Inverted residual block: 1x1 expand -> depthwise -> linear 1x1 project (+ residual).

  Args:
    input_tensor: A 4-D NHWC tensor with a static channel count.
    num_outputs: Channels of the projection.
    expansion_size: Inner channel count, or a callable of the input depth
      (see `expand_input_by_factor`). No expansion conv is built unless it exceeds the input depth.
    stride: Depthwise stride.
    rate: Depthwise atrous rate.
    kernel_size: Depthwise kernel size.
    residual: Add the input when stride is 1 and depths match; may also be a callable
      `f(input_tensor=..., output_tensor=...)`.
    normalizer_fn: Normalizer for all three convolutions.
    split_projection: Split the projection into this many group convs (`split_conv`).
    split_expansion: Split the expansion into this many group convs (`split_conv`).
    split_divisible_by: Channel multiple of every split part.
    endpoints: Optional dict receiving 'expansion_output', 'depthwise_output', 'projection_output'.
    use_explicit_padding: Pad explicitly before the depthwise conv and use 'VALID'.
    padding: Depthwise padding ('SAME' or 'VALID').
    inner_activation_fn: Activation of the expansion and depthwise convs (None keeps the
      arg-scope default).
    depthwise_activation_fn: Activation of the depthwise conv; overrides inner_activation_fn.
    project_activation_fn: Activation of the projection (linear by default).
    expansion_transform: Optional `f(expansion_tensor=..., input_tensor=...)` applied to the
      depthwise output before the projection (MobileNetV3's squeeze-and-excite).
    scope: Variable scope; defaults to 'expanded_conv' (uniquified).

  Returns:
    The block output, an identity op named 'output'.

  Raises:
    TypeError: if use_explicit_padding is combined with padding other than 'SAME'.
  """
  conv_defaults = {}
  dw_defaults = {}
  if inner_activation_fn is not None:
    conv_defaults['activation_fn'] = inner_activation_fn
    dw_defaults['activation_fn'] = inner_activation_fn
  if depthwise_activation_fn is not None:
    dw_defaults['activation_fn'] = depthwise_activation_fn
  with tf.compat.v1.variable_scope(scope, default_name=DEFAULT_SCOPE) as s, \
      tf.compat.v1.name_scope(s.original_name_scope), \
      tf_slim.arg_scope((tf_slim.conv2d,), **conv_defaults), \
      tf_slim.arg_scope((tf_slim.separable_conv2d,), **dw_defaults):
    prev_depth = input_tensor.get_shape().as_list()[3]
    if use_explicit_padding:
      if padding != 'SAME':
        raise TypeError('`use_explicit_padding` should only be used with "SAME" padding.')
      padding = 'VALID'
    input_tensor = tf.identity(input_tensor, INPUT_NAME)
    net = input_tensor

    inner_size = expansion_size(num_inputs=prev_depth) if callable(expansion_size) else (
        expansion_size)
    if inner_size > prev_depth:
      net = split_conv(net, inner_size, num_ways=split_expansion, scope=EXPAND_SCOPE,
                       divisible_by=split_divisible_by, stride=1, normalizer_fn=normalizer_fn)
      net = tf.identity(net, EXPANSION_OUTPUT)
    if endpoints is not None:
      endpoints[EXPANSION_OUTPUT] = net

    if use_explicit_padding:
      net = lib._fixed_padding(net, kernel_size, rate)  # pylint: disable=protected-access
    # num_outputs=None makes separable_conv2d purely depthwise ('depthwise_weights').
    net = tf_slim.separable_conv2d(net, num_outputs=None, kernel_size=kernel_size,
                                   depth_multiplier=1, stride=stride, rate=rate,
                                   normalizer_fn=normalizer_fn, padding=padding,
                                   scope=DEPTHWISE_SCOPE)
    net = tf.identity(net, name=DEPTHWISE_OUTPUT)
    if endpoints is not None:
      endpoints[DEPTHWISE_OUTPUT] = net
    if expansion_transform:
      net = expansion_transform(expansion_tensor=net, input_tensor=input_tensor)

    net = split_conv(net, num_outputs, num_ways=split_projection, scope=PROJECT_SCOPE,
                     divisible_by=split_divisible_by, stride=1, normalizer_fn=normalizer_fn,
                     activation_fn=project_activation_fn)
    if endpoints is not None:
      endpoints['projection_output'] = net

    if callable(residual):
      net = residual(input_tensor=input_tensor, output_tensor=net)
    elif (residual and stride == 1 and
          net.get_shape().as_list()[3] == input_tensor.get_shape().as_list()[3]):
      net += input_tensor
    return tf.identity(net, name=OUTPUT_NAME)


@tf_slim.add_arg_scope
def squeeze_excite(input_tensor, divisible_by=8, squeeze_factor=3, inner_activation_fn=tf.nn.relu,
                   gating_fn=tf.sigmoid, squeeze_input_tensor=None):
  """Squeeze-and-excite: scales the channels of `input_tensor` by a gate from its global mean.

  Graph (scope 'squeeze_excite', names of the original checkpoints):
    Mean(squeeze_input) -> Conv (1x1, biases, inner_activation_fn)
      -> Conv_1 (1x1, biases, gating_fn) -> input_tensor * gate

  Args:
    input_tensor: A 4-D NHWC tensor to rescale.
    divisible_by: Rounding of the squeezed channel count.
    squeeze_factor: The squeeze conv has channels(squeeze_input) / squeeze_factor channels.
    inner_activation_fn: Activation of the squeeze conv.
    gating_fn: Activation of the excite conv (the gate).
    squeeze_input_tensor: Tensor the gate is computed from (default: `input_tensor`).

  Returns:
    The gated tensor, same shape as `input_tensor`.
  """
  with tf.compat.v1.variable_scope(SQUEEZE_EXCITE_SCOPE):
    if squeeze_input_tensor is None:
      squeeze_input_tensor = input_tensor
    input_channels = squeeze_input_tensor.get_shape().as_list()[3]
    output_channels = input_tensor.get_shape().as_list()[3]
    squeeze_channels = lib._make_divisible(  # pylint: disable=protected-access
        input_channels / squeeze_factor, divisor=divisible_by)
    pooled = tf.reduce_mean(squeeze_input_tensor, [1, 2], keepdims=True)
    squeeze = tf_slim.conv2d(pooled, kernel_size=(1, 1), num_outputs=squeeze_channels,
                             normalizer_fn=None, activation_fn=inner_activation_fn)
    excite = tf_slim.conv2d(squeeze, num_outputs=output_channels, kernel_size=[1, 1],
                            normalizer_fn=None, activation_fn=gating_fn)
    return input_tensor * excite


@tf_slim.add_arg_scope
def reduce_to_1x1(input_tensor, default_size=7, **kwargs):
  """Average-pools a square map to 1x1 (a `default_size` kernel if the size is unknown).

  Args:
    input_tensor: A 4-D NHWC tensor.
    default_size: Kernel size when the spatial size is unknown or not square.
    **kwargs: Passed to tf_slim.avg_pool2d (stride, padding, scope).

  Returns:
    The pooled tensor.
  """
  h, w = input_tensor.get_shape().as_list()[1:3]
  if h is not None and w == h:
    k = [h, h]
  else:
    k = [default_size, default_size]
  return tf_slim.avg_pool2d(input_tensor, kernel_size=k, **kwargs)
