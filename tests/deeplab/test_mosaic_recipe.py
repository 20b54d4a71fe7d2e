"""The MOSAIC recipe scripts end to end at toy scale (slow: minutes of training and conversion)."""
import json
import os
import subprocess
import sys

import pytest

from tests import helpers

_LABELS = ['%s %s' % (model, kind) for model in ('MOSAIC', 'DeepLab')
           for kind in ('float graph', 'float + same fine-tune', 'QAT graph')] + [
               '%s %s' % (model, kind) for model in ('MOSAIC', 'DeepLab')
               for kind in ('TFLite float', 'PTQ int8', 'QAT uint8', 'QAT int8')]


@pytest.mark.slow
def testMosaicQuantize_ReportRowsForBothModels(tmp_path):
  run_dir = str(tmp_path / 'run')
  result = helpers.run_script('mosaic_quantize.sh', [run_dir], timeout=3600, env=dict(
      QUICK='1', FLOAT_STEPS='20', FLOAT_ANNEAL_STEPS='5', QAT_STEPS='5', NUM_TRAIN='16',
      NUM_VAL='4', SYNTHETIC_SIZE='64', CROP='65', CALIBRATION_IMAGES='4', LATENCY_ROUNDS='2'))
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(run_dir, 'report.json')) as f:
    rows = json.load(f)['rows']
  assert sorted(r['label'] for r in rows) == sorted(_LABELS)
  for row in rows:
    assert 0.0 <= row['miou'] <= 1.0 and row['madds'] > 0
    assert set(row) >= {'label', 'miou', 'madds', 'bytes', 'latency_median_ms', 'tflite'}
    if 'graph' in row['label'] or 'fine-tune' in row['label']:
      assert row['tflite'] is None
    else:
      assert os.path.isfile(row['tflite']) and row['latency_median_ms'] > 0
      # Every 8-bit model is fully integer (the converters refuse float ops).
      assert row['quantized_fraction'] == 1.0 or row['label'].endswith('TFLite float')
  assert os.path.isfile(os.path.join(run_dir, 'miou_vs_latency.png'))
  assert '| MOSAIC QAT int8 |' in result.stdout


@pytest.mark.slow
def testMosaicCityscapes_RunsOnTheSyntheticSet(tmp_path):
  """The Cityscapes recipe's commands, on the synthetic set with tiny sizes and steps."""
  data = str(tmp_path / 'synthetic')
  subprocess.run([sys.executable, '-m', 'datasets.synthetic', '--output_dir=' + data, '--convert',
                  '--size=64', '--num_train=8', '--num_val=2'], check=True, capture_output=True)
  exp = str(tmp_path / 'exp')
  result = helpers.run_script('mosaic_cityscapes.sh', [exp], timeout=3600, env=dict(
      CITYSCAPES_TFRECORD=os.path.join(data, 'tfrecord'), DATASET='synthetic',
      TRAIN_SPLIT='train', EVAL_SPLIT='val', STEPS='2', QAT_STEPS='2', CROP='65', BATCH='2',
      EVAL_CROP='65,65'))
  assert result.returncode == 0, result.stderr[-3000:]
  for kind in ('float', 'qat'):
    with open(os.path.join(exp, 'eval_%s.json' % kind)) as f:
      assert 0.0 <= json.load(f)['miou'] <= 1.0
  for kind in ('uint8', 'int8'):
    assert os.path.getsize(os.path.join(exp, 'export_%s' % kind, 'frozen_inference_graph.tflite'))
