"""Training script for the DeepLab model (original flags; tf.compat.v1 session loop).

Example (float, then QAT fine-tune with one clone, as g3doc/quantize.md):

  python deeplab/train.py --train_logdir=/tmp/float --dataset_dir=DIR --dataset=synthetic \
      --train_crop_size=129,129 --training_number_of_steps=600
  python deeplab/train.py --train_logdir=/tmp/qat --tf_initial_checkpoint=/tmp/float/model.ckpt-600 \
      --quantize_delay_step=0 --base_learning_rate=3e-5 ...

A killed run restarted with the same command continues from the last checkpoint in
--train_logdir. SIGINT/SIGTERM save a checkpoint and exit cleanly; a NaN/Inf loss stops the run
with a clear message and keeps the last good checkpoint.
"""

import contextlib
import os
import signal
import sys
import time

if __name__ == '__main__' and __package__ in (None, ''):
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
import numpy as np  # noqa: E402
import slim  # noqa: E402,F401  pylint: disable=unused-import
import slim.quantize as contrib_quantize  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_slim  # noqa: E402

from deeplab import common  # noqa: E402
from deeplab import model  # noqa: E402
from deeplab.utils import train_utils  # noqa: E402

# allow_override: train/eval/vis/export share flag names (separate binaries in the original);
# tests and tools import several of them into one process.
flags.DEFINE_integer('num_clones', 1, 'Number of clones to deploy.',
    allow_override=True)
flags.DEFINE_boolean('clone_on_cpu', False, 'Use CPUs to deploy clones.',
    allow_override=True)
flags.DEFINE_integer('num_replicas', 1, 'Number of worker replicas.',
    allow_override=True)
flags.DEFINE_integer('startup_delay_steps', 15, 'Number of training steps between replicas '
                     'startup.',
    allow_override=True)
flags.DEFINE_integer('num_ps_tasks', 0, 'The number of parameter servers. If the value is 0, then '
                     'the parameters are handled locally by the worker.',
    allow_override=True)
flags.DEFINE_string('master', '', 'BNS name of the tensorflow server',
    allow_override=True)
flags.DEFINE_integer('task', 0, 'The task ID.',
    allow_override=True)
flags.DEFINE_string('train_logdir', None, 'Where the checkpoint and logs are stored.',
    allow_override=True)
flags.DEFINE_integer('log_steps', 10, 'Display logging information at every log_steps.',
    allow_override=True)
flags.DEFINE_integer('save_interval_secs', 1200, 'How often, in seconds, we save the model to '
                     'disk.',
    allow_override=True)
flags.DEFINE_integer('save_summaries_secs', 600, 'How often, in seconds, we compute the '
                     'summaries.',
    allow_override=True)
flags.DEFINE_boolean('save_summaries_images', False, 'Save sample inputs, labels, and semantic '
                     'predictions as images to summary.',
    allow_override=True)
flags.DEFINE_string('profile_logdir', None, 'Where the profile files are stored.',
    allow_override=True)
flags.DEFINE_enum('optimizer', 'momentum', ['momentum', 'adam'], 'Which optimizer to use.',
    allow_override=True)
flags.DEFINE_enum('learning_policy', 'poly', ['poly', 'step'], 'Learning rate policy for '
                  'training.',
    allow_override=True)
flags.DEFINE_float('base_learning_rate', .0001, 'The base learning rate for model training.',
    allow_override=True)
flags.DEFINE_float('decay_steps', 0.0, 'Decay steps for polynomial learning rate schedule.',
    allow_override=True)
flags.DEFINE_float('end_learning_rate', 0.0, 'End learning rate for polynomial learning rate '
                   'schedule.',
    allow_override=True)
flags.DEFINE_float('learning_rate_decay_factor', 0.1, 'The rate to decay the base learning rate.',
    allow_override=True)
flags.DEFINE_integer('learning_rate_decay_step', 2000, 'Decay the base learning rate at a fixed '
                     'step.',
    allow_override=True)
