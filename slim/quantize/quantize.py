"""What to quantize: layer patterns (as data) and the insertion of fake-quant units.

`apply(graph, options)` matches conv/FC layers with `graph_matcher` patterns in a fixed priority
order (largest first; a layer op matched once is never matched again), inserts the units of
`QUANTIZERS` around each match, then runs a second pass over Add/AddV2/Mul ops reached from a
quantized tensor. `Quantize(graph, is_training, ...)` is the tf.contrib.quantize signature over
it. Unit names and variable names are those of tf.contrib.quantize (1.15), so checkpoints are
interchangeable. How a unit's bits/per-channel/symmetric follow from the options is
`tflite_target.unit_settings`.
"""
import collections
import re

import tensorflow as tf

from slim.quantize import common
from slim.quantize import graph_matcher
from slim.quantize import input_to_ops
from slim.quantize import options as options_lib
from slim.quantize import quantizers
from slim.quantize import scheme as scheme_lib
from slim.quantize import tflite_target

# Layer op types whose weights get `weights_quant`.
QUANTIZABLE_TYPES = ('Conv2D', 'MatMul', 'DepthwiseConv2dNative')
# Element-wise ops of the second pass (§4.4 of the fact sheet).
ACTIVATION_LAYER_TYPES = frozenset(['Add', 'AddV2', 'Mul'])
RELU_TYPES = frozenset(['Relu', 'Relu6'])
# Producers the second pass looks through (upstream) when searching a quantized input. Distinct
# from common.FAKE_QUANT_PASS_THROUGH_TYPES, the consumers the idempotence guard looks through.
QUANTIZED_INPUT_PASS_THROUGH_TYPES = frozenset(
    ['Reshape', 'Identity', 'BatchToSpaceND', 'SpaceToBatchND', 'MaxPool', 'Max'])

# Unit names (suffixes of the unit prefix); stable API for checkpoints and tests. Every unit
# name (coverage's too) ends with UNIT_NAME_SUFFIX.
UNIT_NAME_SUFFIX = '_quant'
WEIGHTS_QUANT = 'weights_quant'
ACT_QUANT = 'act_quant'
CONV_QUANT = 'conv_quant'
ADD_QUANT = 'add_quant'
POST_ACTIVATION_BYPASS_QUANT = 'post_activation_bypass_quant'
ACTIVATION_LAYER_QUANT = 'activation_%s_quant'  # % op type, e.g. activation_AddV2_quant
ACTIVATE_QUANT = 'activate_quant'
DELAYED_QUANT = 'delayed_quant'
# Reshapes around a per-channel depthwise weight unit (into and out of TFLite's channel order).
DEPTHWISE_CHANNELS = 'depthwise_channels'
DEPTHWISE_WEIGHTS = 'depthwise_weights'
# The op consumers of a delayed unit read (the v1 cond's output).
DELAYED_QUANT_MERGE = DELAYED_QUANT + '/Merge'

# Quantizer settings per unit. Columns: moving_avg (EMA range, else last value), init_min,
# init_max, narrow_range, weight (uses weight_bits, else activation_bits), symmetric (honours
# the user's `symmetric`; the second pass never did).
QuantizerConfig = collections.namedtuple(
    'QuantizerConfig', 'moving_avg init_min init_max narrow_range weight symmetric')
QUANTIZERS = {
    WEIGHTS_QUANT: QuantizerConfig(False, -6.0, 6.0, True, True, True),
    ACT_QUANT: QuantizerConfig(True, 0.0, 6.0, False, False, True),
    CONV_QUANT: QuantizerConfig(True, -6.0, 6.0, False, False, True),
    ADD_QUANT: QuantizerConfig(True, -6.0, 6.0, False, False, True),
    POST_ACTIVATION_BYPASS_QUANT: QuantizerConfig(True, -6.0, 6.0, False, False, True),
    ACTIVATION_LAYER_QUANT: QuantizerConfig(True, -6.0, 6.0, False, False, False),
}


