"""Graph surgery: folds batch norms into the preceding Conv2D / DepthwiseConv2dNative / MatMul /
Conv2DBackpropInput (transposed conv).

Eval fold (and inference-mode BN):      add_fold = layer_Fold(x, W * multiplier) + bias
Training fold (BN with batch stats):    add_fold = correction_add(post_conv_mul(
                                            layer_Fold(x, W * multiplier_mv))) + bias
with multiplier = gamma * rsqrt(var + eps), multiplier_mv the same with the *moving* variance
and bias = beta - mean * multiplier. The training corrections (section 6.3 of the fact sheet)
keep the weights scaled by the moving sigma, so weight ranges are stable, while the output
still equals batch-statistics BN until the BN is frozen (`QuantizeOptions.freeze_bn_delay`),
after which it equals moving-statistics BN.

Where the batch statistics come from is `QuantizeOptions.fold_mode`:
  * FOLD_ONE_CONV: from `unfolded = layer_Fold / multiplier_mv` (per output channel), which is
    the layer output with (fake-quantized) folded weights scaled back (the scheme of PyTorch's
    `ConvBn2d`). It is not materialised: the original BN (or its moments) reads layer_Fold and
    its batch mean and variance are rescaled by 1/multiplier_mv and its square (vectors), so the
    layer runs once forward and once backward and nothing full-size is added.
  * FOLD_CONTRIB: from the original layer, kept beside the clone as tf.contrib.quantize did
    (the layer runs twice; the weights are `correction_mult(W) * multiplier`, the same value).
The output expression, the names quantize.py matches and the variables are the same in both.

`apply(graph, options)` is the transform; `FoldBatchNorms(...)` is the tf.contrib.quantize
signature over it.
"""
import collections

import tensorflow as tf

from tensorflow.core.framework import attr_value_pb2
from tensorflow.python.framework import ops
from tensorflow.python.framework import smart_cond
from tensorflow.python.util import compat

from slim.quantize import common
from slim.quantize import graph_matcher
from slim.quantize import input_to_ops
from slim.quantize import options as options_lib

# Op names created by folding (checkpoints do not depend on them, tests and tools do).
MUL_FOLD = 'mul_fold'
ADD_FOLD = 'add_fold'
FOLD_SUFFIX = '_Fold'
BATCH_NORM_FOLD_SCOPE = 'BatchNorm_Fold'
CORRECTION_SCOPE = 'batch_norm_correction'
CORRECTION_MULT = 'correction_mult'
POST_CONV_MUL = 'post_conv_mul'
CORRECTION_ADD = 'correction_add'
SCALE_RESHAPE = 'scale_reshape'
CORRECTION_RESHAPE = 'correction_reshape'
UNDO_BESSEL = 'Undo_Bessel_Correction'
MOVING_MULTIPLIER = 'moving_multiplier'
UNFOLD_SCALE = 'unfold_scale'
STATISTICS_INPUT = 'statistics_input'
UNFOLDED_MEAN = 'unfolded_mean'
UNFOLDED_VARIANCE = 'unfolded_variance'
FOLD_GRADIENT = 'FoldFusedBatchNormGrad'
# The ops a fold puts between the layer clone and the bias add (training and eval forms); the
# converter fuses them with the layer.
FOLD_TAIL_OPS = (POST_CONV_MUL, CORRECTION_ADD, ADD_FOLD, CORRECTION_MULT, MUL_FOLD)

