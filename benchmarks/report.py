"""Writes a benchmark's results: `<name>.json`, `<name>.md` (Markdown tables) and PNG bar charts.

Every file goes through slim.fileio (temp file + rename), so a killed run never leaves a
half-written result. The goals of issue 22 are checked here against the measured numbers and
printed as PASS / MISS (or NOT MEASURED when the run did not cover them); nothing is asserted.
"""
import io
import json
import os

import matplotlib
matplotlib.use('Agg')  # No display on CI or the dev VM.
import matplotlib.pyplot as plt  # noqa: E402  pylint: disable=g-import-not-at-top

from slim import fileio  # noqa: E402

SCHEMA_VERSION = 1
KINDS = ('float', 'uint8', 'int8')
# Latency-only variant: the int8 model whose ARG_MAX reads a DEQUANTIZE'd input (same labels).
INT8_FLOAT_ARGMAX = 'int8_float_argmax'
LATENCY_KINDS = ('uint8', 'int8', INT8_FLOAT_ARGMAX)
PASS, MISS, NOT_MEASURED = 'PASS', 'MISS', 'NOT MEASURED'
# The goals of issue 22. uint8 sizes: the original recipe's files on TF 2.21 (bytes).
UINT8_SIZE_LIMITS = {1.0: 2_129_152, 0.5: 722_448}
# int8 per-channel over float, 1 thread, per depth multiplier.
INT8_SPEEDUP_GOALS = {1.0: 2.0, 0.5: 1.3}
QAT_STEP_RATIO_GOAL = 1.3


def _model(results, depth_multiplier):
  for entry in results['models']:
    if entry['depth_multiplier'] == depth_multiplier:
      return entry
  return None


def _goal(description, measured, target, ok, unit=''):
  if measured is None:
    status = NOT_MEASURED
  else:
    status = PASS if ok(measured) else MISS
  return {'goal': description, 'target': target, 'measured': measured, 'unit': unit,
          'status': status}


def evaluate_goals(results):
  """Returns the list of goal records (goal, target, measured, unit, status) for `results`."""
  goals = []
  goals += _speedup_goals(results, 'int8', 'int8 TFLite')
  for entry in results['models']:
    ratio = entry.get('train_step', {}).get('ratio_median')
    goals.append(_goal('QAT train step <= %.1fx float (dm %s, median of paired ratios)'
                       % (QAT_STEP_RATIO_GOAL, entry['depth_multiplier']), ratio,
                       QAT_STEP_RATIO_GOAL, lambda m: m <= QAT_STEP_RATIO_GOAL, 'x'))
  for depth, limit in sorted(UINT8_SIZE_LIMITS.items(), reverse=True):
    entry = _model(results, depth)
    size = entry['tflite_bytes'].get('uint8') if entry else None
    goals.append(_goal('uint8 TFLite <= %s bytes (dm %s, the original recipe on TF 2.21)'
                       % (format(limit, ','), depth), size, limit,
                       lambda m, limit=limit: m <= limit, 'B'))
  peer = results.get('peers', {}).get('tfmot')
  if peer:
    ours = (_model(results, peer['depth_multiplier']) or {}).get('train_step', {})
    goals.append(_goal('QAT/float step <= tfmot\'s (dm %s)' % peer['depth_multiplier'],
                       ours.get('ratio_median'), peer['qat_step_over_float'],
                       lambda m: m <= peer['qat_step_over_float'], 'x'))
  return goals + _speedup_goals(results, INT8_FLOAT_ARGMAX, 'int8 TFLite with float ArgMax')


def _speedup_goals(results, kind, what):
  """The INT8_SPEEDUP_GOALS records of latency kind `kind` (1 thread), described as `what`."""
  goals = []
  for depth, target in sorted(INT8_SPEEDUP_GOALS.items(), reverse=True):
    entry = _model(results, depth)
    speedup = None
    if entry and kind in entry.get('latency', {}).get('1', {}):
      speedup = entry['latency']['1'][kind].get('speedup_median')
    goals.append(_goal('%s >= %.1fx faster than float (dm %s, 1 thread, median of paired '
                       'ratios)' % (what, target, depth), speedup, target,
                       lambda m, target=target: m >= target, 'x'))
  return goals


