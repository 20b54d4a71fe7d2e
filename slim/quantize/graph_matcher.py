"""A small tree-pattern matcher over `tf.Operation`s (API of contrib/quantize graph_matcher).

A pattern is a tree of `OpTypePattern`s (op type, optional inputs) and `OneofPattern`s
(alternatives). `GraphMatcher(pattern).match_graph(graph)` yields one `MatchResult` per op that
matches as the root, in graph creation order.

    weight = OpTypePattern('Identity', inputs=[OpTypePattern('Variable|VariableV2')])
    conv = OpTypePattern('Conv2D', inputs=['*', weight], ordered_inputs=False)
    for match in GraphMatcher(conv).match_graph(tf.compat.v1.get_default_graph()):
      print(match.get_op(conv).name, match.get_tensor(weight).name)
"""
import abc
import itertools

# Unordered matching tries every permutation of the input patterns, so cap their number.
_MAX_INPUT_PATTERNS = 8


class Pattern(abc.ABC):
  """The parent class of all patterns (OpTypePattern, OneofPattern)."""

  @abc.abstractmethod
  def match(self, op, tensor):
    """Returns a MatchResult if `op`/`tensor` match this pattern, else None."""


class OpTypePattern(Pattern):
  """A tree pattern that matches TF expressions with given op types."""

  def __init__(self, op_type, name=None, inputs=None, ordered_inputs=True):
    """Initializes an OpTypePattern.

    Args:
      op_type: string: an op type ('Conv2D'), '*' (any op) or alternatives 'A|B|C'.
      name: optional string name under which the match can also be looked up.
      inputs: optional list of `Pattern`s or strings (strings become OpTypePattern(string)).
        None or empty accepts any inputs; otherwise the op must have exactly this many inputs.
      ordered_inputs: whether the inputs must match in order; False tries all permutations.

    Raises:
      ValueError: if more than 8 input patterns are given.
    """
    self._op_type = op_type
    self._name = name
    if inputs is None:
      inputs = []
    if len(inputs) > _MAX_INPUT_PATTERNS:
      raise ValueError('Only < %d inputs are allowed when ordered_inputs is False.' %
                       (_MAX_INPUT_PATTERNS + 1))
    self._inputs = [
        p if isinstance(p, Pattern) else OpTypePattern(p) for p in inputs
    ]
    self._ordered_inputs = ordered_inputs

  @property
  def name(self):
    return self._name

  def match(self, op, tensor):
    if self._op_type != '*' and op.type not in self._op_type.split('|'):
      return None
    match_result = MatchResult()
    match_result.add(self, op, tensor)
    if not self._inputs:
      return match_result
    if len(op.inputs) != len(self._inputs):
      return None
    input_patterns_list = ([self._inputs] if self._ordered_inputs else
                           itertools.permutations(self._inputs))
    for input_patterns in input_patterns_list:
      match_failed = False
      for input_tensor, input_pattern in zip(op.inputs, input_patterns):
        input_match_result = input_pattern.match(input_tensor.op, input_tensor)
        if input_match_result is None:
          match_failed = True
          break
        match_result.merge_from(input_match_result)
      if not match_failed:
        return match_result
    return None


class OneofPattern(Pattern):
  """Matches one of several sub-patterns (the first alternative that matches wins)."""

  def __init__(self, sub_patterns):
    self._sub_patterns = sub_patterns

  def match(self, op, tensor):
    for sub_pattern in self._sub_patterns:
      match_result = sub_pattern.match(op, tensor)
      if match_result is not None:
        return match_result
    return None


class MatchResult(object):
  r"""Maps patterns (or their names) to the matched (op, tensor) pair.

  The tensor is the exact output consumed by the parent pattern, which matters for ops with
  several outputs (e.g. Split). Unmatched optional branches give None.
  """

  def __init__(self):
    self._pattern_to_op_tensor = {}
    self._name_to_pattern = {}

  def add(self, pattern, op, tensor):
    self._pattern_to_op_tensor[pattern] = op, tensor
    if pattern.name is not None:
      if pattern.name in self._name_to_pattern:
        raise ValueError('Name %s is already bound to another pattern' % pattern.name)
      self._name_to_pattern[pattern.name] = pattern

  def _to_pattern(self, pattern_or_name):
    if isinstance(pattern_or_name, Pattern):
      return pattern_or_name
    if isinstance(pattern_or_name, str):
      return self._name_to_pattern.get(pattern_or_name)
    raise ValueError('pattern_or_name has type %s. Expect Pattern or str.' %
                     type(pattern_or_name))

  def _get_op_tensor(self, pattern_or_name):
    pattern = self._to_pattern(pattern_or_name)
    if pattern is None:
      return None
    return self._pattern_to_op_tensor.get(pattern)

  def get_op(self, pattern_or_name):
    op_tensor = self._get_op_tensor(pattern_or_name)
    return op_tensor[0] if op_tensor else None

  def get_tensor(self, pattern_or_name):
    op_tensor = self._get_op_tensor(pattern_or_name)
    return op_tensor[1] if op_tensor else None

  def merge_from(self, other_match_result):
    # pylint: disable=protected-access
    self._pattern_to_op_tensor.update(other_match_result._pattern_to_op_tensor)
    self._name_to_pattern.update(other_match_result._name_to_pattern)
    # pylint: enable=protected-access


class GraphMatcher(object):
  """Checks if a particular subgraph matches a given pattern."""

  def __init__(self, pattern):
    """Initializes a GraphMatcher.

    Args:
      pattern: the `Pattern` against which `tf.Operation`s are matched.
    """
    self._pattern = pattern

  def match_op(self, op):
    """Matches `op` against the pattern as root; returns a MatchResult or None."""
    return self._pattern.match(op, None)

  def match_ops(self, ops):
    """Yields a MatchResult for each op in `ops` that matches the pattern as root."""
    for op in ops:
      match_result = self.match_op(op)
      if match_result:
        yield match_result

  def match_graph(self, graph):
    """Yields a MatchResult for each op of `graph` (creation order) that matches as root."""
    for match_result in self.match_ops(graph.get_operations()):
      yield match_result
