"""Train, predict and export MobileBERT on SQuAD: the library behind `run_squad.py`.

Each function takes the entry script's options object (`run_squad.SquadOptions`) and never reads
flags. Training goes through `slim.runtime.train_loop` (resume, signals, NaN guard, progress);
QAT fine-tunes from a float checkpoint (`--init_checkpoint`) whose missing range variables
are expected.
"""
import json
import os

from absl import logging
import numpy as np
import tensorflow as tf

from mobilebert import export
from mobilebert import modeling
from mobilebert import squad_data
from mobilebert import squad_metrics
from mobilebert import squad_model
from mobilebert import tokenization
from slim import fileio
from slim.runtime import checkpoints
from slim.runtime import distributed
from slim.runtime import train_loop
from slim.tflite import convert

tf1 = tf.compat.v1

FROZEN_GRAPH = 'frozen_inference_graph.pb'
FLOAT_TFLITE = 'model_float.tflite'
QUANT_TFLITE = 'model_quant.tflite'
PREDICTIONS = 'predictions.json'
# Features the full-integer conversions calibrate on (the original: the first 100).
NUM_CALIBRATION_FEATURES = 100


def quantizer_of(opts):
  """The QAT placement the options ask for ('none' without --use_quantized_training)."""
  return opts.quantizer if opts.use_quantized_training else 'none'


def load_config(opts, tokenizer):
  config = modeling.BertConfig.from_json_file(opts.bert_config_file)
  if config.vocab_size < tokenizer.vocab_size:
    raise ValueError('--bert_config_file=%s: vocab_size %d is smaller than the %d tokens of '
                     '--vocab_file=%s' % (opts.bert_config_file, config.vocab_size,
                                          tokenizer.vocab_size, opts.vocab_file))
  return config


def _features(opts, tokenizer, path, is_training):
  examples = squad_data.read_squad_examples(path, is_training)
  features = squad_data.convert_examples_to_features(
      examples, tokenizer, opts.max_seq_length, opts.doc_stride, opts.max_query_length,
      is_training)
  return examples, features


def _placeholders(batch, max_seq_length):
  return [tf1.placeholder(tf.int32, [batch, max_seq_length], name=name)
          for name in squad_data.INPUT_NAMES]


def _learning_rate(opts, num_train_steps):
  """Linear warm-up to --learning_rate, then linear decay to 0 (the original's schedule)."""
  step = tf1.train.get_or_create_global_step()
  decayed = tf1.train.polynomial_decay(opts.learning_rate, step, num_train_steps,
                                       end_learning_rate=0.0, power=1.0)
  warmup = int(num_train_steps * opts.warmup_proportion)
  if not warmup:
    return decayed
  fraction = tf.cast(step, tf.float32) / float(warmup)
  return tf1.where(step < warmup, opts.learning_rate * fraction, decayed)


def num_train_steps(opts, num_features):
  if opts.num_train_steps:
    return opts.num_train_steps
  return max(1, int(num_features / opts.train_batch_size * opts.num_train_epochs))


def replica(opts):
  """This process's `slim.runtime.distributed.Replica` (TF_CONFIG or the cluster flags)."""
  return distributed.resolve(
      master=opts.master, num_replicas=opts.num_replicas, num_ps_tasks=opts.num_ps_tasks,
      task=opts.task, sync=opts.sync_replicas, startup_delay_steps=opts.startup_delay_steps)


