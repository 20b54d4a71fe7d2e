"""Quantization schemes: which layers are quantized, with which bits and quantizers (data only).

A `Scheme` is a default `LayerConfig` and an ordered list of `Rule`s `{scope regex -> config}`.
The rewriter asks it, for every fake-quant unit, for the config of the op the unit belongs to
(`config_for(op_name)`): the default, overridden by the keys the FIRST rule whose regex is found
in the op name (`re.search`) sets, overridden by the keys of the innermost `annotate(...)` block
that built the op (see `slim.quantize.annotation`). With `quantize_annotated_only` an op outside
every annotation is left float. Only the keys a config sets override; None means "inherit" (from
the default config, and finally from the rewrite's own arguments).

    scheme = Scheme(rules=(Rule('^MobilenetV2/Conv/', LayerConfig(quantize=False)),
                           Rule('^MobilenetV2/expanded_conv_2/', LayerConfig(weight_bits=4))))
    contrib_quantize.experimental_create_training_graph(quant_delay=0, scheme=scheme)

The same scheme as JSON (`load(path)`, the `--quantize_scheme=<file>` flag):

    {"default": {"weight_bits": 8, "activation_bits": 8},
     "rules": [{"scope": "^MobilenetV2/Conv/", "quantize": false},
               {"scope": "^MobilenetV2/expanded_conv_2/", "weight_bits": 4}]}

Config keys: quantize, weight_bits, activation_bits (2..16), per_channel, symmetric,
narrow_range (weight units), weight_quantizer, activation_quantizer ("last_value",
"moving_average" (alias "ema"), {"fixed_range": [min, max]} or {"class": "pkg.module:Name",
"args": {...}} for a `quantizers.Quantizer` subclass). Top-level keys: default, rules,
quantize_annotated_only. A bad file is one ValueError naming the file and the key.
"""
import dataclasses
import importlib
import json
import os
import re
from typing import Optional, Tuple

from slim.quantize import options as options_lib
from slim.quantize import quantizers as quantizers_lib

TOP_LEVEL_KEYS = ('default', 'rules', 'quantize_annotated_only')
SCOPE_KEY = 'scope'
# Keys of a JSON quantizer object.
FIXED_RANGE_KEY = 'fixed_range'
CLASS_KEY = 'class'
ARGS_KEY = 'args'


class SchemeError(ValueError):
  """A config value is unusable; `key` is the config key, the message says what was expected."""

  def __init__(self, key, message):
    self.key = key
    self.detail = message
    super().__init__('%s: %s' % (key, message))


def _check_bool(value):
  return None if value in (True, False) and isinstance(value, bool) else 'true or false'


def _check_bits(value):
  if (isinstance(value, int) and not isinstance(value, bool) and
      options_lib.MIN_BITS <= value <= options_lib.MAX_BITS):
    return None
  return 'an integer in [%d, %d]' % (options_lib.MIN_BITS, options_lib.MAX_BITS)


def _check_quantizer(value):
  if isinstance(value, quantizers_lib.Quantizer):
    return None
  return 'a slim.quantize.quantizers.Quantizer'


# The config fields and their checks (a check returns None, or what was expected).
_FIELD_CHECKS = {
    'quantize': _check_bool,
    'weight_bits': _check_bits,
    'activation_bits': _check_bits,
    'per_channel': _check_bool,
    'symmetric': _check_bool,
    'narrow_range': _check_bool,
    'weight_quantizer': _check_quantizer,
    'activation_quantizer': _check_quantizer,
}
# Fields that are also `QuantizeOptions` fields (a resolved config replaces them per unit).
OPTION_FIELDS = ('weight_bits', 'activation_bits', 'per_channel', 'symmetric')


@dataclasses.dataclass(frozen=True)
class LayerConfig:
  """How the units of one layer are built; None fields inherit.

  Attributes:
    quantize: False leaves the layer float (no units; its output gets a range only where a
      quantized layer reads it, the boundary of a mixed model).
    weight_bits: bits of weight units, 2..16.
    activation_bits: bits of activation/output units, 2..16.
    per_channel: per-output-channel weight ranges.
    symmetric: symmetric ranges (per-channel weights are always symmetric, for TFLite).
    narrow_range: weight units quantize to [1, 2^bits - 1] (the rows' default: True).
    weight_quantizer: a `quantizers.Quantizer` for the weight units.
    activation_quantizer: a `quantizers.Quantizer` for the activation/output units.

  Raises:
    SchemeError: a field has an unusable value (the key and what was expected).
  """
  quantize: Optional[bool] = None
  weight_bits: Optional[int] = None
  activation_bits: Optional[int] = None
  per_channel: Optional[bool] = None
  symmetric: Optional[bool] = None
  narrow_range: Optional[bool] = None
  weight_quantizer: Optional[quantizers_lib.Quantizer] = None
  activation_quantizer: Optional[quantizers_lib.Quantizer] = None

  def __post_init__(self):
    for name, check in _FIELD_CHECKS.items():
      value = getattr(self, name)
      expected = None if value is None else check(value)
      if expected:
        raise SchemeError(name, 'expected %s, got %r' % (expected, value))

  def merged(self, other):
    """Returns this config with the fields `other` sets (not None) replaced."""
    changes = {f.name: getattr(other, f.name) for f in dataclasses.fields(other)
               if getattr(other, f.name) is not None}
    return dataclasses.replace(self, **changes)

  @property
  def quantized(self):
    """Whether the layer gets fake-quant units (an unset `quantize` means yes)."""
    return self.quantize is not False

  def option_changes(self):
    """The `QuantizeOptions` fields this config sets, as `replace(**...)` keywords."""
    return {name: getattr(self, name) for name in OPTION_FIELDS
            if getattr(self, name) is not None}


