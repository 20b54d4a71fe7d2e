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

Distributed training (ps/worker, from TF_CONFIG or the original --master/--worker_replicas/
--num_ps_tasks/--task flags; --sync_replicas with --replicas_to_aggregate): g3doc/distributed.md.

The library entry point is `train(TrainOptions(...))`; only `main()` reads flags.
"""
import dataclasses
from typing import List, Optional

from absl import logging

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import tensorflow as tf
import tf_slim

from slim import classification_data
from slim import classification_model
from slim import pruning
from slim.preprocessing import preprocessing_factory
from slim.runtime import checkpoints
from slim.runtime import distributed
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import train_loop

flag = options.flag
OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'rmsprop', 'sgd')
LEARNING_RATE_DECAY_TYPES = ('fixed', 'exponential', 'polynomial')
# Suffixes of the rewriter's range variables; a float checkpoint cannot contain them.
_QUANT_RANGE_SUFFIXES = ('/min', '/max')


_SLIM = "As in slim's train_image_classifier."


@dataclasses.dataclass
class TrainOptions:
  """Options of `train`: the flags of the original script (same names and defaults) and new ones."""
  train_dir: Optional[str] = flag(None, 'Directory for checkpoints and event logs.',
                                  kind='string', required=True)
  dataset_dir: Optional[str] = flag(None, 'Directory of the dataset TFRecords and labels.txt.',
                                    kind='string', required=True)
  model_name: str = flag('mobilenet_v2', 'Name of the architecture to train (%s).'
                         % ', '.join(classification_model.model_names()))
  dataset_name: str = flag('synthetic_classification', 'Dataset name (%s).'
                           % ', '.join(classification_data.dataset_names()))
  dataset_split_name: str = flag('train', 'Split to train on.')
  labels_offset: int = flag(0, 'Offset subtracted from the labels (1 for a 1000-way model on '
                            '1001-class ImageNet).')
  preprocessing_name: Optional[str] = flag(None, "Preprocessing; None uses the model's.",
                                           kind='string')
  batch_size: int = flag(32, 'Samples per batch.')
  train_image_size: Optional[int] = flag(None, 'Train image size; None uses the model default.',
                                         kind='integer')
  max_number_of_steps: Optional[int] = flag(None, 'Last global step to train to.',
                                            kind='integer', required=True)
  weight_decay: float = flag(0.00004, 'L2 weight decay.')
  batch_norm_decay: Optional[float] = flag(None, 'BN moving-average decay; None keeps the model '
                                           'default (use ~0.9 for short from-scratch runs).',
                                           kind='float')
  optimizer: str = flag('rmsprop', 'Optimizer.', kind='enum', enum_values=OPTIMIZERS)
  adadelta_rho: float = flag(0.95, _SLIM)
  adagrad_initial_accumulator_value: float = flag(0.1, _SLIM)
  adam_beta1: float = flag(0.9, _SLIM)
  adam_beta2: float = flag(0.999, _SLIM)
  opt_epsilon: float = flag(1.0, _SLIM)
  ftrl_learning_rate_power: float = flag(-0.5, _SLIM)
  ftrl_initial_accumulator_value: float = flag(0.1, _SLIM)
  ftrl_l1: float = flag(0.0, _SLIM)
  ftrl_l2: float = flag(0.0, _SLIM)
  momentum: float = flag(0.9, _SLIM)
  rmsprop_momentum: float = flag(0.9, _SLIM)
  rmsprop_decay: float = flag(0.9, _SLIM)
  learning_rate_decay_type: str = flag('exponential', 'Learning rate schedule.', kind='enum',
                                       enum_values=LEARNING_RATE_DECAY_TYPES)
  learning_rate: float = flag(0.01, _SLIM)
  end_learning_rate: float = flag(0.0001, _SLIM)
  label_smoothing: float = flag(0.0, _SLIM)
  learning_rate_decay_factor: float = flag(0.94, _SLIM)
  num_epochs_per_decay: float = flag(2.0, _SLIM)
  moving_average_decay: Optional[float] = flag(None, "Decay of the weights' moving average; "
                                               'None disables it.', kind='float')
  quantize_delay: int = flag(-1, 'Global step at which fake quantization starts; < 0 trains in '
                             'float (no QAT rewrite).')
  quantize_scheme: Optional[str] = flag(None, classification_model.QUANTIZE_SCHEME_HELP +
                                        ' Needs --quantize_delay >= 0.', kind='string')
  pruning_hparams: str = flag('', 'Comma-separated pruning hparams (name=value, see '
                              'slim.pruning.get_pruning_hparams); empty trains without pruning.')
  freeze_pruning_masks: bool = flag(False, 'Build the masked graph but never update the masks '
                                    '(they come from --checkpoint_path): prune-then-QAT '
                                    'fine-tuning.')
  checkpoint_path: Optional[str] = flag(None, 'Checkpoint (file prefix or folder) to fine-tune '
                                        'from when --train_dir has none.', kind='string')
  checkpoint_exclude_scopes: List[str] = flag([], 'Scopes not restored from --checkpoint_path.',
                                              kind='list')
  trainable_scopes: List[str] = flag([], 'Scopes to train; empty trains everything.',
                                     kind='list')
  ignore_missing_vars: bool = flag(False, 'Skip variables missing from the checkpoint.')
  log_every_n_steps: int = flag(10, 'Logging period (steps).')
  save_summaries_secs: int = flag(600, 'Summary period (s).')
  save_interval_secs: int = flag(600, 'Checkpoint period (s).')
  seed: Optional[int] = flag(None, 'Graph-level random seed.', kind='integer')
  # The original's cluster flags (slim.runtime.distributed; TF_CONFIG gives the same facts).
  master: str = flag('', 'The address of the TensorFlow master to use.')
  worker_replicas: int = flag(1, 'Number of worker replicas.')
  num_ps_tasks: int = flag(0, 'The number of parameter servers. If the value is 0, then the '
                           'parameters are handled locally by the worker.')
  task: int = flag(0, 'Task id of the replica running the training.')
  sync_replicas: bool = flag(False, 'Whether or not to synchronize the replicas during '
                             'training.')
  replicas_to_aggregate: int = flag(1, 'The Number of gradients to collect before updating '
                                    'params.')


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


def _variables_to_train(trainable_scopes):
  """Trainable variables, restricted to --trainable_scopes when given."""
  variables = tf.compat.v1.trainable_variables()
  if not trainable_scopes:
    return variables
  return [v for v in variables if checkpoints.in_scopes(v.op.name, trainable_scopes)]


def _expected_missing(pruning_names):
  """Variables a checkpoint may lack: QAT ranges and pruning masks/thresholds (float runs)."""
  return lambda name: name.endswith(_QUANT_RANGE_SUFFIXES) or name in pruning_names


def get_init_fn(checkpoint_path, exclude_scopes=(), ignore_missing_vars=False):
  """Returns `fn(sess)` restoring the model variables from `checkpoint_path`, or None.

  Variables under `exclude_scopes` are skipped (e.g. the logits layer when the class count
  differs). Quantization ranges (`.../min`, `.../max`) and pruning variables (masks,
  thresholds, `last_mask_update_step`) absent from the checkpoint are skipped silently (a dense
  float checkpoint has none); when present (a pruned checkpoint) they are restored. Any other
  missing variable is an error unless `ignore_missing_vars`; a shape mismatch always is.

  Raises:
    slim.runtime.checkpoints.CheckpointError: no checkpoint at the path, or variables missing
      or mis-shaped (named in the message).
  """
  if not checkpoint_path:
    return None
  checkpoint = checkpoints.resolve(checkpoint_path, 'checkpoint_path')
  pruning_variables = pruning.get_pruning_variables()
  # Masks and thresholds are not model variables; a pruned checkpoint's must be restored too.
  variables = list(tf_slim.get_model_variables()) + list(pruning_variables)
  return checkpoints.init_fn(
      checkpoint, variables, exclude_scopes=exclude_scopes,
      ignore_missing_vars=ignore_missing_vars,
      expected_missing=_expected_missing({v.op.name for v in pruning_variables}),
      flag='checkpoint_path',
      hint='. Use --checkpoint_exclude_scopes or --ignore_missing_vars.')


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


def build_train_graph(opts, replica=distributed.LOCAL):
  """Builds the input pipeline, network, loss, (QAT rewrite), train op and (mask update).

  `replica` (slim.runtime.distributed): synchronous replicas wrap the optimizer; build under
  its `device_scope()`.

  Returns:
    A dict with 'train_op' (returns the total loss), 'global_step', 'learning_rate',
    'total_loss', 'accuracy' (streaming-free batch accuracy), 'num_classes', 'mask_update_op'
    (the conditional mask update to run after each train_op; None without pruning or with
    frozen masks), 'descriptor' (the training split, for input error messages).
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
    classification_model.quantize_graph(True, quant_delay=opts.quantize_delay,
                                        scheme_path=opts.quantize_scheme)
  elif opts.quantize_scheme:
    raise ValueError('--quantize_scheme=%s needs --quantize_delay >= 0' % opts.quantize_scheme)

  learning_rate = _configure_learning_rate(opts, count_examples(descriptor), global_step)
  optimizer = distributed.wrap_optimizer(_configure_optimizer(opts, learning_rate), replica)
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
          'descriptor': descriptor,
          'total_loss': total_loss, 'accuracy': accuracy, 'num_classes': num_classes,
          'mask_update_op': mask_update_op}


