"""The MobileBERT recipe's report: F1/EM of each model, TFLite size and interleaved latency.

Each evaluated model left a results JSON (`run_squad.py --do_predict --results_file`); the rows
are those files in order under their labels, and every TFLite row's latency is measured in one
process, round-robin with the others (`slim.tflite.latency`), on inputs shaped like a SQuAD
feature (token ids below `max_token_id`, a full mask, question and passage segments).
"""
import json
import os

import numpy as np

from mobilebert import squad_data
from slim.runtime import report
from slim.tflite import latency

COLUMNS = [
    report.Column('model', 'label'),
    report.Column('F1', 'f1', '%.2f'),
    report.Column('EM', 'exact_match', '%.2f'),
    report.Column('TFLite bytes', 'bytes', '%d'),
    report.Column('latency median ms', 'latency_median_ms', '%.3f'),
    report.Column('speed-up vs first TFLite', 'speedup_median', '%.2fx'),
]


def _inputs(max_token_id):
  def input_fn(interpreter, rng):
    values = []
    for detail in interpreter.get_input_details():
      shape = detail['shape']
      name = detail['name']
      if name == 'input_ids':
        value = rng.integers(0, max_token_id, shape)
      elif name == 'segment_ids':
        value = np.zeros(shape)
        value[..., shape[-1] // 4:] = 1
      elif name in squad_data.INPUT_NAMES:
        value = np.ones(shape)
      else:
        raise ValueError('unexpected TFLite input %r (expected %s)'
                         % (name, list(squad_data.INPUT_NAMES)))
      values.append((detail['index'], value.astype(detail['dtype'])))
    return values
  return input_fn


def read_row(label, results_file):
  """A report row from a results JSON (F1/EM in points, tflite path, bytes)."""
  if not os.path.isfile(results_file):
    raise ValueError('results of %r: %s not found' % (label, results_file))
  with open(results_file) as f:
    result = json.load(f)
  row = {'label': label}
  row.update({k: result.get(k) for k in ('f1', 'exact_match', 'total', 'tflite', 'bytes')})
  return row


def build(rows, run_dir, num_threads=1, rounds=20, max_token_id=100, extra=None):
  """Adds latencies to the TFLite rows, writes report.md/report.json; returns the table."""
  models = {}
  for row in rows:
    if row.get('tflite'):
      with open(row['tflite'], 'rb') as f:
        models[row['label']] = f.read()
  if models:
    timing = latency.interleaved_latency(models, num_threads, runs=rounds,
                                         input_fn=_inputs(max_token_id))
    for row in rows:
      result = timing.get(row['label'], {})
      row['latency_median_ms'] = result.get('median_ms')
      row['speedup_median'] = result.get('speedup_median')
      if 'error' in result:
        row['latency_error'] = result['error']
  return report.write(rows, run_dir, COLUMNS, extra=dict(extra or {}, latency_threads=num_threads,
                                                         latency_rounds=rounds))
