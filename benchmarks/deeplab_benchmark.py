"""Benchmarks DeepLab MobileNetV2's 8-bit recipe: size, TFLite latency, QAT training cost.

For each depth multiplier (1.0 and 0.5 at 513x513 by default) it measures, in ONE process:
  * parameters and MAdds (when slim.nets.stats is available),
  * frozen-graph and TFLite sizes for float, legacy uint8 (per-tensor) and int8 (per-channel),
  * TFLite conversion time and the share of TFLite tensors that are 8-bit,
  * TFLite latency of float/uint8/int8 at 1 and 2 threads, interleaved (benchmarks.latency),
  * float vs QAT training step time, interleaved (same batch and crop), QAT with both BN folds,
  * a per-op-type profile of one float and one QAT step (benchmarks.train_profile),
and writes benchmarks/results/<name>.{json,md} plus PNG bar charts (benchmarks.report).

Usage (from the repo root; scripts/benchmark.sh wraps it):
  python -m benchmarks.deeplab_benchmark                  # full: dm 1.0 and 0.5 at 513x513
  python -m benchmarks.deeplab_benchmark --quick          # CI: dm 0.5 at 129x129, few runs
  python benchmarks/deeplab_benchmark.py --name=my_run --depth_multipliers=1.0
"""
import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time


from absl import logging
import slim  # noqa: F401  pylint: disable=unused-import
import tensorflow as tf
from slim.tflite import convert
from slim.tflite import inspection as tflite_inspect

from benchmarks import deeplab_recipe as recipe
from slim.tflite import latency
from benchmarks import machine
from benchmarks import peers
from benchmarks import report
from benchmarks import train_profile

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
FULL_NAME = 'deeplab_mnv2_513'
QUICK_NAME = 'deeplab_mnv2_quick'
# Training graphs timed side by side: name -> deeplab_recipe quantize mode. 'qat' is the
# original recipe (per-tensor, uint8 export, the default one-conv BN fold); 'qat_per_channel'
# feeds the int8 export; 'qat_contrib_fold' is 'qat' with the two-conv fold (timed only).
_TRAIN_GRAPHS = {'float': None, 'qat': recipe.PER_TENSOR,
                 'qat_per_channel': recipe.PER_CHANNEL,
                 'qat_contrib_fold': recipe.PER_TENSOR_CONTRIB_FOLD}
# The step ratios reported: graph name -> summary key prefix (over the float step).
_RATIOS = {'qat': 'ratio', 'qat_per_channel': 'per_channel_ratio',
           'qat_contrib_fold': 'contrib_fold_ratio'}
# The training graphs whose step is profiled op by op.
_PROFILED = ('float', 'qat', 'qat_contrib_fold')
QAT_RANGES_NOTE = (
    'QAT ranges: the uint8 model is exported from the per-tensor QAT training graph and the '
    'int8 model from the per-channel one (experimental_create_training_graph(per_channel=True)), '
    'each after its warm-up and timed steps on random images: the (zero-debiased) EMA '
    'activation ranges come from real activations and the weight ranges are the weights\' own, '
    'so no range is degenerate. The weights are random: no accuracy is measured.')


@dataclasses.dataclass
class BenchmarkConfig:
  """What to measure. Defaults are the full run; `quick()` is the CI variant."""
  name: str = FULL_NAME
  output_dir: str = RESULTS_DIR
  crop_size: int = 513
  depth_multipliers: tuple = (1.0, 0.5)
  threads: tuple = (1, 2)
  latency_warmup: int = 3
  latency_runs: int = 20
  train_batch_size: int = 8
  train_crop_size: int = 513
  train_warmup: int = 1
  train_steps: int = 5
  mode: str = 'full'
  timelines: bool = False
  # Folder of a benchmarks.tfmot_peer run (.venv-tfmot) to report under "peers"; None: none.
  tfmot_dir: str = None

  @classmethod
  def quick(cls, **overrides):
    """Small input, dm 0.5 only, few runs: a couple of minutes on 2 cores."""
    values = dict(name=QUICK_NAME, crop_size=129, depth_multipliers=(0.5,), latency_warmup=1,
                  latency_runs=5, train_batch_size=2, train_crop_size=129, train_warmup=1,
                  train_steps=3, mode='quick')
    values.update(overrides)
    return cls(**values)


def _model_stats(crop_size, depth_multiplier):
  """{'params', 'madds'} of the inference graph from deeplab.stats, or {} without it.

  MAdds follow the model zoo's convention (convolutions + the bilinear logits upsampling), per
  image; params are the trainable variables (BN moving statistics excluded).
  """
  try:
    from deeplab import stats as deeplab_stats
    from slim.nets import stats
  except ImportError:
    return {}
  with tf.Graph().as_default() as graph:
    deeplab_stats.build_deeplab(recipe.MODEL_VARIANT, input_size=crop_size,
                                depth_multiplier=depth_multiplier,
                                output_stride=recipe.OUTPUT_STRIDE,
                                num_classes=recipe.NUM_CLASSES)
    values = stats.graph_stats(graph)
  return {'params': int(values['params']), 'madds': int(values['madds'])}


