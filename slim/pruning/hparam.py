"""A small stand-in for `tf.contrib.training.HParams` (gone in TF 2), enough for pruning specs.

Values keep the type of their default (int, float, bool, str, or a list of one of those), and
`parse` reads the original comma-separated override string, lists in brackets:

  hparams = HParams(name='model_pruning', begin_pruning_step=0, weight_sparsity_map=[''])
  hparams.parse('name=cifar10_pruning,begin_pruning_step=10,weight_sparsity_map=[conv1:0.8,fc:0.5]')
  hparams.begin_pruning_step  # 10

Errors say which hparam and value was wrong, as the original did.
"""
import json
import re

# One `name=value` or `name=[v1,v2,...]` assignment; the whole string is a comma-separated list
# of these (same grammar as the original `hparam._parse_values`, without indexed assignment).
_ASSIGNMENT_RE = re.compile(
    r'\s*(?P<name>[a-zA-Z][\w\.]*)\s*=\s*'
    r'((?P<val>[^,\[]*)|\[(?P<vals>[^\]]*)\])\s*(,|$)')
_SUPPORTED_TYPES = (bool, int, float, str)
_TRUE = ('true', '1')
_FALSE = ('false', '0')


def _parse_scalar(name, var_type, text, whole):
  """Converts `text` to `var_type`, or raises the original's "Could not parse" error."""
  text = text.strip()
  try:
    if var_type is bool:
      if text.lower() in _TRUE:
        return True
      if text.lower() in _FALSE:
        return False
      raise ValueError(text)
    if var_type is int:
      return int(text)
    if var_type is float:
      return float(text)
    return text
  except ValueError:
    raise ValueError("Could not parse hparam '%s' of type '%s' with value '%s' in %s" %
                     (name, var_type.__name__, text, whole)) from None


class HParams(object):
  """Named, typed hyperparameters with the original HParams' `parse` string syntax."""

  def __init__(self, **kwargs):
    """Creates hparams whose types are fixed by the given default values.

    Args:
      **kwargs: name -> default value (bool, int, float, str, or a non-empty list of one type).

    Raises:
      ValueError: for an unsupported type or an empty/mixed list default.
    """
    object.__setattr__(self, '_types', {})
    for name, value in kwargs.items():
      if isinstance(value, (list, tuple)):
        types = {type(v) for v in value}
        if len(types) != 1 or not types.issubset(_SUPPORTED_TYPES):
          raise ValueError('Hparam %s: list defaults need one element type among '
                           'bool/int/float/str, got %r' % (name, value))
        self._types[name] = (types.pop(), True)
        value = list(value)
      elif isinstance(value, _SUPPORTED_TYPES):
        self._types[name] = (type(value), False)
      else:
        raise ValueError('Hparam %s: unsupported type %s' % (name, type(value).__name__))
      object.__setattr__(self, name, value)

  def __setattr__(self, name, value):
    self.set_hparam(name, value)

  def _cast(self, name, value):
    """Checks `value` against the declared type of `name`; ints widen to floats."""
    var_type, is_list = self._types[name]
    if is_list != isinstance(value, (list, tuple)):
      raise ValueError(('Must pass a list for multi-valued parameter: %s.' if is_list else
                        'Must not pass a list for single-valued parameter: %s') % name)
    values = list(value) if is_list else [value]
    out = []
    for v in values:
      if var_type is float and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
      if type(v) is not var_type:  # pylint: disable=unidiomatic-typecheck
        raise ValueError('Hparam %s expects %s, got %r (%s)' %
                         (name, var_type.__name__, v, type(v).__name__))
      out.append(v)
    return out if is_list else out[0]

  def set_hparam(self, name, value):
    """Sets an existing hparam, checking its type.

    Raises:
      ValueError: for an unknown name or a value of the wrong type.
    """
    if name not in self._types:
      raise ValueError('Unknown hparam %s; known: %s' % (name, ', '.join(sorted(self._types))))
    object.__setattr__(self, name, self._cast(name, value))

  def parse(self, values):
    """Overrides hparams from a string like 'a=1,b=[x,y],c=0.5'.

    Args:
      values: the comma-separated `name=value` string (empty string: no change).

    Returns:
      self, for chaining.

    Raises:
      ValueError: for malformed text, an unknown name, a value that does not parse as the
        hparam's type, a list for a scalar hparam or a scalar for a list hparam.
    """
    updates = {}
    pos = 0
    values = values.strip()
    while pos < len(values):
      m = _ASSIGNMENT_RE.match(values, pos)
      if not m or m.end() == pos:
        raise ValueError('Malformed hyperparameter value: %s' % values[pos:])
      pos = m.end()
      name = m.group('name')
      if name not in self._types:
        raise ValueError('Unknown hyperparameter type for %s (known: %s)' %
                         (name, ', '.join(sorted(self._types))))
      if name in updates:
        raise ValueError('Multiple assignments to hparam %s in %s' % (name, values))
      var_type, is_list = self._types[name]
      if m.group('vals') is not None:
        if not is_list:
          raise ValueError('Must not pass a list for single-valued parameter: %s' % name)
        items = m.group('vals').split(',') if m.group('vals').strip() else []
        updates[name] = [_parse_scalar(name, var_type, v, values) for v in items]
      else:
        if is_list:
          raise ValueError('Must pass a list for multi-valued parameter: %s.' % name)
        updates[name] = _parse_scalar(name, var_type, m.group('val'), values)
    for name, value in updates.items():
      self.set_hparam(name, value)
    return self

  def values(self):
    """Returns a dict name -> value."""
    return {name: getattr(self, name) for name in self._types}

  def to_json(self, **kwargs):
    """Returns the values as a JSON string (kwargs go to json.dumps)."""
    return json.dumps(self.values(), **kwargs)

  def __contains__(self, name):
    return name in self._types

  def __repr__(self):
    return 'HParams(%s)' % ', '.join('%s=%r' % kv for kv in sorted(self.values().items()))