FOLDABLE_LAYER_TYPES = 'Conv2D|DepthwiseConv2dNative|MatMul'
TRANSPOSED_CONV_TYPE = 'Conv2DBackpropInput'
FUSED_BATCH_NORM_TYPES = '|'.join(sorted(common.FUSED_BATCH_NORM_TYPES))
# Attributes copied to the folded layer clone, per layer type (`dilations` and depthwise
# `data_format` were dropped by the original; copying them keeps dilated convs correct).
_CLONED_ATTRS = {
    'Conv2D': ('strides', 'padding', 'use_cudnn_on_gpu', 'data_format', 'dilations',
               'explicit_paddings'),
    'DepthwiseConv2dNative': ('strides', 'padding', 'data_format', 'dilations',
                              'explicit_paddings'),
    'MatMul': ('transpose_a', 'transpose_b'),
    TRANSPOSED_CONV_TYPE: ('strides', 'padding', 'use_cudnn_on_gpu', 'data_format', 'dilations',
                           'explicit_paddings'),
}
# Index of the weight input per layer type (a transposed conv reads [sizes, filter, input]).
_WEIGHT_INPUT = {'Conv2D': 1, 'DepthwiseConv2dNative': 1, 'MatMul': 1, TRANSPOSED_CONV_TYPE: 1}
# The shape a per-output-channel scale [C] takes to multiply the weights along their output
# channels, from the static weight shape; absent: the output channel is the last weight axis.
#   depthwise [h, w, in, mult]: output channel in * mult + m -> [in, mult]
#   transposed conv [h, w, out, in]: output channel is axis 2 -> [out, 1]
_WEIGHT_SCALE_SHAPE = {
    'DepthwiseConv2dNative': lambda shape: shape[2:4],
    TRANSPOSED_CONV_TYPE: lambda shape: [shape[2], 1],
}
# Unfused slim batch norm op names, relative to the `<ctx>` prefix of common.BatchNormGroups.
_UNFUSED = 'BatchNorm/batchnorm_1/'

# Everything needed to fold one batch norm. moving_* / bn_decay_* are None when the BN uses
# its moving statistics already (inference-mode BN): no training correction is needed then.
_BatchNormMatch = collections.namedtuple('_BatchNormMatch', [
    'layer_op', 'bn_op', 'output_tensor', 'input_tensor', 'weight_tensor', 'gamma_tensor',
    'beta_tensor', 'mean_tensor', 'variance_tensor', 'moving_mean_tensor',
    'moving_variance_tensor', 'bn_decay_mean_tensor', 'bn_decay_var_tensor', 'batch_epsilon',
    'batch_to_space_op'
])


def apply(graph, options):
  """Folds every batch norm that follows a foldable layer (FOLDABLE_LAYER_TYPES or a
  transposed conv), in place.

  Fused batch norms are folded first, then slim-style unfused ones. Folding twice changes
  nothing (a folded BN has no consumers left). Reads `is_training` (training fold with batch
  statistics and corrections, else the plain fold), `fold_mode` (where a training fold takes
  its batch statistics), `freeze_bn_delay` and `exclude_scopes` (layer-op name prefixes left
  unfolded); `scope` does not limit folding.

  Args:
    graph: the `tf.Graph` to rewrite.
    options: the `QuantizeOptions` of the rewrite.

  Raises:
    ValueError: when a BN output cannot be rerouted or the layer type is unsupported.
  """
  _FoldFusedBatchNorms(graph, options)
  _FoldUnfusedBatchNorms(graph, options)


def FoldBatchNorms(graph, is_training, freeze_batch_norm_delay=None, exclude_scopes=(), *,
                   fold_mode=options_lib.FOLD_ONE_CONV):
  """tf.contrib.quantize's entry point: `apply` with options built from the keywords.

  Args:
    graph: the `tf.Graph` to rewrite.
    is_training: training rewrite (batch statistics + corrections) or eval (plain fold).
    freeze_batch_norm_delay: steps of `fake_quantization_step` after which the folded BN uses
      moving statistics and stops updating them; None never freezes.
    exclude_scopes: layer-op name prefixes that are left unfolded.
    fold_mode: `QuantizeOptions.fold_mode` (this project's addition).

  Raises:
    ValueError: when a BN output cannot be rerouted, the layer type is unsupported, or an
      argument is invalid (see `QuantizeOptions`).
  """
  apply(graph, options_lib.QuantizeOptions(
      is_training=is_training, freeze_bn_delay=freeze_batch_norm_delay,
      exclude_scopes=exclude_scopes, fold_mode=fold_mode))


