"""scripts/detection_quantize.sh end to end at a tiny size (slow: about 10 processes)."""
import json
import os

import pytest

from tests import helpers

_TINY = dict(IMAGE_SIZE='64', NUM_TRAIN='16', NUM_VAL='4', BATCH_SIZE='4', FLOAT_STEPS='3',
             QAT_STEPS='2', CALIBRATION_IMAGES='4')
_LABELS = ['RetinaNet-MNv2 float graph', 'RetinaNet-MNv2 QAT graph',
           'RetinaNet-MNv2 float TFLite', 'RetinaNet-MNv2 PTQ int8 TFLite',
           'RetinaNet-MNv2 QAT uint8 TFLite', 'RetinaNet-MNv2 QAT int8 per-channel TFLite']


@pytest.mark.slow
def testScript_TinyRunWritesReport(tmp_path):
  result = helpers.run_script('detection_quantize.sh', [str(tmp_path)], env=_TINY, timeout=3600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert '| model | COCO AP | AP50 | size (bytes) | latency median (ms) | speedup |' in result.stdout
  with open(os.path.join(str(tmp_path), 'report.json')) as f:
    rows = json.load(f)['rows']
  assert [r['label'] for r in rows] == _LABELS
  for row in rows:
    assert 0.0 <= row['ap'] <= 1.0 and 0.0 <= row['ap50'] <= 1.0
    if 'TFLite' in row['label']:
      assert os.path.isfile(row['tflite']) and row['bytes'] == os.path.getsize(row['tflite'])
      assert row['latency_median_ms'] > 0
  assert os.listdir(os.path.join(str(tmp_path), 'vis', 'retinanet_mnv2_qat_uint8_tflite'))