def _train_step_summary(times, crop_size, batch_size):
  """Medians, minima and QAT/float ratios (median of per-round ratios, ratio of minima)."""
  summary = {'crop_size': crop_size, 'batch_size': batch_size}
  for name, values in times.items():
    summary[name + '_s'] = [round(t, 4) for t in values]
    summary[name + '_median_s'] = round(statistics.median(values), 4)
    summary[name + '_min_s'] = round(min(values), 4)
  for name, prefix in _RATIOS.items():
    if name in times:
      paired = [q / f for f, q in zip(times['float'], times[name])]
      summary[prefix + '_median'] = round(statistics.median(paired), 3)
      summary[prefix + '_min'] = round(min(times[name]) / min(times['float']), 3)
  return summary


def _profile_steps(config, dm, graphs):
  """One traced step per profiled graph: {name: per-op-type summary}; timelines if asked."""
  profiles = {}
  for name in _PROFILED:
    summary, step_stats = train_profile.profile_step(graphs[name].session,
                                                     graphs[name].train_op)
    profiles[name] = summary
    if config.timelines:
      train_profile.write_timeline(step_stats, os.path.join(
          config.output_dir, '%s_dm%s_%s_timeline.json' % (config.name, dm, name)))
  return profiles


def _convert_reporting_float_ops(frozen, crop_size, kind):
  """Converts; a model that is not fully integer is converted again as mixed and flagged.

  Returns:
    (model bytes or None, seconds, float ops, error message or None). A converter failure is
    returned as its message (the other kinds are still measured), never hidden.
  """
  try:
    model, seconds = recipe.convert_tflite(frozen, crop_size, kind)
    return model, seconds, [], None
  except convert.NotFullyQuantizedError as e:
    float_ops = [list(op) for op in e.float_ops]
    logging.warning('%s conversion is not fully integer (%d float ops); measuring the mixed '
                    'model and flagging it in the report', kind, len(float_ops))
  except Exception as e:  # pylint: disable=broad-except  (ConverterError and friends)
    logging.error('%s conversion failed: %s', kind, e)
    return None, None, [], '%s: %s' % (type(e).__name__, str(e)[:2000])
  converters = {recipe.UINT8: convert.convert_uint8, recipe.INT8: convert.convert_int8}
  start = time.perf_counter()
  try:
    model = converters[kind](frozen, [recipe.TFLITE_INPUT], [recipe.TFLITE_OUTPUT],
                             [[1, crop_size, crop_size, 3]], allow_float_ops=True)
  except Exception as e:  # pylint: disable=broad-except
    logging.error('%s mixed conversion failed: %s', kind, e)
    return None, None, float_ops, '%s: %s' % (type(e).__name__, str(e)[:2000])
  return model, time.perf_counter() - start, float_ops, None


def benchmark_depth(config, depth_multiplier, work_dir):
  """Measures one depth multiplier; returns its JSON-serialisable record."""
  dm = depth_multiplier
  logging.info('dm %s: building float and QAT training graphs (%dx%d, batch %d)', dm,
               config.train_crop_size, config.train_crop_size, config.train_batch_size)
  graphs = {name: recipe.build_train_graph(config.train_crop_size, dm, config.train_batch_size,
                                           quantize=quantize)
            for name, quantize in _TRAIN_GRAPHS.items()}
  try:
    times = recipe.time_train_steps(graphs, config.train_warmup, config.train_steps)
    profiles = _profile_steps(config, dm, graphs)
    checkpoints = {_TRAIN_GRAPHS[name]: recipe.save(
        g, os.path.join(work_dir, 'dm%s_%s' % (dm, name), 'model.ckpt'))
                   for name, g in graphs.items()
                   if _TRAIN_GRAPHS[name] in recipe.TRAINING_FOR_KIND.values()}
  finally:
    for g in graphs.values():
      g.session.close()
  record = {'depth_multiplier': dm, 'crop_size': config.crop_size,
            'train_step': _train_step_summary(times, config.train_crop_size,
                                              config.train_batch_size),
            'train_profile': profiles,
            'train_profile_compare': train_profile.compare(profiles),
            'frozen_graph_bytes': {}, 'tflite_bytes': {}, 'conversion_seconds': {},
            'quantized_fraction': {}, 'fully_integer': {}, 'float_ops': {}}
  record.update(_model_stats(config.crop_size, dm))
  models = {}
  for kind in recipe.KINDS:
    logging.info('dm %s: export + convert %s', dm, kind)
    checkpoint = checkpoints[recipe.TRAINING_FOR_KIND[kind]]
    frozen = recipe.export_frozen(checkpoint, config.crop_size, dm, kind)
    record['frozen_graph_bytes'][kind] = len(frozen.SerializeToString())
    if kind == recipe.FLOAT:
      model, seconds = recipe.convert_tflite(frozen, config.crop_size, kind)
      float_ops, error = [], None
    else:
      model, seconds, float_ops, error = _convert_reporting_float_ops(
          frozen, config.crop_size, kind)
    if float_ops:
      record['float_ops'][kind] = float_ops
    if error:
      record.setdefault('conversion_errors', {})[kind] = error
      continue
    models[kind] = model
    record['tflite_bytes'][kind] = len(model)
    record['conversion_seconds'][kind] = round(seconds, 3)
    record['quantized_fraction'][kind] = round(tflite_inspect.quantized_fraction(model), 4)
    record['fully_integer'][kind] = kind != recipe.FLOAT and not float_ops
  if recipe.INT8 in models:
    model = convert.check_model(models[recipe.INT8], True, recipe.INT8, float_argmax=True)
    models[recipe.INT8_FLOAT_ARGMAX] = model
    record['tflite_bytes'][recipe.INT8_FLOAT_ARGMAX] = len(model)
  record['latency'] = {}
  for threads in config.threads:
    logging.info('dm %s: TFLite latency, %d thread(s)', dm, threads)
    record['latency'][str(threads)] = latency.interleaved_latency(
        models, threads, warmup=config.latency_warmup, runs=config.latency_runs)
  return record