def apply(graph, options):
  """Inserts fake-quant units into `graph` in place, for training or eval.

  Reads every field of `options` but `freeze_bn_delay` and `full_coverage`: `scope` limits the
  producers (and, for weights/conv/add units, all consumers) that get units; `exclude_scopes`
  ops are neither producers nor consumers of a unit.

  Args:
    graph: the `tf.Graph` to rewrite (batch norms already folded).
    options: the `QuantizeOptions` of the rewrite.

  Raises:
    ValueError: when a unit cannot be rerouted into all its consumers.
  """
  scope = options.scope
  input_to_ops_map = input_to_ops.InputToOps(graph)
  quantized_ops = set()
  for layer_match in _FindLayersToQuantize(graph):
    context = GetContextFromOp(layer_match.layer_op)
    # Every unit of a match belongs to its layer (a scheme rule on the layer's scope decides).
    layer = layer_match.layer_op
    # Shared weights are quantized once, for all consumers.
    InsertQuantOp(
        context, WEIGHTS_QUANT, layer_match.weight_tensor.op,
        input_to_ops_map.ConsumerOperations(layer_match.weight_tensor.op), options,
        consumer_scope=scope, layer_type=layer_match.layer_op.type, owner=layer)

    add_context = context
    if layer_match.bypass_op:
      add_context = _ParentScope(context)
    InsertQuantOp(
        add_context, ACT_QUANT, layer_match.activation_op,
        input_to_ops_map.ConsumerOperations(layer_match.activation_op), options,
        producer_scope=scope, owner=layer)
    quantized_ops.add(layer_match.activation_op)

    if layer_match.bypass_op is not None and layer_match.bias_add_op is not None:
      InsertQuantOp(
          context, CONV_QUANT, layer_match.bias_add_op,
          input_to_ops_map.ConsumerOperations(layer_match.bias_add_op), options,
          producer_scope=scope, consumer_scope=scope, owner=layer)
      quantized_ops.add(layer_match.bias_add_op)

    if layer_match.bypass_op is not None:
      consumers = input_to_ops_map.ConsumerOperations(layer_match.bypass_op)
      # A following activation gets act_quant, so the Add itself needs no range.
      if not any(c.type in common.ACTIVATION_TYPES for c in consumers):
        InsertQuantOp(add_context, ADD_QUANT, layer_match.bypass_op, consumers, options,
                      producer_scope=scope, consumer_scope=scope, owner=layer)
        quantized_ops.add(layer_match.bypass_op)

    if layer_match.post_activation_bypass_op is not None:
      post_op = layer_match.post_activation_bypass_op
      consumers = input_to_ops_map.ConsumerOperations(post_op)
      if not any(c.type in RELU_TYPES for c in consumers):
        InsertQuantOp(_ParentScope(post_op.name), POST_ACTIVATION_BYPASS_QUANT, post_op,
                      consumers, options, producer_scope=scope, owner=layer)
        quantized_ops.add(post_op)

  _QuantizeActivationLayers(quantized_ops, graph, options)


def Quantize(graph,
             is_training,
             weight_bits=8,
             activation_bits=8,
             symmetric=False,
             ema_decay=options_lib.DEFAULT_EMA_DECAY,
             quant_delay=None,
             vars_collection=tf.compat.v1.GraphKeys.GLOBAL_VARIABLES,
             scope=None,
             per_channel=False,
             exclude_scopes=()):
  """tf.contrib.quantize's entry point: `apply` with options built from the keywords.

  Args:
    graph: the `tf.Graph` to rewrite.
    is_training: whether ranges are learned (training) or read (eval).
    weight_bits: bits of weight units.
    activation_bits: bits of activation units.
    symmetric: symmetric ranges (weights and layer activations).
    ema_decay: EMA decay of activation ranges.
    quant_delay: number of steps (of `fake_quantization_step`) before fake quantization acts;
      None or 0 adds no delay.
    vars_collection: collection for the new min/max variables (besides GLOBAL_VARIABLES).
    scope: only ops whose names start with this scope are quantized.
    per_channel: weights use per-output-channel ranges (FakeQuantWithMinMaxVarsPerChannel).
    exclude_scopes: op-name prefixes never touched (neither producers nor consumers).

  Raises:
    ValueError: when a unit cannot be rerouted into all its consumers, or an argument is
      invalid (see `QuantizeOptions`).
  """
  apply(graph, options_lib.QuantizeOptions(
      is_training=is_training, weight_bits=weight_bits, activation_bits=activation_bits,
      symmetric=symmetric, ema_decay=ema_decay, quant_delay=quant_delay,
      vars_collection=vars_collection, scope=scope, per_channel=per_channel,
      exclude_scopes=exclude_scopes))


