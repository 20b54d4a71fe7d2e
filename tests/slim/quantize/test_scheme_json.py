"""JSON schemes: the issue's example loads; every bad file is one error naming file and key."""
import json

import pytest

from slim.quantize import quantizers
from slim.quantize import scheme as scheme_lib
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme

ISSUE_EXAMPLE = {
    'default': {'weight_bits': 8, 'activation_bits': 8},
    'rules': [{'scope': '^MobilenetV2/Conv/', 'quantize': False},
              {'scope': '^MobilenetV2/expanded_conv_2/', 'weight_bits': 4}]}


class UserRange(quantizers.Quantizer):
  """Imported by name from a JSON scheme (tests.slim.quantize.test_scheme_json:UserRange)."""

  def __init__(self, bound=1.0):
    self.bound = bound

  def quantize(self, inputs, spec):
    raise NotImplementedError  # never built here


def _write(tmp_path, data):
  path = tmp_path / 'scheme.json'
  path.write_text(data if isinstance(data, str) else json.dumps(data))
  return str(path)


def test_issue_example_loads(tmp_path):
  assert scheme_lib.load(_write(tmp_path, ISSUE_EXAMPLE)) == Scheme(
      default=LayerConfig(weight_bits=8, activation_bits=8),
      rules=(Rule('^MobilenetV2/Conv/', LayerConfig(quantize=False)),
             Rule('^MobilenetV2/expanded_conv_2/', LayerConfig(weight_bits=4))))


def test_resolution_order(tmp_path):
  scheme = scheme_lib.load(_write(tmp_path, ISSUE_EXAMPLE))
  assert scheme.config_for('MobilenetV2/Conv/Conv2D_Fold').quantized is False
  assert scheme.config_for('MobilenetV2/expanded_conv_2/depthwise/depthwise_Fold') == (
      LayerConfig(weight_bits=4, activation_bits=8))
  assert scheme.config_for('logits/semantic/Conv2D') == LayerConfig(weight_bits=8,
                                                                    activation_bits=8)


def test_quantizers_from_json(tmp_path):
  scheme = scheme_lib.load(_write(tmp_path, {'rules': [
      {'scope': 'a', 'weight_quantizer': 'last_value', 'activation_quantizer': 'ema'},
      {'scope': 'b', 'activation_quantizer': {'fixed_range': [-1, 1]}},
      {'scope': 'c', 'weight_quantizer': {
          'class': 'tests.slim.quantize.test_scheme_json:UserRange', 'args': {'bound': 3}}}]}))
  a, b, c = (rule.config for rule in scheme.rules)
  assert a.weight_quantizer == quantizers.LastValueQuantizer()
  assert a.activation_quantizer == quantizers.MovingAverageQuantizer()
  assert b.activation_quantizer == quantizers.FixedRangeQuantizer(-1.0, 1.0)
  assert isinstance(c.weight_quantizer, UserRange) and c.weight_quantizer.bound == 3


@pytest.mark.parametrize('data, message', [
    ({'default': {'weight_bit': 4}},
     'default.weight_bit: unknown key (expected one of: quantize, weight_bits, activation_bits, '
     'per_channel, symmetric, narrow_range, weight_quantizer, activation_quantizer)'),
    ({'rule': []}, 'rule: unknown key (expected one of: default, rules, '
     'quantize_annotated_only)'),
    ({'rules': [{'scope': 'a', 'weight_bits': 32}]},
     'rules[0].weight_bits: expected an integer in [2, 16], got 32'),
    ({'rules': [{'scope': 'a'}, {'scope': 'b', 'activation_bits': 1}]},
     'rules[1].activation_bits: expected an integer in [2, 16], got 1'),
    ({'rules': [{'scope': 'a', 'weight_bits': '4'}]},
     "rules[0].weight_bits: expected an integer in [2, 16], got '4'"),
    ({'rules': [{'scope': 'a', 'weight_bits': True}]},
     'rules[0].weight_bits: expected an integer in [2, 16], got True'),
    ({'rules': [{'scope': 'a', 'quantize': 'no'}]},
     "rules[0].quantize: expected true or false, got 'no'"),
    ({'rules': [{'scope': '^MobilenetV2/(Conv'}]},
     "rules[0].scope: bad regular expression '^MobilenetV2/(Conv' (missing ), unterminated "
     "subpattern at position 13)"),
    ({'rules': [{'scope': ''}]}, "rules[0].scope: expected a non-empty regular expression, "
     "got ''"),
    ({'rules': [{'weight_bits': 4}]}, 'rules[0]: expected an object with a "scope" regex and '
     "config keys, got {'weight_bits': 4}"),
    ({'rules': {'scope': 'a'}}, "rules: expected a list of rule objects, got {'scope': 'a'}"),
    ({'default': [8]}, 'default: expected an object of config keys, got [8]'),
    ({'quantize_annotated_only': 1}, 'quantize_annotated_only: expected true or false, got 1'),
    ({'rules': [{'scope': 'a', 'activation_quantizer': 'median'}]},
     'rules[0].activation_quantizer: expected "last_value" / "moving_average" / "ema", '
     '{"fixed_range": [min, max]} or {"class": "module:Class", "args": {...}}, got \'median\''),
    ({'rules': [{'scope': 'a', 'activation_quantizer': {'fixed_range': [1, -1]}}]},
     'rules[0].activation_quantizer.fixed_range: expected [min, max] numbers with min < max, '
     'got [1, -1]'),
    ({'rules': [{'scope': 'a', 'weight_quantizer': {'class': 'no_such_module:Q'}}]},
     "rules[0].weight_quantizer.class: cannot import 'no_such_module:Q' (No module named "
     "'no_such_module')"),
    ({'rules': [{'scope': 'a', 'weight_quantizer': {'class': 'json:JSONDecoder'}}]},
     "rules[0].weight_quantizer.class: 'json:JSONDecoder' is not a "
     "slim.quantize.quantizers.Quantizer subclass"),
    ({'rules': [{'scope': 'a', 'weight_quantizer': {
        'class': 'tests.slim.quantize.test_scheme_json:UserRange', 'args': {'width': 1}}}]},
     "rules[0].weight_quantizer.args: tests.slim.quantize.test_scheme_json:UserRange(**{'width': "
     "1}) failed: UserRange.__init__() got an unexpected keyword argument 'width'"),
    ([1, 2], 'expected a JSON object with keys default, rules, quantize_annotated_only, got list'),
])
def test_bad_file_is_one_error_naming_file_and_key(tmp_path, data, message):
  path = _write(tmp_path, data)
  with pytest.raises(ValueError) as info:
    scheme_lib.load(path)
  assert str(info.value) == '%s: %s' % (path, message)


def test_invalid_json_and_missing_file(tmp_path):
  path = _write(tmp_path, '{"rules": [}')
  with pytest.raises(ValueError) as info:
    scheme_lib.load(path, flag='quantize_scheme')
  assert str(info.value) == ('--quantize_scheme=%s: not valid JSON (Expecting value: line 1 '
                             'column 12 (char 11))' % path)
  missing = str(tmp_path / 'nope.json')
  with pytest.raises(ValueError) as info:
    scheme_lib.load(missing, flag='quantize_scheme')
  assert str(info.value) == ('--quantize_scheme=%s: file not found (expected a JSON '
                             'quantization scheme)' % missing)
