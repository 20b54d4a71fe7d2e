"""Full coverage: give every float tensor of the inference path a range (beyond contrib.quantize).

The original rewriter only ranges conv/FC layers with Relu/Relu6/Identity, bypass Adds and Add/Mul
chains. TF 2.21's v1 TFLite converter silently keeps every op without a range in float, so a
"quantized" model ends up mixed. `QuantizeRemaining` runs after `quantize.Quantize` and walks the
graph in creation (topological) order. An op is covered when it lies on the forward path (an
ancestor of a graph output that is not the loss), its output is float and not yet followed by a
FakeQuant, and one of its float inputs is already quantized (layer ops are covered regardless of
their input, which may be the model input). What it gets depends on its type (table below):

  kind        op types                                      unit (P = <op name>)
  ----------  --------------------------------------------  ------------------------------------
  preserve    pools, Mean, Resize*, Reshape, Squeeze, Pad,   P/output_quant reading the INPUT's
              ExpandDims, S2B/B2S, Identity, Max/Min          min/max: no new variables
  concat      ConcatV2                                       P/output_quant over [min of mins,
                                                             max of maxes]: no new variables
  fixed       Sigmoid, Softmax, Tanh                         P/fixed_quant: the range TFLite
                                                             requires (FakeQuantWithMinMaxArgs)
  compute     Add/AddV2/Sub/Mul/Maximum/Minimum, Relu,       P/output_quant: EMA min/max variables
              Relu6, LeakyRelu, Elu, BiasAdd
  layer       Conv2D, DepthwiseConv2dNative, MatMul,         <ctx>/weights_quant on the weights
              Conv2DBackpropInput                            (last value) + P/output_quant (EMA)

Why "preserve" and "concat" create no variables: their output range is inside the input range
(or the union of input ranges), and TFLite wants equal scales for most of them anyway. It also
keeps checkpoints interchangeable: the only new variables belong to ops that compute values,
which the training and the eval graph of one model share by name, so an eval graph restores from
its QAT checkpoint. The loss, gradients, optimizer, summaries and the units' own range updates are
never touched (they are not on the forward path, or lie under skipped name prefixes).
"""
import collections

import tensorflow as tf

from slim.quantize import common
from slim.quantize import input_to_ops
from slim.quantize import quantize

OUTPUT_QUANT = 'output_quant'
FIXED_QUANT = 'fixed_quant'

PRESERVE_TYPES = frozenset([
    'AvgPool', 'MaxPool', 'Mean', 'Max', 'Min', 'ResizeBilinear', 'ResizeNearestNeighbor',
    'Reshape', 'Squeeze', 'ExpandDims', 'Pad', 'SpaceToBatchND', 'BatchToSpaceND', 'Identity',
    'StridedSlice', 'Slice', 'Transpose', 'DepthToSpace', 'SpaceToDepth'
])
# The atrous prologue: TFLite fuses SpaceToBatchND -> conv -> BatchToSpaceND into one dilated
# conv only when nothing sits between them. Its input range already holds (range-preserving), and a
# FakeQuant on it would block the fusion: the uint8 model keeps three ops per dilated layer and the
# per-channel int8 model leaves the depthwise conv in float.
ATROUS_PROLOGUE_TYPES = frozenset(['SpaceToBatchND'])
CONCAT_TYPES = frozenset(['ConcatV2'])
# (min, max) giving the fixed uint8 scale/zero point TFLite requires: Sigmoid and Softmax output
# scale 1/256 zero point 0; Tanh scale 1/128 zero point 128.
FIXED_RANGES = {
    'Sigmoid': (0.0, 255.0 / 256.0),
    'Softmax': (0.0, 255.0 / 256.0),
    'Tanh': (-1.0, 127.0 / 128.0),
}
COMPUTE_TYPES = frozenset([
    'Add', 'AddV2', 'Sub', 'Mul', 'Maximum', 'Minimum', 'Relu', 'Relu6', 'LeakyRelu', 'Elu',
    'BiasAdd'
])
# Layer type -> index of its weight input.
LAYER_WEIGHT_INPUT = {
    'Conv2D': 1, 'DepthwiseConv2dNative': 1, 'MatMul': 1, 'Conv2DBackpropInput': 1
}
# Consumers that TFLite fuses into the layer (bias add, folded BN, atrous B2S) or that only read
# batch statistics: a layer output feeding one of them needs no range of its own.
LAYER_FUSED_CONSUMERS = frozenset(['BiasAdd', 'Add', 'AddV2', 'Mul', 'BatchToSpaceND',
                                   'FusedBatchNorm', 'FusedBatchNormV3'])
