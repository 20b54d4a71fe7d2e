"""scripts/scheme_quantize.sh end to end at a tiny size (a few steps, a few images)."""
import json

import pytest

from tests import helpers

_TINY = dict(QUICK='1', FLOAT_STEPS='4', FLOAT_ANNEAL_STEPS='2', QAT_STEPS='2', CROP='65',
             BATCH='2', SYNTHETIC_SIZE='64', NUM_TRAIN='8', NUM_VAL='3',
             SENSITIVITY_BATCHES='1')


@pytest.mark.slow
def testScript_TinyRunReportsSchemesAndSensitivity(tmp_path):
  result = helpers.run_script('scheme_quantize.sh', [str(tmp_path)], env=_TINY, timeout=1800)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  rows = json.loads((tmp_path / 'report.json').read_text())['rows']
  labels = [row['label'] for row in rows]
  assert labels[:5] == ['float graph', 'float graph + same fine-tune', 'QAT graph, all 8-bit',
                        'QAT graph, first conv + logits float', 'QAT graph, 4-bit backbone weights']
  tflite = {row['label']: row for row in rows if row.get('tflite')}
  assert sorted(tflite) == ['TFLite uint8 mixed, first conv + logits float',
                            'TFLite uint8, all 8-bit']
  report_md = (tmp_path / 'report.md').read_text()
  assert '4-bit backbone weights, TFLite: ERROR: TFLite runs 8-bit quantized layers only' in (
      report_md)
  sensitivity = json.loads((tmp_path / 'sensitivity' / 'report.json').read_text())['rows']
  assert [row['label'] for row in sensitivity] == ['float', 'all groups', 'backbone', 'head',
                                                   'logits']