def run(config):
  """Runs the benchmark and writes its files.

  Args:
    config: a BenchmarkConfig.

  Returns:
    dict {'json', 'md', 'plots'} of the written paths.
  """
  start = time.time()
  results = {'name': config.name, 'mode': config.mode,
             'config': dict(dataclasses.asdict(config), num_classes=recipe.NUM_CLASSES,
                            output_stride=recipe.OUTPUT_STRIDE,
                            tflite_input=recipe.TFLITE_INPUT, tflite_output=recipe.TFLITE_OUTPUT),
             'machine': machine.machine_facts(),
             'load_average_before': machine.load_average(),
             'notes': [QAT_RANGES_NOTE], 'models': []}
  del results['config']['output_dir']  # Where the files went is not a property of the run.
  if config.tfmot_dir:
    peers.read_tfmot_record(config.tfmot_dir)  # A bad peer folder fails now, not at the end.
  work_dir = tempfile.mkdtemp(prefix='deeplab_benchmark_')
  try:
    for dm in config.depth_multipliers:
      results['models'].append(benchmark_depth(config, dm, work_dir))
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)
  if config.tfmot_dir:
    results['peers'] = {'tfmot': peers.tfmot_record(
        config.tfmot_dir, threads=1, warmup=config.latency_warmup, runs=config.latency_runs)}
  if not any('params' in m for m in results['models']):
    results['notes'].append('Parameters and MAdds are not reported: slim.nets.stats is not '
                            'available in this checkout.')
  results['load_average_after'] = machine.load_average()
  results['elapsed_seconds'] = round(time.time() - start, 1)
  return report.write_results(results, config.output_dir, config.name)


def _parse_args(argv):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true',
                      help='CI mode: dm 0.5 at 129x129, few runs (about 2-3 minutes).')
  parser.add_argument('--name', default=None,
                      help='Base name of the result files (default %s, or %s with --quick).'
                      % (FULL_NAME, QUICK_NAME))
  parser.add_argument('--output_dir', default=RESULTS_DIR)
  parser.add_argument('--crop_size', type=int, default=None, help='TFLite/export input size.')
  parser.add_argument('--depth_multipliers', type=float, nargs='+', default=None)
  parser.add_argument('--threads', type=int, nargs='+', default=None)
  parser.add_argument('--latency_runs', type=int, default=None)
  parser.add_argument('--train_batch_size', type=int, default=None)
  parser.add_argument('--train_crop_size', type=int, default=None)
  parser.add_argument('--train_steps', type=int, default=None)
  parser.add_argument('--tfmot_dir', default=None,
                      help='--output_dir of a benchmarks.tfmot_peer run: reported as the tfmot '
                      'peer (its models timed here).')
  parser.add_argument('--timelines', action='store_true', default=None,
                      help='Also write the Chrome trace of each profiled training step.')
  args = parser.parse_args(argv)
  overrides = {key: value for key, value in vars(args).items()
               if key != 'quick' and value is not None}
  for key in ('depth_multipliers', 'threads'):
    if key in overrides:
      overrides[key] = tuple(overrides[key])
  for key in ('crop_size', 'train_crop_size', 'latency_runs', 'train_batch_size', 'train_steps'):
    if key in overrides and overrides[key] < 1:
      parser.error('--%s must be >= 1, got %d' % (key, overrides[key]))
  if args.name is not None and (not args.name or '/' in args.name):
    parser.error('--name must be a plain file name, got %r' % args.name)
  return BenchmarkConfig.quick(**overrides) if args.quick else BenchmarkConfig(**overrides)


def main(argv=None):
  """Entry point: parses the command line, runs, prints the Markdown table."""
  logging.set_verbosity(logging.INFO)
  config = _parse_args(sys.argv[1:] if argv is None else argv)
  paths = run(config)
  with open(paths['md']) as f:
    print(f.read())
  print('Wrote %s, %s and %s' % (paths['json'], paths['md'], ', '.join(paths['plots'])))
  return 0


if __name__ == '__main__':
  sys.exit(main())
