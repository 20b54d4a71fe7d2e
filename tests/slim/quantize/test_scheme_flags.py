"""--quantize_scheme: the shared DeepLab flag, the classification scripts' rewrite, one-line errors."""
import json
import subprocess
import sys

import pytest
import tensorflow as tf
import tf_slim

from deeplab import options as deeplab_options
from deeplab.utils import train_utils
from slim import classification_model
from slim.quantize.scheme import LayerConfig
from slim.quantize.scheme import Rule
from slim.quantize.scheme import Scheme

SCHEME = {'rules': [{'scope': '^c2/', 'weight_bits': 4}]}


def _Model():
  net = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3], name='input')
  net = tf_slim.conv2d(net, 4, 3, scope='c1')
  return tf_slim.conv2d(net, 4, 3, scope='c2')


def _WeightBits(scope):
  return tf.compat.v1.get_default_graph().get_operation_by_name(
      scope + '/weights_quant/FakeQuantWithMinMaxVars').get_attr('num_bits')


@pytest.fixture
def scheme_file(tmp_path):
  path = tmp_path / 'scheme.json'
  path.write_text(json.dumps(SCHEME))
  return str(path)


def test_deeplab_flag_loads_the_scheme_and_needs_quantization(scheme_file):
  flags = deeplab_options.QuantizeFlags(quantize_delay_step=0, quantize_scheme=scheme_file)
  assert flags.load_quantize_scheme() == Scheme(rules=(Rule('^c2/', LayerConfig(weight_bits=4)),))
  assert deeplab_options.QuantizeFlags(quantize_delay_step=0).load_quantize_scheme() is None
  with pytest.raises(ValueError) as info:
    deeplab_options.QuantizeFlags(quantize_delay_step=-1,
                                  quantize_scheme=scheme_file).load_quantize_scheme()
  assert str(info.value) == ('--quantize_scheme=%s needs --quantize_delay_step >= 0 (the scheme '
                             'configures the QAT rewrite)' % scheme_file)


def test_deeplab_training_rewrite_with_scheme(scheme_file):
  _Model()
  scheme = deeplab_options.QuantizeFlags(quantize_delay_step=0,
                                         quantize_scheme=scheme_file).load_quantize_scheme()
  assert train_utils.maybe_quantize_training_graph(0, 1, scheme)
  assert (_WeightBits('c1'), _WeightBits('c2')) == (8, 4)


@pytest.mark.parametrize('is_training', [True, False])
def test_classification_rewrite_with_scheme(scheme_file, is_training):
  _Model()
  classification_model.quantize_graph(is_training, scheme_path=scheme_file)
  assert (_WeightBits('c1'), _WeightBits('c2')) == (8, 4)


def test_bad_scheme_is_one_error_line_of_the_entry_script(tmp_path):
  bad = tmp_path / 'bad.json'
  bad.write_text(json.dumps({'rules': [{'scope': '^c2/', 'weight_bits': 32}]}))
  result = subprocess.run(
      [sys.executable, '-m', 'deeplab.export_model', '--checkpoint_path=%s' % (tmp_path / 'ck'),
       '--export_path=%s' % (tmp_path / 'out.pb'), '--quantize_delay_step=0',
       '--quantize_scheme=%s' % bad], capture_output=True, text=True, timeout=300)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'ERROR: --quantize_scheme=%s: rules[0].weight_bits: expected an integer in [2, 16], '
      'got 32' % bad)
