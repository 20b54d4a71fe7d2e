"""Full coverage: give every float tensor of the inference path a range (beyond contrib.quantize).

The original rewriter only ranges conv/FC layers with Relu/Relu6/Identity, bypass Adds and Add/Mul
chains. TF 2.21's v1 TFLite converter silently keeps every op without a range in float, so a
"quantized" model ends up mixed. `apply(graph, options)` (contrib-style entry point:
`QuantizeRemaining`) runs after `quantize.apply` and walks the
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
              Relu6, LeakyRelu, Elu, BiasAdd, BatchMatMul*
  source      Cast to float of an int32/bool tensor          P/output_quant: EMA min/max variables
              (e.g. an attention mask from input_mask)       (no input range to start from)
  table       GatherV2/StridedSlice/Slice reading a float    <table>/weights_quant on the table
              variable (embeddings, position table)          (last value), then "preserve"
  layer       Conv2D, DepthwiseConv2dNative, MatMul,         <ctx>/weights_quant on the weights
              Conv2DBackpropInput                            (last value) + P/output_quant (EMA)

Why "preserve" and "concat" create no variables: their output range is inside the input range
(or the union of input ranges), and TFLite wants equal scales for most of them anyway. It also
keeps checkpoints interchangeable: the only new variables belong to ops that compute values,
which the training and the eval graph of one model share by name, so an eval graph restores from
its QAT checkpoint. The loss, gradients, optimizer, summaries and the units' own range updates are
never touched (they are not on the forward path, or lie under skipped name prefixes). What
TFLite itself dictates (fixed ranges, the atrous prologue, per-tensor transposed convs, fused
consumers) comes from `tflite_target`.
"""
import collections

import tensorflow as tf

from slim.quantize import common
from slim.quantize import fold_batch_norms
from slim.quantize import input_to_ops
from slim.quantize import options as options_lib
from slim.quantize import quantize
from slim.quantize import tflite_target

OUTPUT_QUANT = 'output' + quantize.UNIT_NAME_SUFFIX
FIXED_QUANT = 'fixed' + quantize.UNIT_NAME_SUFFIX

PRESERVE_TYPES = frozenset([
    'AvgPool', 'MaxPool', 'Mean', 'Max', 'Min', 'ResizeBilinear', 'ResizeNearestNeighbor',
    'Reshape', 'Squeeze', 'ExpandDims', 'Pad', 'SpaceToBatchND', 'BatchToSpaceND', 'Identity',
    'StridedSlice', 'Slice', 'Transpose', 'DepthToSpace', 'SpaceToDepth', 'GatherV2'
])
CONCAT_TYPES = frozenset(['ConcatV2'])
COMPUTE_TYPES = frozenset([
    'Add', 'AddV2', 'Sub', 'Mul', 'Maximum', 'Minimum', 'Relu', 'Relu6', 'LeakyRelu', 'Elu',
    'BiasAdd', 'BatchMatMul', 'BatchMatMulV2', 'BatchMatMulV3'
])
SOURCE_TYPES = frozenset(['Cast'])
# Integer dtypes whose cast to float starts a ranged path (masks, ids). Not uint8: a uint8 tensor
# is an image whose range the converter's input statistics give, and what an export graph does
# to it before the model's input node (DeepLab's cast, scale, pad) lies outside the converted
# model; ranging it would also ask a training checkpoint for variables it never had.
SOURCE_INPUT_DTYPES = frozenset([tf.int32, tf.int64, tf.bool])
# Nor class ids cast after the model's ArgMax output (DeepLab's export resizes the labels as
# floats): also outside the converted model, also variables no training checkpoint has.
SOURCE_SKIPPED_PRODUCERS = frozenset(['ArgMax', 'ArgMin'])
# Sinks that write variables: what only they consume is no model output.
STATE_UPDATE_TYPES = frozenset(['Assign', 'AssignAdd', 'AssignSub', 'AssignVariableOp',
                                'AssignAddVariableOp', 'AssignSubVariableOp'])
# The "layer" kind and the "fixed" kind are TFLite's tables.
LAYER_TYPES = frozenset(tflite_target.LAYER_RULES)
FIXED_TYPES = frozenset(tflite_target.FIXED_OUTPUT_RANGES)
# Ops of fold_batch_norms between the folded layer and its bias add (training and eval forms).
FOLD_TAIL_SUFFIXES = tuple('/' + name for name in fold_batch_norms.FOLD_TAIL_OPS)
# Name fragments of the rewriter's own ops (range updates, folding statistics): never covered.
_REWRITER_FRAGMENTS = (quantize.UNIT_NAME_SUFFIX + '/',
                       fold_batch_norms.BATCH_NORM_FOLD_SCOPE + '/',
                       fold_batch_norms.CORRECTION_SCOPE + '/',
                       common.QUANTIZATION_STEP_NAME)
# Output ranges of compute ops start wide and signed; the EMA replaces them after one step.
OUTPUT_CONFIG = quantize.QuantizerConfig(True, -6.0, 6.0, False, False, False)