flags.DEFINE_float('learning_power', 0.9, 'The power value used in the poly learning policy.',
    allow_override=True)
flags.DEFINE_integer('training_number_of_steps', 30000, 'The number of steps used for training',
    allow_override=True)
flags.DEFINE_float('momentum', 0.9, 'The momentum value to use',
    allow_override=True)
flags.DEFINE_float('adam_learning_rate', 0.001, 'Learning rate for the adam optimizer.',
    allow_override=True)
flags.DEFINE_boolean('adam_use_learning_policy', False, 'New: Adam follows --learning_policy '
    '(--base_learning_rate and the schedule flags) instead of the constant '
    '--adam_learning_rate that the original always used.', allow_override=True)
flags.DEFINE_float('adam_epsilon', 1e-08, 'Adam optimizer epsilon.',
    allow_override=True)
flags.DEFINE_integer('train_batch_size', 8, 'The number of images in each batch during training.',
    allow_override=True)
flags.DEFINE_float('weight_decay', 0.00004, 'The value of the weight decay for training.',
    allow_override=True)
flags.DEFINE_list('train_crop_size', '513,513', 'Image crop size [height, width] during '
                  'training.',
    allow_override=True)
flags.DEFINE_float('last_layer_gradient_multiplier', 1.0, 'The gradient multiplier for last '
                   'layers, which is used to boost the gradient of last layers if the value > 1.',
    allow_override=True)
flags.DEFINE_boolean('upsample_logits', True, 'Upsample logits during training.',
    allow_override=True)
flags.DEFINE_float('drop_path_keep_prob', 1.0, 'Probability to keep each path in the NAS cell '
                   'when training.',
    allow_override=True)
flags.DEFINE_string('tf_initial_checkpoint', None, 'The initial checkpoint in tensorflow format.',
    allow_override=True)
flags.DEFINE_boolean('initialize_last_layer', True, 'Initialize the last layer.',
    allow_override=True)
flags.DEFINE_boolean('last_layers_contain_logits_only', False, 'Only consider logits as last '
                     'layers or not.',
    allow_override=True)
flags.DEFINE_integer('slow_start_step', 0, 'Training model with small learning rate for few '
                     'steps.',
    allow_override=True)
flags.DEFINE_float('slow_start_learning_rate', 1e-4, 'Learning rate employed during slow start.',
    allow_override=True)
flags.DEFINE_boolean('fine_tune_batch_norm', True, 'Fine tune the batch norm parameters or not.',
    allow_override=True)
flags.DEFINE_float('min_scale_factor', 0.5, 'Mininum scale factor for data augmentation.',
    allow_override=True)
flags.DEFINE_float('max_scale_factor', 2., 'Maximum scale factor for data augmentation.',
    allow_override=True)
flags.DEFINE_float('scale_factor_step_size', 0.25, 'Scale factor step size for data '
                   'augmentation.',
    allow_override=True)
flags.DEFINE_multi_integer('atrous_rates', None, 'Atrous rates for atrous spatial pyramid '
                           'pooling.',
    allow_override=True)
flags.DEFINE_integer('output_stride', 16, 'The ratio of input to output spatial resolution.',
    allow_override=True)
flags.DEFINE_integer('hard_example_mining_step', 0, 'The training step in which exact hard '
                     'example mining kicks off.',
    allow_override=True)
flags.DEFINE_float('top_k_percent_pixels', 1.0, 'The top k percent pixels (in terms of the loss '
                   'values) used to compute loss during training.',
    allow_override=True)
flags.DEFINE_integer('quantize_delay_step', -1, 'Steps to start quantized training. If < 0, will '
                     'not quantize model.',
    allow_override=True)
flags.DEFINE_string('dataset', 'pascal_voc_seg', 'Name of the segmentation dataset.',
    allow_override=True)