@ops.RegisterGradient(FOLD_GRADIENT)
def _FoldFusedBatchNormGrad(op, unused_grad_y, grad_mean, grad_var, *unused_grads):
  """Gradient of the statistics outputs only: the BN output itself is no longer used."""
  x = op.inputs[0]
  n = tf.cast(tf.size(x) / tf.size(grad_mean), tf.float32)
  dmean_dx = grad_mean / n
  dvar_dx = 2 * grad_var * (x - op.outputs[1]) / (n - 1)
  return (dmean_dx + dvar_dx), None, None, None, None


def _OneConv(match, options):
  """Whether this BN gets the one-convolution training fold (batch statistics from the clone)."""
  return (options.is_training and match.moving_mean_tensor is not None and
          options.fold_mode == options_lib.FOLD_ONE_CONV)


def _ScaleForWeights(scale, layer_type, weights, name):
  """Reshapes a per-output-channel [C] scale so it multiplies `weights` per output channel."""
  to_shape = _WEIGHT_SCALE_SHAPE.get(layer_type)
  if to_shape is None:
    return scale
  return tf.reshape(scale, to_shape(weights.get_shape().as_list()), name=name)


def _MovingMultiplier(match):
  """gamma / sigma_moving: the scale of the one-conv fold's weights (no batch statistics)."""
  return tf.multiply(match.gamma_tensor,
                     tf.math.rsqrt(match.moving_variance_tensor + match.batch_epsilon),
                     name=MOVING_MULTIPLIER)


def _FeedStatisticsFromClone(statistics_input, layer_output, moving_multiplier, batch_mean,
                             batch_variances):
  """Gives the BN the batch statistics of `layer_output / moving_multiplier` (the unfolded output).

  The unfolded output itself is never computed: its per-channel mean and variance are those of
  `layer_output` times 1/m and 1/m^2, so every consumer of `statistics_input` (the original layer
  output: the fused BN, or the unfused BN's moments) reads `layer_output` (through the Identity
  STATISTICS_INPUT), and every consumer of
  the batch mean and variances (EMA updates, corrections, bias) reads them rescaled: vector ops
  instead of a full-size division and its gradient. The original layer is left without
  consumers, so it does not run. reciprocal_no_nan: a channel with gamma == 0 has all-zero
  folded weights; its statistics are 0.

  Args:
    statistics_input: the original layer output the statistics were computed from.
    layer_output: the folded clone's output (after its BatchToSpaceND).
    moving_multiplier: gamma / sigma_moving, per output channel.
    batch_mean: the batch mean tensor the fold and the EMA update read.
    batch_variances: the batch variance tensors they read (fused: the Bessel-corrected output).
  """
  consumers = list(statistics_input.consumers())
  # Through an Identity under BatchNorm_Fold/: the coverage pass leaves the statistics branch
  # alone (it would range a Reshape or Mean fed by a quantized layer otherwise).
  common.RerouteTensor(tf.identity(layer_output, name=STATISTICS_INPUT), statistics_input,
                       can_modify=consumers)
  unfold_scale = tf.math.reciprocal_no_nan(moving_multiplier, name=UNFOLD_SCALE)
  rescaled = [(batch_mean, unfold_scale, UNFOLDED_MEAN)]
  squared = tf.square(unfold_scale, name=UNFOLD_SCALE + '_squared')
  rescaled += [(v, squared, UNFOLDED_VARIANCE) for v in batch_variances]
  for tensor, scale, name in rescaled:
    consumers = list(tensor.consumers())
    common.RerouteTensor(tf.multiply(tensor, scale, name=name), tensor, can_modify=consumers)