@dataclasses.dataclass(frozen=True)
class Rule:
  """`config` applies to ops whose name contains a match of the regex `scope` (re.search).

  Raises:
    SchemeError: `scope` is not a valid regular expression (key 'scope').
  """
  scope: str
  config: LayerConfig = LayerConfig()

  def __post_init__(self):
    if not isinstance(self.scope, str) or not self.scope:
      raise SchemeError(SCOPE_KEY, 'expected a non-empty regular expression, got %r'
                        % (self.scope,))
    try:
      object.__setattr__(self, '_regex', re.compile(self.scope))
    except re.error as e:
      raise SchemeError(SCOPE_KEY, 'bad regular expression %r (%s)' % (self.scope, e)) from None

  def matches(self, op_name):
    return self._regex.search(op_name) is not None

  def describe(self):
    return 'scope %r' % self.scope


@dataclasses.dataclass(frozen=True)
class Scheme:
  """A default config, ordered scope rules, and the annotations of the graph being rewritten.

  Attributes:
    default: the config of every op no rule matches.
    rules: `Rule`s; the first whose scope matches an op decides it.
    quantize_annotated_only: ops outside every `annotate(...)` block stay float (tfmot's
      annotate + quantize_apply).
    annotations: `annotation.Annotation`s (set by `with_annotations` at rewrite time).
  """
  default: LayerConfig = LayerConfig()
  rules: Tuple[Rule, ...] = ()
  quantize_annotated_only: bool = False
  annotations: tuple = ()

  def __post_init__(self):
    if not isinstance(self.default, LayerConfig):
      raise SchemeError('default', 'expected a LayerConfig, got %r' % (self.default,))
    object.__setattr__(self, 'rules', tuple(self.rules))
    for rule in self.rules:
      if not isinstance(rule, Rule):
        raise SchemeError('rules', 'expected Rule objects, got %r' % (rule,))
    if not isinstance(self.quantize_annotated_only, bool):
      raise SchemeError('quantize_annotated_only',
                        'expected true or false, got %r' % (self.quantize_annotated_only,))
    object.__setattr__(self, 'annotations', tuple(self.annotations))
    object.__setattr__(self, '_memo', {})

  def with_annotations(self, annotations):
    """Returns this scheme with `annotations` (`annotation.annotations(graph)`) in effect."""
    return dataclasses.replace(self, annotations=tuple(annotations))

  def config_for(self, op_name):
    """The resolved `LayerConfig` of the op named `op_name` (see the module docstring)."""
    config = self._memo.get(op_name)
    if config is None:
      config = self.default
      rule = next((r for r in self.rules if r.matches(op_name)), None)
      if rule is not None:
        config = config.merged(rule.config)
      block = next((a for a in self.annotations if a.matches(op_name)), None)
      if block is not None:
        config = config.merged(block.config)
      elif self.quantize_annotated_only:
        config = config.merged(LayerConfig(quantize=False))
      self._memo[op_name] = config
    return config

  def unmatched_rules(self, graph):
    """The rules (and annotations) that match no op of `graph`, as descriptions.

    Args:
      graph: a `tf.Graph`.

    Returns:
      A list of strings, e.g. ["scope '^MobilenetV2/Conv_9/'"].
    """
    names = [op.name for op in graph.get_operations()]
    return [r.describe() for r in self.rules + self.annotations
            if not any(r.matches(name) for name in names)]


def from_dict(data, source='scheme'):
  """Builds a `Scheme` from its JSON form (see the module docstring).

  Args:
    data: the parsed JSON object.
    source: what the data came from, the first word of every error (a file name).

  Returns:
    A `Scheme`.

  Raises:
    ValueError: '<source>: <key>: <what was expected>', e.g.
      "s.json: rules[1].weight_bits: expected an integer in [2, 16], got 32".
  """
  if not isinstance(data, dict):
    raise ValueError('%s: expected a JSON object with keys %s, got %s'
                     % (source, ', '.join(TOP_LEVEL_KEYS), type(data).__name__))
  _check_keys(data, TOP_LEVEL_KEYS, source, '')
  default = _config(data.get('default', {}), source, 'default', ())
  rules_data = data.get('rules', [])
  if not isinstance(rules_data, list):
    raise ValueError('%s: rules: expected a list of rule objects, got %r' % (source, rules_data))
  rules = []
  for i, rule_data in enumerate(rules_data):
    where = 'rules[%d]' % i
    if not isinstance(rule_data, dict) or SCOPE_KEY not in rule_data:
      raise ValueError('%s: %s: expected an object with a "scope" regex and config keys, got %r'
                       % (source, where, rule_data))
    config = _config(rule_data, source, where, (SCOPE_KEY,))
    try:
      rules.append(Rule(rule_data[SCOPE_KEY], config))
    except SchemeError as e:
      raise ValueError('%s: %s.%s: %s' % (source, where, e.key, e.detail)) from None
  try:
    return Scheme(default, tuple(rules), data.get('quantize_annotated_only', False))
  except SchemeError as e:
    raise ValueError('%s: %s: %s' % (source, e.key, e.detail)) from None


