"""Generic MobileNet builder: walks a declarative list of `op()` records.

A conv_defs dict is `{'defaults': {(fn, ...): kwargs}, 'overrides'?: {...}, 'spec': [op(...), ...]}`.
The builder applies `defaults` as nested arg scopes, then calls each op in turn, applying the depth
multiplier and turning strides into atrous rates once the requested output stride is reached.

Two layers, one builder pair each:
- `mobilenet_base` / `mobilenet` (slim's library API): a table and a raw `multiplier`.
- `module_mobilenet_base` / `module_mobilenet`: the public `mobilenet_base` / `mobilenet` of
  mobilenet_v2, mobilenet_v3 and mobilenet_multi_avg, which are these two functions with the
  module's `ModuleDefaults` (scope, default table, finegrain rule) bound by `wrapped_partial`,
  and the module's scope as the signature's default (as the original functions):

    mobilenet = lib.wrapped_partial(lib.module_mobilenet, MODULE_DEFAULTS,
                                    new_defaults={'scope': SCOPE})
"""

import collections
import contextlib
import copy
import dataclasses
import os

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from slim.nets import partials

wrapped_partial = partials.wrapped_partial

# Default variable scope of a net built without an explicit scope.
DEFAULT_SCOPE = 'Mobilenet'
# Suffix of op names collected as extra end points (`layer_N/<name>`).
OUTPUT_SUFFIX = 'output'


def _make_divisible(v, divisor, min_value=None):
  """Rounds `v` to a multiple of `divisor`, never below `min_value` nor >10% below `v`."""
  if min_value is None:
    min_value = divisor
  new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
  # Rounding down must not lose more than 10% of the channels.
  if new_v < 0.9 * v:
    new_v += divisor
  return int(new_v)


