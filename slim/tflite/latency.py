"""TFLite latency of several models measured interleaved in one process.

Absolute milliseconds on a shared 2-core VM swing by 20-40 % between processes; ratios of models
invoked in turn inside one process are stable to about 0.1 (reference/perf_anchors.md). So every
model gets its own interpreter, all are warmed up, then each round invokes every model once, the
order rotating from round to round so no model always runs right after another.
"""
import statistics
import time

import numpy as np

from slim.tflite import interpreter as interpreter_lib


def _input_for(interpreter, rng):
  detail = interpreter.get_input_details()[0]
  dtype = np.dtype(detail['dtype'])
  shape = detail['shape']
  if dtype == np.float32:
    return detail['index'], rng.uniform(-1.0, 1.0, shape).astype(np.float32)
  info = np.iinfo(dtype)
  return detail['index'], rng.integers(info.min, info.max + 1, shape).astype(dtype)


def _first_input(interpreter, rng):
  return [_input_for(interpreter, rng)]


def interleaved_latency(models, num_threads, warmup=3, runs=10, seed=0, input_fn=None):
  """Times `invoke()` of several TFLite models, round-robin in one process.

  Args:
    models: dict {name: .tflite bytes}; the first entry is the reference for the ratios.
    num_threads: interpreter threads.
    warmup: untimed invokes per model before timing.
    runs: timed rounds (each round invokes every model once).
    seed: seed of the random input (uint8/int8/float as each model expects).
    input_fn: `f(interpreter, rng) -> [(tensor index, value)]` setting the inputs, for models
      whose inputs are not images (e.g. token ids that must stay below the vocab size);
      default: a random value for the first input.

  Returns:
    dict {name: {'min_ms', 'median_ms', 'runs_ms', 'speedup_min', 'speedup_median'}}, where
    speedup_min = reference min / model min and speedup_median is the median over rounds of
    (reference time / model time) in the same round (1.0 for the reference). A model other
    than the reference whose interpreter cannot be prepared gets {'error': message} instead.

  Raises:
    ValueError: if `models` is empty or runs < 1.
    RuntimeError: if the reference model cannot be prepared.
  """
  if not models or runs < 1:
    raise ValueError('interleaved_latency needs at least one model and runs >= 1, got %d '
                     'models and runs=%d' % (len(models), runs))
  rng = np.random.default_rng(seed)
  names = list(models)
  interpreters = {}
  errors = {}
  for name in list(names):
    try:
      interpreter = interpreter_lib.load(models[name], num_threads=num_threads, what=name)
    except interpreter_lib.ModelNotRunnableError as e:
      if name == names[0]:
        raise
      # E.g. XNNPACK refusing per-channel weights with a non-zero zero point: report, go on.
      errors[name] = {'error': str(e)[:500]}
      names.remove(name)
      continue
    for index, value in (input_fn or _first_input)(interpreter, rng):
      interpreter.set_tensor(index, value)
    interpreters[name] = interpreter
  for name in names:
    for _ in range(warmup):
      interpreters[name].invoke()
  times = {name: [] for name in names}
  for round_index in range(runs):
    shift = round_index % len(names)
    for name in names[shift:] + names[:shift]:
      start = time.perf_counter()
      interpreters[name].invoke()
      times[name].append((time.perf_counter() - start) * 1e3)
  reference = names[0]
  result = dict(errors)
  for name in names:
    paired = [r / t for r, t in zip(times[reference], times[name])]
    result[name] = {
        'min_ms': round(min(times[name]), 4),
        'median_ms': round(statistics.median(times[name]), 4),
        'runs_ms': [round(t, 4) for t in times[name]],
        'speedup_min': round(min(times[reference]) / min(times[name]), 3),
        'speedup_median': round(statistics.median(paired), 3),
    }
  return result