def _FoldFusedBatchNorms(graph, options):
  for match in _FindFusedBatchNorms(graph):
    if options.excludes(match.layer_op.name):
      continue
    layer_type = match.layer_op.type
    one_conv = _OneConv(match, options)
    scope, sep, _ = match.layer_op.name.rpartition('/')
    with graph.as_default(), tf.compat.v1.name_scope(scope + sep):
      with tf.compat.v1.name_scope(scope + sep + BATCH_NORM_FOLD_SCOPE + '/'):
        multiplier = match.gamma_tensor * tf.math.rsqrt(match.variance_tensor +
                                                        match.batch_epsilon)
        bias = tf.subtract(match.beta_tensor, match.mean_tensor * multiplier, name='bias')
        correction_scale, correction_recip, correction_offset = None, None, None
        if options.is_training and match.moving_mean_tensor is not None:
          correction_scale, correction_recip, correction_offset = (
              _ComputeBatchNormCorrections('', match, options))
        if one_conv:
          # multiplier_mv == correction_scale * multiplier, without the batch statistics.
          moving_multiplier = _MovingMultiplier(match)
          weight_scale, correction_scale = moving_multiplier, None
        else:
          weight_scale = multiplier
        weight_scale = _ScaleForWeights(weight_scale, layer_type, match.weight_tensor,
                                        SCALE_RESHAPE)
        if correction_scale is not None:
          correction_scale = _ScaleForWeights(correction_scale, layer_type,
                                              match.weight_tensor, CORRECTION_RESHAPE)
      weights = match.weight_tensor
      if correction_scale is not None:
        weights = tf.multiply(correction_scale, weights, name=CORRECTION_MULT)
      scaled_weights = tf.multiply(weights, weight_scale, name=MUL_FOLD)
      # The layer's inputs are read now, not from the match: an earlier fold in this loop may
      # have rerouted them (a pointwise conv fed directly by a batch-normed depthwise conv, as
      # in every Xception module, would otherwise read the stale unfolded BN output).
      new_layer_tensor = _CloneWithNewOperands(match.layer_op, scaled_weights,
                                               match.batch_to_space_op)
      if one_conv:
        with tf.compat.v1.name_scope(scope + sep + BATCH_NORM_FOLD_SCOPE + '/'):
          statistics_input = (match.batch_to_space_op or match.layer_op).outputs[0]
          _FeedStatisticsFromClone(statistics_input, new_layer_tensor, moving_multiplier,
                                   match.bn_op.outputs[1], [match.bn_op.outputs[2]])
      if correction_recip is not None:
        new_layer_tensor = tf.multiply(correction_recip, new_layer_tensor, name=POST_CONV_MUL)
        new_layer_tensor = tf.add(new_layer_tensor, correction_offset, name=CORRECTION_ADD)
      bias_add_tensor = tf.add(new_layer_tensor, bias, name=ADD_FOLD)
      if common.RerouteTensor(bias_add_tensor, match.output_tensor) == 0:
        raise ValueError('Folding batch norms failed, %s had no outputs.' %
                         match.output_tensor.name)


class _FusedPatterns(object):
  r"""Fused BN patterns:  [Reshape](FusedBatchNorm(x, gamma, beta, mean, variance))

      x = [Reshape](layer_output)                 (MatMul: slim reshapes 2-D to 4-D)
      layer_output = [Identity]([BatchToSpaceND](layer))
      layer = Conv2D|DepthwiseConv2dNative|MatMul(input, weight)
            | Conv2DBackpropInput(sizes, weight, input)
  """

  def __init__(self):
    any_op = lambda: graph_matcher.OpTypePattern('*')  # pylint: disable=unnecessary-lambda
    self.input, self.weight = any_op(), any_op()
    self.gamma, self.beta, self.mean, self.variance = any_op(), any_op(), any_op(), any_op()
    self.plain_layer = graph_matcher.OpTypePattern(FOLDABLE_LAYER_TYPES,
                                                   inputs=[self.input, self.weight])
    self.transposed_layer = graph_matcher.OpTypePattern(
        TRANSPOSED_CONV_TYPE, inputs=[any_op(), self.weight, self.input])
    layer = graph_matcher.OneofPattern([self.plain_layer, self.transposed_layer])
    self.batch_to_space = graph_matcher.OpTypePattern(
        'BatchToSpaceND', inputs=[layer, any_op(), any_op()])
    layer_with_identity = graph_matcher.OpTypePattern(
        'Identity', inputs=[graph_matcher.OneofPattern([self.batch_to_space, layer])])
    layer_output = graph_matcher.OneofPattern(
        [layer_with_identity, layer, self.batch_to_space])
    matmul_reshape = graph_matcher.OpTypePattern('Reshape', inputs=[layer_output, any_op()])
    self.batch_norm = graph_matcher.OpTypePattern(
        FUSED_BATCH_NORM_TYPES,
        inputs=[graph_matcher.OneofPattern([matmul_reshape, layer_output]), self.gamma,
                self.beta, self.mean, self.variance])
    self.output_reshape = graph_matcher.OpTypePattern('Reshape',
                                                      inputs=[self.batch_norm, any_op()])
    self.root = graph_matcher.OneofPattern([self.output_reshape, self.batch_norm])


