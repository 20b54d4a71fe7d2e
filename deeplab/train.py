"""Training script for the DeepLab model (original flags; the shared slim.runtime train loop).

Example (float, then QAT fine-tune with one clone, as g3doc/quantize.md):

  python deeplab/train.py --train_logdir=/tmp/float --dataset_dir=DIR --dataset=synthetic \
      --train_crop_size=129,129 --training_number_of_steps=600
  python deeplab/train.py --train_logdir=/tmp/qat --tf_initial_checkpoint=/tmp/float/model.ckpt-600 \
      --quantize_delay_step=0 --base_learning_rate=3e-5 ...

A killed run restarted with the same command continues from the last checkpoint in
--train_logdir. SIGINT/SIGTERM save a checkpoint and exit cleanly; a NaN/Inf loss stops the run
with a clear message and keeps the last good checkpoint (slim/runtime/train_loop.py).
"""

from absl import flags
from absl import logging
import slim  # noqa: F401  pylint: disable=unused-import
from slim.runtime import distributed
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import train_loop
import tensorflow as tf
import tf_slim

from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from deeplab import model
from deeplab import options as deeplab_options
from deeplab.options import TrainOptions
from deeplab.utils import train_utils


def _optimizer(opts, learning_rate):
  if opts.optimizer == 'momentum':
    return tf.compat.v1.train.MomentumOptimizer(learning_rate, opts.momentum)
  return tf.compat.v1.train.AdamOptimizer(learning_rate, epsilon=opts.adam_epsilon)


def build_train_op(opts, model_options, samples, num_classes, ignore_label, image_pyramid=None,
                   replica=distributed.LOCAL):
  """Builds the model, losses, (QAT rewrite), optimizer and train op in the default graph.

  Args:
    opts: TrainOptions.
    model_options: common.ModelOptions.
    samples: dict with common.IMAGE and common.LABEL batches.
    num_classes: number of classes.
    ignore_label: label value ignored by the loss.
    image_pyramid: input scales for multi-scale feature extraction (--image_pyramid).
    replica: slim.runtime.distributed.Replica; synchronous replicas wrap the optimizer.

  Returns:
    (train_op, learning_rate): the train op returns the total loss.

  Raises:
    ValueError: "Quantization doesn't support multi-clone yet." with QAT and num_clones > 1.
  """
  global_step = tf.compat.v1.train.get_or_create_global_step()
  total_loss, update_ops = train_utils.build_clone_losses(
      samples, model_options, num_classes, ignore_label, num_clones=opts.num_clones,
      weight_decay=opts.weight_decay, fine_tune_batch_norm=opts.fine_tune_batch_norm,
      upsample_logits=opts.upsample_logits,
      hard_example_mining_step=opts.hard_example_mining_step,
      top_k_percent_pixels=opts.top_k_percent_pixels, clone_on_cpu=opts.clone_on_cpu,
      image_pyramid=image_pyramid)
  total_loss = train_loop.guard_loss(total_loss)
  learning_rate = train_utils.get_model_learning_rate(
      opts.learning_policy, opts.base_learning_rate, opts.learning_rate_decay_step,
      opts.learning_rate_decay_factor, opts.training_number_of_steps, opts.learning_power,
      opts.slow_start_step, opts.slow_start_learning_rate, decay_steps=opts.decay_steps,
      end_learning_rate=opts.end_learning_rate)
  # Logged and summarized: the rate actually used.
  learning_rate = train_utils.optimizer_learning_rate(
      opts.optimizer, learning_rate, opts.adam_learning_rate, opts.adam_use_learning_policy)
  tf.compat.v1.summary.scalar('learning_rate', learning_rate)
  tf.compat.v1.summary.scalar('total_loss', total_loss)

  # The QAT rewrite must see the forward graph only: before the optimizer builds gradients.
  train_utils.maybe_quantize_training_graph(opts.quantize_delay_step, opts.num_clones,
                                            opts.load_quantize_scheme())
  optimizer = distributed.wrap_optimizer(_optimizer(opts, learning_rate), replica)
  last_layers = model.get_extra_layer_scopes(opts.last_layers_contain_logits_only,
                                             opts.segmentation_head)
  grads_and_vars = optimizer.compute_gradients(total_loss)
  grad_mult = train_utils.get_model_gradient_multipliers(
      last_layers, opts.last_layer_gradient_multiplier)
  if grad_mult:
    grads_and_vars = tf_slim.learning.multiply_gradients(grads_and_vars, grad_mult)
  grad_updates = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
  with tf.control_dependencies([grad_updates] + list(update_ops or [])):
    train_op = tf.identity(total_loss, name='train_op')
  if opts.save_summaries_images:
    tf.compat.v1.summary.image('samples/%s' % common.IMAGE,
                               tf.compat.v1.get_default_graph().get_tensor_by_name(
                                   common.IMAGE + ':0'))
  return train_op, learning_rate


