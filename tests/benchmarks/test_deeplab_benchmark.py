"""End-to-end run of benchmarks.deeplab_benchmark at a tiny size, and its command line.

Checks what is written (files, JSON schema, Markdown sections), never how fast anything was.
"""

import json
import os

import pytest

from benchmarks import deeplab_benchmark
from benchmarks import report

_MODEL_KEYS = {'depth_multiplier', 'crop_size', 'train_step', 'frozen_graph_bytes', 'tflite_bytes',
               'conversion_seconds', 'quantized_fraction', 'fully_integer', 'float_ops', 'latency'}
_TOP_KEYS = {'name', 'mode', 'config', 'machine', 'load_average_before', 'load_average_after',
             'notes', 'models', 'elapsed_seconds', 'schema_version', 'goals'}


@pytest.mark.slow  # About 1-3 minutes on 2 shared cores: three training graphs, three exports.
def testRun_TinyQuickRunWritesJsonMarkdownAndPlots(tmp_path):
  config = deeplab_benchmark.BenchmarkConfig.quick(
      name='tiny', output_dir=str(tmp_path), crop_size=65, train_crop_size=65,
      depth_multipliers=(0.5,), threads=(1,), latency_warmup=0, latency_runs=1,
      train_batch_size=1, train_warmup=0, train_steps=1)
  paths = deeplab_benchmark.run(config)
  assert sorted(os.listdir(tmp_path)) == ['tiny.json', 'tiny.md', 'tiny_latency.png',
                                          'tiny_size.png']
  with open(paths['json']) as f:
    results = json.load(f)
  assert _TOP_KEYS <= set(results)
  assert results['mode'] == 'quick'
  assert results['machine']['nproc'] >= 1 and len(results['load_average_after']) == 3
  (model,) = results['models']
  assert _MODEL_KEYS <= set(model)
  assert model['depth_multiplier'] == 0.5 and model['crop_size'] == 65
  # Every kind converts, the 8-bit ones fully integer, and every model runs and is timed.
  assert not model.get('conversion_errors')
  for kind in report.KINDS:
    assert model['frozen_graph_bytes'][kind] > 0 and model['tflite_bytes'][kind] > 0
    assert sorted(model['latency']['1'][kind]) == [
        'median_ms', 'min_ms', 'runs_ms', 'speedup_median', 'speedup_min']
  assert model['quantized_fraction']['float'] == 0.0
  assert model['quantized_fraction']['uint8'] == 1.0 and model['fully_integer']['uint8']
  assert model['fully_integer']['int8'] and not model['float_ops'].get('int8')
  train = model['train_step']
  assert len(train['float_s']) == len(train['qat_s']) == len(train['qat_per_channel_s']) == 1
  assert train['ratio_min'] == pytest.approx(train['qat_min_s'] / train['float_min_s'], rel=0.01)
  assert [g['status'] for g in results['goals']][0] == report.NOT_MEASURED  # No dm 1.0.
  with open(paths['md']) as f:
    text = f.read()
  for section in ('## Machine', '## Models, sizes, conversion', '## TFLite latency',
                  '## Training step', '## Goals', '![tiny_size](tiny_size.png)'):
    assert section in text


def testParseArgs_QuickDefaultsAndOverrides():
  config = deeplab_benchmark._parse_args(['--quick'])
  assert (config.name, config.crop_size, config.depth_multipliers, config.mode) == (
      deeplab_benchmark.QUICK_NAME, 129, (0.5,), 'quick')
  config = deeplab_benchmark._parse_args(['--name', 'run1', '--depth_multipliers', '1.0',
                                          '--threads', '1'])
  assert (config.name, config.crop_size, config.depth_multipliers, config.threads) == (
      'run1', 513, (1.0,), (1,))


def testParseArgs_RejectsBadValues(capsys):
  with pytest.raises(SystemExit):
    deeplab_benchmark._parse_args(['--name', 'a/b'])
  assert "--name must be a plain file name, got 'a/b'" in capsys.readouterr().err
  with pytest.raises(SystemExit):
    deeplab_benchmark._parse_args(['--latency_runs', '0'])
  assert '--latency_runs must be >= 1, got 0' in capsys.readouterr().err
