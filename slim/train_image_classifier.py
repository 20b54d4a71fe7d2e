"""Trains an image classifier from slim classification TFRecords (slim's train_image_classifier).

Same flags as the original, plus `--quantize_delay` (QAT): when >= 0 the trainer calls
`slim.quantize.create_training_graph(quant_delay=...)` after the loss and before the optimizer,
so fake quantization starts at that global step. A typical float -> QAT recipe:

  python slim/train_image_classifier.py --train_dir=/tmp/float --dataset_dir=DIR \
      --dataset_name=synthetic_classification --model_name=mobilenet_v2 \
      --train_image_size=64 --max_number_of_steps=600
  python slim/train_image_classifier.py --train_dir=/tmp/qat --dataset_dir=DIR \
      --dataset_name=synthetic_classification --model_name=mobilenet_v2 \
      --train_image_size=64 --checkpoint_path=/tmp/float --quantize_delay=0 \
      --max_number_of_steps=200 --learning_rate=0.001

Magnitude pruning (tf.contrib.model_pruning's flag): `--pruning_hparams` (an hparams string
parsed by `slim.pruning.get_pruning_hparams().parse`, e.g.
`target_sparsity=0.5,sparsity_function_end_step=300,pruning_frequency=10`) builds the network
with every `weights` kernel masked and runs `Pruning.conditional_mask_update_op()` after each
train step. Prune-then-QAT: fine-tune the pruned checkpoint with `--quantize_delay=0
--freeze_pruning_masks`: same masked graph, masks and thresholds restored from the checkpoint
and never updated, so pruned weights stay zero through fake quantization:

  python slim/train_image_classifier.py --train_dir=/tmp/pruned --checkpoint_path=/tmp/float \
      --pruning_hparams=target_sparsity=0.5,sparsity_function_end_step=150 \
      --max_number_of_steps=200 ... (same data/model flags)
  python slim/train_image_classifier.py --train_dir=/tmp/pruned_qat --checkpoint_path=/tmp/pruned \
      --freeze_pruning_masks --quantize_delay=0 --max_number_of_steps=100 ...

Checkpoints (`model.ckpt-<step>`) and summaries go to --train_dir; restarting the same command
resumes from the latest checkpoint there (the global step continues). --checkpoint_path is only
used when --train_dir has no checkpoint yet; quantization range variables (`.../min`, `.../max`)
and pruning variables (masks, thresholds) missing from a float checkpoint keep their initial
values (all-ones masks).

The library entry point is `train(TrainOptions(...))`; only `main()` reads flags.
"""
import dataclasses
import os
import sys
import time
from typing import Optional, Sequence

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import numpy as np  # noqa: E402

import slim  # noqa: E402,F401  (graph-mode TF1 behaviour before any TF use)
import slim.quantize as contrib_quantize  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_slim  # noqa: E402

from slim import classification_model  # noqa: E402
from slim import classification_data  # noqa: E402
from slim import pruning  # noqa: E402
from slim.preprocessing import preprocessing_factory  # noqa: E402

CHECKPOINT_BASENAME = 'model.ckpt'
OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'rmsprop', 'sgd')
LEARNING_RATE_DECAY_TYPES = ('fixed', 'exponential', 'polynomial')
# Suffixes of the rewriter's range variables; a float checkpoint cannot contain them.
_QUANT_RANGE_SUFFIXES = ('/min', '/max')


@dataclasses.dataclass
class TrainOptions:
  """Options of `train` (the flags of the original script, same names and defaults)."""
  train_dir: str
  dataset_dir: str
  model_name: str = 'mobilenet_v2'
  dataset_name: str = 'synthetic_classification'
  dataset_split_name: str = 'train'
  labels_offset: int = 0
  preprocessing_name: Optional[str] = None
  batch_size: int = 32
  train_image_size: Optional[int] = None
  max_number_of_steps: Optional[int] = None
  weight_decay: float = 0.00004
  batch_norm_decay: Optional[float] = None
  optimizer: str = 'rmsprop'
  adadelta_rho: float = 0.95
  adagrad_initial_accumulator_value: float = 0.1
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  opt_epsilon: float = 1.0
  ftrl_learning_rate_power: float = -0.5
  ftrl_initial_accumulator_value: float = 0.1
  ftrl_l1: float = 0.0
  ftrl_l2: float = 0.0
  momentum: float = 0.9
  rmsprop_momentum: float = 0.9
  rmsprop_decay: float = 0.9
  learning_rate_decay_type: str = 'exponential'
  learning_rate: float = 0.01
  end_learning_rate: float = 0.0001
  label_smoothing: float = 0.0
  learning_rate_decay_factor: float = 0.94
  num_epochs_per_decay: float = 2.0
  moving_average_decay: Optional[float] = None
  quantize_delay: int = -1
  pruning_hparams: str = ''
  freeze_pruning_masks: bool = False
  checkpoint_path: Optional[str] = None
  checkpoint_exclude_scopes: Sequence[str] = ()
  trainable_scopes: Sequence[str] = ()
  ignore_missing_vars: bool = False
  log_every_n_steps: int = 10
  save_summaries_secs: int = 600
  save_interval_secs: int = 600
  seed: Optional[int] = None