def _fmt_bytes(value):
  if value is None:
    return 'n/a'
  return '{:,}'.format(value)


def _fmt(value, pattern='%.2f'):
  return 'n/a' if value is None else pattern % value


def _per_kind(mapping, pattern):
  return ' / '.join(_fmt(mapping.get(kind), pattern) if kind in mapping else 'n/a'
                    for kind in KINDS)


def _step_columns(train_step, name, ratio):
  """'med / min | ratio med (min)' of one training graph, or 'n/a | n/a'."""
  if ratio + '_median' not in train_step:
    return 'n/a | n/a'
  return '%.3f / %.3f | %.2f (%.2f)' % (
      train_step[name + '_median_s'], train_step[name + '_min_s'], train_step[ratio + '_median'],
      train_step[ratio + '_min'])


def _profile_lines(results):
  """The per-op-type profile of one float and one QAT step, per depth multiplier."""
  lines = []
  for m in results['models']:
    table = m.get('train_profile_compare')
    if not table:
      continue
    names = list(m['train_profile'])
    others = [n for n in names if n != 'float']
    totals = ', '.join('%s %.0f ms kernel time (%d kernels, step %.2f s traced)' % (
        n, p['total_ms'], p['kernels'], p['wall_s']) for n, p in m['train_profile'].items())
    lines += ['', '## Training step profile, dm %s (traced steps; per op type the fastest)'
              % m['depth_multiplier'], '',
              'Kernel time summed by op type over both cores (RunMetadata step stats; for each type its minimum over the traced steps), so it '
              'exceeds the wall time; ordered by the excess of %s over float. Totals: %s.'
              % (others[0] if others else 'QAT', totals), '',
              '| op type | ' + ' | '.join('%s ms' % n for n in names) + ' | ' +
              ' | '.join('%s - float ms' % n for n in others) + ' |',
              '|---' * (1 + len(names) + len(others)) + '|']
    for row in table:
      lines.append('| %s | ' % row['type'] + ' | '.join(
          '%.1f' % row[n + '_ms'] for n in names) + ' | ' + ' | '.join(
              '%+.1f' % row[n + '_extra_ms'] for n in others) + ' |')
  return lines


def _peer_lines(results):
  """The tfmot peer beside our QAT (same crop and batch when the runs were configured so)."""
  peer = results.get('peers', {}).get('tfmot')
  if not peer:
    return []
  ours = _model(results, peer['depth_multiplier']) or {}
  train = ours.get('train_step', {})
  lat = ours.get('latency', {}).get('1', {}).get('int8', {})
  return ['', '## Peer: tfmot %s (separate venv, same model in tf_keras)' % peer['tfmot_version'],
          '', 'quantize_model on every layer but the resize Lambdas; train_on_batch steps '
          'interleaved with its float twin (eager, as tfmot runs); int8 = TFLiteConverter '
          'from the QAT Keras model, Optimize.DEFAULT, uint8 input; its float and int8 models '
          'timed interleaved in this process, 1 thread.', '',
          '| who | dm | crop x batch | QAT/float step med | int8 speedup (1 thread) | int8 bytes |',
          '|---|---|---|---|---|---|',
          '| tfmot | %s | %dx%d x %d | %.2f | %.2f | %s |' % (
              peer['depth_multiplier'], peer['crop_size'], peer['crop_size'],
              peer['batch_size'], peer['qat_step_over_float'], peer['int8_speedup'],
              _fmt_bytes(peer['int8_bytes'])),
          '| slim.quantize | %s | %s | %s | %s | %s |' % (
              peer['depth_multiplier'],
              '%dx%d x %d' % (train['crop_size'], train['crop_size'], train['batch_size'])
              if train else '-', _fmt(train.get('ratio_median')),
              _fmt(lat.get('speedup_median')),
              _fmt_bytes(ours.get('tflite_bytes', {}).get('int8')))]


