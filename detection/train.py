"""Trains RetinaNet (float, or QAT with --quantize_delay_step as DeepLab's train.py).

  python detection/train.py --train_logdir=/tmp/det/float --dataset_dir=DIR/tfrecord \
      --training_number_of_steps=2000 --batch_norm_decay=0.9
  python detection/train.py --train_logdir=/tmp/det/qat --dataset_dir=DIR/tfrecord \
      --tf_initial_checkpoint=/tmp/det/float --quantize_delay_step=0 \
      --training_number_of_steps=300 --base_learning_rate=2e-4

Loss: focal (alpha 0.25, gamma 1.5) + 50 x Huber (delta 0.1) + L2 (detection.losses). QAT calls
`slim.quantize.create_training_graph(quant_delay=...)` after the loss and before the optimizer
on one clone, as DeepLab does (--num_clones must be 1 with it). Restarting the same command
resumes from the latest checkpoint of --train_logdir; --tf_initial_checkpoint is only read by
a fresh run (QAT ranges absent from a float checkpoint keep their initial values).

Multi-worker: the cluster flags and TF_CONFIG of deeplab/train.py (g3doc/distributed.md); every
task runs the same command, e.g. 1 ps + 2 synchronous workers:
  TF_CONFIG='{"cluster": {"ps": ["h0:2222"], "worker": ["h1:2222", "h2:2222"]},
              "task": {"type": "worker", "index": 0}}' python detection/train.py ...
"""
import dataclasses
from typing import List, Optional

from absl import logging

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
import slim.quantize as contrib_quantize
import tensorflow as tf
import tf_slim

from detection import data
from detection import layers
from detection import losses
from detection import model
from detection import names
from detection import options as det_options
from slim.runtime import checkpoints
from slim.runtime import distributed
from slim.runtime import entry
from slim.runtime import options
from slim.runtime import train_loop

flag = options.flag
_QUANT_RANGE_SUFFIXES = ('/min', '/max')


@dataclasses.dataclass
class TrainOptions(det_options.ModelFlags, det_options.DatasetFlags, det_options.QuantizeFlags,
                   det_options.ClusterFlags):
  """Flags of the detection trainer (DeepLab's names where one exists)."""
  train_logdir: Optional[str] = flag(None, 'Where the checkpoint and logs are stored.',
                                     kind='string', required=True)
  train_split: str = flag('train', 'Which split of the dataset to be used for training.')
  train_batch_size: int = flag(8, 'The number of images in each batch during training.')
  training_number_of_steps: int = flag(2000, 'The number of steps used for training.')
  base_learning_rate: float = flag(1e-3, 'The base learning rate (Adam).')
  learning_rate_decay_steps: List[int] = flag(
      [], 'Global steps at which the learning rate is divided by 10 (empty: constant).',
      kind='list')
  weight_decay: float = flag(4e-5, 'The value of the weight decay for training.')
  batch_norm_decay: Optional[float] = flag(
      None, "BN moving-average decay of every layer; None keeps the variant's (backbone 0.997, "
      'FPN/head 0.99). Use ~0.9 for short from-scratch runs.', kind='float')
  min_scale_factor: float = flag(0.5, 'Mininum scale factor for data augmentation.')
  max_scale_factor: float = flag(2.0, 'Maximum scale factor for data augmentation.')
  num_clones: int = flag(1, 'Number of clones to deploy (1 only: QAT needs one clone).')
  tf_initial_checkpoint: Optional[str] = flag(None, 'The initial checkpoint (fine-tuning).',
                                              kind='string')
  initialize_last_layer: bool = flag(True, 'Restore the class output layer from '
                                     '--tf_initial_checkpoint (False when the class count '
                                     'differs).')
  log_steps: int = flag(10, 'Display logging information at every log_steps.')
  save_interval_secs: int = flag(1200, 'How often, in seconds, we save the model to disk.')
  save_summaries_secs: int = flag(600, 'How often, in seconds, we compute the summaries.')
  seed: Optional[int] = flag(None, 'Graph-level random seed.', kind='integer')


def _learning_rate(opts, global_step):
  if not opts.learning_rate_decay_steps:
    return tf.constant(opts.base_learning_rate, name='learning_rate')
  boundaries = [int(s) for s in opts.learning_rate_decay_steps]
  values = [opts.base_learning_rate * 0.1**i for i in range(len(boundaries) + 1)]
  return tf.compat.v1.train.piecewise_constant(global_step, boundaries, values,
                                               name='learning_rate')


def train_inputs(opts):
  """The augmented, anchor-labelled training batches: (images, class_targets, box_targets)."""
  with tf.device('/cpu:0'):
    batches = data.train_batches(
        data.split_files(opts.dataset_dir, opts.train_split), opts.spec(), opts.input_size(),
        opts.train_batch_size, opts.min_scale_factor, opts.max_scale_factor, seed=opts.seed)
    images, class_targets, box_targets = tf.compat.v1.data.make_one_shot_iterator(
        batches).get_next()
  images.set_shape([opts.train_batch_size, opts.input_size(), opts.input_size(), 3])
  return images, class_targets, box_targets