def _configure_learning_rate(opts, num_samples_per_epoch, global_step):
  """The original's fixed / exponential / polynomial schedules."""
  decay_steps = max(1, int(num_samples_per_epoch * opts.num_epochs_per_decay / opts.batch_size))
  if opts.learning_rate_decay_type == 'exponential':
    return tf.compat.v1.train.exponential_decay(
        opts.learning_rate, global_step, decay_steps, opts.learning_rate_decay_factor,
        staircase=True, name='exponential_decay_learning_rate')
  if opts.learning_rate_decay_type == 'fixed':
    return tf.constant(opts.learning_rate, name='fixed_learning_rate')
  if opts.learning_rate_decay_type == 'polynomial':
    return tf.compat.v1.train.polynomial_decay(
        opts.learning_rate, global_step, decay_steps, opts.end_learning_rate, power=1.0,
        cycle=False, name='polynomial_decay_learning_rate')
  raise ValueError('--learning_rate_decay_type=%s: expected one of %s'
                   % (opts.learning_rate_decay_type, ', '.join(LEARNING_RATE_DECAY_TYPES)))


def _configure_optimizer(opts, learning_rate):
  """Returns the tf.compat.v1 optimizer named by --optimizer."""
  train = tf.compat.v1.train
  name = opts.optimizer
  if name == 'adadelta':
    return train.AdadeltaOptimizer(learning_rate, rho=opts.adadelta_rho, epsilon=opts.opt_epsilon)
  if name == 'adagrad':
    return train.AdagradOptimizer(
        learning_rate, initial_accumulator_value=opts.adagrad_initial_accumulator_value)
  if name == 'adam':
    return train.AdamOptimizer(learning_rate, beta1=opts.adam_beta1, beta2=opts.adam_beta2,
                               epsilon=opts.opt_epsilon)
  if name == 'ftrl':
    return train.FtrlOptimizer(
        learning_rate, learning_rate_power=opts.ftrl_learning_rate_power,
        initial_accumulator_value=opts.ftrl_initial_accumulator_value,
        l1_regularization_strength=opts.ftrl_l1, l2_regularization_strength=opts.ftrl_l2)
  if name == 'momentum':
    return train.MomentumOptimizer(learning_rate, momentum=opts.momentum, name='Momentum')
  if name == 'rmsprop':
    return train.RMSPropOptimizer(learning_rate, decay=opts.rmsprop_decay,
                                  momentum=opts.rmsprop_momentum, epsilon=opts.opt_epsilon)
  if name == 'sgd':
    return train.GradientDescentOptimizer(learning_rate)
  raise ValueError('--optimizer=%s: expected one of %s' % (name, ', '.join(OPTIMIZERS)))


def _in_scopes(name, scopes):
  return any(name == s or name.startswith(s.rstrip('/') + '/') for s in scopes)


def _variables_to_train(trainable_scopes):
  """Trainable variables, restricted to --trainable_scopes when given."""
  variables = tf.compat.v1.trainable_variables()
  if not trainable_scopes:
    return variables
  return [v for v in variables if _in_scopes(v.op.name, trainable_scopes)]


def _checkpoint_file(checkpoint_path):
  if tf.io.gfile.isdir(checkpoint_path):
    latest = tf.train.latest_checkpoint(checkpoint_path)
    if not latest:
      raise ValueError('--checkpoint_path=%s: folder holds no checkpoint' % checkpoint_path)
    return latest
  if not tf.io.gfile.exists(checkpoint_path + '.index'):
    raise ValueError('--checkpoint_path=%s: no such checkpoint (expected %s.index)'
                     % (checkpoint_path, checkpoint_path))
  return checkpoint_path