def to_markdown(results, plot_files=()):
  """Renders the results as a Markdown document (returns the text)."""
  machine = results['machine']
  config = results['config']
  lines = ['# %s' % results['name'], '',
           'DeepLab MobileNetV2, output stride 16, the quantized recipe (no ASPP rates, image '
           'pooling, no decoder, %d classes); random weights and random images (size and speed '
           'only, not accuracy). Mode: **%s**.' % (config['num_classes'], results['mode']), '',
           '## Machine', '',
           '| fact | value |', '|---|---|']
  for key in ('timestamp_utc', 'cpu_model', 'nproc', 'cpu_count', 'mem_total_gib', 'os',
              'python', 'tensorflow', 'numpy', 'git_commit'):
    lines.append('| %s | %s |' % (key, machine.get(key)))
  lines += ['| load average before (1/5/15 min) | %s |' % results['load_average_before'],
            '| load average after (1/5/15 min) | %s |' % results['load_average_after'],
            '| wall time of the run | %.0f s |' % results['elapsed_seconds'], '',
            'A load average above nproc means other processes competed for the CPU: absolute '
            'times are then inflated; the interleaved ratios are less affected.', '']
  busiest = max(results['load_average_before'][0], results['load_average_after'][0])
  if machine.get('nproc') and busiest > machine['nproc']:
    lines += ['**Noisy run**: the 1-minute load average reached %.1f on %d CPUs, so other '
              'processes took most of the CPU; the milliseconds and seconds below are inflated '
              'and the ratios are unreliable. Re-run on a quiet machine for the figures to '
              'compare with reference/perf_anchors.md.' % (busiest, machine['nproc']), '']
  lines += ['## Models, sizes, conversion', '',
            'Sizes in bytes, per kind float / uint8 (legacy per-tensor) / int8 (per-channel). '
            'Frozen graph = export_model.py output (ImageTensor -> SemanticPredictions); TFLite = '
            'the recipe cut (`%s` -> `%s`).' % (config['tflite_input'], config['tflite_output']),
            '']
  has_stats = any('params' in m for m in results['models'])
  header = '| dm | crop |'
  if has_stats:
    header += ' params | MAdds |'
  header += (' frozen .pb | .tflite | quantized tensor share | TFLite conversion s |')
  lines += [header, '|' + '---|' * (header.count('|') - 1)]
  for m in results['models']:
    row = '| %s | %d |' % (m['depth_multiplier'], m['crop_size'])
    if has_stats:
      madds = m.get('madds')
      row += ' %s | %s |' % (_fmt_bytes(m.get('params')),
                             'n/a' if madds is None else '%.3fB' % (madds / 1e9))
    row += ' %s | %s | %s | %s |' % (
        ' / '.join(_fmt_bytes(m['frozen_graph_bytes'].get(k)) for k in KINDS),
        ' / '.join(_fmt_bytes(m['tflite_bytes'].get(k)) for k in KINDS),
        _per_kind(m['quantized_fraction'], '%.3f'),
        _per_kind(m['conversion_seconds'], '%.1f'))
    lines.append(row)
  mixed = [(m['depth_multiplier'], kind, ops) for m in results['models']
           for kind, ops in sorted(m.get('float_ops', {}).items()) if ops]
  for depth, kind, ops in mixed:
    lines += ['', '**dm %s %s is NOT fully integer**: the converter kept %d op(s) in float '
              '(slim.tflite.convert refused it; converted again with allow_float_ops=True so its '
              'size and speed are still reported): %s' % (
                  depth, kind, len(ops), ', '.join('%s (%s)' % tuple(op) for op in ops[:8]) +
                  (' ...' if len(ops) > 8 else ''))]
  for m in results['models']:
    for kind, error in sorted(m.get('conversion_errors', {}).items()):
      lines += ['', '**dm %s %s conversion FAILED** (no size or latency for it): `%s`'
                % (m['depth_multiplier'], kind, error.splitlines()[0][:400])]
  lines += ['', '## TFLite latency (ms per invoke, interleaved in one process)', '',
            '%d warm-up invokes per model, then %d rounds invoking float, uint8, int8 and int8 '
            'with float ArgMax (its ARG_MAX reads a DEQUANTIZE of its int8 input: the same '
            'labels, `convert_to_tflite.py --float_argmax`) in rotating order. min / median ms; '
            'speedup = float time / model time (median of the per-round ratios, and ratio of the '
            'minima).' % (config['latency_warmup'], config['latency_runs']), '',
            '| dm | threads | float min / med | ' + ' | '.join(
                '%s min / med | %s speedup med (min)' % (k, k) for k in LATENCY_KINDS) + ' |',
            '|---|---|---' + '|---|---' * len(LATENCY_KINDS) + '|']
  for m in results['models']:
    for threads, lat in sorted(m['latency'].items(), key=lambda kv: int(kv[0])):
      cells = ['%.1f / %.1f' % (lat['float']['min_ms'], lat['float']['median_ms'])]
      for kind in LATENCY_KINDS:
        if 'error' in lat.get(kind, {}):
          cells += ['failed to run', 'n/a']
        elif kind in lat:
          cells.append('%.1f / %.1f' % (lat[kind]['min_ms'], lat[kind]['median_ms']))
          cells.append('%.2f (%.2f)' % (lat[kind]['speedup_median'], lat[kind]['speedup_min']))
        else:
          cells += ['n/a', 'n/a']
      lines.append('| %s | %s | %s |' % (m['depth_multiplier'], threads, ' | '.join(cells)))
  for m in results['models']:
    for threads, lat in sorted(m['latency'].items()):
      for kind, value in sorted(lat.items()):
        if 'error' in value:
          lines += ['', 'dm %s %s at %s thread(s) could not be prepared by the interpreter: %s'
                    % (m['depth_multiplier'], kind, threads, value['error'])]
  lines += ['', '## Training step: float vs QAT (seconds, interleaved in one process)', '',
            'train.py\'s single-clone graph (softmax loss on upsampled logits, momentum), QAT = '
            'create_training_graph(quant_delay=0) before the optimizer (the original recipe, '
            'with the default one-conv BN fold); per-channel QAT = '
            'experimental_create_training_graph(per_channel=True), the int8 path; contrib fold '
            '= QAT with fold_mode=\'contrib\' (tf.contrib.quantize\'s two-conv fold). %d '
            'warm-up steps each, then %d rounds (order rotating).'
            % (config['train_warmup'], config['train_steps']), '',
            '| dm | crop x batch | float med / min | QAT med / min | QAT/float med (min) | '
            'per-channel QAT med / min | per-channel/float med (min) | contrib-fold QAT med / '
            'min | contrib-fold/float med (min) |',
            '|---|---|---|---|---|---|---|---|---|']
  for m in results['models']:
    t = m.get('train_step')
    if not t:
      continue
    lines.append('| %s | %dx%d x %d | %.3f / %.3f | %s | %s | %s |' % (
        m['depth_multiplier'], t['crop_size'], t['crop_size'], t['batch_size'],
        t['float_median_s'], t['float_min_s'], _step_columns(t, 'qat', 'ratio'),
        _step_columns(t, 'qat_per_channel', 'per_channel_ratio'),
        _step_columns(t, 'qat_contrib_fold', 'contrib_fold_ratio')))
  lines += _profile_lines(results)
  lines += _peer_lines(results)
  lines += ['', '## Goals (issue 22; reported, not asserted)', '',
            '| goal | target | measured | status |', '|---|---|---|---|']
  for goal in results['goals']:
    measured = goal['measured']
    if isinstance(measured, float):
      measured = '%.2f' % measured
    elif isinstance(measured, int):
      measured = '{:,}'.format(measured)
    target = goal['target']
    target = '{:,}'.format(target) if isinstance(target, int) else target
    lines.append('| %s | %s %s | %s %s | %s |' % (
        goal['goal'], target, goal['unit'], measured if measured is not None else '-',
        goal['unit'] if measured is not None else '', goal['status']))
  lines += ['', '## Notes', '']
  lines += ['- %s' % note for note in results.get('notes', [])]
  if plot_files:
    lines += ['', '## Plots', '']
    lines += ['![%s](%s)' % (os.path.splitext(p)[0], p) for p in plot_files]
  return '\n'.join(lines) + '\n'


