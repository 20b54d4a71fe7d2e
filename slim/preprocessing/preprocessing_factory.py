"""Looks up the preprocessing function of a model family by name (slim's preprocessing_factory).

  fn = preprocessing_factory.get_preprocessing('mobilenet_v2', is_training=True)
  image = fn(uint8_image, 224, 224)   # float [224, 224, 3] in the model's input range

`input_stats(name)` gives the (mean, std) that map a uint8 TFLite input to that range.
"""
import dataclasses
import functools
import types
from typing import Callable

from slim.preprocessing import inception_preprocessing
from slim.preprocessing import vgg_preprocessing


@dataclasses.dataclass(frozen=True)
class _Family:
  """A preprocessing family: its function and the real = (q - mean) / std of its input."""
  preprocess_image: Callable
  input_mean: float
  input_std: float


_INCEPTION = _Family(inception_preprocessing.preprocess_image,
                     inception_preprocessing.INPUT_MEAN, inception_preprocessing.INPUT_STD)
_VGG = _Family(vgg_preprocessing.preprocess_image,
               vgg_preprocessing.INPUT_MEAN, vgg_preprocessing.INPUT_STD)

# Name -> family, with the names of slim's factory ('inception', 'mobilenet_v1', 'vgg_16', ...).
_PREPROCESSING = types.MappingProxyType({
    'inception': _INCEPTION,
    'inception_v3': _INCEPTION,
    'mobilenet': _INCEPTION,
    'mobilenet_v1': _INCEPTION,
    'mobilenet_v2': _INCEPTION,
    'mobilenet_v3': _INCEPTION,
    'mobilenet_v3_large': _INCEPTION,
    'mobilenet_multi_avg': _INCEPTION,
    'resnet': _VGG,
    'resnet_v1': _VGG,
    'resnet_v1_50': _VGG,
    'resnet_v1_101': _VGG,
    'vgg': _VGG,
    'vgg_16': _VGG,
})


def names():
  """Returns the sorted preprocessing names."""
  return sorted(_PREPROCESSING)


def _family(name):
  if name not in _PREPROCESSING:
    raise ValueError('Unknown preprocessing name %r; valid names: %s'
                     % (name, ', '.join(names())))
  return _PREPROCESSING[name]


def get_preprocessing(name, is_training=False, **kwargs):
  """Returns `fn(image, height, width) -> float image` for the family `name`.

  Args:
    name: preprocessing name (e.g. 'mobilenet_v2', 'inception', 'vgg', 'resnet_v1_50').
    is_training: light augmentation (random crop + flip) instead of the eval crop.
    **kwargs: passed to the family's preprocess_image (e.g. central_fraction).

  Raises:
    ValueError: unknown name (the message lists the valid names).
  """
  return functools.partial(_family(name).preprocess_image, is_training=is_training, **kwargs)


def input_stats(name):
  """Returns (mean, std) with real = (q - mean) / std for a uint8 model input of family `name`."""
  family = _family(name)
  return family.input_mean, family.input_std
