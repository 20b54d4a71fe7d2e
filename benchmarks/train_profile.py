"""Per-op profile of one training step (`RunMetadata` step stats), summed by op type.

`profile_step(session, fetch)` runs a few traced steps and returns where the time went: the
summed kernel time per op type (a kernel's `all_end_rel_micros`, on all threads, so the total
exceeds the wall time on 2 cores), the share of each type, and the number of kernels. Used by
the DeepLab benchmark to compare a float and a QAT step op type by op type (issue 22 item 2);
`write_timeline` saves the Chrome trace (chrome://tracing, Perfetto) of the same step.
"""
import collections
import time

import tensorflow as tf
from tensorflow.python.client import timeline

from slim import fileio

# Op types listed individually in a summary; the rest are summed as OTHER.
TOP_OP_TYPES = 12
OTHER = '(other)'


def _kernel_times(step_stats):
  """Yields (op type, microseconds) per executed kernel of a StepStats proto."""
  for device in step_stats.dev_stats:
    for node in device.node_stats:
      # timeline_label is 'name = Type(inputs)'; node_name alone has no type.
      label = node.timeline_label
      op_type = label.split(' = ', 1)[1].split('(', 1)[0] if ' = ' in label else node.node_name
      if op_type in ('_SOURCE', 'NoOp'):
        continue
      yield op_type, node.all_end_rel_micros


def summarize(step_stats, top=TOP_OP_TYPES):
  """Sums kernel time by op type.

  Args:
    step_stats: the `StepStats` of one traced `session.run`.
    top: how many op types to list before OTHER.

  Returns:
    {'total_ms', 'kernels', 'ops': [{'type', 'ms', 'share', 'count'}, ...]} with the `top`
    most expensive types first and OTHER last, and 'by_type': {type: ms} of every type.
  """
  total, count = collections.Counter(), collections.Counter()
  for op_type, micros in _kernel_times(step_stats):
    total[op_type] += micros
    count[op_type] += 1
  return _summarize_counts(total, count, top)


def _summarize_counts(total, count, top=TOP_OP_TYPES):
  """`summarize` from {type: microseconds} and {type: kernels}."""
  all_micros = sum(total.values()) or 1
  ranked = total.most_common()
  rows = [{'type': t, 'ms': round(us / 1e3, 2), 'share': round(us / all_micros, 4),
           'count': count[t]} for t, us in ranked[:top]]
  rest = ranked[top:]
  if rest:
    us = sum(v for _, v in rest)
    rows.append({'type': OTHER, 'ms': round(us / 1e3, 2), 'share': round(us / all_micros, 4),
                 'count': sum(count[t] for t, _ in rest)})
  return {'total_ms': round(all_micros / 1e3, 1), 'kernels': sum(count.values()),
          'ops': rows, 'by_type': {t: round(us / 1e3, 2) for t, us in ranked}}


def profile_step(session, fetch, runs=3):
  """Runs `fetch` `runs` times with a full trace; keeps, per op type, its fastest run.

  A kernel's time includes any time its thread was preempted, so on a shared machine one traced
  step can inflate any op type by seconds; the per-type minimum over a few steps is the
  estimate least affected (as the interleaved step timings use minima and medians).

  Args:
    session: a `tf.compat.v1.Session`.
    fetch: what one training step runs (the train op).
    runs: traced steps.

  Returns:
    (summary as `summarize` over the per-type minima, with 'wall_s' (the fastest traced step)
    and 'runs' added, the StepStats of the fastest step).
  """
  best, fastest, fastest_stats = None, None, None
  options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
  for _ in range(runs):
    metadata = tf.compat.v1.RunMetadata()
    start = time.perf_counter()
    session.run(fetch, options=options, run_metadata=metadata)
    wall = time.perf_counter() - start
    micros, counts = collections.Counter(), collections.Counter()
    for op_type, us in _kernel_times(metadata.step_stats):
      micros[op_type] += us
      counts[op_type] += 1
    if best is None:
      best = (micros, counts)
    else:
      for op_type in micros:
        best[0][op_type] = min(best[0].get(op_type, micros[op_type]), micros[op_type])
    if fastest is None or wall < fastest:
      fastest, fastest_stats = wall, metadata.step_stats
  summary = _summarize_counts(*best)
  summary['wall_s'] = round(fastest, 6)
  summary['runs'] = runs
  return summary, fastest_stats


def write_timeline(step_stats, path):
  """Writes the Chrome trace of a traced step to `path` (temp file + rename)."""
  trace = timeline.Timeline(step_stats).generate_chrome_trace_format()
  fileio.atomic_write_text(path, trace)


def compare(profiles, baseline='float'):
  """Per op type, milliseconds in each profile and the excess over `baseline`.

  Args:
    profiles: {name: summary from `profile_step`}.
    baseline: the profile the others are compared with.

  Returns:
    A list of {'type', <name>_ms for each profile, 'extra_ms' per non-baseline profile}, most
    expensive excess first (op types of any profile's top list).
  """
  types = []
  for summary in profiles.values():
    types += [r['type'] for r in summary['ops'] if r['type'] not in types]
  table = []
  for op_type in types:
    row = {'type': op_type}
    for name, summary in profiles.items():
      if op_type == OTHER:
        ms = next((r['ms'] for r in summary['ops'] if r['type'] == OTHER), 0.0)
      else:
        ms = summary['by_type'].get(op_type, 0.0)
      row[name + '_ms'] = ms
    for name in profiles:
      if name != baseline:
        row[name + '_extra_ms'] = round(row[name + '_ms'] - row[baseline + '_ms'], 2)
    table.append(row)
  others = [n for n in profiles if n != baseline]
  if others:
    table.sort(key=lambda r: -r[others[0] + '_extra_ms'])
  return table
