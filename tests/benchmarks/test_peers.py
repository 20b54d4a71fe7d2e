"""benchmarks/peers.py: the tfmot peer record is read from its folder and its models timed."""
import json
import os

import pytest

from benchmarks import peers
from deeplab.utils import tflite_utils
from tests import helpers


def _write_peer(folder):
  model = tflite_utils.convert(helpers.tiny_quantized_graph(), 'input:0', 'ArgMax:0', 'int8')
  record = {'tfmot_version': '0.8.1', 'depth_multiplier': 1.0, 'crop_size': 8, 'batch_size': 1,
            'qat_step_over_float': 1.5, 'int8_bytes': len(model),
            'float_tflite': 'f.tflite', 'int8_tflite': 'i.tflite'}
  for name in ('f.tflite', 'i.tflite'):
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(model)
  with open(os.path.join(folder, peers.TFMOT_RECORD), 'w') as f:
    json.dump(record, f)


def testTfmotRecord_ModelsResolvedInTheFolderGivenByARelativePath(tmp_path, monkeypatch):
  (tmp_path / 'peer').mkdir()
  _write_peer(str(tmp_path / 'peer'))
  monkeypatch.chdir(tmp_path)
  entry = peers.tfmot_record('peer', threads=1, warmup=0, runs=2)
  assert entry['qat_step_over_float'] == 1.5
  assert entry['int8_speedup'] > 0 and len(entry['latency']['1']['int8']['runs_ms']) == 2
  assert 'float_tflite' not in entry and 'int8_tflite' not in entry


def testReadTfmotRecord_MissingModelIsNamed(tmp_path):
  _write_peer(str(tmp_path))
  os.remove(tmp_path / 'i.tflite')
  with pytest.raises(ValueError, match='i.tflite: the int8 model named by .*tfmot.json is missing'):
    peers.read_tfmot_record(str(tmp_path))
  with pytest.raises(ValueError, match='no tfmot peer record'):
    peers.read_tfmot_record(str(tmp_path / 'nowhere'))