# Ops of fold_batch_norms between the folded layer and its bias add (training and eval forms).
FOLD_TAIL_SUFFIXES = ('/post_conv_mul', '/correction_add', '/add_fold', '/correction_mult',
                      '/mul_fold')
# Suffix of the clone fold_batch_norms makes of a layer; the original layer op then only feeds
# the batch statistics and must not be quantized.
FOLDED_LAYER_SUFFIX = '_Fold'
# Name fragments of the rewriter's own ops (range updates, folding statistics): never covered.
_REWRITER_FRAGMENTS = ('_quant/', 'BatchNorm_Fold/', 'batch_norm_correction/',
                       common.QUANTIZATION_STEP_NAME)
# Output ranges of compute ops start wide and signed; the EMA replaces them after one step.
_OUTPUT_CONFIG = quantize.QuantizerConfig(True, -6.0, 6.0, False, False, False)

_Range = collections.namedtuple('_Range', 'min max num_bits narrow_range')


def QuantizeRemaining(graph,
                      is_training,
                      activation_bits=8,
                      ema_decay=0.999,
                      quant_delay=None,
                      vars_collection=tf.compat.v1.GraphKeys.GLOBAL_VARIABLES,
                      scope=None,
                      exclude_scopes=(),
                      weight_bits=8,
                      per_channel=False):
  """Adds ranges to every remaining float tensor of the forward path (see module docstring).

  Args:
    graph: the `tf.Graph`, already processed by `quantize.Quantize`.
    is_training: learn ranges (training) or read them (eval).
    activation_bits: bits of output units.
    ema_decay: EMA decay of learned output ranges.
    quant_delay: steps before fake quantization acts (None/0: none).
    vars_collection: collection of the new min/max variables (besides GLOBAL_VARIABLES).
    scope: only ops whose names start with this scope are covered.
    exclude_scopes: op-name prefixes never touched.
    weight_bits: bits of weight units of layers the pattern pass missed.
    per_channel: per-channel weight ranges for those layers (not Conv2DBackpropInput).
  """
  if scope and not scope.endswith('/'):
    scope += '/'
  exclude_scopes = tuple(exclude_scopes or ())
  opts = quantize._Options(is_training, weight_bits, activation_bits, False, ema_decay,  # pylint: disable=protected-access
                           quant_delay, vars_collection, scope, per_channel, exclude_scopes)
  forward = _ForwardOps(graph)
  for op in list(graph.get_operations()):
    if op not in forward or not _Eligible(op, scope, exclude_scopes):
      continue
    if op.type in LAYER_WEIGHT_INPUT:
      _CoverLayer(op, opts)
      continue
    if not _QuantizedInputs(op):
      continue
    if op.type in ATROUS_PROLOGUE_TYPES and _FeedsOnlyLayers(op):
      continue
    if op.type in PRESERVE_TYPES:
      _CoverWithRange(op, _RangeOf(_QuantizedInputs(op)[0]), OUTPUT_QUANT, opts)
    elif op.type in CONCAT_TYPES:
      _CoverConcat(op, opts)
    elif op.type in FIXED_RANGES:
      low, high = FIXED_RANGES[op.type]
      _CoverFixed(op, low, high, opts)
    elif op.type in COMPUTE_TYPES:
      _CoverCompute(op, opts)