def _FindMovingAverageUpdates(graph, batch_mean, batch_variance):
  """Finds moving statistics and EMA decay tensors of a BN from its update ops.

  Both slim's assign_moving_average and the Keras path compute `Mul(Sub(moving, batch), decay)`.

  Returns:
    (moving_mean, decay_mean, moving_variance, decay_var); None where not found.
  """
  found = {}
  for op in graph.get_operations():
    if op.type != 'Mul' or op.name.startswith(common.SKIPPED_PREFIXES):
      continue
    for i, inp in enumerate(op.inputs):
      sub_op = inp.op
      if sub_op.type != 'Sub' or len(sub_op.inputs) != 2:
        continue
      for key, stat in (('mean', batch_mean), ('var', batch_variance)):
        if _SameTensor(sub_op.inputs[1], stat) and key not in found:
          found[key] = (sub_op.inputs[0], op.inputs[1 - i])
  mean = found.get('mean', (None, None))
  var = found.get('var', (None, None))
  if mean[0] is None or var[0] is None:
    return None, None, None, None
  return mean[0], mean[1], var[0], var[1]


def _SameTensor(a, b):
  return a.op is b.op and a.value_index == b.value_index


def _FindFusedBatchNorms(graph):
  """Returns a `_BatchNormMatch` for each foldable fused batch norm of `graph`."""
  p = _FusedPatterns()
  matches = []
  for match_result in graph_matcher.GraphMatcher(p.root).match_graph(graph):
    layer_op = (match_result.get_op(p.plain_layer) or
                match_result.get_op(p.transposed_layer))
    bn_op = match_result.get_op(p.batch_norm)
    output_tensor = bn_op.outputs[0]
    if layer_op.type == 'MatMul':
      output_reshape_op = match_result.get_op(p.output_reshape)
      # Without the output Reshape, the BN root is matched again with it: skip this one.
      if output_reshape_op is None:
        continue
      output_tensor = output_reshape_op.outputs[0]
    # A BN output without consumers was already folded (idempotence) or is dangling.
    if not output_tensor.consumers():
      continue
    moving_mean = moving_var = decay_mean = decay_var = None
    if bn_op.get_attr('is_training'):
      # The BN still runs to provide batch statistics; only their gradient is needed.
      bn_op._set_attr('_gradient_op_type',  # pylint: disable=protected-access
                      attr_value_pb2.AttrValue(s=compat.as_bytes(FOLD_GRADIENT)))
      mean_tensor = bn_op.outputs[1]
      # TF reports the Bessel-corrected batch variance; BN normalizes with the biased one.
      bn_scope = bn_op.name.rpartition('/')[0]
      with graph.as_default(), tf.compat.v1.name_scope(bn_scope + '/' if bn_scope else None):
        n = tf.cast(tf.size(bn_op.inputs[0]) / tf.size(mean_tensor), tf.float32)
        variance_tensor = tf.multiply(bn_op.outputs[2], (n - 1) / n, name=UNDO_BESSEL)
      moving_mean, decay_mean, moving_var, decay_var = _FindMovingAverageUpdates(
          graph, bn_op.outputs[1], bn_op.outputs[2])
      if moving_mean is None:
        # No EMA update ops (e.g. stats frozen by the user): fold with the moving statistics.
        mean_tensor = match_result.get_tensor(p.mean)
        variance_tensor = match_result.get_tensor(p.variance)
    else:
      # Inference-mode BN (e.g. DeepLab fine_tune_batch_norm=False): moving statistics.
      mean_tensor = match_result.get_tensor(p.mean)
      variance_tensor = match_result.get_tensor(p.variance)
    matches.append(_BatchNormMatch(
        layer_op=layer_op, bn_op=bn_op, output_tensor=output_tensor,
        input_tensor=match_result.get_tensor(p.input),
        weight_tensor=match_result.get_tensor(p.weight),
        gamma_tensor=match_result.get_tensor(p.gamma),
        beta_tensor=match_result.get_tensor(p.beta), mean_tensor=mean_tensor,
        variance_tensor=variance_tensor, moving_mean_tensor=moving_mean,
        moving_variance_tensor=moving_var, bn_decay_mean_tensor=decay_mean,
        bn_decay_var_tensor=decay_var, batch_epsilon=bn_op.get_attr('epsilon'),
        batch_to_space_op=match_result.get_op(p.batch_to_space)))
  return matches