def _QuantizeActivationLayers(quantized_ops, graph, options):
  """Second pass: quantizes Add/AddV2/Mul ops that consume an already quantized tensor."""
  input_to_ops_map = input_to_ops.InputToOps(graph)
  for op in list(graph.get_operations()):
    if _CheckIfQuantizableOp(op, quantized_ops):
      InsertQuantOp(op.name, ACTIVATION_LAYER_QUANT % op.type, op,
                    input_to_ops_map.ConsumerOperations(op), options,
                    producer_scope=options.scope, unit=ACTIVATION_LAYER_QUANT)


def _CheckIfQuantizableOp(src_op, quantized_ops, memo=None):
  """Whether `src_op` is an Add/AddV2/Mul fed (possibly through pass-through ops) by quant."""
  # The memo (fresh for each top-level call, since insertions change the answers) keeps the
  # recursion linear on DAGs such as chains of residual Adds.
  memo = {} if memo is None else memo
  if src_op in memo:
    return memo[src_op]
  memo[src_op] = False
  if src_op.type not in ACTIVATION_LAYER_TYPES or src_op in quantized_ops:
    return False
  # A single consumer that is a Relu gets its own range already (act_quant).
  if (len(src_op.outputs) == 1 and len(src_op.outputs[0].consumers()) == 1 and
      src_op.outputs[0].consumers()[0].type in RELU_TYPES):
    return False
  for src_input in src_op.inputs:
    input_op = src_input.op
    while input_op.type in QUANTIZED_INPUT_PASS_THROUGH_TYPES and input_op.inputs:
      input_op = input_op.inputs[0].op
    if (input_op.type in common.FAKE_QUANT_TYPES or DELAYED_QUANT_MERGE in input_op.name or
        _CheckIfQuantizableOp(input_op, quantized_ops, memo)):
      memo[src_op] = True
      return True
  return False


# One layer match: the layer op, its weight tensor, the op after which act_quant goes, and the
# optional bypass Add, post-activation bypass Add and bias add.
_LayerMatch = collections.namedtuple(
    '_LayerMatch',
    'layer_op weight_tensor activation_op bypass_op post_activation_bypass_op bias_add_op')