_Range = collections.namedtuple('_Range', 'min max num_bits narrow_range')


def apply(graph, options):
  """Adds ranges to every remaining float tensor of the forward path (see module docstring).

  Reads `is_training`, `weight_bits` and `per_channel` (for layers the pattern pass missed),
  `activation_bits`, `ema_decay`, `quant_delay`, `vars_collection`, `scope` (only ops under it
  are covered), `exclude_scopes` (never touched) and `scheme` (per-op settings; its float ops
  are not covered). `symmetric` is not honoured (unless a scheme rule sets it): coverage units
  have always used asymmetric ranges (per-channel weights excepted, which TFLite needs
  symmetric), and existing QAT checkpoints were trained so.

  Args:
    graph: the `tf.Graph`, already processed by `quantize.apply`.
    options: the `QuantizeOptions` of the rewrite.
  """
  options = options.replace(symmetric=False)
  forward = _ForwardOps(graph)
  # A source starts a range only where the model computes with it: not in state updates
  # (pruning's mask = cast(|w| > threshold) is assigned to the mask variable, never served).
  model_forward = _ForwardOps(graph, ignored_sink_types=STATE_UPDATE_TYPES)
  # Layers first: a folded layer's clone is created after the ops that read its fold tail (the
  # activation), which must see its quantized weights. Layer coverage needs no quantized input.
  ops = sorted(graph.get_operations(), key=lambda op: op.type not in LAYER_TYPES)
  for op in ops:
    if op not in forward or not _Eligible(op, options):
      continue
    if op.type in LAYER_TYPES:
      _CoverLayer(op, options)
      continue
    if op.type in SOURCE_TYPES and op in model_forward and all(
        t.dtype in SOURCE_INPUT_DTYPES and
        t.op.type not in SOURCE_SKIPPED_PRODUCERS for t in op.inputs):
      _CoverCompute(op, options)
      continue
    if tflite_target.is_table_lookup(op):
      _CoverTable(op, options)
    if not _QuantizedInputs(op):
      continue
    if tflite_target.is_atrous_prologue(op):
      continue
    # A scheme's float ops get no unit (but a boundary range when quantized ops read them).
    resolved = quantize.ResolveUnit(options, op, op.outputs[0].consumers())
    if resolved is None:
      continue
    op_options = resolved[0]
    if op.type in PRESERVE_TYPES:
      _CoverWithRange(op, _RangeOf(_QuantizedInputs(op)[0]), OUTPUT_QUANT, op_options)
    elif op.type in CONCAT_TYPES:
      _CoverConcat(op, op_options)
    elif op.type in FIXED_TYPES:
      low, high = tflite_target.fixed_output_range(op.type)
      _CoverFixed(op, low, high, op_options)
    elif op.type in COMPUTE_TYPES:
      _CoverCompute(op, op_options)


def QuantizeRemaining(graph,
                      is_training,
                      activation_bits=8,
                      ema_decay=options_lib.DEFAULT_EMA_DECAY,
                      quant_delay=None,
                      vars_collection=tf.compat.v1.GraphKeys.GLOBAL_VARIABLES,
                      scope=None,
                      exclude_scopes=(),
                      weight_bits=8,
                      per_channel=False):
  """Keyword entry point in the style of `quantize.Quantize`: `apply` with these options.

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

  Raises:
    ValueError: if an argument is invalid (see `QuantizeOptions`).
  """
  apply(graph, options_lib.QuantizeOptions(
      is_training=is_training, weight_bits=weight_bits, activation_bits=activation_bits,
      ema_decay=ema_decay, quant_delay=quant_delay, vars_collection=vars_collection,
      scope=scope, per_channel=per_channel, exclude_scopes=exclude_scopes))


def _Eligible(op, options):
  if op.name.startswith(common.SKIPPED_PREFIXES) or any(f in op.name for f in _REWRITER_FRAGMENTS):
    return False
  if not options.in_scope(op.name) or options.excludes(op.name):
    return False
  if not op.outputs or op.outputs[0].dtype != tf.float32:
    return False
  return not common.FollowedByFakeQuant(op.outputs[0])


def _ForwardOps(graph, ignored_sink_types=()):
  """Ops that are ancestors of a graph output other than the loss (and its descendants), not
  counting outputs (sinks) whose type is in `ignored_sink_types`."""
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
  stack = [op for op in ops if not consumers[op] and op not in after_loss and
           op.type not in ignored_sink_types]
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


def _LayerBehindFoldTail(tensor):
  """The op producing `tensor`, or the layer behind it when `tensor` ends a BN-fold tail."""
  op = tensor.op
  while op.name.endswith(FOLD_TAIL_SUFFIXES):
    inner = [t.op for t in op.inputs
             if t.op.name.endswith(FOLD_TAIL_SUFFIXES) or tflite_target.is_layer(t.op)]
    if not inner:
      break
    op = inner[0]
  return op