def get_init_fn(checkpoint_path, exclude_scopes=(), ignore_missing_vars=False):
  """Returns `fn(sess)` restoring the model variables from `checkpoint_path`, or None.

  Variables under `exclude_scopes` are skipped (e.g. the logits layer when the class count
  differs). Quantization ranges (`.../min`, `.../max`) and pruning variables (masks,
  thresholds, `last_mask_update_step`) absent from the checkpoint are skipped silently (a dense
  float checkpoint has none); when present (a pruned checkpoint) they are restored. Any other
  missing variable is an error unless `ignore_missing_vars`.

  Raises:
    ValueError: no checkpoint at the path, or variables missing (named in the message).
  """
  if not checkpoint_path:
    return None
  checkpoint = _checkpoint_file(checkpoint_path)
  shapes = tf.compat.v1.train.NewCheckpointReader(checkpoint).get_variable_to_shape_map()
  pruning_names = {v.op.name for v in pruning.get_pruning_variables()}
  candidates = {v.op.name: v for v in tf_slim.get_model_variables()}
  # Masks and thresholds are not model variables; a pruned checkpoint's must be restored too.
  candidates.update((v.op.name, v) for v in pruning.get_pruning_variables())
  to_restore, missing = {}, []
  for name, var in sorted(candidates.items()):
    if _in_scopes(name, exclude_scopes):
      continue
    if name in shapes and list(shapes[name]) == var.shape.as_list():
      to_restore[name] = var
    elif not (name.endswith(_QUANT_RANGE_SUFFIXES) or name in pruning_names):
      missing.append(name)
  if missing and not ignore_missing_vars:
    raise ValueError('--checkpoint_path=%s lacks %d model variable(s) (or their shapes differ): '
                     '%s. Use --checkpoint_exclude_scopes or --ignore_missing_vars.'
                     % (checkpoint, len(missing), ', '.join(missing[:10])))
  if missing:
    logging.warning('Not restoring %d variables missing from %s: %s', len(missing), checkpoint,
                    ', '.join(missing[:10]))
  saver = tf.compat.v1.train.Saver(to_restore)
  logging.info('Fine-tuning from %s (%d variables)', checkpoint, len(to_restore))
  return lambda sess: saver.restore(sess, checkpoint)


def count_examples(descriptor):
  """Number of records in the split (the registry size when known, else counted)."""
  known = descriptor.info.splits_to_sizes.get(descriptor.split_name)
  if known:
    return known
  return sum(1 for f in descriptor.files for _ in tf.compat.v1.io.tf_record_iterator(f))


def pruning_spec(pruning_hparams):
  """Parses --pruning_hparams over the contrib defaults.

  Raises:
    ValueError: malformed string or unknown hparam (the message names the flag).
  """
  try:
    return pruning.get_pruning_hparams().parse(pruning_hparams or '')
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError('--pruning_hparams=%r: %s' % (pruning_hparams, e)) from None


def _mask_update_op(opts, global_step):
  """Adds the pruning summaries; returns the conditional mask update op (None when frozen)."""
  p = pruning.Pruning(pruning_spec(opts.pruning_hparams), global_step=global_step)
  p.add_pruning_summaries()
  return None if opts.freeze_pruning_masks else p.conditional_mask_update_op()


