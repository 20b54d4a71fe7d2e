"""InputToOps: tensor -> consumer-op lookup, built once per rewrite pass."""
from slim.quantize import common


class InputToOps(object):
  """Maps each tensor of a graph to the set of ops that consume it.

  Ops under `common.SKIPPED_PREFIXES` (gradients, optimizer slots, summaries) are ignored, so
  the rewriter never reroutes backprop ops.
  """

  def __init__(self, graph):
    """Builds the map for every op currently in `graph`.

    Args:
      graph: the `tf.Graph` to index.
    """
    self.mapping = {}
    for op in graph.get_operations():
      if op.name.startswith(common.SKIPPED_PREFIXES):
        continue
      for op_input in op.inputs:
        self.mapping.setdefault(op_input, set()).add(op)

  def ConsumerOperations(self, producer_op):
    """Returns the set of ops consuming any output of `producer_op`.

    Args:
      producer_op: a `tf.Operation`.

    Returns:
      A set of `tf.Operation`s (empty if nothing consumes it).
    """
    result = set()
    for inp in producer_op.outputs:
      result.update(self.mapping.get(inp, set()))
    return result
