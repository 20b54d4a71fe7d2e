"""Tests for benchmarks/report.py: goal verdicts, Markdown tables, atomic JSON/MD/PNG output.

The inputs are hand-written result records (the formatter's contract), not measurements;
test_deeplab_benchmark.py checks the records a real run produces.
"""

import json
import os

import pytest

from benchmarks import report
from slim import fileio


def _latency(float_ms, uint8_ms, int8_ms, int8_float_argmax_ms=None):
  def entry(ms):
    return {'min_ms': ms, 'median_ms': ms, 'runs_ms': [ms], 'speedup_min': float_ms / ms,
            'speedup_median': round(float_ms / ms, 3)}
  latency = {'float': entry(float_ms), 'uint8': entry(uint8_ms), 'int8': entry(int8_ms)}
  if int8_float_argmax_ms is not None:
    latency[report.INT8_FLOAT_ARGMAX] = entry(int8_float_argmax_ms)
  return latency


def _model(depth, uint8_bytes, latency, ratio, float_ops=None):
  return {
      'depth_multiplier': depth, 'crop_size': 513,
      'frozen_graph_bytes': {'float': 8_400_000, 'uint8': 8_600_000, 'int8': 8_700_000},
      'tflite_bytes': {'float': 8_300_000, 'uint8': uint8_bytes, 'int8': 2_500_000},
      'conversion_seconds': {'float': 1.5, 'uint8': 2.0, 'int8': 2.1},
      'quantized_fraction': {'float': 0.0, 'uint8': 1.0, 'int8': 0.9},
      'fully_integer': {'float': False, 'uint8': True, 'int8': not float_ops},
      'float_ops': {'int8': float_ops} if float_ops else {},
      'latency': {'1': latency, '2': latency},
      'train_step': {'crop_size': 513, 'batch_size': 8, 'float_s': [2.0], 'qat_s': [2.4],
                     'float_median_s': 2.0, 'float_min_s': 2.0, 'qat_median_s': 2.4,
                     'qat_min_s': 2.4, 'ratio_median': ratio, 'ratio_min': ratio},
  }


def _results(models):
  return {
      'name': 'unit', 'mode': 'full', 'elapsed_seconds': 12.0,
      'config': {'num_classes': 21, 'crop_size': 513, 'tflite_input': 'in', 'tflite_output': 'out',
                 'latency_warmup': 3, 'latency_runs': 20, 'train_warmup': 2, 'train_steps': 5},
      'machine': {'cpu_model': 'test cpu', 'nproc': 2, 'tensorflow': '2.21.0'},
      'load_average_before': [0.5, 0.5, 0.5], 'load_average_after': [1.0, 0.5, 0.5],
      'notes': ['a note'], 'models': models,
  }


def _statuses(goals):
  return [(g['goal'].split(' (')[0], g['status']) for g in goals]


def testEvaluateGoals_PassAndMissFromMeasuredValues():
  results = _results([_model(1.0, 2_129_152, _latency(50.0, 55.0, 24.0, 20.0), ratio=1.25),
                      _model(0.5, 722_449, _latency(25.0, 27.0, 21.0), ratio=1.6)])
  goals = report.evaluate_goals(results)
  assert [g['status'] for g in goals] == [report.PASS, report.MISS, report.PASS, report.MISS,
                                          report.PASS, report.MISS, report.PASS,
                                          report.NOT_MEASURED]
  assert goals[6]['goal'].startswith('int8 TFLite with float ArgMax >= 2.0x')
  assert goals[6]['measured'] == pytest.approx(50.0 / 20.0, abs=1e-3)
  assert goals[0]['measured'] == pytest.approx(50.0 / 24.0, abs=1e-3)
  assert goals[1]['target'] == 1.3 and goals[1]['measured'] == pytest.approx(25.0 / 21.0, 1e-3)
  assert goals[4]['target'] == 2_129_152 and goals[4]['measured'] == 2_129_152
  assert goals[5]['target'] == 722_448


def testEvaluateGoals_DepthNotRunIsNotMeasured():
  goals = report.evaluate_goals(_results([_model(0.5, 700_000, _latency(25.0, 27.0, 21.0), 1.2)]))
  assert _statuses(goals) == [
      ('int8 TFLite >= 2.0x faster than float', report.NOT_MEASURED),
      ('int8 TFLite >= 1.3x faster than float', report.MISS),
      ('QAT train step <= 1.3x float', report.PASS),
      ('uint8 TFLite <= 2,129,152 bytes', report.NOT_MEASURED),
      ('uint8 TFLite <= 722,448 bytes', report.PASS),
      ('int8 TFLite with float ArgMax >= 2.0x faster than float', report.NOT_MEASURED),
      ('int8 TFLite with float ArgMax >= 1.3x faster than float', report.NOT_MEASURED)]


def testEvaluateGoals_TfmotPeer():
  results = _results([_model(1.0, 2_100_000, _latency(50.0, 55.0, 24.0), ratio=1.25)])
  results['peers'] = {'tfmot': _peer(1.0, 1.5)}
  assert _statuses(report.evaluate_goals(results))[-3] == ("QAT/float step <= tfmot's",
                                                           report.PASS)
  results['peers']['tfmot']['qat_step_over_float'] = 1.2
  assert report.evaluate_goals(results)[-3]['status'] == report.MISS


def _peer(depth, ratio):
  return {'tfmot_version': '0.8.1', 'depth_multiplier': depth, 'crop_size': 513,
          'batch_size': 8, 'qat_step_over_float': ratio, 'int8_speedup': 1.9,
          'int8_bytes': 2_603_240}