def build_train_graph(opts):
  """Builds the input pipeline, network, loss, (QAT rewrite), train op and (mask update).

  Returns:
    A dict with 'train_op' (returns the total loss), 'global_step', 'learning_rate',
    'total_loss', 'accuracy' (streaming-free batch accuracy), 'num_classes', 'mask_update_op'
    (the conditional mask update to run after each train_op; None without pruning or with
    frozen masks).
  """
  descriptor = classification_data.get_dataset(opts.dataset_name, opts.dataset_split_name,
                                               opts.dataset_dir)
  num_classes = descriptor.num_classes - opts.labels_offset
  network_fn = classification_model.get_network_fn(
      opts.model_name, num_classes, weight_decay=opts.weight_decay, is_training=True,
      batch_norm_decay=opts.batch_norm_decay)
  image_size = opts.train_image_size or network_fn.default_image_size
  preprocessing_name = opts.preprocessing_name or classification_model.preprocessing_name(
      opts.model_name)
  preprocess_fn = preprocessing_factory.get_preprocessing(preprocessing_name, is_training=True)
  global_step = tf.compat.v1.train.get_or_create_global_step()
  with tf.device('/cpu:0'):
    images, labels = classification_data.make_batches(
        descriptor, opts.batch_size, preprocess_fn, image_size, is_training=True,
        seed=opts.seed, labels_offset=opts.labels_offset).get_next()

  masked = bool(opts.pruning_hparams) or opts.freeze_pruning_masks
  logits, end_points = classification_model.build_network(network_fn, images, masked=masked)
  onehot = tf.one_hot(labels, num_classes)
  if 'AuxLogits' in end_points:
    tf.compat.v1.losses.softmax_cross_entropy(
        onehot, end_points['AuxLogits'], label_smoothing=opts.label_smoothing, weights=0.4,
        scope='aux_loss')
  tf.compat.v1.losses.softmax_cross_entropy(onehot, logits, label_smoothing=opts.label_smoothing)
  total_loss = tf.compat.v1.losses.get_total_loss(name='total_loss')
  accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32),
                            name='batch_accuracy')

  # The QAT rewrite must see only the forward graph: after the loss, before the optimizer.
  if opts.quantize_delay >= 0:
    contrib_quantize.create_training_graph(quant_delay=opts.quantize_delay)

  learning_rate = _configure_learning_rate(opts, count_examples(descriptor), global_step)
  optimizer = _configure_optimizer(opts, learning_rate)
  update_ops = list(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
  if opts.moving_average_decay:
    ema = tf.train.ExponentialMovingAverage(opts.moving_average_decay, global_step)
    update_ops.append(ema.apply(tf.compat.v1.moving_average_variables()))
  grads_and_vars = optimizer.compute_gradients(
      total_loss, var_list=_variables_to_train(opts.trainable_scopes))
  grad_updates = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
  with tf.control_dependencies([grad_updates] + update_ops):
    train_op = tf.identity(total_loss, name='train_op')
  # Run by `train` after each train_op, in its own session call (as contrib's examples): then
  # it sees the incremented global step and the updated weights. Chained in the same call by
  # control dependencies, it read a stale global step (ref-variable reads are not ordered).
  mask_update_op = _mask_update_op(opts, global_step) if masked else None

  for name, value in (('total_loss', total_loss), ('learning_rate', learning_rate),
                      ('batch_accuracy', accuracy)):
    tf.compat.v1.summary.scalar(name, value)
  return {'train_op': train_op, 'global_step': global_step, 'learning_rate': learning_rate,
          'total_loss': total_loss, 'accuracy': accuracy, 'num_classes': num_classes,
          'mask_update_op': mask_update_op}


def train(opts):
  """Trains until global step --max_number_of_steps; returns the final global step.

  Args:
    opts: TrainOptions.

  Raises:
    ValueError: bad options, dataset or checkpoint (messages name the flag).
    FloatingPointError: the loss became NaN/Inf (the last checkpoint is kept).
  """
  if not opts.train_dir:
    raise ValueError('--train_dir is required')
  if opts.max_number_of_steps is None or opts.max_number_of_steps < 1:
    raise ValueError('--max_number_of_steps must be a positive step count, got %s'
                     % opts.max_number_of_steps)
  tf.io.gfile.makedirs(opts.train_dir)
  graph = tf.Graph()
  with graph.as_default():
    if opts.seed is not None:
      tf.compat.v1.set_random_seed(opts.seed)
    t = build_train_graph(opts)
    init_fn = get_init_fn(opts.checkpoint_path, opts.checkpoint_exclude_scopes,
                          opts.ignore_missing_vars)
    summary_op = tf.compat.v1.summary.merge_all()
    saver = tf.compat.v1.train.Saver(max_to_keep=5)
    prefix = os.path.join(opts.train_dir, CHECKPOINT_BASENAME)
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run([tf.compat.v1.global_variables_initializer(),
                tf.compat.v1.local_variables_initializer()])
      latest = tf.train.latest_checkpoint(opts.train_dir)
      if latest:
        logging.info('Resuming from %s', latest)
        saver.restore(sess, latest)
      elif init_fn is not None:
        init_fn(sess)
      writer = tf.compat.v1.summary.FileWriter(opts.train_dir, graph)
      step = sess.run(t['global_step'])
      start, start_step = time.time(), step
      last_save = last_summary = time.time()
      try:
        while step < opts.max_number_of_steps:
          loss, accuracy = sess.run([t['train_op'], t['accuracy']])
          if t['mask_update_op'] is not None:
            sess.run(t['mask_update_op'])
          step = sess.run(t['global_step'])
          if not np.isfinite(loss):
            raise FloatingPointError('Loss is %s at global step %d; stopping. The last '
                                     'checkpoint in %s is kept.' % (loss, step, opts.train_dir))
          now = time.time()
          if opts.log_every_n_steps and step % opts.log_every_n_steps == 0:
            logging.info('global step %d: loss = %.4f, batch accuracy = %.3f (%.3f sec/step)',
                         step, loss, accuracy, (now - start) / max(1, step - start_step))
          if now - last_summary >= opts.save_summaries_secs:
            writer.add_summary(sess.run(summary_op), step)
            last_summary = now
          if now - last_save >= opts.save_interval_secs:
            saver.save(sess, prefix, global_step=step)
            last_save = now
        saver.save(sess, prefix, global_step=step)
        writer.add_summary(sess.run(summary_op), step)
      finally:
        writer.close()
  return step


def define_flags():
  """Defines the original script's flags (only for the entry point)."""
  defaults = TrainOptions(train_dir='', dataset_dir='')
  flags.DEFINE_string('train_dir', None, 'Directory for checkpoints and event logs.')
  flags.DEFINE_string('dataset_dir', None, 'Directory of the dataset TFRecords and labels.txt.')
  flags.DEFINE_string('model_name', defaults.model_name,
                      'Name of the architecture to train (%s).'
                      % ', '.join(classification_model.model_names()))
  flags.DEFINE_string('dataset_name', defaults.dataset_name,
                      'Dataset name (%s).' % ', '.join(classification_data.dataset_names()))
  flags.DEFINE_string('dataset_split_name', 'train', 'Split to train on.')
  flags.DEFINE_integer('labels_offset', 0, 'Offset subtracted from the labels (1 for a 1000-way '
                       'model on 1001-class ImageNet).')
  flags.DEFINE_string('preprocessing_name', None, 'Preprocessing; None uses the model\'s.')
  flags.DEFINE_integer('batch_size', defaults.batch_size, 'Samples per batch.')
  flags.DEFINE_integer('train_image_size', None, 'Train image size; None uses the model default.')
  flags.DEFINE_integer('max_number_of_steps', None, 'Last global step to train to.')
  flags.DEFINE_float('weight_decay', defaults.weight_decay, 'L2 weight decay.')
  flags.DEFINE_float('batch_norm_decay', None, 'BN moving-average decay; None keeps the model '
                     'default (use ~0.9 for short from-scratch runs).')
  flags.DEFINE_enum('optimizer', defaults.optimizer, OPTIMIZERS, 'Optimizer.')
  for name in ('adadelta_rho', 'adagrad_initial_accumulator_value', 'adam_beta1', 'adam_beta2',
               'opt_epsilon', 'ftrl_learning_rate_power', 'ftrl_initial_accumulator_value',
               'ftrl_l1', 'ftrl_l2', 'momentum', 'rmsprop_momentum', 'rmsprop_decay',
               'learning_rate', 'end_learning_rate', 'label_smoothing',
               'learning_rate_decay_factor', 'num_epochs_per_decay'):
    flags.DEFINE_float(name, getattr(defaults, name), 'As in slim\'s train_image_classifier.')
  flags.DEFINE_enum('learning_rate_decay_type', defaults.learning_rate_decay_type,
                    LEARNING_RATE_DECAY_TYPES, 'Learning rate schedule.')
  flags.DEFINE_float('moving_average_decay', None, 'Decay of the weights\' moving average; None '
                     'disables it.')
  flags.DEFINE_integer('quantize_delay', -1, 'Global step at which fake quantization starts; '
                       '< 0 trains in float (no QAT rewrite).')
  flags.DEFINE_string('pruning_hparams', '', 'Comma-separated pruning hparams (name=value, see '
                      'slim.pruning.get_pruning_hparams); empty trains without pruning.')
  flags.DEFINE_bool('freeze_pruning_masks', False, 'Build the masked graph but never update the '
                    'masks (they come from --checkpoint_path): prune-then-QAT fine-tuning.')
  flags.DEFINE_string('checkpoint_path', None, 'Checkpoint (file prefix or folder) to fine-tune '
                      'from when --train_dir has none.')
  flags.DEFINE_list('checkpoint_exclude_scopes', [], 'Scopes not restored from --checkpoint_path.')
  flags.DEFINE_list('trainable_scopes', [], 'Scopes to train; empty trains everything.')
  flags.DEFINE_bool('ignore_missing_vars', False, 'Skip variables missing from the checkpoint.')
  flags.DEFINE_integer('log_every_n_steps', defaults.log_every_n_steps, 'Logging period (steps).')
  flags.DEFINE_integer('save_summaries_secs', defaults.save_summaries_secs, 'Summary period (s).')
  flags.DEFINE_integer('save_interval_secs', defaults.save_interval_secs, 'Checkpoint period (s).')
  flags.DEFINE_integer('seed', None, 'Graph-level random seed.')
  flags.mark_flags_as_required(['train_dir', 'dataset_dir', 'max_number_of_steps'])


def options_from_flags(flag_values):
  """Builds TrainOptions from parsed flags."""
  fields = {f.name for f in dataclasses.fields(TrainOptions)}
  return TrainOptions(**{k: flag_values[k].value for k in fields})


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  train(options_from_flags(flags.FLAGS))


if __name__ == '__main__':
  define_flags()
  app.run(main)