def _ComputeBatchNormCorrections(context, match, options):
  """Builds correction_scale, correction_recip and correction_offset (fact sheet §6.3).

  Args:
    context: name prefix ('' inside the fused BatchNorm_Fold scope, '<ctx>' when unfused).
    match: a `_BatchNormMatch` with moving statistics and decay tensors.
    options: the `QuantizeOptions`; `freeze_bn_delay` is the step after which moving
      statistics are used and frozen (None: never).

  Returns:
    (correction_scale, correction_recip, correction_offset) tensors.
  """
  with tf.compat.v1.name_scope(context + CORRECTION_SCOPE):
    recip_sigma_mv = tf.math.rsqrt(match.moving_variance_tensor + match.batch_epsilon)
    recip_sigma = tf.math.rsqrt(match.variance_tensor + match.batch_epsilon)
    correction_scale = tf.divide(recip_sigma_mv, recip_sigma, name='scale_compute')
    correction_scale = tf.identity(correction_scale, name='correction_scale')
    correction_recip = tf.math.reciprocal(correction_scale, name='reciprocal_compute')
    correction_offset = tf.multiply(
        match.gamma_tensor,
        match.mean_tensor * recip_sigma - match.moving_mean_tensor * recip_sigma_mv,
        name='offset_compute')
    if options.freeze_bn_delay is not None:
      use_mv_avg = tf.greater_equal(common.CreateOrGetQuantizationStep(),
                                    options.freeze_bn_delay, name='use_moving_average')
    else:
      use_mv_avg = False
    # Frozen: the EMA decay (1 - momentum) becomes 0, so moving statistics stop changing.
    bn_decay_zero = 0.0
    for decay, name in ((match.bn_decay_mean_tensor, 'freeze_moving_mean'),
                        (match.bn_decay_var_tensor, 'freeze_moving_var')):
      consumers = list(decay.consumers())
      decay_out = smart_cond.smart_cond(use_mv_avg, lambda: bn_decay_zero,
                                        lambda d=decay: d, name=name)
      if decay_out is not decay:
        common.RerouteTensor(tf.convert_to_tensor(decay_out), decay, can_modify=consumers)
    correction_recip = smart_cond.smart_cond(
        use_mv_avg, lambda: tf.ones_like(correction_recip), lambda: correction_recip,
        name='correction_recip')
    correction_offset = smart_cond.smart_cond(
        use_mv_avg, lambda: correction_offset, lambda: tf.zeros_like(correction_offset),
        name='correction_offset')
  return correction_scale, correction_recip, correction_offset


def _CloneWithNewOperands(layer_op, weight_tensor, batch_to_space_op):
  """Clones `layer_op` as `<name>_Fold` reading `weight_tensor`; re-adds BatchToSpaceND."""
  new_layer_name = layer_op.name.split('/')[-1] + FOLD_SUFFIX
  if layer_op.type not in _CLONED_ATTRS:
    raise ValueError('Cannot handle operation of type: %s' % layer_op.type)
  attrs = {a: layer_op.node_def.attr[a] for a in _CLONED_ATTRS[layer_op.type]
           if a in layer_op.node_def.attr}
  attrs['T'] = layer_op.node_def.attr['T']
  inputs = list(layer_op.inputs)
  inputs[_WEIGHT_INPUT[layer_op.type]] = weight_tensor
  graph = layer_op.graph
  conv = graph.create_op(layer_op.type, inputs, [layer_op.outputs[0].dtype],
                         name=new_layer_name, attrs=attrs).outputs[0]
  if batch_to_space_op is not None:
    conv = tf.compat.v1.batch_to_space_nd(
        conv, batch_to_space_op.inputs[1], batch_to_space_op.inputs[2],
        name=batch_to_space_op.name.split('/')[-1] + FOLD_SUFFIX)
  return conv