def testToMarkdown_ProfileAndPeerSections():
  model = _model(1.0, 2_100_000, _latency(50.0, 55.0, 24.0), ratio=1.25)
  profile = lambda total: {'total_ms': total, 'kernels': 10, 'wall_s': 1.0, 'ops': []}
  model['train_profile'] = {'float': profile(900.0), 'qat': profile(1200.0)}
  model['train_profile_compare'] = [
      {'type': 'FakeQuantWithMinMaxVars', 'float_ms': 0.0, 'qat_ms': 250.0, 'qat_extra_ms': 250.0},
      {'type': 'Conv2D', 'float_ms': 400.0, 'qat_ms': 410.5, 'qat_extra_ms': 10.5}]
  results = _results([model])
  results['peers'] = {'tfmot': _peer(1.0, 1.5)}
  results['goals'] = report.evaluate_goals(results)
  text = report.to_markdown(results)
  assert '## Training step profile, dm 1.0 (traced steps; per op type the fastest)' in text
  assert '| op type | float ms | qat ms | qat - float ms |' in text
  assert '| FakeQuantWithMinMaxVars | 0.0 | 250.0 | +250.0 |' in text
  assert '| tfmot | 1.0 | 513x513 x 8 | 1.50 | 1.90 | 2,603,240 |' in text
  assert '| slim.quantize | 1.0 | 513x513 x 8 | 1.25 | 2.08 | 2,500,000 |' in text


def testToMarkdown_TablesGoalsAndMixedModelWarning():
  results = _results([_model(1.0, 2_129_152, _latency(50.0, 55.0, 25.0), ratio=1.25,
                             float_ops=[['conv_14/depthwise', 'DEPTHWISE_CONV_2D']])])
  results['goals'] = report.evaluate_goals(results)
  text = report.to_markdown(results, ['unit_latency.png'])
  assert '| 1.0 | 513 | 8,400,000 / 8,600,000 / 8,700,000 | 8,300,000 / 2,129,152 / 2,500,000 |' in text
  assert ('| 1.0 | 1 | 50.0 / 50.0 | 55.0 / 55.0 | 0.91 (0.91) | 25.0 / 25.0 | 2.00 (2.00) | '
          'n/a | n/a |') in text
  assert '| 1.0 | 513x513 x 8 | 2.000 / 2.000 | 2.400 / 2.400 | 1.25 (1.25) | n/a | n/a |' in text
  assert '**dm 1.0 int8 is NOT fully integer**' in text
  assert 'conv_14/depthwise (DEPTHWISE_CONV_2D)' in text
  assert '| 2.00 x | PASS |' in text
  assert '![unit_latency](unit_latency.png)' in text
  # No params/MAdds column when the run had no slim.nets.stats figures.
  assert '| dm | crop | frozen .pb | .tflite | quantized tensor share |' in text


def testWriteResults_WritesEveryFileAtomically(tmp_path, monkeypatch):
  written = []
  original = fileio.atomic_write

  def recording_atomic_write(path, mode='wb', encoding=None):
    written.append(os.path.basename(path))
    return original(path, mode, encoding)

  monkeypatch.setattr(fileio, 'atomic_write', recording_atomic_write)
  results = _results([_model(0.5, 700_000, _latency(25.0, 27.0, 21.0), ratio=1.2)])
  paths = report.write_results(results, str(tmp_path / 'out'), 'unit')
  files = sorted(os.listdir(tmp_path / 'out'))
  assert files == ['unit.json', 'unit.md', 'unit_latency.png', 'unit_size.png']
  assert sorted(written) == files  # Every file went through temp + rename; no temp file left.
  with open(paths['json']) as f:
    data = json.load(f)
  assert data['schema_version'] == report.SCHEMA_VERSION
  assert [g['status'] for g in data['goals']] == [report.NOT_MEASURED, report.MISS,
                                                  report.PASS, report.NOT_MEASURED,
                                                  report.PASS, report.NOT_MEASURED,
                                                  report.NOT_MEASURED]
  for png in paths['plots']:
    with open(png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def testToMarkdown_ConversionFailureIsShownNotHidden():
  model = _model(0.5, 700_000, _latency(25.0, 27.0, 21.0), ratio=1.2)
  del model['tflite_bytes']['int8']
  for threads in model['latency']:
    model['latency'][threads] = {k: v for k, v in model['latency'][threads].items() if k != 'int8'}
  model['conversion_errors'] = {'int8': "ConverterError: 'tfl.add' op operand #1 must be ...\nmore"}
  results = _results([model])
  results['goals'] = report.evaluate_goals(results)
  text = report.to_markdown(results)
  assert ("**dm 0.5 int8 conversion FAILED** (no size or latency for it): `ConverterError: "
          "'tfl.add' op operand #1 must be ...`") in text
  assert '| 0.5 | 1 | 25.0 / 25.0 | 27.0 / 27.0 | 0.93 (0.93) | n/a | n/a | n/a | n/a |' in text
  assert '8,300,000 / 700,000 / n/a' in text


def testToMarkdown_FlagsANoisyRun():
  results = _results([_model(0.5, 700_000, _latency(25.0, 27.0, 21.0), ratio=1.2)])
  results['goals'] = report.evaluate_goals(results)
  assert '**Noisy run**' not in report.to_markdown(results)
  results['load_average_after'] = [11.3, 9.0, 8.0]
  assert ('**Noisy run**: the 1-minute load average reached 11.3 on 2 CPUs'
          in report.to_markdown(results))