def train(opts, replica=distributed.LOCAL):
  """Fine-tunes on --train_file into --output_dir; returns the final global step.

  On a cluster (`replica` from `replica(opts)`) this process is one ps or worker task
  (g3doc/distributed.md): a ps task serves the variables and returns None when the chief
  finished; only the chief reads --init_checkpoint and writes checkpoints.
  """
  if replica.is_ps:
    distributed.serve_ps(replica)
    return None
  tokenizer = tokenization.FullTokenizer(opts.vocab_file, opts.do_lower_case)
  config = load_config(opts, tokenizer)
  _, features = _features(opts, tokenizer, opts.train_file, is_training=True)
  arrays = squad_data.feature_arrays(features)
  steps = num_train_steps(opts, len(features))
  quantizer = quantizer_of(opts)
  with distributed.failure_ends_cluster(replica), tf.Graph().as_default():
    with replica.device_scope():
      train_op, global_step, learning_rate, model_variables = _train_graph(
          opts, config, arrays, steps, quantizer, replica)
    init_fn = None
    if opts.init_checkpoint and replica.is_chief:
      init_fn = checkpoints.init_fn(
          checkpoints.resolve(opts.init_checkpoint, 'init_checkpoint'), model_variables,
          expected_missing=squad_model.expected_missing_in_float_checkpoint,
          flag='init_checkpoint')
    logging.info('Training %d steps on %d features (quantizer: %s)', steps, len(features),
                 quantizer)
    return train_loop.train(
        train_op, global_step,
        train_loop.LoopOptions(logdir=opts.output_dir, number_of_steps=steps,
                               log_steps=opts.log_steps,
                               save_interval_secs=opts.save_checkpoints_secs,
                               master=opts.master),
        init_fn=init_fn, log_tensors={'learning_rate': learning_rate}, replica=replica)


def _train_graph(opts, config, arrays, steps, quantizer, replica):
  """The training graph: (train_op, global_step, learning_rate, the model's variables)."""
  tf1.set_random_seed(opts.seed)
  dataset = tf.data.Dataset.from_tensor_slices(arrays).shuffle(
      len(arrays['input_ids']), seed=opts.seed).repeat().batch(opts.train_batch_size,
                                                               drop_remainder=True)
  batch = tf1.data.make_one_shot_iterator(dataset).get_next()
  start, end = squad_model.create_model(
      config, True, *[batch[n] for n in squad_data.INPUT_NAMES], quantizer=quantizer)
  loss = squad_model.span_loss(start, end, batch['start_positions'], batch['end_positions'])
  # The QAT rewrite must see the forward graph only: before the optimizer builds gradients.
  squad_model.quantize_graph(quantizer, True, config, opts.rewriter_score_floor)
  model_variables = [v for v in tf1.global_variables() if 'global_step' not in v.op.name]
  global_step = tf1.train.get_or_create_global_step()
  learning_rate = _learning_rate(opts, steps)
  loss = train_loop.guard_loss(loss)
  optimizer = distributed.wrap_optimizer(tf1.train.AdamOptimizer(learning_rate, epsilon=1e-6),
                                         replica)
  update = optimizer.minimize(loss, global_step=global_step)
  with tf.control_dependencies([update]):
    train_op = tf.identity(loss)
  return train_op, global_step, learning_rate, model_variables


def _checkpoint(opts):
  path = opts.checkpoint or opts.output_dir
  return checkpoints.resolve(path, 'checkpoint' if opts.checkpoint else 'output_dir')


def _restore(sess, checkpoint):
  checkpoints.restore(tf1.train.Saver(tf1.global_variables()), sess, checkpoint)


def graph_logits(opts, config, arrays, checkpoint):
  """Start/end logits of the TF graph (fake quant included) for feature arrays."""
  quantizer = quantizer_of(opts)
  with tf.Graph().as_default():
    inputs = _placeholders(None, opts.max_seq_length)
    start, end = squad_model.create_model(config, False, *inputs, quantizer=quantizer)
    squad_model.quantize_graph(quantizer, False, config, opts.rewriter_score_floor)
    with tf1.Session() as sess:
      _restore(sess, checkpoint)
      starts, ends = [], []
      total = len(arrays['input_ids'])
      for i in range(0, total, opts.predict_batch_size):
        feed = {t: arrays[n][i:i + opts.predict_batch_size]
                for t, n in zip(inputs, squad_data.INPUT_NAMES)}
        s, e = sess.run([start, end], feed)
        starts.append(s)
        ends.append(e)
  return np.concatenate(starts), np.concatenate(ends)