class _LayerPatterns(object):
  r"""The pattern trees of §4.3, built once per rewrite (patterns are plain data).

                                  [post_activation_bypass = Add|AddV2(*, activation)]
                                               ^
      activation = Relu|Relu6|Identity(bias_add | folded_bias_add | bn_identity | bypass | layer)
                                               ^
      bypass = Add|AddV2(bias_add | folded_bias_add | bn_identity, *)
      bias_add = Add|AddV2|BiasAdd(layer_output, *)
      folded_bias_add = Add|AddV2(Add|AddV2(Mul(*, layer_output), *), *)   (training fold)
      bn_identity = Identity(folded_bias_add)                             (forced BN updates)
      layer_output = [BatchToSpaceND](layer)
      layer = Conv2D|MatMul|DepthwiseConv2dNative(*, weight)               (unordered)
      weight = Identity([Identity|ConcatV2(Identity)](Variable|VariableV2)) | ReadVariableOp | Mul
  """

  def __init__(self):
    weight_var = graph_matcher.OpTypePattern('Variable|VariableV2')
    weight_partition_identity = graph_matcher.OpTypePattern('Identity', inputs=[weight_var])
    weight_partition_concat = graph_matcher.OpTypePattern(
        'ConcatV2', inputs=[weight_partition_identity, '*', '*'])
    self.weight_identity = graph_matcher.OpTypePattern(
        'Identity', inputs=[graph_matcher.OneofPattern(
            [weight_partition_identity, weight_partition_concat, weight_var])])
    self.weight_resource_var = graph_matcher.OpTypePattern('ReadVariableOp')
    self.folded_weight = graph_matcher.OpTypePattern('Mul')
    self.layer = graph_matcher.OpTypePattern(
        '|'.join(QUANTIZABLE_TYPES),
        inputs=[graph_matcher.OpTypePattern('*'), graph_matcher.OneofPattern(
            [self.weight_identity, self.weight_resource_var, self.folded_weight])],
        ordered_inputs=False)
    batch_to_space = graph_matcher.OpTypePattern('BatchToSpaceND',
                                                 inputs=[self.layer, '*', '*'])
    layer_output = graph_matcher.OneofPattern([batch_to_space, self.layer])
    folded_bias_mul = graph_matcher.OpTypePattern('Mul', inputs=['*', layer_output],
                                                  ordered_inputs=False)
    post_layer_correction = graph_matcher.OpTypePattern(
        'Add|AddV2', inputs=[folded_bias_mul, '*'], ordered_inputs=False)
    self.folded_bias_add = graph_matcher.OpTypePattern(
        'Add|AddV2', inputs=[post_layer_correction, '*'], ordered_inputs=False)
    bn_identity = graph_matcher.OpTypePattern('Identity', inputs=[self.folded_bias_add])
    self.bias_add = graph_matcher.OpTypePattern(
        'Add|AddV2|BiasAdd', inputs=[layer_output, '*'], ordered_inputs=False)
    self.bypass = graph_matcher.OpTypePattern(
        'Add|AddV2',
        inputs=[graph_matcher.OneofPattern([self.bias_add, self.folded_bias_add, bn_identity]),
                '*'],
        ordered_inputs=False)
    self.activation = graph_matcher.OpTypePattern(
        '|'.join(sorted(common.ACTIVATION_TYPES)),
        inputs=[graph_matcher.OneofPattern([self.bias_add, self.folded_bias_add, bn_identity,
                                            self.bypass, self.layer])])
    self.post_activation_bypass = graph_matcher.OpTypePattern(
        'Add|AddV2', inputs=['*', self.activation], ordered_inputs=False)
    self.final_layer = graph_matcher.OneofPattern([self.bias_add, self.folded_bias_add])
    self.sep_conv = graph_matcher.OpTypePattern(
        '|'.join(QUANTIZABLE_TYPES), inputs=[layer_output, '*'], ordered_inputs=False)

  def weight_tensor(self, match):
    for pattern in (self.weight_identity, self.weight_resource_var, self.folded_weight):
      tensor = match.get_tensor(pattern)
      if tensor is not None:
        return tensor
    return None

  def bias_add_op(self, match):
    return match.get_op(self.bias_add) or match.get_op(self.folded_bias_add)

  # The matching passes, most specific first. Each entry: (root pattern attribute, function
  # match -> _LayerMatch or None).
  def passes(self):
    return [
        (self.post_activation_bypass, lambda m: _LayerMatch(
            m.get_op(self.layer), self.weight_tensor(m), m.get_op(self.activation),
            m.get_op(self.bypass), m.get_op(self.post_activation_bypass), self.bias_add_op(m))),
        (self.activation, lambda m: None if _IsSkipLayer(m.get_op(self.activation)) else
         _LayerMatch(m.get_op(self.layer), self.weight_tensor(m), m.get_op(self.activation),
                     m.get_op(self.bypass), None, self.bias_add_op(m))),
        # Final layer: the bias add itself plays the activation role.
        (self.final_layer, lambda m: _LayerMatch(
            m.get_op(self.layer), self.weight_tensor(m), self.bias_add_op(m), None, None, None)),
        # Separable conv: the inner layer (fed straight into another layer) is quantized.
        (self.sep_conv, lambda m: _LayerMatch(
            m.get_op(self.layer), self.weight_tensor(m), m.get_op(self.layer), None, None, None)),
    ]