def _fixed_padding(inputs, kernel_size, rate=1):
  """Pads `inputs` spatially as 'SAME' would, independent of the input size.

  Args:
    inputs: A 4-D NHWC tensor.
    kernel_size: (height, width) of the kernel.
    rate: Atrous rate of the convolution that follows.

  Returns:
    The padded tensor.
  """
  effective = [kernel_size[0] + (kernel_size[0] - 1) * (rate - 1),
               kernel_size[1] + (kernel_size[1] - 1) * (rate - 1)]
  pad_total = [effective[0] - 1, effective[1] - 1]
  pad_beg = [pad_total[0] // 2, pad_total[1] // 2]
  pad_end = [pad_total[0] - pad_beg[0], pad_total[1] - pad_beg[1]]
  return tf.pad(inputs, [[0, 0], [pad_beg[0], pad_end[0]], [pad_beg[1], pad_end[1]], [0, 0]])


@tf_slim.add_arg_scope
def depth_multiplier(output_params, multiplier, divisible_by=8, min_depth=8, **unused_kwargs):
  """Scales `output_params['num_outputs']` in place by `multiplier` (rounded to `divisible_by`).

  Args:
    output_params: The op's parameter dict (modified in place).
    multiplier: Float depth multiplier.
    divisible_by: Channel counts are rounded to a multiple of this.
    min_depth: Lower bound on the channel count.
    **unused_kwargs: Ignored.
  """
  if 'num_outputs' not in output_params:
    return
  d = output_params['num_outputs']
  output_params['num_outputs'] = _make_divisible(d * multiplier, divisible_by, min_depth)


@contextlib.contextmanager
def depth_multiplier_scope(min_depth=None, divisible_by=None):
  """Arg scope for `depth_multiplier` that leaves its defaults alone for None arguments.

  Args:
    min_depth: Minimum channel count after the multiplier (None keeps 8).
    divisible_by: Channel rounding after the multiplier (None keeps 8).

  Yields:
    Nothing; `depth_multiplier` calls inside the block use the given values.
  """
  with safe_arg_scope((depth_multiplier,), min_depth=min_depth, divisible_by=divisible_by):
    yield


_Op = collections.namedtuple('Op', ['op', 'params', 'multiplier_func'])


def op(opfunc, multiplier_func=depth_multiplier, **params):
  """Records one layer of a spec: `opfunc(net, **params)`, with depth scaling.

  Args:
    opfunc: The layer function (e.g. tf_slim.conv2d or conv_blocks.expanded_conv).
    multiplier_func: Function applying the depth multiplier to the params.
    **params: Keyword arguments for `opfunc`.

  Returns:
    An `Op` record.
  """
  multiplier = params.pop('multiplier_transform', multiplier_func)
  return _Op(opfunc, params=params, multiplier_func=multiplier)


@contextlib.contextmanager
def _scope_all(scope, default_scope=None):
  # Re-enter the variable scope, and reset the name scope to its original one so that op names
  # match variable names even when `scope` is a VariableScope object opened by the caller.
  with tf.compat.v1.variable_scope(scope, default_name=default_scope) as s, \
      tf.compat.v1.name_scope(s.original_name_scope):
    yield s


@contextlib.contextmanager
def _set_arg_scope_defaults(defaults):
  """Applies a {(fn, ...): kwargs} dict as nested tf_slim arg scopes."""
  if hasattr(defaults, 'items'):
    items = list(defaults.items())
  else:
    items = defaults
  if not items:
    yield
  else:
    func, default_arg = items[0]
    with tf_slim.arg_scope(func, **default_arg):
      with _set_arg_scope_defaults(items[1:]):
        yield


@contextlib.contextmanager
def safe_arg_scope(funcs, **kwargs):
  """Like tf_slim.arg_scope, but drops kwargs whose value is None (keeps the outer value)."""
  filtered = {name: value for name, value in kwargs.items() if value is not None}
  if filtered:
    with tf_slim.arg_scope(funcs, **filtered) as sc:
      yield sc
  else:
    yield


@tf_slim.add_arg_scope
def mobilenet_base(inputs, conv_defs, multiplier=1.0, final_endpoint=None, output_stride=None,
                   use_explicit_padding=False, scope=None, is_training=False):
  """Builds the MobileNet feature layers described by `conv_defs`.

  Args:
    inputs: A 4-D NHWC float tensor.
    conv_defs: A dict with 'defaults', optional 'overrides', and 'spec' (list of `op()` records).
    multiplier: Depth multiplier applied to every op's `num_outputs` through its multiplier_func.
    final_endpoint: Stop after this end point (e.g. 'layer_18'); None builds the whole spec.
    output_stride: If set, the ratio of input to output resolution; once reached, later strides
      become atrous rates (only for non-1x1 kernels).
    use_explicit_padding: Pad explicitly and use 'VALID' convolutions instead of 'SAME'.
    scope: Variable scope (string or VariableScope); defaults to 'Mobilenet'.
    is_training: BN training mode; None keeps the value set by an outer arg scope.

  Returns:
    (net, end_points): the last tensor and a dict of end points (`layer_N`, `layer_N/<name>`).

  Raises:
    ValueError: if multiplier <= 0 or output_stride is not a positive number.
  """
  if multiplier <= 0:
    raise ValueError('multiplier is not greater than zero.')
  if output_stride is not None:
    if output_stride == 0 or (output_stride > 1 and output_stride % 2):
      raise ValueError('Output stride must be None, 1 or a multiple of 2.')

  conv_defs_defaults = conv_defs.get('defaults', {})
  conv_defs_overrides = conv_defs.get('overrides', {})
  if use_explicit_padding:
    conv_defs_overrides = copy.deepcopy(conv_defs_overrides)
    conv_defs_overrides[(tf_slim.conv2d, tf_slim.separable_conv2d)] = {'padding': 'VALID'}

  # The running stride and atrous rate, to implement output_stride.
  current_stride = 1
  rate = 1
  with _scope_all(scope, default_scope=DEFAULT_SCOPE), \
      safe_arg_scope([tf_slim.batch_norm], is_training=is_training), \
      _set_arg_scope_defaults(conv_defs_defaults), \
      _set_arg_scope_defaults(conv_defs_overrides):
    net = inputs
    end_points = {}
    scopes = {}
    for i, opdef in enumerate(conv_defs['spec']):
      params = dict(opdef.params)
      opdef.multiplier_func(params, multiplier)
      stride = params.get('stride', 1)
      if output_stride is not None and current_stride == output_stride:
        # The target stride is reached: keep the resolution and dilate instead.
        layer_stride = 1
        layer_rate = rate
        rate *= stride
      else:
        layer_stride = stride
        layer_rate = 1
        current_stride *= stride
      params['stride'] = layer_stride
      if layer_rate > 1 and tuple(params.get('kernel_size', [])) != (1, 1):
        # 1x1 convolutions gain nothing from dilation.
        params['rate'] = layer_rate
      if use_explicit_padding:
        if 'kernel_size' in params:
          net = _fixed_padding(net, params['kernel_size'], layer_rate)
        else:
          params['use_explicit_padding'] = True

      end_point = 'layer_%d' % (i + 1)
      net = opdef.op(net, **params)
      end_points[end_point] = net
      scopes[os.path.dirname(net.name)] = end_point
      if final_endpoint is not None and end_point == final_endpoint:
        break

    # Every op named '*output' directly under a layer's scope becomes 'layer_N/<name>'.
    for t in net.graph.get_operations():
      op_scope = os.path.dirname(t.name)
      base_name = os.path.basename(t.name)
      if op_scope in scopes and t.name.endswith(OUTPUT_SUFFIX):
        end_points[scopes[op_scope] + '/' + base_name] = t.outputs[0]
    return net, end_points


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09, dropout_keep_prob=0.8,
                   bn_decay=0.997):
  """Arg scope for training MobileNets (truncated-normal init, BN, l2 on conv2d only).

  Args:
    is_training: BN and dropout training mode; None leaves them to outer scopes.
    weight_decay: L2 weight decay for conv2d weights (separable convs are not regularized).
    stddev: Truncated-normal stddev for weights; < 0 selects Xavier initialization.
    dropout_keep_prob: Dropout keep probability.
    bn_decay: Batch-norm moving average decay.

  Returns:
    An arg scope dict for `tf_slim.arg_scope`.
  """
  batch_norm_params = {'decay': bn_decay, 'is_training': is_training}
  if stddev < 0:
    weight_initializer = tf_slim.initializers.xavier_initializer()
  else:
    weight_initializer = tf.compat.v1.truncated_normal_initializer(stddev=stddev)
  with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d],
                         weights_initializer=weight_initializer,
                         normalizer_fn=tf_slim.batch_norm), \
      tf_slim.arg_scope([mobilenet_base], is_training=is_training), \
      safe_arg_scope([tf_slim.batch_norm], **batch_norm_params), \
      safe_arg_scope([tf_slim.dropout], is_training=is_training, keep_prob=dropout_keep_prob), \
      tf_slim.arg_scope([tf_slim.conv2d],
                        weights_regularizer=tf_slim.l2_regularizer(weight_decay)), \
      tf_slim.arg_scope([tf_slim.separable_conv2d], weights_regularizer=None) as s:
    return s