def train(opts, model_options, image_pyramid=None):
  """Trains DeepLab until global step --training_number_of_steps; returns the final step.

  On a cluster (TF_CONFIG or --num_replicas/--num_ps_tasks/--task/--master) this process is
  one ps or worker task (slim.runtime.distributed); a ps task returns None when the chief
  finished.

  Args:
    opts: TrainOptions.
    model_options: common.ModelOptions (outputs_to_num_classes set from the dataset).
    image_pyramid: input scales for multi-scale feature extraction (--image_pyramid).

  Raises:
    ValueError: bad flag values, dataset or checkpoint (the message names the flag).
    slim.runtime.train_loop.NonFiniteLossError: the loss became NaN/Inf.
  """
  for name in ('train_logdir', 'dataset_dir'):
    if not getattr(opts, name):
      raise ValueError('--%s is required' % name)
  if opts.num_clones < 1:
    raise ValueError('--num_clones must be >= 1, got %d' % opts.num_clones)
  if opts.quantize_delay_step >= 0 and opts.num_clones > 1:
    raise ValueError(train_utils.MULTI_CLONE_QUANT_ERROR)
  crop_size = deeplab_options.parse_crop(opts.train_crop_size, 'train_crop_size')
  replica = distributed.resolve(
      master=opts.master, num_replicas=opts.num_replicas, num_ps_tasks=opts.num_ps_tasks,
      task=opts.task, sync=opts.sync_replicas, startup_delay_steps=opts.startup_delay_steps)
  if replica.is_ps:
    distributed.serve_ps(replica)
    return None
  logging.info('Training on %s set', opts.train_split)
  with distributed.failure_ends_cluster(replica), tf.Graph().as_default():
    with replica.device_scope():
      dataset = data_generator.Dataset(
          dataset_name=opts.dataset, split_name=opts.train_split, dataset_dir=opts.dataset_dir,
          batch_size=opts.train_batch_size, crop_size=crop_size,
          min_resize_value=opts.min_resize_value, max_resize_value=opts.max_resize_value,
          resize_factor=opts.resize_factor, min_scale_factor=opts.min_scale_factor,
          max_scale_factor=opts.max_scale_factor,
          scale_factor_step_size=opts.scale_factor_step_size,
          model_variant=model_options.model_variant, num_readers=4, is_training=True,
          should_shuffle=True, should_repeat=True,
          preprocess_fn=input_preprocess.preprocess_image_and_label)
      samples = dataset.get_one_shot_iterator().get_next()
      train_op, learning_rate = build_train_op(opts, model_options, samples,
                                               dataset.num_of_classes, dataset.ignore_label,
                                               image_pyramid, replica)
    # Only the chief initialises (and so reads --tf_initial_checkpoint).
    init_fn = train_utils.get_model_init_fn(
        opts.train_logdir, opts.tf_initial_checkpoint, opts.initialize_last_layer,
        model.get_extra_layer_scopes(opts.last_layers_contain_logits_only,
                                     opts.segmentation_head),
        ignore_missing_vars=True) if replica.is_chief else None
    return train_loop.train(
        train_op, tf.compat.v1.train.get_or_create_global_step(),
        train_loop.LoopOptions(logdir=opts.train_logdir,
                               number_of_steps=opts.training_number_of_steps,
                               log_steps=opts.log_steps,
                               save_interval_secs=opts.save_interval_secs,
                               save_summaries_secs=opts.save_summaries_secs,
                               master=opts.master),
        init_fn=init_fn, log_tensors={'lr': learning_rate},
        explain_error=dataset.explain_input_error, replica=replica)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  opts = options.from_flags(TrainOptions, **common.input_resize_from_flags(flags.FLAGS))
  crop_size = deeplab_options.parse_crop(opts.train_crop_size, 'train_crop_size')
  num_classes = data_generator.get_dataset_descriptor(opts.dataset).num_classes
  model_options = common.model_options_from_flags(
      flags.FLAGS, {common.OUTPUT_TYPE: num_classes}, crop_size=crop_size,
      **opts.head_kwargs())
  train(opts, model_options, image_pyramid=flags.FLAGS.image_pyramid)


def run():
  """Console-script entry point."""
  entry.run(main, TrainOptions)


if __name__ == '__main__':
  run()