def _FoldUnfusedBatchNorms(graph, options):
  """Folds slim-named unfused batch norms (`<ctx>BatchNorm/batchnorm_1/...`)."""
  input_to_ops_map = input_to_ops.InputToOps(graph)
  for bn in common.BatchNormGroups(graph):
    if options.excludes(bn):
      continue
    add_shift = _GetOpOrNone(graph, bn + _UNFUSED + 'add_1')
    # Valid only if the BN output is still used (folding reroutes it away: idempotence).
    if add_shift is None:
      continue
    consumers = input_to_ops_map.ConsumerOperations(add_shift)
    if not consumers:
      continue
    has_scaling = _HasScaling(graph, input_to_ops_map, bn)
    folded_op = _CreateFoldedOp(graph, bn, has_scaling, options)
    if folded_op is None:
      continue
    modified = common.RerouteTensor(folded_op.outputs[0], add_shift.outputs[0],
                                    can_modify=consumers)
    if modified < len(consumers):
      raise ValueError('Unexpected inputs to ops: %s' % ', '.join(c.name for c in consumers))


def _GetOpOrNone(graph, name):
  try:
    return graph.get_operation_by_name(name)
  except KeyError:
    return None


def _HasScaling(graph, input_to_ops_map, bn):
  """Whether the unfused BN has gamma: Rsqrt then feeds exactly one Mul (by gamma)."""
  rsqrt_op = graph.get_operation_by_name(bn + _UNFUSED + 'Rsqrt')
  rsqrt_consumers = input_to_ops_map.ConsumerOperations(rsqrt_op)
  return sum(1 for op in rsqrt_consumers if op.type == 'Mul') == 1


def _GetUnfusedBatchNormParams(graph, context, has_scaling):
  """Locates the tensors of an unfused slim BN from its own ops (not by global suffix search)."""
  add_eps = graph.get_operation_by_name(context + _UNFUSED + 'add')
  variance_tensor = add_eps.inputs[0]
  epsilon = add_eps.inputs[1]
  rsqrt = graph.get_operation_by_name(context + _UNFUSED + 'Rsqrt')
  if has_scaling:
    inv = graph.get_operation_by_name(context + _UNFUSED + 'mul')
    gamma_tensor = inv.inputs[1] if inv.inputs[0].op is rsqrt else inv.inputs[0]
    mean_mul = graph.get_operation_by_name(context + _UNFUSED + 'mul_2')
  else:
    gamma_tensor = tf.ones_like(variance_tensor)
    mean_mul = graph.get_operation_by_name(context + _UNFUSED + 'mul_1')
  mean_tensor = mean_mul.inputs[0]
  moving_mean, decay_mean, moving_var, decay_var = _FindMovingAverageUpdates(
      graph, mean_tensor, variance_tensor)
  return _BatchNormMatch(
      layer_op=None, bn_op=None, output_tensor=None, input_tensor=None, weight_tensor=None,
      gamma_tensor=gamma_tensor, beta_tensor=None, mean_tensor=mean_tensor,
      variance_tensor=variance_tensor, moving_mean_tensor=moving_mean,
      moving_variance_tensor=moving_var, bn_decay_mean_tensor=decay_mean,
      bn_decay_var_tensor=decay_var, batch_epsilon=epsilon, batch_to_space_op=None)


