"""What the TFLite converter and its kernels require of a fake-quantized graph.

The transforms (`quantize.py`, `coverage.py`) decide where units go; the rules below decide the
details that only TFLite (and its XNNPACK delegate) dictates: which layers take per-channel
weights and in which layout, which weight ranges must be symmetric, which outputs have a fixed
range, and which ops the converter fuses into a layer (so they must not get a FakeQuant of their
own). `unit_settings` is the one place where a unit's bits, per-channel and symmetric flags are
derived from the `QuantizeOptions`; a quantization scheme plugs in there.
"""
import collections

from slim.quantize import common

DEPTHWISE_TYPE = 'DepthwiseConv2dNative'

# TF layer op types that become TFLite kernels with a weight tensor. Columns: tflite_op (the
# builtin it converts to), weight_input (index of the weight input of the TF op), per_channel
# (whether the kernel accepts per-channel weight scales).
LayerRule = collections.namedtuple('LayerRule', 'tflite_op weight_input per_channel')
LAYER_RULES = {
    'Conv2D': LayerRule('CONV_2D', 1, True),
    DEPTHWISE_TYPE: LayerRule('DEPTHWISE_CONV_2D', 1, True),
    'MatMul': LayerRule('FULLY_CONNECTED', 1, True),
    # The filter is [h, w, out, in]: per-channel scales would run along `in`, not the output
    # channels TRANSPOSE_CONV quantizes, so it takes one range.
    'Conv2DBackpropInput': LayerRule('TRANSPOSE_CONV', 1, False),
}

# (min, max) of the outputs whose scale and zero point TFLite fixes (the kernels reject any
# other): Sigmoid and Softmax scale 1/256 zero point 0; Tanh scale 1/128 zero point 128 (uint8).
FIXED_OUTPUT_RANGES = {
    'Sigmoid': (0.0, 255.0 / 256.0),
    'Softmax': (0.0, 255.0 / 256.0),
    'Tanh': (-1.0, 127.0 / 128.0),
}

# The atrous prologue. The converter fuses SpaceToBatchND -> conv -> BatchToSpaceND into one
# dilated conv only when nothing sits between them; a FakeQuant after SpaceToBatchND blocks the
# fusion (the uint8 model keeps three ops per dilated layer and the per-channel int8 model
# leaves the depthwise conv in float). Its input already carries a range that it preserves.
ATROUS_PROLOGUE_TYPES = frozenset(['SpaceToBatchND'])

# Ops that look rows up in a weight table (embeddings: GATHER; a position table's slice:
# STRIDED_SLICE/SLICE). TFLite keeps the table's scale through the lookup, so the table gets a
# weight range and the lookup's output reuses it.
TABLE_LOOKUP_TYPES = frozenset(['GatherV2', 'StridedSlice', 'Slice'])
# How a variable's value reaches its readers (ref variables through `<var>/read`).
VARIABLE_VALUE_TYPES = frozenset(['VariableV2', 'ReadVariableOp'])

# Consumers the converter fuses into the layer that feeds them (bias add, the folded BN's
# multiply/add, the atrous BatchToSpaceND) or that only read batch statistics (the BN left
# behind by folding): the layer output needs no range of its own then.
LAYER_FUSED_CONSUMERS = frozenset(['BiasAdd', 'Add', 'AddV2', 'Mul', 'BatchToSpaceND']) | (
    common.FUSED_BATCH_NORM_TYPES)

# The settings of one fake-quant unit. Columns: num_bits, per_channel (one range per output
# channel), symmetric (zero point 0), depthwise_layout (quantize a depthwise filter in TFLite's
# channel order, see `depthwise_channel_shape`).
UnitSettings = collections.namedtuple('UnitSettings',
                                      'num_bits per_channel symmetric depthwise_layout')


def unit_settings(options, config, layer_type=None):
  """Derives one unit's settings from the rewrite options and the unit's quantizer row.

  Args:
    options: the `QuantizeOptions` of the rewrite (for the unit's op).
    config: the unit's `quantize.QuantizerConfig` (`weight`: a weight unit; `symmetric`: the
      unit honours symmetric ranges).
    layer_type: op type of the layer reading the weights, for weight units.

  Returns:
    A `UnitSettings`.
  """
  per_channel = bool(options.per_channel and config.weight and supports_per_channel(layer_type))
  return UnitSettings(
      num_bits=options.weight_bits if config.weight else options.activation_bits,
      per_channel=per_channel,
      symmetric=bool(config.symmetric and symmetric_range(options.symmetric, per_channel)),
      depthwise_layout=per_channel and layer_type == DEPTHWISE_TYPE)