# Names of the classification head (fixed by the released classification checkpoints).
INPUT_NAME = 'input'
EMBEDDING_NAME = 'embedding'
LOGITS_SCOPE = 'Logits'
LOGITS_CONV_SCOPE = 'Conv2d_1c_1x1'
DROPOUT_SCOPE = 'Dropout'
GLOBAL_POOL_NAME = 'global_pool'
LOGITS_OUTPUT_NAME = 'output'
PREDICTIONS_NAME = 'Predictions'


def global_pool(input_tensor, pool_op=tf.nn.avg_pool2d):
  """Averages `input_tensor` over its full spatial extent, keeping a 1x1 map.

  A static spatial shape gives a fixed-size 'VALID' average pool (one TFLite AVERAGE_POOL_2D,
  which keeps the input's quantization); an unknown shape falls back to a dynamic kernel.

  Args:
    input_tensor: A 4-D NHWC tensor.
    pool_op: The pooling op, `f(input, ksize, strides, padding)`.

  Returns:
    A [batch, 1, 1, channels] tensor.
  """
  shape = input_tensor.get_shape().as_list()
  if shape[1] is None or shape[2] is None:
    kernel_size = tf.convert_to_tensor(
        [1, tf.shape(input_tensor)[1], tf.shape(input_tensor)[2], 1])
  else:
    kernel_size = [1, shape[1], shape[2], 1]
  output = pool_op(input_tensor, ksize=kernel_size, strides=[1, 1, 1, 1], padding='VALID')
  # Recover the static batch and channel sizes lost by a dynamic kernel.
  output.set_shape([None, 1, 1, None])
  return output


