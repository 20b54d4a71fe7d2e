"""Tests for slim.pruning.hparam and the pruning hparams defaults / parsing."""
import pytest

from slim import pruning
from slim.pruning import hparam

# The contrib/google-research defaults, name -> value.
_DEFAULTS = {
    'name': 'model_pruning', 'begin_pruning_step': 0, 'end_pruning_step': -1,
    'weight_sparsity_map': [''], 'block_dims_map': [''], 'threshold_decay': 0.0,
    'pruning_frequency': 10, 'nbins': 256, 'block_height': 1, 'block_width': 1,
    'block_pooling_function': 'AVG', 'initial_sparsity': 0.0, 'target_sparsity': 0.5,
    'sparsity_function_begin_step': 0, 'sparsity_function_end_step': 100,
    'sparsity_function_exponent': 3.0, 'use_tpu': False,
}


def testGetPruningHparams_HasOriginalDefaults():
  values = pruning.get_pruning_hparams().values()
  assert values == _DEFAULTS
  assert isinstance(values['sparsity_function_exponent'], float)


def testParse_OriginalCommandLineString():
  hparams = pruning.get_pruning_hparams().parse(
      'name=cifar10_pruning,begin_pruning_step=10000,end_pruning_step=100000,'
      'target_sparsity=0.9,sparsity_function_begin_step=10000,'
      'sparsity_function_end_step=100000,weight_sparsity_map=[conv1:0.8,conv2:0.5],use_tpu=true')
  assert hparams.name == 'cifar10_pruning'
  assert hparams.begin_pruning_step == 10000
  assert hparams.end_pruning_step == 100000
  assert hparams.target_sparsity == 0.9
  assert hparams.weight_sparsity_map == ['conv1:0.8', 'conv2:0.5']
  assert hparams.use_tpu is True
  # Untouched values keep their defaults.
  assert hparams.pruning_frequency == 10


def testParse_IntForFloatWidensAndSpacesAreIgnored():
  hparams = pruning.get_pruning_hparams().parse(' target_sparsity = 1 , nbins=128 ')
  assert hparams.target_sparsity == 1.0 and isinstance(hparams.target_sparsity, float)
  assert hparams.nbins == 128


def testParse_EmptyStringAndEmptyList():
  hparams = pruning.get_pruning_hparams().parse('')
  assert hparams.values() == _DEFAULTS
  assert hparams.parse('weight_sparsity_map=[]').weight_sparsity_map == []


@pytest.mark.parametrize('text, message', [
    ('no_such_hparam=3', 'Unknown hyperparameter type for no_such_hparam'),
    ('nbins=many', "Could not parse hparam 'nbins' of type 'int' with value 'many'"),
    ('target_sparsity=half', "Could not parse hparam 'target_sparsity' of type 'float'"),
    ('use_tpu=maybe', "Could not parse hparam 'use_tpu' of type 'bool' with value 'maybe'"),
    ('nbins=[1,2]', 'Must not pass a list for single-valued parameter: nbins'),
    ('weight_sparsity_map=conv1:0.5', 'Must pass a list for multi-valued parameter: '
     'weight_sparsity_map.'),
    ('nbins=1,nbins=2', 'Multiple assignments to hparam nbins'),
    ('=3', 'Malformed hyperparameter value: =3'),
])
def testParse_BadInputRaises(text, message):
  with pytest.raises(ValueError) as e:
    pruning.get_pruning_hparams().parse(text)
  assert message in str(e.value)


def testSetHparam_ChecksNameAndType():
  hparams = pruning.get_pruning_hparams()
  hparams.target_sparsity = 0.75
  assert hparams.target_sparsity == 0.75
  with pytest.raises(ValueError, match='Unknown hparam bogus'):
    hparams.bogus = 1
  with pytest.raises(ValueError, match=r"Hparam nbins expects int, got 'x' \(str\)"):
    hparams.set_hparam('nbins', 'x')


def testHParams_RejectsUnsupportedDefaults():
  with pytest.raises(ValueError, match='Hparam bad: unsupported type dict'):
    hparam.HParams(bad={})
  with pytest.raises(ValueError, match='list defaults need one element type'):
    hparam.HParams(mixed=[1, 'a'])


def testToJson_RoundTripsValues():
  import json  # pylint: disable=g-import-not-at-top
  hparams = pruning.get_pruning_hparams()
  assert json.loads(hparams.to_json()) == _DEFAULTS