def supports_per_channel(layer_type):
  """Whether TFLite accepts per-channel weight scales for `layer_type` (True if unknown).

  Args:
    layer_type: a TF op type, or None when the caller does not know the layer.

  Returns:
    bool.
  """
  rule = LAYER_RULES.get(layer_type)
  return rule is None or rule.per_channel


def symmetric_range(symmetric, per_channel):
  """Whether a range must be symmetric: TFLite's int8 kernels need per-channel weights with
  zero point 0, so per-channel implies symmetric whatever the user asked.

  Args:
    symmetric: the user's `symmetric` option.
    per_channel: whether the unit is per-channel.

  Returns:
    bool.
  """
  return symmetric or per_channel


def depthwise_channel_shape(shape):
  """The shape in which a depthwise filter is fake-quantized per channel.

  TF stores depthwise filters as [h, w, in, mult]; TFLite's DEPTHWISE_CONV_2D filter is
  [1, h, w, in*mult] with quantized dimension 3. Quantizing [h, w, 1, in*mult] along its last
  axis gives the converter one range per TFLite channel.

  Args:
    shape: the static filter shape [h, w, in, mult] (a list of ints).

  Returns:
    [h, w, 1, in * mult].
  """
  return shape[:2] + [1, shape[2] * shape[3]]


def weight_input_index(op_type):
  """Index of the weight input of a layer op type, or None for other ops.

  Args:
    op_type: a TF op type.

  Returns:
    int or None.
  """
  rule = LAYER_RULES.get(op_type)
  return None if rule is None else rule.weight_input


def is_layer(op):
  """Whether `op` becomes a TFLite kernel with a weight tensor.

  Args:
    op: a `tf.Operation`.

  Returns:
    bool.
  """
  return op.type in LAYER_RULES


def fixed_output_range(op_type):
  """The (min, max) TFLite requires for the output of `op_type`, or None if it is free.

  Args:
    op_type: a TF op type.

  Returns:
    A (min, max) pair of floats, or None.
  """
  return FIXED_OUTPUT_RANGES.get(op_type)


def is_atrous_prologue(op):
  """Whether `op` is a SpaceToBatchND that only feeds layers (must stay unquantized).

  Args:
    op: a `tf.Operation`.

  Returns:
    bool.
  """
  if op.type not in ATROUS_PROLOGUE_TYPES:
    return False
  consumers = op.outputs[0].consumers()
  return bool(consumers) and all(is_layer(c) for c in consumers)


def is_table_lookup(op):
  """Whether `op` looks rows up in a float variable (an embedding or position table).

  Args:
    op: a `tf.Operation`.

  Returns:
    bool.
  """
  if op.type not in TABLE_LOOKUP_TYPES or not op.inputs or op.inputs[0].dtype.base_dtype != 'float32':
    return False
  source = op.inputs[0].op
  if source.type == 'Identity' and source.inputs:
    source = source.inputs[0].op
  return source.type in VARIABLE_VALUE_TYPES


def output_fused_into_layer(layer_op):
  """Whether the converter fuses a consumer of `layer_op`'s output into the layer.

  Args:
    layer_op: a layer `tf.Operation`.

  Returns:
    bool: True if any consumer type is in `LAYER_FUSED_CONSUMERS`.
  """
  return any(c.type in LAYER_FUSED_CONSUMERS for c in layer_op.outputs[0].consumers())


def bias_add_fused_with_activation(op, consumers):
  """Whether `op` is a layer's bias add that TFLite fuses with the activations after it.

  The converter folds layer + bias add + Relu/Relu6 into one kernel whose output range is the
  activation's; when every consumer is such an activation and already carries a range, the
  bias add needs none.

  Args:
    op: a `tf.Operation` (a candidate bias add).
    consumers: the consumers of its output 0.

  Returns:
    bool.
  """
  if not any(is_layer(t.op) for t in op.inputs):
    return False
  return bool(consumers) and all(
      c.type in common.ACTIVATION_TYPES and common.FollowedByFakeQuant(c.outputs[0])
      for c in consumers)