def build_train_graph(opts, images, class_targets, box_targets, num_classes,
                      replica=distributed.LOCAL):
  """Model, losses, (QAT rewrite), Adam on the given batches; returns a dict of the tensors.

  Args:
    opts: TrainOptions.
    images: float [batch, size, size, 3] in [-1, 1].
    class_targets, box_targets: the anchor targets of detection.data.train_batches.
    num_classes: the largest category id.
    replica: slim.runtime.distributed.Replica; synchronous replicas wrap the optimizer.
  """
  spec = opts.spec()
  global_step = tf.compat.v1.train.get_or_create_global_step()
  outputs = model.build(images, spec, num_classes, is_training=True,
                        weight_decay=opts.weight_decay, bn_decay=opts.batch_norm_decay)
  class_loss, box_loss = losses.retinanet_losses(outputs.class_logits, outputs.box_outputs,
                                                 class_targets, box_targets, spec)
  tf.compat.v1.losses.add_loss(class_loss)
  tf.compat.v1.losses.add_loss(spec.box_loss_weight * box_loss)
  total_loss = train_loop.guard_loss(tf.compat.v1.losses.get_total_loss(name='total_loss'))
  # The QAT rewrite must see only the forward graph: after the loss, before the optimizer.
  if opts.quantize_delay_step >= 0:
    contrib_quantize.create_training_graph(quant_delay=opts.quantize_delay_step)
  learning_rate = _learning_rate(opts, global_step)
  optimizer = distributed.wrap_optimizer(tf.compat.v1.train.AdamOptimizer(learning_rate),
                                         replica)
  update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    grad_updates = optimizer.minimize(total_loss, global_step=global_step)
  with tf.control_dependencies([grad_updates]):
    train_op = tf.identity(total_loss, name='train_op')
  for name, value in (('total_loss', total_loss), ('class_loss', class_loss),
                      ('box_loss', box_loss), ('learning_rate', learning_rate)):
    tf.compat.v1.summary.scalar(name, value)
  return dict(train_op=train_op, global_step=global_step, class_loss=class_loss,
              box_loss=box_loss, learning_rate=learning_rate)


def _init_fn(opts):
  if not opts.tf_initial_checkpoint:
    return None
  checkpoint = checkpoints.resolve(opts.tf_initial_checkpoint, 'tf_initial_checkpoint')
  # The class output's two kernels (depthwise, pointwise + bias) depend on the class count.
  exclude = [] if opts.initialize_last_layer else [
      '%s/%s%s' % (names.HEAD_SCOPE, names.CLASS_OUTPUT, suffix)
      for suffix in (layers.DEPTHWISE_SUFFIX, layers.POINTWISE_SUFFIX)]
  return checkpoints.init_fn(
      checkpoint, list(tf_slim.get_model_variables()), exclude_scopes=exclude,
      expected_missing=lambda name: name.endswith(_QUANT_RANGE_SUFFIXES),
      flag='tf_initial_checkpoint', hint='. Use --initialize_last_layer=false when the class '
      'count differs.')


def train(opts):
  """Trains to --training_number_of_steps; returns the final global step.

  On a cluster (TF_CONFIG or --num_replicas/--num_ps_tasks/--task/--master) this process is
  one ps or worker task (slim.runtime.distributed, as deeplab/train.py); a ps task returns None
  when the chief finished. Only the chief reads --tf_initial_checkpoint.

  Raises:
    ValueError: bad options, dataset or checkpoint (named in the message).
    slim.runtime.distributed.ClusterError: an impossible cluster (flags or TF_CONFIG).
    slim.runtime.train_loop.NonFiniteLossError: the loss became NaN/Inf.
  """
  if opts.num_clones != 1:
    raise ValueError('--num_clones=%d: only 1 is supported (QAT needs one clone)'
                     % opts.num_clones)
  if opts.training_number_of_steps < 1:
    raise ValueError('--training_number_of_steps must be >= 1, got %d'
                     % opts.training_number_of_steps)
  replica = opts.replica()
  if replica.is_ps:
    distributed.serve_ps(replica)
    return None
  with distributed.failure_ends_cluster(replica), tf.Graph().as_default():
    if opts.seed is not None:
      tf.compat.v1.set_random_seed(opts.seed)
    with replica.device_scope():
      t = build_train_graph(opts, *train_inputs(opts), opts.num_classes(), replica)
    return train_loop.train(
        t['train_op'], t['global_step'],
        train_loop.LoopOptions(logdir=opts.train_logdir,
                               number_of_steps=opts.training_number_of_steps,
                               log_steps=opts.log_steps,
                               save_interval_secs=opts.save_interval_secs,
                               save_summaries_secs=opts.save_summaries_secs,
                               master=opts.master),
        init_fn=_init_fn(opts) if replica.is_chief else None,
        log_tensors={'class_loss': t['class_loss'], 'box_loss': t['box_loss']},
        replica=replica)


def main(unused_argv):
  logging.set_verbosity(logging.INFO)
  train(options.from_flags(TrainOptions))


def run():
  """Console-script entry point."""
  entry.run(main, TrainOptions)


if __name__ == '__main__':
  run()