def _FeedsOnlyLayers(op):
  consumers = op.outputs[0].consumers()
  return bool(consumers) and all(c.type in LAYER_WEIGHT_INPUT for c in consumers)


def _Eligible(op, scope, exclude_scopes):
  if op.name.startswith(common.SKIPPED_PREFIXES) or any(f in op.name for f in _REWRITER_FRAGMENTS):
    return False
  if scope and not op.name.startswith(scope):
    return False
  if exclude_scopes and op.name.startswith(exclude_scopes):
    return False
  if not op.outputs or op.outputs[0].dtype != tf.float32:
    return False
  return not common.FollowedByFakeQuant(op.outputs[0])


def _ForwardOps(graph):
  """Ops that are ancestors of a graph output other than the loss (and its descendants)."""
  ops = [op for op in graph.get_operations() if not op.name.startswith(common.SKIPPED_PREFIXES)]
  consumers = {op: [] for op in ops}
  for op in ops:
    for t in op.inputs:
      if t.op in consumers:
        consumers[t.op].append(op)
  loss_ops = set()
  for key in (tf.compat.v1.GraphKeys.LOSSES, tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES):
    loss_ops.update(t.op for t in graph.get_collection(key) if hasattr(t, 'op'))
  after_loss = set()
  stack = list(loss_ops)
  while stack:
    op = stack.pop()
    if op in after_loss:
      continue
    after_loss.add(op)
    stack.extend(consumers.get(op, ()))
  forward = set()
  stack = [op for op in ops if not consumers[op] and op not in after_loss]
  while stack:
    op = stack.pop()
    if op in forward:
      continue
    forward.add(op)
    stack.extend(t.op for t in op.inputs)
  return forward


def _IsQuantized(tensor):
  op = tensor.op
  return op.type in common.FAKE_QUANT_TYPES or op.name.endswith(quantize.DELAYED_QUANT_MERGE)


def _QuantizedInputs(op):
  """Float inputs that carry a range, counting a layer output with quantized weights (TFLite
  fuses the bias add that follows, so its range comes from the op after it)."""
  def has_range(t):
    if _IsQuantized(t):
      return True
    index = LAYER_WEIGHT_INPUT.get(t.op.type)
    return index is not None and _IsQuantized(t.op.inputs[index])
  return [t for t in op.inputs if t.dtype == tf.float32 and has_range(t)]


def _FakeQuantOf(tensor):
  """The FakeQuant op producing `tensor` (through a delayed_quant Merge), or None."""
  op = tensor.op
  if op.type in common.FAKE_QUANT_TYPES:
    return op
  if op.name.endswith(quantize.DELAYED_QUANT_MERGE):
    for t in op.inputs:
      source = t.op.inputs[0].op if t.op.type == 'Switch' else None
      if source is not None and source.type in common.FAKE_QUANT_TYPES:
        return source
  return None


def _RangeOf(tensor):
  """Returns the (min, max) tensors of the per-tensor FakeQuant producing `tensor`, or None."""
  fq = _FakeQuantOf(tensor)
  if fq is None or fq.type == 'FakeQuantWithMinMaxVarsPerChannel':
    return None
  num_bits, narrow = fq.get_attr('num_bits'), fq.get_attr('narrow_range')
  if fq.type == 'FakeQuantWithMinMaxArgs':
    return _Range(tf.constant(fq.get_attr('min')), tf.constant(fq.get_attr('max')), num_bits,
                  narrow)
  return _Range(fq.inputs[1], fq.inputs[2], num_bits, narrow)


def _Reroute(op, consumers, quant, opts, name_prefix):
  """Applies quant_delay and points `consumers` (taken before the unit was built) at `quant`."""
  output = op.outputs[0]
  quant = quantize.DelayQuant(quant, output, name_prefix, opts.quant_delay)
  common.RerouteTensor(quant, output, can_modify=consumers)