@tf_slim.add_arg_scope
def mobilenet(inputs, num_classes=1001, prediction_fn=tf_slim.softmax, reuse=None,
              scope=DEFAULT_SCOPE, base_only=False, use_reduce_mean_for_pooling=False,
              **mobilenet_args):
  """Builds a MobileNet classifier: `mobilenet_base` + global pool + dropout + 1x1 logits.

  Graph names as the original slim classifier: identity '<scope>/input', '<scope>/embedding',
  '<scope>/Logits/{AvgPool|global_pool, Dropout, Conv2d_1c_1x1, output}', '<scope>/Predictions'.

  Args:
    inputs: A [batch, height, width, channels] float tensor.
    num_classes: Logits width; 0 or None returns the pooled embedding instead of logits.
    prediction_fn: `f(logits, scope)` for end point 'Predictions' (None to skip).
    reuse: Reuse the network's variables.
    scope: Variable scope (default 'Mobilenet').
    base_only: Return the `mobilenet_base` output (no pooling or head).
    use_reduce_mean_for_pooling: Pool with ReduceMean instead of an average pool.
    **mobilenet_args: Passed to `mobilenet_base` (conv_defs, multiplier, output_stride, ...).

  Returns:
    (logits, end_points): logits [batch, num_classes] (or the pooled features), and the
    end points of `mobilenet_base` plus 'global_pool', 'Logits', 'Predictions'.

  Raises:
    ValueError: if `inputs` is not 4-D.
  """
  is_training = mobilenet_args.get('is_training', False)
  input_shape = inputs.get_shape().as_list()
  if len(input_shape) != 4:
    raise ValueError('Expected rank 4 input, was: %d' % len(input_shape))
  with tf.compat.v1.variable_scope(scope, DEFAULT_SCOPE, reuse=reuse) as scope:
    inputs = tf.identity(inputs, INPUT_NAME)
    net, end_points = mobilenet_base(inputs, scope=scope, **mobilenet_args)
    if base_only:
      return net, end_points
    net = tf.identity(net, name=EMBEDDING_NAME)
    with tf.compat.v1.variable_scope(LOGITS_SCOPE):
      if use_reduce_mean_for_pooling:
        net = tf.reduce_mean(net, [1, 2], keepdims=True, name=GLOBAL_POOL_NAME)
      else:
        net = global_pool(net)
      end_points[GLOBAL_POOL_NAME] = net
      if not num_classes:
        return net, end_points
      net = tf_slim.dropout(net, scope=DROPOUT_SCOPE, is_training=is_training)
      # 1x1 conv with biases and no BN/activation: the classifier layer of the checkpoints.
      logits = tf_slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                              biases_initializer=tf.compat.v1.zeros_initializer(),
                              scope=LOGITS_CONV_SCOPE)
      logits = tf.squeeze(logits, [1, 2])
      logits = tf.identity(logits, name=LOGITS_OUTPUT_NAME)
    end_points[LOGITS_SCOPE] = logits
    if prediction_fn:
      end_points[PREDICTIONS_NAME] = prediction_fn(logits, PREDICTIONS_NAME)
  return logits, end_points


# Classification input size of every MobileNet (nets_factory's default_image_size).
DEFAULT_IMAGE_SIZE = 224


@dataclasses.dataclass(frozen=True)
class ModuleDefaults:
  """What a MobileNet module (V2, V3, Multi-AVG) fixes for its `mobilenet`/`mobilenet_base`.

  Attributes:
    scope: The module's variable scope (fixed by its checkpoints), used when `scope` is None.
    conv_defs: The module's default architecture table, used when `conv_defs` is None.
    finegrain_below_one_only: Finegrain classification mode keeps the last conv at full width
      only for depth multipliers below 1 (MobileNetV2), instead of for every multiplier
      (MobileNetV3).
  """
  scope: str
  conv_defs: dict = dataclasses.field(repr=False, compare=False)
  finegrain_below_one_only: bool = False