def _save_figure(fig, path):
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
  plt.close(fig)
  fileio.atomic_write_bytes(path, buffer.getvalue())


def _grouped_bars(ax, groups, series, values, ylabel, title):
  width = 0.8 / len(series)
  for i, name in enumerate(series):
    xs = [g + (i - (len(series) - 1) / 2.0) * width for g in range(len(groups))]
    heights = [values.get((group, name), 0.0) for group in groups]
    bars = ax.bar(xs, heights, width, label=name)
    ax.bar_label(bars, fmt='%.3g', fontsize=7)
  ax.set_xticks(range(len(groups)))
  ax.set_xticklabels(groups)
  ax.set_ylabel(ylabel)
  ax.set_title(title)
  ax.legend()


def write_plots(results, output_dir, name):
  """Writes `<name>_latency.png` and `<name>_size.png`; returns their base names."""
  latency_values, groups = {}, []
  for m in results['models']:
    for threads, lat in sorted(m['latency'].items(), key=lambda kv: int(kv[0])):
      group = 'dm %s, %s thr' % (m['depth_multiplier'], threads)
      groups.append(group)
      for kind in KINDS:
        if 'median_ms' in lat.get(kind, {}):
          latency_values[(group, kind)] = lat[kind]['median_ms']
  fig, ax = plt.subplots(figsize=(8, 4))
  crop = results['config']['crop_size']
  _grouped_bars(ax, groups, KINDS, latency_values, 'median ms per invoke',
                'TFLite latency, %dx%d input' % (crop, crop))
  latency_png = name + '_latency.png'
  _save_figure(fig, os.path.join(output_dir, latency_png))

  size_values, size_groups = {}, []
  for m in results['models']:
    for what, key in (('frozen .pb', 'frozen_graph_bytes'), ('.tflite', 'tflite_bytes')):
      group = 'dm %s %s' % (m['depth_multiplier'], what)
      size_groups.append(group)
      for kind in KINDS:
        if kind in m[key]:
          size_values[(group, kind)] = m[key][kind] / 1e6
  fig, ax = plt.subplots(figsize=(8, 4))
  _grouped_bars(ax, size_groups, KINDS, size_values, 'MB (10^6 bytes)', 'Model file sizes')
  size_png = name + '_size.png'
  _save_figure(fig, os.path.join(output_dir, size_png))
  return [latency_png, size_png]


def write_results(results, output_dir, name):
  """Evaluates the goals and writes `<name>.json`, `<name>.md` and the PNG plots atomically.

  Args:
    results: the dict built by benchmarks.deeplab_benchmark.run (without 'goals').
    output_dir: destination folder (created if missing).
    name: base name of the files.

  Returns:
    dict {'json', 'md', 'plots'} of written paths.
  """
  results = dict(results, schema_version=SCHEMA_VERSION, goals=evaluate_goals(results))
  os.makedirs(output_dir, exist_ok=True)
  plots = write_plots(results, output_dir, name)
  json_path = os.path.join(output_dir, name + '.json')
  md_path = os.path.join(output_dir, name + '.md')
  fileio.atomic_write_text(json_path, json.dumps(results, indent=2, sort_keys=True) + '\n')
  fileio.atomic_write_text(md_path, to_markdown(results, plots))
  return {'json': json_path, 'md': md_path,
          'plots': [os.path.join(output_dir, p) for p in plots]}
