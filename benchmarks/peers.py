"""Peer tools measured beside ours: the record of benchmarks/tfmot_peer.py, its models timed here.

The tfmot peer runs in its own venv (scripts/setup_tfmot_env.sh) and leaves `tfmot.json` plus a
float and an int8 .tflite in a folder. `tfmot_record(folder, threads)` reads them, times the two
models' `invoke()` interleaved in this process (slim.tflite.latency, the same method as ours)
and returns the benchmark's `"peers": {"tfmot": ...}` entry.
"""
import json
import os

from slim.tflite import latency

TFMOT_RECORD = 'tfmot.json'


def read_tfmot_record(folder):
  """The peer's tfmot.json record and its {'float', 'int8'} model bytes, read from `folder`.

  Called before the benchmark's long measurements as well, so a missing or broken peer folder
  fails at once, not after them.

  Raises:
    ValueError: the folder holds no peer record, or a model it names is missing.
  """
  path = os.path.join(folder, TFMOT_RECORD)
  if not os.path.isfile(path):
    raise ValueError('%s: no tfmot peer record (run benchmarks.tfmot_peer with '
                     '--output_dir=%s in .venv-tfmot first)' % (path, folder))
  with open(path) as f:
    record = json.load(f)
  models = {}
  for kind in ('float', 'int8'):
    # Paths are relative to the record's folder (absolute ones are kept as they are).
    model_path = os.path.join(folder, record[kind + '_tflite'])
    if not os.path.isfile(model_path):
      raise ValueError('%s: the %s model named by %s is missing' % (model_path, kind, path))
    with open(model_path, 'rb') as f:
      models[kind] = f.read()
  return record, models


def tfmot_record(folder, threads=1, warmup=3, runs=20):
  """The tfmot peer entry: its step ratio, int8 size and int8 speed-up over its float model.

  Args:
    folder: the --output_dir of benchmarks.tfmot_peer.
    threads: interpreter threads for the latency.
    warmup, runs: as slim.tflite.latency.interleaved_latency.

  Returns:
    dict with qat_step_over_float, int8_speedup, int8_bytes, the conditions and the raw times.

  Raises:
    ValueError: the folder holds no peer record, or a model it names is missing.
  """
  record, models = read_tfmot_record(folder)
  lat = latency.interleaved_latency(models, threads, warmup=warmup, runs=runs)
  entry = {key: value for key, value in record.items()
           if key not in ('float_tflite', 'int8_tflite')}
  entry['latency'] = {str(threads): lat}
  entry['int8_speedup'] = lat['int8']['speedup_median']
  return entry