def _CoverWithRange(op, value_range, unit, opts):
  if value_range is None:
    return _CoverCompute(op, opts)
  name_prefix = op.name + '/' + unit
  consumers = list(op.outputs[0].consumers())
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      quant = tf.quantization.fake_quant_with_min_max_vars(
          op.outputs[0], value_range.min, value_range.max, num_bits=value_range.num_bits,
          narrow_range=value_range.narrow_range, name='FakeQuantWithMinMaxVars')
  _Reroute(op, consumers, quant, opts, name_prefix)


def _CoverConcat(op, opts):
  ranges = [_RangeOf(t) for t in op.inputs[:-1]]
  if not ranges or any(r is None for r in ranges):
    return _CoverCompute(op, opts)
  name_prefix = op.name + '/' + OUTPUT_QUANT
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      low = tf.reduce_min(tf.stack([r.min for r in ranges]), name='min')
      high = tf.reduce_max(tf.stack([r.max for r in ranges]), name='max')
  _CoverWithRange(op, _Range(low, high, ranges[0].num_bits, False), OUTPUT_QUANT, opts)


def _CoverFixed(op, low, high, opts):
  name_prefix = op.name + '/' + FIXED_QUANT
  consumers = list(op.outputs[0].consumers())
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      quant = tf.quantization.fake_quant_with_min_max_args(
          op.outputs[0], min=low, max=high, num_bits=opts.activation_bits,
          name='FakeQuantWithMinMaxArgs')
  _Reroute(op, consumers, quant, opts, name_prefix)


def _CoverCompute(op, opts):
  consumers = set(op.outputs[0].consumers())
  # The BN-fold tail of a layer is one TFLite op with the layer; the original patterns range its
  # end (act_quant/conv_quant), so its intermediate ops need none.
  if op.name.endswith(FOLD_TAIL_SUFFIXES):
    return
  # A layer's bias add feeding only activations that already carry a range is fused into one
  # TFLite op with them: it needs no range of its own.
  fused_bias = any(t.op.type in LAYER_WEIGHT_INPUT for t in op.inputs)
  if fused_bias and consumers and all(
      c.type in common.ACTIVATION_TYPES and common.FollowedByFakeQuant(c.outputs[0])
      for c in consumers):
    return
  quantize.InsertQuantOp(op.name, OUTPUT_QUANT, op, consumers, opts, config=_OUTPUT_CONFIG)


def _CoverLayer(op, opts):
  """Weights and output of a layer the pattern pass did not match."""
  try:
    op.graph.get_operation_by_name(op.name + FOLDED_LAYER_SUFFIX)
    return  # the statistics branch of a folded batch norm
  except KeyError:
    pass
  weight = op.inputs[LAYER_WEIGHT_INPUT[op.type]]
  # Per-channel depthwise weights come back from their FakeQuant through a Reshape.
  quantized = _IsQuantized(weight) or (
      weight.op.type == 'Reshape' and _IsQuantized(weight.op.inputs[0]))
  if weight.dtype == tf.float32 and not quantized and weight.op.type != 'Const':
    consumers = input_to_ops.InputToOps(op.graph).ConsumerOperations(weight.op)
    layer_opts = opts
    if op.type == 'Conv2DBackpropInput':  # filter [h, w, out, in]: per-tensor only.
      layer_opts = opts._replace(per_channel=False)
    quantize.InsertQuantOp(
        quantize._GetContextFromOp(op), quantize.WEIGHTS_QUANT, weight.op, consumers,  # pylint: disable=protected-access
        layer_opts, depthwise=op.type == 'DepthwiseConv2dNative')
  consumer_types = {c.type for c in op.outputs[0].consumers()}
  if not consumer_types & LAYER_FUSED_CONSUMERS and not common.FollowedByFakeQuant(op.outputs[0]):
    _CoverCompute(op, opts)