flags.DEFINE_string('train_split', 'train', 'Which split of the dataset to be used for training',
    allow_override=True)
flags.DEFINE_string('dataset_dir', None, 'Where the dataset reside.',
    allow_override=True)

FLAGS = flags.FLAGS

MULTI_CLONE_QUANT_ERROR = "Quantization doesn't support multi-clone yet."
CHECKPOINT_BASENAME = 'model.ckpt'


class NonFiniteLossError(RuntimeError):
  """Raised when the training loss becomes NaN or Inf."""


def build_clone_losses(samples, model_options, num_classes, ignore_label, num_clones=1,
                       weight_decay=0.0001, fine_tune_batch_norm=True, upsample_logits=True,
                       hard_example_mining_step=0, top_k_percent_pixels=1.0,
                       clone_on_cpu=False, image_pyramid=None):
  """Builds the DeepLab training model on `num_clones` splits of the batch and its losses.

  With one clone the graph has no clone scope (as model_deploy with a single clone), so the
  variable and op names are the original ones. With several clones each clone gets a
  `clone_<i>` name scope and its share of the batch; the variables are shared.

  Args:
    samples: dict with common.IMAGE [batch, h, w, 3] and common.LABEL [batch, h, w, 1].
    model_options: common.ModelOptions.
    num_classes: number of classes.
    ignore_label: label value ignored by the loss.
    num_clones: number of clones (the batch size must be divisible by it).
    weight_decay: l2 weight decay.
    fine_tune_batch_norm: train batch norm or not.
    upsample_logits: upsample logits to the label size in the loss.
    hard_example_mining_step: see train_utils.add_softmax_cross_entropy_loss_for_each_scale.
    top_k_percent_pixels: see train_utils.add_softmax_cross_entropy_loss_for_each_scale.
    clone_on_cpu: place clones on CPU devices.
    image_pyramid: input scales for multi-scale feature extraction (--image_pyramid).

  Returns:
    (total_loss, update_ops): the scalar total loss (mean of the clone losses + regularization)
    and the batch-norm update ops of the first clone.

  Raises:
    ValueError: if the batch cannot be split across the clones.
  """
  images = tf.identity(samples[common.IMAGE], name=common.IMAGE)
  labels = tf.identity(samples[common.LABEL], name=common.LABEL)
  if num_clones > 1:
    batch = images.get_shape().as_list()[0]
    if batch is not None and batch % num_clones:
      raise ValueError('--train_batch_size=%d must be divisible by --num_clones=%d'
                       % (batch, num_clones))
    image_splits = tf.split(images, num_clones, axis=0)
    label_splits = tf.split(labels, num_clones, axis=0)
  else:
    image_splits, label_splits = [images], [labels]

  clone_losses = []
  update_ops = None
  for i in range(num_clones):
    device = '/cpu:0' if (clone_on_cpu or num_clones > 1) else ''
    # One clone: no clone scope, so op names are the original ones (as model_deploy).
    clone_scope = (tf.name_scope('clone_%d' % i) if num_clones > 1
                   else contextlib.nullcontext(None))
    with tf.device(device), clone_scope as scope:
      outputs_to_scales_to_logits = model.multi_scale_logits(
          image_splits[i], model_options=model_options,
          image_pyramid=image_pyramid,
          weight_decay=weight_decay, is_training=True,
          fine_tune_batch_norm=fine_tune_batch_norm)
      output_type_dict = outputs_to_scales_to_logits[common.OUTPUT_TYPE]
      output_type_dict[model.MERGED_LOGITS_SCOPE] = tf.identity(
          output_type_dict[model.MERGED_LOGITS_SCOPE], name=common.OUTPUT_TYPE)
      for output, num_c in model_options.outputs_to_num_classes.items():
        train_utils.add_softmax_cross_entropy_loss_for_each_scale(
            outputs_to_scales_to_logits[output], label_splits[i], num_c, ignore_label,
            loss_weight=model_options.label_weights, upsample_logits=upsample_logits,
            hard_example_mining_step=hard_example_mining_step,
            top_k_percent_pixels=top_k_percent_pixels, scope=output)
      clone_loss = tf.add_n(tf.compat.v1.losses.get_losses(scope=scope))
      clone_losses.append(clone_loss)
      if update_ops is None:
        update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, scope)
  del num_classes
  total_loss = tf.add_n(clone_losses) / float(num_clones)
  reg = tf.compat.v1.losses.get_regularization_losses()
  if reg:
    total_loss = tf.add(total_loss, tf.add_n(reg), name='total_loss')
  return total_loss, update_ops