def _FindLayersToQuantize(graph):
  """Returns the `_LayerMatch`es of `graph`, in pass order, each layer op at most once."""
  patterns = _LayerPatterns()
  layer_matches = []
  matched_layer_set = set()
  for root, to_layer_match in patterns.passes():
    for match in graph_matcher.GraphMatcher(root).match_graph(graph):
      layer_op = match.get_op(patterns.layer)
      if layer_op is None or layer_op in matched_layer_set:
        continue
      layer_match = to_layer_match(match)
      if layer_match is None or layer_match.weight_tensor is None:
        continue
      matched_layer_set.add(layer_op)
      layer_matches.append(layer_match)
  return layer_matches


def _IsSkipLayer(activation_op):
  """conv -> Identity -> FusedBatchNorm is the statistics branch left behind by folding."""
  if activation_op.type == 'Identity' and len(activation_op.outputs) == 1:
    consumers = activation_op.outputs[0].consumers()
    if len(consumers) == 1 and consumers[0].type in common.FUSED_BATCH_NORM_TYPES:
      return True
  return False


def InsertQuantOp(context, name, producer, consumers, options, producer_scope=None,
                  consumer_scope=None, unit=None, layer_type=None, config=None, owner=None):
  """Inserts a fake-quant unit after `producer` and reroutes `consumers` to it.

  Args:
    context: name scope of the unit ('' for top level).
    name: unit name (e.g. 'act_quant').
    producer: the op whose output 0 is quantized.
    consumers: ops to reroute to the quantized tensor.
    options: the `QuantizeOptions` of the rewrite.
    producer_scope: skip unless the producer is in this scope.
    consumer_scope: skip unless every consumer is in this scope.
    unit: key of QUANTIZERS when it differs from `name`.
    layer_type: for weight units, the op type of the layer reading the weights (decides
      per-channel support and the depthwise layout, see `tflite_target`).
    config: a `QuantizerConfig` to use instead of the QUANTIZERS row (coverage units).
    owner: the op whose scheme config decides the unit (default `producer`; the units of a
      matched layer pass its layer op). Only read when `options.scheme` is set.

  Raises:
    ValueError: if not every consumer could be rerouted.
  """
  config = config or QUANTIZERS[unit or name]
  if producer_scope and not producer.name.startswith(producer_scope):
    return
  if consumer_scope and any(not c.name.startswith(consumer_scope) for c in consumers):
    return
  if options.excludes(producer.name) or any(options.excludes(c.name) for c in consumers):
    return
  name_prefix = _AddContextToName(context, name)
  # Inside a name scope S (e.g. TPU 'TPUReplicate/loop') drop S/ so names are not doubled.
  name_scope = tf.compat.v1.get_default_graph().get_name_scope()
  if name_scope:
    name_prefix = common.DropStringPrefix(name_prefix, name_scope + '/')

  inputs = producer.outputs[0]
  # Idempotence: never quantize a tensor twice.
  if common.FollowedByFakeQuant(inputs):
    return

  resolved = ResolveUnit(options, owner or producer, consumers,
                         inner=config.weight or name == CONV_QUANT)
  if resolved is None:
    return
  options, layer_config = resolved
  settings = tflite_target.unit_settings(options, config, layer_type)
  quant_inputs = inputs
  if settings.depthwise_layout:
    # FakeQuant quantizes along the last axis: give it TFLite's channel order and reshape back.
    shape = inputs.get_shape().as_list()
    quant_inputs = tf.reshape(inputs, tflite_target.depthwise_channel_shape(shape),
                              name=name_prefix + '/' + DEPTHWISE_CHANNELS)
  quantizer = (layer_config.weight_quantizer if config.weight else
               layer_config.activation_quantizer) or quantizers.default_for(config.moving_avg)
  narrow_range = config.narrow_range
  if config.weight and layer_config.narrow_range is not None:
    narrow_range = layer_config.narrow_range
  quant = quantizer.quantize(quant_inputs, quantizers.UnitSpec(
      name_prefix=name_prefix, num_bits=settings.num_bits, per_channel=settings.per_channel,
      symmetric=settings.symmetric, narrow_range=narrow_range, init_min=config.init_min,
      init_max=config.init_max, is_training=options.is_training,
      vars_collection=options.vars_collection, ema_decay=options.ema_decay))
  if quant_inputs is not inputs:
    quant = tf.reshape(quant, shape, name=name_prefix + '/' + DEPTHWISE_WEIGHTS)

  quant = DelayQuant(quant, inputs, name_prefix, options.quant_delay)

  if consumers:
    modified_count = common.RerouteTensor(quant, inputs, can_modify=consumers)
    # Some operations can have multiple output tensors going to the same consumer. Since
    # consumers is a set, we need to ensure modified_count is at least the number of consumers.
    if modified_count < len(consumers):
      raise ValueError('No inputs quantized for ops: [%s]' %
                       ', '.join([c.name for c in consumers]))


