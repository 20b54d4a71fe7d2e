"""The released MobileBERT configs (and the synthetic set's) by name: one record each."""
import os

from mobilebert import modeling

_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'config')
# name -> JSON file under mobilebert/config/ (the google-research release's file names).
CONFIG_FILES = {
    'mobilebert': 'uncased_L-24_H-128_B-512_A-4_F-4_OPT.json',
    'mobilebert_qat': 'uncased_L-24_H-128_B-512_A-4_F-4_OPT_QAT.json',
    'mobilebert_tiny': 'uncased_L-24_H-128_B-512_A-4_F-2_tiny_OPT.json',
    # Not released: the OPT_QAT layout shrunk to train on the embedded synthetic QA set.
    'synthetic_small_qat': 'synthetic_L-2_H-32_B-64_A-2_F-2_QAT.json',
}


def names():
  return sorted(CONFIG_FILES)


def path(name):
  """The JSON file of a named config.

  Raises:
    ValueError: unknown name (the message lists the known ones).
  """
  if name not in CONFIG_FILES:
    raise ValueError('unknown MobileBERT config %r; known: %s' % (name, ', '.join(names())))
  return os.path.join(_DIR, CONFIG_FILES[name])


def load(name):
  """The `BertConfig` of a named config."""
  return modeling.BertConfig.from_json_file(path(name))