def maybe_quantize_training_graph(quantize_delay_step, num_clones):
  """Applies the QAT training rewrite, the original way (call BEFORE the optimizer).

  Args:
    quantize_delay_step: steps before fake quantization starts; < 0 disables it.
    num_clones: number of clones.

  Returns:
    True if the graph was rewritten.

  Raises:
    ValueError: "Quantization doesn't support multi-clone yet." with num_clones > 1.
  """
  if quantize_delay_step < 0:
    return False
  if num_clones > 1:
    raise ValueError(MULTI_CLONE_QUANT_ERROR)
  contrib_quantize.create_training_graph(quant_delay=quantize_delay_step)
  return True


def optimizer_learning_rate(optimizer, scheduled_rate, adam_learning_rate,
                            adam_use_learning_policy=False):
  """Returns the learning-rate tensor the optimizer uses.

  As in the original, Adam runs at the constant `adam_learning_rate` and ignores the schedule,
  unless `adam_use_learning_policy` (new) makes it follow `scheduled_rate` like momentum does.
  """
  if optimizer == 'adam' and not adam_use_learning_policy:
    return tf.constant(adam_learning_rate, name='adam_learning_rate')
  return scheduled_rate


def _optimizer(learning_rate):
  if FLAGS.optimizer == 'momentum':
    return tf.compat.v1.train.MomentumOptimizer(learning_rate, FLAGS.momentum)
  return tf.compat.v1.train.AdamOptimizer(learning_rate, epsilon=FLAGS.adam_epsilon)


def _parse_crop(values, flag_name):
  try:
    crop = [int(v) for v in values]
  except ValueError:
    raise ValueError('--%s=%s: expected two integers "height,width"' % (flag_name, values))
  if len(crop) != 2:
    raise ValueError('--%s=%s: expected two integers "height,width"' % (flag_name, values))
  return crop


class _StopSignal(object):
  """Records SIGINT/SIGTERM so the loop can save a checkpoint and exit cleanly."""

  def __init__(self):
    self.received = None
    for sig in (signal.SIGINT, signal.SIGTERM):
      signal.signal(sig, self._handle)

  def _handle(self, signum, frame):
    del frame
    self.received = signum


