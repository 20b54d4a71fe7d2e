"""The MOSAIC recipe scripts: their argument checks, and end to end at toy scale (slow: minutes of
training and conversion)."""
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

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


def _fake_cityscapes(root, size=(48, 96)):
  """Writes a tiny Cityscapes in the official unpacked layout (leftImg8bit/ and gtFine/ with
  labelIds PNGs: what scripts/convert_cityscapes.sh reads): two train cities, one val city."""
  rng = np.random.default_rng(0)
  for split, city, name in (('train', 'aachen', 'aachen_000000_000019'),
                            ('train', 'bochum', 'bochum_000000_000313'),
                            ('val', 'frankfurt', 'frankfurt_000000_000294')):
    for folder, suffix, array in (
        ('leftImg8bit', '_leftImg8bit.png', rng.integers(0, 256, size + (3,), dtype=np.uint8)),
        ('gtFine', '_gtFine_labelIds.png', rng.integers(0, 34, size, dtype=np.uint8))):
      path = os.path.join(root, folder, split, city, name + suffix)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      Image.fromarray(array).save(path)


def _cityscapes_error(env, tmp_path):
  """The one stderr line of a mosaic_cityscapes.sh run that must stop before any set-up."""
  env = dict(env)
  if 'CITYSCAPES_TFRECORD' not in env:
    env['CITYSCAPES_TFRECORD'] = ''
  result = helpers.run_script('mosaic_cityscapes.sh', [str(tmp_path / 'exp')], env=env)
  assert result.returncode == 1 and result.stdout == ''
  assert not (tmp_path / 'exp').exists()  # Nothing was made for a run that cannot start.
  return result.stderr.strip()


def testMosaicCityscapes_UnsetFolderIsOneLine(tmp_path):
  assert _cityscapes_error({}, tmp_path) == (
      'ERROR: CITYSCAPES_TFRECORD is not set; expected the tfrecord folder written by '
      'scripts/convert_cityscapes.sh')


def testMosaicCityscapes_MissingFolderIsNamed(tmp_path):
  missing = str(tmp_path / 'nowhere')
  assert _cityscapes_error({'CITYSCAPES_TFRECORD': missing}, tmp_path) == (
      "ERROR: CITYSCAPES_TFRECORD: no folder '%s'; expected the tfrecord folder written by "
      'scripts/convert_cityscapes.sh' % missing)


def testMosaicCityscapes_MissingSplitShardsAreNamed(tmp_path):
  tfrecord = tmp_path / 'tfrecord'
  tfrecord.mkdir()
  (tfrecord / 'train_fine-00000-of-00010.tfrecord').write_bytes(b'')
  assert _cityscapes_error({'CITYSCAPES_TFRECORD': str(tfrecord)}, tmp_path) == (
      'ERROR: CITYSCAPES_TFRECORD: no val_fine-* shards in %s (TRAIN_SPLIT=train_fine, '
      'EVAL_SPLIT=val_fine)' % tfrecord)


def testMosaicCityscapes_BadEvalCropIsNamed(tmp_path):
  tfrecord = tmp_path / 'tfrecord'
  tfrecord.mkdir()
  for split in ('train_fine', 'val_fine'):
    (tfrecord / ('%s-00000-of-00010.tfrecord' % split)).write_bytes(b'')
  assert _cityscapes_error({'CITYSCAPES_TFRECORD': str(tfrecord), 'EVAL_CROP': '1025x2049'},
                           tmp_path) == (
      "ERROR: EVAL_CROP='1025x2049'; expected HEIGHT,WIDTH (e.g. 1025,2049)")


@pytest.mark.slow
def testMosaicCityscapes_FakeCityscapesLayoutEndToEnd(tmp_path):
  """convert_cityscapes.sh on a fake unpacked layout, then the MOSAIC recipe with its defaults
  (dataset cityscapes, 19 classes, splits train_fine / val_fine) at tiny steps and sizes."""
  root = str(tmp_path / 'cityscapes')
  _fake_cityscapes(root)
  converted = helpers.run_script('convert_cityscapes.sh', [root], timeout=600)
  assert converted.returncode == 0, converted.stderr[-3000:]
  exp = str(tmp_path / 'exp')
  result = helpers.run_script('mosaic_cityscapes.sh', [exp], timeout=3600, env=dict(
      CITYSCAPES_TFRECORD=os.path.join(root, 'tfrecord'), STEPS='2', QAT_STEPS='2', CROP='65',
      BATCH='2', EVAL_CROP='65,97'))
  assert result.returncode == 0, result.stderr[-3000:]
  for kind in ('float', 'qat'):
    with open(os.path.join(exp, 'eval_%s.json' % kind)) as f:
      assert 0.0 <= json.load(f)['miou'] <= 1.0
  for kind in ('uint8', 'int8'):
    interpreter = tf.lite.Interpreter(
        os.path.join(exp, 'export_%s' % kind, 'frozen_inference_graph.tflite'))
    interpreter.allocate_tensors()
    (image,) = interpreter.get_input_details()
    assert list(image['shape']) == [1, 65, 97, 3]
    interpreter.set_tensor(image['index'], np.zeros(image['shape'], image['dtype']))
    interpreter.invoke()
    (labels,) = interpreter.get_output_details()
    assert interpreter.get_tensor(labels['index']).max() < 19  # Cityscapes' 19 train ids.
