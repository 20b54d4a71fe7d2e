"""Tests of slim.runtime.options: flags declared once as dataclass fields."""
import dataclasses
from typing import Optional, Sequence

from absl import flags
import pytest

from slim.runtime import options


@dataclasses.dataclass
class _Shared:
  dataset_dir: Optional[str] = options.flag(None, 'Where the dataset resides.', kind='string',
                                            required=True)
  output_stride: int = options.flag(16, 'Output stride.')


@dataclasses.dataclass
class _Export(_Shared):
  output_stride: int = options.flag(8, 'Output stride.')
  crop_size: Sequence[int] = options.flag([513, 513], 'Crop size.', kind='multi_integer')
  optimizer: str = options.flag('momentum', 'Optimizer.', kind='enum',
                                enum_values=('momentum', 'adam'))
  per_channel: bool = options.flag(False, 'Per channel.')
  crop: Sequence[str] = options.flag('65,65', 'A list flag.', kind='list')
  not_a_flag: int = 3


def testDefineFlags_DefaultsKindsAndOverriddenBaseField():
  fv = flags.FlagValues()
  options.define_flags(_Export, fv)
  assert fv['output_stride'].default == 8
  assert fv['crop_size'].default == [513, 513]
  assert fv['per_channel'].default is False
  assert 'not_a_flag' not in fv
  fv(['prog', '--dataset_dir=/d', '--optimizer=adam', '--crop_size=3', '--crop_size=4'])
  opts = options.from_flags(_Export, fv, not_a_flag=5)
  assert opts == _Export(dataset_dir='/d', output_stride=8, crop_size=[3, 4], optimizer='adam',
                         per_channel=False, crop=['65', '65'], not_a_flag=5)


def testDefineFlags_RequiredAndEnumAreEnforced():
  fv = flags.FlagValues()
  options.define_flags(_Export, fv)
  with pytest.raises(flags.IllegalFlagValueError):
    fv(['prog', '--dataset_dir=/d', '--optimizer=sgd'])
  fv2 = flags.FlagValues()
  options.define_flags(_Export, fv2)
  with pytest.raises(flags.IllegalFlagValueError, match='dataset_dir'):
    fv2(['prog'])


def testDataclassDefaults_AreFreshPerInstance():
  a, b = _Export(), _Export()
  a.crop_size.append(1)
  assert b.crop_size == [513, 513]


def testFlag_UninferableKindIsRefused():
  with pytest.raises(ValueError, match='give kind='):
    options.flag(None, 'x')
  with pytest.raises(ValueError, match='enum flag .* needs enum_values'):
    options.flag('a', 'x', kind='enum')