def _QuantizedInputs(op):
  """Float inputs that carry a range, counting a layer output with quantized weights, also
  through its BN-fold tail (TFLite fuses the bias add or fold tail that follows, so its range
  comes from the op after it; the pattern pass does not match every layer type, e.g. a folded
  transposed conv)."""
  def has_range(t):
    if _IsQuantized(t):
      return True
    layer = _LayerBehindFoldTail(t)
    index = tflite_target.weight_input_index(layer.type)
    return index is not None and _IsQuantized(layer.inputs[index])
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


def _Reroute(op, consumers, quant, options, name_prefix):
  """Applies quant_delay and points `consumers` (taken before the unit was built) at `quant`."""
  output = op.outputs[0]
  quant = quantize.DelayQuant(quant, output, name_prefix, options.quant_delay)
  common.RerouteTensor(quant, output, can_modify=consumers)


def _CoverWithRange(op, value_range, unit, options):
  if value_range is None:
    return _CoverCompute(op, options)
  name_prefix = op.name + '/' + unit
  consumers = list(op.outputs[0].consumers())
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      quant = tf.quantization.fake_quant_with_min_max_vars(
          op.outputs[0], value_range.min, value_range.max, num_bits=value_range.num_bits,
          narrow_range=value_range.narrow_range, name='FakeQuantWithMinMaxVars')
  _Reroute(op, consumers, quant, options, name_prefix)


def _CoverConcat(op, options):
  ranges = [_RangeOf(t) for t in op.inputs[:-1]]
  if not ranges or any(r is None for r in ranges):
    return _CoverCompute(op, options)
  name_prefix = op.name + '/' + OUTPUT_QUANT
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      low = tf.reduce_min(tf.stack([r.min for r in ranges]), name='min')
      high = tf.reduce_max(tf.stack([r.max for r in ranges]), name='max')
  _CoverWithRange(op, _Range(low, high, ranges[0].num_bits, False), OUTPUT_QUANT, options)


def _CoverFixed(op, low, high, options):
  name_prefix = op.name + '/' + FIXED_QUANT
  consumers = list(op.outputs[0].consumers())
  with tf.compat.v1.name_scope(None):
    with tf.compat.v1.name_scope(name_prefix + '/'):
      quant = tf.quantization.fake_quant_with_min_max_args(
          op.outputs[0], min=low, max=high, num_bits=options.activation_bits,
          name='FakeQuantWithMinMaxArgs')
  _Reroute(op, consumers, quant, options, name_prefix)


def _CoverCompute(op, options):
  consumers = set(op.outputs[0].consumers())
  # The BN-fold tail of a layer is one TFLite op with the layer; the original patterns range its
  # end (act_quant/conv_quant), so its intermediate ops need none. Unless the pre-activation
  # tensor also feeds another op (an FPN level read both by the head and through relu6 by the
  # next level): that consumer needs the tail's own range.
  if op.name.endswith(FOLD_TAIL_SUFFIXES) and _RangedDownstream(consumers):
    return
  if tflite_target.bias_add_fused_with_activation(op, consumers):
    return
  quantize.InsertQuantOp(op.name, OUTPUT_QUANT, op, consumers, options, config=OUTPUT_CONFIG)


def _RangedDownstream(consumers):
  """Whether every consumer gives the tensor its range: a FakeQuant or the rewriter's own op,
  another fold-tail op, or an activation TFLite fuses into the layer that carries a range."""
  return all(
      c.type in common.FAKE_QUANT_TYPES or any(f in c.name for f in _REWRITER_FRAGMENTS) or
      c.name.endswith(FOLD_TAIL_SUFFIXES) or
      (c.type in common.ACTIVATION_TYPES and common.FollowedByFakeQuant(c.outputs[0]))
      for c in consumers)


def _CoverTable(op, options):
  """A weight unit on the variable table `op` reads (named after the table, which several
  lookups may share)."""
  table = op.inputs[0]
  if _IsQuantized(table):
    return
  quantize.InsertQuantOp(table.op.name.rsplit('/read', 1)[0], quantize.WEIGHTS_QUANT, table.op,
                         [op], options, layer_type=op.type)


def _CoverLayer(op, options):
  """Weights and output of a layer the pattern pass did not match."""
  try:
    # The fold's clone exists: this op only feeds the batch statistics of a folded BN.
    op.graph.get_operation_by_name(op.name + fold_batch_norms.FOLD_SUFFIX)
    return
  except KeyError:
    pass
  weight = op.inputs[tflite_target.weight_input_index(op.type)]
  # Per-channel depthwise weights come back from their FakeQuant through a Reshape.
  quantized = _IsQuantized(weight) or (
      weight.op.type == 'Reshape' and _IsQuantized(weight.op.inputs[0]))
  if weight.dtype == tf.float32 and not quantized and weight.op.type != 'Const':
    consumers = input_to_ops.InputToOps(op.graph).ConsumerOperations(weight.op)
    quantize.InsertQuantOp(
        quantize.GetContextFromOp(op), quantize.WEIGHTS_QUANT, weight.op, consumers, options,
        layer_type=op.type, owner=op)
  if (not tflite_target.output_fused_into_layer(op) and
      not common.FollowedByFakeQuant(op.outputs[0])):
    _CoverCompute(op, options)