def predict(opts, tflite_path=None, results_file=None):
  """EM/F1 on --predict_file of the graph, or of a .tflite model; writes the results.

  Args:
    opts: the options.
    tflite_path: evaluate this TFLite model instead of the graph (default --predict_tflite).
    results_file: where the results JSON goes (default --results_file; None: not written).

  Returns:
    {'exact_match', 'f1', 'total', 'missing', 'tflite', 'bytes'} (F1/EM in points).
  """
  tflite_path = tflite_path or opts.predict_tflite
  results_file = results_file or opts.results_file
  tokenizer = tokenization.FullTokenizer(opts.vocab_file, opts.do_lower_case)
  examples, features = _features(opts, tokenizer, opts.predict_file, is_training=False)
  arrays = squad_data.feature_arrays(features)
  result = {'tflite': None, 'bytes': None}
  if tflite_path:
    if not os.path.isfile(tflite_path):
      raise ValueError('--predict_tflite=%s: file not found' % tflite_path)
    starts, ends = export.TFLiteSpanModel(tflite_path).logits(arrays)
    result.update(tflite=os.path.abspath(tflite_path), bytes=os.path.getsize(tflite_path))
  else:
    config = load_config(opts, tokenizer)
    starts, ends = graph_logits(opts, config, arrays, _checkpoint(opts))
  predictions = squad_data.predict_answers(examples, features, starts, ends,
                                           opts.max_answer_length, opts.n_best_size)
  result.update(squad_metrics.evaluate(squad_data.ground_truths(examples), predictions))
  os.makedirs(opts.output_dir, exist_ok=True)
  name = os.path.basename(tflite_path) + '.' if tflite_path else ''
  fileio.atomic_write_text(os.path.join(opts.output_dir, name + PREDICTIONS),
                           json.dumps(predictions, indent=2))
  if results_file:
    fileio.atomic_write_text(results_file, json.dumps(result, indent=2))
  logging.info('%s: EM %.2f F1 %.2f on %d questions', tflite_path or 'graph',
               result['exact_match'], result['f1'], result['total'])
  return result


def results_path(tflite_path):
  """Where --predict_exported writes a TFLite model's results."""
  return tflite_path + '.results.json'


def export_models(opts):
  """Writes --export_dir/frozen_inference_graph.pb and the TFLite models; returns their paths.

  model_float.tflite for a float model (the original always writes it), model_quant.tflite for
  a QAT model (its placement's int8 conversion) or, with --use_post_quantization, the float
  model's post-training quantization (full integer with --activation_quantization).
  """
  tokenizer = tokenization.FullTokenizer(opts.vocab_file, opts.do_lower_case)
  config = load_config(opts, tokenizer)
  quantizer = quantizer_of(opts)
  checkpoint = _checkpoint(opts)
  with tf.Graph().as_default():
    inputs = _placeholders(1, opts.max_seq_length)
    squad_model.create_model(config, False, *inputs, quantizer=quantizer)
    squad_model.quantize_graph(quantizer, False, config, opts.rewriter_score_floor)
    with tf1.Session() as sess:
      _restore(sess, checkpoint)
      graph_def = convert.freeze_session(sess, squad_model.OUTPUT_NAMES)
  os.makedirs(opts.export_dir, exist_ok=True)
  paths = {'frozen_graph': os.path.join(opts.export_dir, FROZEN_GRAPH)}
  fileio.atomic_write_bytes(paths['frozen_graph'], graph_def.SerializeToString())
  kinds = {}
  if quantizer == 'none':
    kinds[FLOAT_TFLITE] = 'float'
    if opts.use_post_quantization:
      kinds[QUANT_TFLITE] = 'ptq' if opts.activation_quantization else 'dynamic'
  else:
    kinds[QUANT_TFLITE] = quantizer
  calibration = None
  if any(kind in ('ptq', 'hand') for kind in kinds.values()):
    if not opts.train_file:
      raise ValueError('--train_file is required: the int8 conversion calibrates on its first '
                       '%d features' % NUM_CALIBRATION_FEATURES)
    _, features = _features(opts, tokenizer, opts.train_file, is_training=True)
    calibration = squad_data.feature_arrays(features[:NUM_CALIBRATION_FEATURES])
  for name, kind in kinds.items():
    model = export.convert_model(graph_def, kind, opts.max_seq_length, calibration)
    paths[kind] = os.path.join(opts.export_dir, name)
    fileio.atomic_write_bytes(paths[kind], model)
    logging.info('Wrote %s (%s, %d bytes)', paths[kind], kind, len(model))
  return paths