def train_loop(sess, train_op, total_loss, learning_rate, global_step, saver, summary_op,
               writer, train_logdir, number_of_steps, log_steps=10, save_interval_secs=1200,
               save_summaries_secs=600, stop_signal=None):
  """Runs training steps until `number_of_steps`, saving checkpoints and summaries.

  Args:
    sess: a session with initialized variables.
    train_op: the op returning the loss after a training step.
    total_loss: unused (kept for logging symmetry).
    learning_rate: the learning rate tensor.
    global_step: the global step variable.
    saver: tf.compat.v1.train.Saver.
    summary_op: merged summary op or None.
    writer: FileWriter or None.
    train_logdir: directory for `model.ckpt-<step>`.
    number_of_steps: last global step.
    log_steps: log every this many steps.
    save_interval_secs: checkpoint period.
    save_summaries_secs: summary period.
    stop_signal: _StopSignal or None.

  Returns:
    The final global step.

  Raises:
    NonFiniteLossError: on a NaN/Inf loss (the last good checkpoint is kept).
  """
  del total_loss
  ckpt_prefix = os.path.join(train_logdir, CHECKPOINT_BASENAME)
  step = sess.run(global_step)
  start_step, start_time = step, time.time()
  last_save = last_summary = time.time()
  while step < number_of_steps:
    t0 = time.time()
    loss, lr = sess.run([train_op, learning_rate])
    step = sess.run(global_step)
    if not np.isfinite(loss):
      raise NonFiniteLossError(
          'Loss is %s at global step %d; stopping. The last good checkpoint in %s is kept.'
          % (loss, step, train_logdir))
    now = time.time()
    if log_steps and (step % log_steps == 0 or step == number_of_steps):
      sec_per_step = (now - start_time) / max(1, step - start_step)
      eta = sec_per_step * (number_of_steps - step)
      logging.info('global step %d: loss = %.4f, lr = %.6g (%.3f sec/step, ETA %.0f s)',
                   step, loss, lr, now - t0 if step == start_step + 1 else sec_per_step, eta)
    if writer is not None and summary_op is not None and now - last_summary >= save_summaries_secs:
      writer.add_summary(sess.run(summary_op), step)
      last_summary = now
    if now - last_save >= save_interval_secs:
      saver.save(sess, ckpt_prefix, global_step=step)
      last_save = now
    if stop_signal is not None and stop_signal.received is not None:
      logging.info('Signal %d received: saving a checkpoint at step %d and exiting.',
                   stop_signal.received, step)
      break
  saver.save(sess, ckpt_prefix, global_step=step)
  if writer is not None and summary_op is not None:
    writer.add_summary(sess.run(summary_op), step)
    writer.flush()
  return step


