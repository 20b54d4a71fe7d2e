"""Constants and small graph helpers shared by the quantization rewriter modules."""
import re

import tensorflow as tf

from tensorflow.python.ops import variable_scope

# Ops under these name prefixes are backprop, optimizer or summary ops: never rewritten.
SKIPPED_PREFIXES = ('gradients/', 'RMSProp/', 'Adagrad/', 'Const_', 'HistogramSummary',
                    'ScalarSummary')

# Activation op types after which `act_quant` goes (Identity: BN with forced updates, linear).
ACTIVATION_TYPES = frozenset(['Relu', 'Relu6', 'Identity'])
# Consumers of a bypass Add that make its own `add_quant` redundant (they get act_quant).
ACTIVATION_OP_SUFFIXES = ('Relu6', 'Relu', 'Identity')

# Op types of a fake-quant unit output.
FAKE_QUANT_TYPES = frozenset([
    'FakeQuantWithMinMaxVars', 'FakeQuantWithMinMaxArgs', 'FakeQuantWithMinMaxVarsPerChannel'
])
# Consumers between a tensor and its FakeQuant that still make the tensor count as quantized
# (the idempotence guard `FollowedByFakeQuant`; per-channel depthwise weights go through a
# Reshape). Distinct from quantize.QUANTIZED_INPUT_PASS_THROUGH_TYPES, which looks upstream.
FAKE_QUANT_PASS_THROUGH_TYPES = frozenset(['Reshape', 'Identity'])

FUSED_BATCH_NORM_TYPES = frozenset(['FusedBatchNorm', 'FusedBatchNormV3'])

# Name of the root step counter used by quant_delay and freeze_bn_delay (not the global step).
QUANTIZATION_STEP_NAME = 'fake_quantization_step'

_BATCHNORM_RE = re.compile(r'^(.*)BatchNorm/batchnorm')


def BatchNormGroups(graph):
  """Finds the name prefixes of slim-style unfused batch norms.

  Args:
    graph: the `tf.Graph` to search.

  Returns:
    A list of prefixes (with trailing '/', or '' at top level), one per batch norm.
  """
  bns = []
  for op in graph.get_operations():
    match = _BATCHNORM_RE.search(op.name)
    if match:
      bn = match.group(1)
      if not bn.startswith(SKIPPED_PREFIXES):
        bns.append(bn)
  # Remove duplicates (several ops share a batch norm prefix) keeping order.
  return list(dict.fromkeys(bns))


def GetEndpointActivationOp(graph, prefix):
  """Returns the first existing op among prefix + Relu6/Relu/Identity, or None.

  Args:
    graph: the `tf.Graph`.
    prefix: op name prefix (with trailing '/' if it is a scope).
  """
  for name in ACTIVATION_OP_SUFFIXES:
    op = _GetOperationByNameDontThrow(graph, prefix + name)
    if op is not None:
      return op
  return None


def _GetOperationByNameDontThrow(graph, name):
  try:
    return graph.get_operation_by_name(name)
  except KeyError:
    return None


def CreateOrGetQuantizationStep():
  """Returns the `fake_quantization_step` counter, creating it on first use.

  The counter is a root int64 variable incremented each time the returned tensor is evaluated
  (once per `session.run`), so the first run reads 1.

  Returns:
    The tensor `fake_quantization_step/Identity:0`.
  """
  g = tf.compat.v1.get_default_graph()
  name = QUANTIZATION_STEP_NAME + '/Identity:0'
  try:
    return g.get_tensor_by_name(name)
  except KeyError:
    pass
  # Created at the root, whatever scope the rewrite is called in.
  with variable_scope.variable_scope(
      variable_scope.VariableScope(reuse=tf.compat.v1.AUTO_REUSE), auxiliary_name_scope=False):
    with tf.compat.v1.name_scope(None):
      quantization_step_tensor = tf.compat.v1.get_variable(
          QUANTIZATION_STEP_NAME,
          shape=[],
          dtype=tf.int64,
          initializer=tf.compat.v1.zeros_initializer(),
          trainable=False,
          collections=[tf.compat.v1.GraphKeys.GLOBAL_VARIABLES],
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
      with tf.compat.v1.name_scope(quantization_step_tensor.op.name + '/'):
        # Only increment once per session.run, however many consumers it has.
        return tf.identity(tf.compat.v1.assign_add(quantization_step_tensor, 1), name='Identity')


def DropStringPrefix(s, prefix):
  """Returns `s` without `prefix` if it starts with it, else `s`."""
  if s.startswith(prefix):
    return s[len(prefix):]
  return s


def RerouteTensor(t0, t1, can_modify=None):
  """Makes the consumers of `t1` read `t0` instead.

  Args:
    t0: the new tensor.
    t1: the tensor whose consumers are rerouted.
    can_modify: optional iterable of ops; only these consumers are changed.

  Returns:
    The number of input edges changed.
  """
  nb_update_inputs = 0
  consumers = t1.consumers()
  if can_modify is not None:
    consumers = [c for c in consumers if c in can_modify]
  consumers_indices = {}
  for c in consumers:
    consumers_indices[c] = [
        i for i, t in enumerate(c.inputs) if t.op is t1.op and t.value_index == t1.value_index]
  for c in consumers:
    for i in consumers_indices[c]:
      c._update_input(i, t0)  # pylint: disable=protected-access
      nb_update_inputs += 1
  return nb_update_inputs


def FollowedByFakeQuant(tensor):
  """Returns True if `tensor` already feeds a FakeQuant (possibly via Reshape/Identity).

  This is the rewriter's idempotence guard: a tensor followed by a FakeQuant gets no new one.

  Args:
    tensor: a `tf.Tensor`.
  """
  consumers = tensor.consumers()
  while consumers:
    c = consumers.pop()
    if c.type in FAKE_QUANT_TYPES:
      return True
    elif c.type in FAKE_QUANT_PASS_THROUGH_TYPES:
      for output in c.outputs:
        consumers.extend(output.consumers())
  return False