def _keep_full_width(params, multiplier):
  """A multiplier_func that leaves the op's channel count unscaled (finegrain mode)."""
  del params, multiplier


def _module_table(defaults, conv_defs, activation_fn=None):
  """A private copy of `conv_defs` (default: the module's), with the default activation replaced."""
  conv_defs = copy.deepcopy(defaults.conv_defs if conv_defs is None else conv_defs)
  if activation_fn:
    conv_key = (tf_slim.conv2d, tf_slim.fully_connected, tf_slim.separable_conv2d)
    conv_defs['defaults'][conv_key] = dict(conv_defs['defaults'].get(conv_key, {}),
                                           activation_fn=activation_fn)
  return conv_defs


def module_mobilenet_base(defaults, input_tensor, depth_multiplier=1.0, scope=None,
                          conv_defs=None, min_depth=None, divisible_by=None, **kwargs):
  """Builds a MobileNet module's feature layers (no classifier); bind `defaults` with a partial.

  Args:
    defaults: The module's `ModuleDefaults` (bound by the module).
    input_tensor: A 4-D NHWC float tensor.
    depth_multiplier: Channel multiplier for every layer.
    scope: Variable scope (string or VariableScope); None is the module's.
    conv_defs: Architecture table; None is the module's default table.
    min_depth: Minimum channel count after the multiplier (None keeps the default 8).
    divisible_by: Channel rounding after the multiplier (None keeps the default 8).
    **kwargs: Passed to `mobilenet_base` (final_endpoint, output_stride, use_explicit_padding,
      is_training).

  Returns:
    (net, end_points) as `mobilenet_base`.
  """
  with depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return mobilenet_base(input_tensor, conv_defs=_module_table(defaults, conv_defs),
                          multiplier=depth_multiplier, scope=scope or defaults.scope, **kwargs)


def module_mobilenet(defaults, input_tensor, num_classes=1001, depth_multiplier=1.0, scope=None,
                     conv_defs=None, finegrain_classification_mode=False, min_depth=None,
                     divisible_by=None, activation_fn=None, **kwargs):
  """Builds a MobileNet module's classifier (base + global pool + logits); bind `defaults`.

  Args:
    defaults: The module's `ModuleDefaults` (bound by the module).
    input_tensor: A 4-D NHWC float tensor.
    num_classes: Logits width (1001 for the ImageNet checkpoints); 0/None returns the embedding.
    depth_multiplier: Channel multiplier for every layer.
    scope: Variable scope; None is the module's.
    conv_defs: Architecture table; None is the module's default table.
    finegrain_classification_mode: Keep the last conv at its full width (e.g. 1280) whatever
      the multiplier, as the released 0.35/0.5 checkpoints do (MobileNetV2: only for
      multipliers below 1).
    min_depth: Minimum channel count after the multiplier (None keeps the default 8).
    divisible_by: Channel rounding after the multiplier (None keeps the default 8).
    activation_fn: Replaces the table's default conv activation if set (e.g. relu6 in V2).
    **kwargs: Passed to `mobilenet` (is_training, reuse, prediction_fn, base_only, ...).

  Returns:
    (logits, end_points) as `mobilenet`.
  """
  conv_defs = _module_table(defaults, conv_defs, activation_fn)
  if finegrain_classification_mode and (depth_multiplier < 1 or
                                        not defaults.finegrain_below_one_only):
    conv_defs['spec'][-1] = conv_defs['spec'][-1]._replace(multiplier_func=_keep_full_width)
  with depth_multiplier_scope(min_depth=min_depth, divisible_by=divisible_by):
    return mobilenet(input_tensor, num_classes=num_classes, conv_defs=conv_defs,
                     scope=scope or defaults.scope, multiplier=depth_multiplier, **kwargs)


module_mobilenet.default_image_size = DEFAULT_IMAGE_SIZE