def ResolveUnit(options, owner, consumers, inner=False):
  """The options and scheme config of one unit, or None when the scheme leaves it out.

  Without a scheme: (options, an empty LayerConfig). With one, the unit takes the config of
  `owner`, its layer. A float layer (`quantize: false`) gets no inner units (weights, the bias
  add of a bypass); its OUTPUT units (every other row: act_quant, add_quant, coverage's
  output units...) are still inserted when a quantized layer reads them, with that reader's
  config: that range is the float -> integer boundary of a mixed model.

  Args:
    options: the rewrite's `QuantizeOptions`.
    owner: the op whose config decides.
    consumers: the ops the unit feeds.
    inner: the unit is inside its layer (weights, a bypass's bias add), not an output.

  Returns:
    (QuantizeOptions for the unit, scheme.LayerConfig), or None.
  """
  if options.scheme is None:
    return options, scheme_lib.LayerConfig()
  layer_config = options.scheme.config_for(owner.name)
  if not layer_config.quantized:
    readers = [] if inner else [
        c for c in _BoundaryReaders(consumers) if options.scheme.config_for(c.name).quantized]
    if not readers:
      return None
    layer_config = options.scheme.config_for(readers[0].name)
  return options.replace(**layer_config.option_changes()), layer_config


# Ops a mixed model's boundary range is kept for (the first quantized op of a region) and the
# ops looked through to find them.
_BOUNDARY_READER_TYPES = frozenset(tflite_target.LAYER_RULES) | ACTIVATION_LAYER_TYPES | {
    'ConcatV2'}
_BOUNDARY_PASS_THROUGH_TYPES = frozenset(['SpaceToBatchND', 'Identity', 'Reshape', 'Pad'])


def _BoundaryReaders(consumers):
  readers, stack, seen = [], list(consumers), set()
  while stack:
    op = stack.pop()
    if op in seen:
      continue
    seen.add(op)
    if op.type in _BOUNDARY_READER_TYPES:
      readers.append(op)
    elif op.type in _BOUNDARY_PASS_THROUGH_TYPES and op.outputs:
      stack.extend(op.outputs[0].consumers())
  return sorted(readers, key=lambda op: op.name)


def DelayQuant(quant, inputs, name_prefix, quant_delay):
  """Returns `quant`, or a v1 cond choosing `inputs` until `quant_delay` steps have run.

  Both branch tensors are built outside the cond, so ranges are learned during the delay; the
  cond (`<prefix>/delayed_quant/{Switch_1,Merge}`) only selects the output.
  """
  if not quant_delay or quant_delay <= 0:
    return quant
  activate_quant = tf.greater_equal(
      common.CreateOrGetQuantizationStep(), quant_delay, name=name_prefix + '/' + ACTIVATE_QUANT)
  return tf.compat.v1.cond(activate_quant, lambda: quant, lambda: inputs,
                           name=name_prefix + '/' + DELAYED_QUANT)


def GetContextFromOp(op):
  """Returns the name scope of `op` ('a/b/Conv2D' -> 'a/b'; top-level -> '').

  Args:
    op: a `tf.Operation`.

  Returns:
    str: the context in which the units of a layer op are named.
  """
  return _ParentScope(op.name)


def _ParentScope(name):
  match = re.search(r'^(.*)/([^/]+)', name)
  return match.group(1) if match else ''


def _AddContextToName(context, name):
  return context + '/' + name if context else name