def _CreateFoldedOp(graph, context, has_scaling, options):
  """Builds mul_fold, the layer clone and add_fold for one unfused BN; returns add_fold."""
  mul_scale_name = 'mul_1' if has_scaling else 'mul'
  mul_scale = graph.get_operation_by_name(context + _UNFUSED + mul_scale_name)
  statistics_input = mul_scale.inputs[0]
  op_below = statistics_input.op
  batch_to_space_op = None
  if op_below.type == 'BatchToSpaceND':
    batch_to_space_op = op_below
    op_below = op_below.inputs[0].op
  if op_below.type not in _CLONED_ATTRS:
    # Not a conv/FC layer (e.g. BN on an input): nothing to fold into.
    return None
  weight_index = _WEIGHT_INPUT[op_below.type]
  weights = op_below.inputs[weight_index]
  match = _GetUnfusedBatchNormParams(graph, context, has_scaling)
  one_conv = _OneConv(match, options)
  correction_scale, correction_recip, correction_offset = None, None, None
  with graph.as_default():
    if options.is_training and match.moving_mean_tensor is not None:
      correction_scale, correction_recip, correction_offset = _ComputeBatchNormCorrections(
          context, match, options)
    # The BN's own scale op (`mul`: gamma * rsqrt(var + eps); `Rsqrt` without gamma).
    scale = graph.get_operation_by_name(context + _UNFUSED + ('mul' if has_scaling else 'Rsqrt'))
    scale = scale.outputs[0]
    if one_conv:
      with tf.compat.v1.name_scope(context + BATCH_NORM_FOLD_SCOPE + '/'):
        moving_multiplier = _MovingMultiplier(match)
      scale, correction_scale = moving_multiplier, None
    scale = _ScaleForWeights(scale, op_below.type, weights, context + SCALE_RESHAPE)
    if correction_scale is not None:
      correction_scale = _ScaleForWeights(correction_scale, op_below.type, weights,
                                          context + CORRECTION_RESHAPE)
      weights = tf.multiply(correction_scale, weights, name=context + CORRECTION_MULT)
    mul_fold = _CloneOp(mul_scale, context + MUL_FOLD, [(0, weights), (1, scale)])
    _AssertShapesMatch(MUL_FOLD, mul_fold.inputs[0], mul_fold.outputs[0])
    conv_or_fc_folded = _CloneOp(op_below, op_below.name + FOLD_SUFFIX,
                                 [(weight_index, mul_fold.outputs[0])])
    add_shift = graph.get_operation_by_name(context + _UNFUSED + 'add_1')
    corrected_output = conv_or_fc_folded.outputs[0]
    if batch_to_space_op is not None:
      corrected_output = tf.compat.v1.batch_to_space_nd(
          corrected_output, batch_to_space_op.inputs[1], batch_to_space_op.inputs[2],
          name=batch_to_space_op.name + FOLD_SUFFIX)
    if one_conv:
      with tf.compat.v1.name_scope(context + BATCH_NORM_FOLD_SCOPE + '/'):
        _FeedStatisticsFromClone(statistics_input, corrected_output, moving_multiplier,
                                 match.mean_tensor, [match.variance_tensor])
    if correction_offset is not None:
      corrected_output = tf.multiply(correction_recip, corrected_output,
                                     name=context + POST_CONV_MUL)
      corrected_output = tf.add(corrected_output, correction_offset,
                                name=context + CORRECTION_ADD)
    add_fold = _CloneOp(add_shift, context + ADD_FOLD, [(0, corrected_output)])
    _AssertShapesMatch(ADD_FOLD, add_fold.inputs[0], add_fold.outputs[0])
  return add_fold


def _CloneOp(op, new_name, new_inputs):
  """Clones `op` (all attrs) as `new_name` with some inputs replaced: [(index, tensor)]."""
  inputs = list(op.inputs)
  for index, tensor in new_inputs:
    inputs[index] = tensor
  attrs = {k: v for k, v in op.node_def.attr.items() if not k.startswith('_')}
  return op.graph.create_op(op.type, inputs, [o.dtype for o in op.outputs], name=new_name,
                            attrs=attrs)


def _AssertShapesMatch(op_name, in_tensor, out_tensor):
  in_shape = in_tensor.get_shape()
  out_shape = out_tensor.get_shape()
  if not in_shape.is_compatible_with(out_shape):
    raise ValueError('%s should not change tensor shape: input %s, output %s' %
                     (op_name, in_shape, out_shape))