def load(path, flag=None):
  """Reads a JSON scheme file.

  Args:
    path: the file.
    flag: the flag `path` came from (errors then start with `--flag=path`).

  Returns:
    A `Scheme`.

  Raises:
    ValueError: missing file, invalid JSON, or a bad key (one line naming the file and key).
  """
  path = os.fspath(path)
  source = '--%s=%s' % (flag, path) if flag else path
  if not os.path.isfile(path):
    raise ValueError('%s: file not found (expected a JSON quantization scheme)' % source)
  with open(path) as f:
    text = f.read()
  try:
    data = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError('%s: not valid JSON (%s)' % (source, e)) from None
  return from_dict(data, source)


def _check_keys(data, allowed, source, where):
  for key in data:
    if key not in allowed:
      raise ValueError('%s: %s%s: unknown key (expected one of: %s)'
                       % (source, where + '.' if where else '', key, ', '.join(allowed)))


def _config(data, source, where, extra_keys):
  if not isinstance(data, dict):
    raise ValueError('%s: %s: expected an object of config keys, got %r' % (source, where, data))
  _check_keys(data, extra_keys + tuple(_FIELD_CHECKS), source, where)
  values = {k: v for k, v in data.items() if k in _FIELD_CHECKS}
  for key in ('weight_quantizer', 'activation_quantizer'):
    if key in values:
      values[key] = _quantizer(values[key], '%s: %s.%s' % (source, where, key))
  try:
    return LayerConfig(**values)
  except SchemeError as e:
    raise ValueError('%s: %s.%s: %s' % (source, where, e.key, e.detail)) from None


def _quantizer(spec, where):
  """A quantizer from its JSON form; `where` ('<file>: <key>') starts every error."""
  expected = ('expected %s, {"%s": [min, max]} or {"%s": "module:Class", "%s": {...}}'
              % (' / '.join('"%s"' % n for n in quantizers_lib.BUILTIN), FIXED_RANGE_KEY,
                 CLASS_KEY, ARGS_KEY))
  if isinstance(spec, str):
    if spec not in quantizers_lib.BUILTIN:
      raise ValueError('%s: %s, got %r' % (where, expected, spec))
    return quantizers_lib.BUILTIN[spec]()
  if isinstance(spec, dict) and set(spec) == {FIXED_RANGE_KEY}:
    bounds = spec[FIXED_RANGE_KEY]
    if (not isinstance(bounds, list) or len(bounds) != 2 or
        not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds) or
        not bounds[0] < bounds[1]):
      raise ValueError('%s.%s: expected [min, max] numbers with min < max, got %r'
                       % (where, FIXED_RANGE_KEY, bounds))
    return quantizers_lib.FixedRangeQuantizer(*bounds)
  if isinstance(spec, dict) and CLASS_KEY in spec and set(spec) <= {CLASS_KEY, ARGS_KEY}:
    return _user_quantizer(spec[CLASS_KEY], spec.get(ARGS_KEY, {}), where)
  raise ValueError('%s: %s, got %r' % (where, expected, spec))


def _user_quantizer(name, args, where):
  if not isinstance(name, str) or name.count(':') != 1:
    raise ValueError('%s.%s: expected "package.module:ClassName", got %r' % (where, CLASS_KEY,
                                                                             name))
  module_name, class_name = name.split(':')
  try:
    cls = getattr(importlib.import_module(module_name), class_name)
  except (ImportError, AttributeError) as e:
    raise ValueError('%s.%s: cannot import %r (%s)' % (where, CLASS_KEY, name, e)) from None
  if not (isinstance(cls, type) and issubclass(cls, quantizers_lib.Quantizer)):
    raise ValueError('%s.%s: %r is not a slim.quantize.quantizers.Quantizer subclass'
                     % (where, CLASS_KEY, name))
  if not isinstance(args, dict):
    raise ValueError('%s.%s: expected an object of constructor arguments, got %r'
                     % (where, ARGS_KEY, args))
  try:
    return cls(**args)
  except (TypeError, ValueError) as e:
    raise ValueError('%s.%s: %s(**%r) failed: %s' % (where, ARGS_KEY, name, args, e)) from None