def train(opts):
  """Trains until global step --max_number_of_steps; returns the final global step.

  On a cluster (TF_CONFIG or --worker_replicas/--num_ps_tasks/--task/--master) this process is
  one ps or worker task (slim.runtime.distributed); a ps task returns None when the chief
  finished.

  Args:
    opts: TrainOptions.

  Raises:
    ValueError: bad options, dataset or checkpoint (messages name the flag).
    slim.runtime.train_loop.NonFiniteLossError: the loss became NaN/Inf (a FloatingPointError;
      the last checkpoint is kept).
  """
  if not opts.train_dir:
    raise ValueError('--train_dir is required')
  if opts.max_number_of_steps is None or opts.max_number_of_steps < 1:
    raise ValueError('--max_number_of_steps must be a positive step count, got %s'
                     % opts.max_number_of_steps)
  replica = distributed.resolve(
      master=opts.master, num_replicas=opts.worker_replicas, num_ps_tasks=opts.num_ps_tasks,
      task=opts.task, sync=opts.sync_replicas, replicas_to_aggregate=opts.replicas_to_aggregate,
      replicas_flag='worker_replicas')
  if replica.is_ps:
    distributed.serve_ps(replica)
    return None
  with tf.Graph().as_default():
    if opts.seed is not None:
      tf.compat.v1.set_random_seed(opts.seed)
    with replica.device_scope():
      t = build_train_graph(opts, replica)
    # Only the chief initialises (and so reads --checkpoint_path).
    init_fn = get_init_fn(opts.checkpoint_path, opts.checkpoint_exclude_scopes,
                          opts.ignore_missing_vars) if replica.is_chief else None
    return train_loop.train(
        t['train_op'], t['global_step'],
        train_loop.LoopOptions(logdir=opts.train_dir, number_of_steps=opts.max_number_of_steps,
                               log_steps=opts.log_every_n_steps,
                               save_interval_secs=opts.save_interval_secs,
                               save_summaries_secs=opts.save_summaries_secs,
                               master=opts.master),
        init_fn=init_fn, log_tensors={'batch_accuracy': t['accuracy']},
        explain_error=lambda e: classification_data.explain_input_error(t['descriptor'], e),
        after_step_ops=[t['mask_update_op']] if t['mask_update_op'] is not None else (),
        replica=replica)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  train(options.from_flags(TrainOptions))


def run():
  """Console-script entry point."""
  entry.run(main, TrainOptions)


if __name__ == '__main__':
  run()