def main(unused_argv):
  from datasets import data_generator  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  if not FLAGS.train_logdir:
    raise ValueError('--train_logdir is required')
  if not FLAGS.dataset_dir:
    raise ValueError('--dataset_dir is required')
  if FLAGS.num_clones < 1:
    raise ValueError('--num_clones must be >= 1, got %d' % FLAGS.num_clones)
  if FLAGS.quantize_delay_step >= 0 and FLAGS.num_clones > 1:
    raise ValueError(MULTI_CLONE_QUANT_ERROR)
  tf.io.gfile.makedirs(FLAGS.train_logdir)
  crop_size = _parse_crop(FLAGS.train_crop_size, 'train_crop_size')
  logging.info('Training on %s set', FLAGS.train_split)

  graph = tf.Graph()
  with graph.as_default():
    dataset = data_generator.Dataset(
        dataset_name=FLAGS.dataset, split_name=FLAGS.train_split, dataset_dir=FLAGS.dataset_dir,
        batch_size=FLAGS.train_batch_size, crop_size=crop_size,
        min_resize_value=FLAGS.min_resize_value, max_resize_value=FLAGS.max_resize_value,
        resize_factor=FLAGS.resize_factor, min_scale_factor=FLAGS.min_scale_factor,
        max_scale_factor=FLAGS.max_scale_factor,
        scale_factor_step_size=FLAGS.scale_factor_step_size,
        model_variant=FLAGS.model_variant, num_readers=4, is_training=True,
        should_shuffle=True, should_repeat=True)
    samples = dataset.get_one_shot_iterator().get_next()
    global_step = tf.compat.v1.train.get_or_create_global_step()
    model_options = common.model_options_from_flags(
        FLAGS, {common.OUTPUT_TYPE: dataset.num_of_classes}, crop_size=crop_size,
        atrous_rates=FLAGS.atrous_rates, output_stride=FLAGS.output_stride)
    total_loss, update_ops = build_clone_losses(
        samples, model_options, dataset.num_of_classes, dataset.ignore_label,
        num_clones=FLAGS.num_clones, weight_decay=FLAGS.weight_decay,
        fine_tune_batch_norm=FLAGS.fine_tune_batch_norm,
        upsample_logits=FLAGS.upsample_logits,
        hard_example_mining_step=FLAGS.hard_example_mining_step,
        top_k_percent_pixels=FLAGS.top_k_percent_pixels, clone_on_cpu=FLAGS.clone_on_cpu,
        image_pyramid=FLAGS.image_pyramid)
    total_loss = tf.debugging.check_numerics(total_loss, 'Loss is inf or nan.')

    learning_rate = train_utils.get_model_learning_rate(
        FLAGS.learning_policy, FLAGS.base_learning_rate, FLAGS.learning_rate_decay_step,
        FLAGS.learning_rate_decay_factor, FLAGS.training_number_of_steps, FLAGS.learning_power,
        FLAGS.slow_start_step, FLAGS.slow_start_learning_rate, decay_steps=FLAGS.decay_steps,
        end_learning_rate=FLAGS.end_learning_rate)
    # Logged and summarized: the rate actually used.
    learning_rate = optimizer_learning_rate(FLAGS.optimizer, learning_rate,
                                            FLAGS.adam_learning_rate,
                                            FLAGS.adam_use_learning_policy)
    tf.compat.v1.summary.scalar('learning_rate', learning_rate)
    tf.compat.v1.summary.scalar('total_loss', total_loss)

    # The QAT rewrite must see the forward graph only: before the optimizer builds gradients.
    maybe_quantize_training_graph(FLAGS.quantize_delay_step, FLAGS.num_clones)
    optimizer = _optimizer(learning_rate)

    last_layers = model.get_extra_layer_scopes(FLAGS.last_layers_contain_logits_only)
    grads_and_vars = optimizer.compute_gradients(total_loss)
    grad_mult = train_utils.get_model_gradient_multipliers(
        last_layers, FLAGS.last_layer_gradient_multiplier)
    if grad_mult:
      grads_and_vars = tf_slim.learning.multiply_gradients(grads_and_vars, grad_mult)
    grad_updates = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
    with tf.control_dependencies([grad_updates] + list(update_ops or [])):
      train_op = tf.identity(total_loss, name='train_op')

    if FLAGS.save_summaries_images:
      tf.compat.v1.summary.image('samples/%s' % common.IMAGE, graph.get_tensor_by_name(
          common.IMAGE + ':0'))
    summary_op = tf.compat.v1.summary.merge_all()

    init_fn = train_utils.get_model_init_fn(
        FLAGS.train_logdir, FLAGS.tf_initial_checkpoint, FLAGS.initialize_last_layer,
        last_layers, ignore_missing_vars=True)
    saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables(), max_to_keep=5)
    stop_signal = _StopSignal()
    with tf.compat.v1.Session(FLAGS.master) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(tf.compat.v1.local_variables_initializer())
      latest = tf.train.latest_checkpoint(FLAGS.train_logdir)
      if latest:
        logging.info('Resuming from %s', latest)
        saver.restore(sess, latest)
      elif init_fn is not None:
        init_fn(sess)
      writer = tf.compat.v1.summary.FileWriter(FLAGS.train_logdir, sess.graph)
      try:
        train_loop(sess, train_op, total_loss, learning_rate, global_step, saver, summary_op,
                   writer, FLAGS.train_logdir, FLAGS.training_number_of_steps,
                   log_steps=FLAGS.log_steps, save_interval_secs=FLAGS.save_interval_secs,
                   save_summaries_secs=FLAGS.save_summaries_secs, stop_signal=stop_signal)
      except tf.errors.InvalidArgumentError as e:
        if 'Loss is inf or nan' in str(e):
          raise NonFiniteLossError('Loss is inf or nan; stopping. The last good checkpoint in '
                                   '%s is kept.' % FLAGS.train_logdir)
        raise
      finally:
        writer.close()


if __name__ == '__main__':
  flags.mark_flag_as_required('train_logdir')
  flags.mark_flag_as_required('dataset_dir')
  app.run(main)
