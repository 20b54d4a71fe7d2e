"""Utility functions for training: losses, learning rates, gradient multipliers, initialization.

Original names and signatures of research/deeplab/utils/train_utils.py, on tf.compat.v1 + tf_slim.
"""

import contextlib

from absl import logging
import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import slim.quantize as contrib_quantize
import tensorflow as tf
import tf_slim

from deeplab import common
from deeplab import model
from deeplab.core import utils
from slim.runtime import checkpoints

# Name scopes of the two loss flavours (the original defaults).
_ALL_PIXEL_LOSS_SCOPE = 'softmax_all_pixel_loss'
_HARD_EXAMPLE_MINING_SCOPE = 'softmax_hard_example_mining'
_GLOBAL_STEP = 'global_step'
MULTI_CLONE_QUANT_ERROR = "Quantization doesn't support multi-clone yet."


def _div_maybe_zero(total_loss, num_present):
  """Normalizes the total loss with the number of present pixels."""
  return tf.cast(num_present > 0, tf.float32) * tf.math.divide(
      total_loss, tf.maximum(1e-5, num_present))


def add_softmax_cross_entropy_loss_for_each_scale(scales_to_logits, labels, num_classes,
                                                  ignore_label, loss_weight=1.0,
                                                  upsample_logits=True,
                                                  hard_example_mining_step=0,
                                                  top_k_percent_pixels=1.0,
                                                  gt_is_matting_map=False, scope=None):
  """Adds softmax cross entropy loss for logits of each scale.

  Args:
    scales_to_logits: A map from logits names for different scales to logits. The logits have
      shape [batch, logits_height, logits_width, num_classes].
    labels: Groundtruth labels with shape [batch, image_height, image_width, 1].
    num_classes: Integer, number of target classes.
    ignore_label: Integer, label to ignore.
    loss_weight: A float or a list of loss weights. If it is a float, it means all the labels have
      the same weight. If it is a list of weights, then each element in the list represents the
      weight for the label of its index, for example, loss_weight = [0.1, 0.5] means the weight
      for label 0 is 0.1 and the weight for label 1 is 0.5.
    upsample_logits: Boolean, upsample logits or not.
    hard_example_mining_step: An integer, the training step in which the hard exampling mining
      kicks off. Note that we gradually reduce the mining percent to the top_k_percent_pixels.
    top_k_percent_pixels: A float, the value lies in [0.0, 1.0]. When its value < 1.0, only
      compute the loss for the top k percent pixels (e.g., the top 20% pixels).
    gt_is_matting_map: If true, the groundtruth is a matting map of confidence score (values in
      [0, 255] mapped to [0, 1]).
    scope: String, the scope for the loss.

  Raises:
    ValueError: Label or logits is None, or groundtruth is matting map while label is not
      floating value.
  """
  if labels is None:
    raise ValueError('No label for softmax cross entropy loss.')
  # If input groundtruth is a matting map of confidence score, we need to cast it to float.
  if gt_is_matting_map and not labels.dtype.is_floating:
    raise ValueError('Labels must be floats if groundtruth is a matting map.')

  for scale, logits in sorted(scales_to_logits.items()):
    loss_scope = None
    if scope:
      loss_scope = '%s_%s' % (scope, scale)

    if upsample_logits:
      # Label is not downsampled, and instead we upsample logits.
      logits = tf.compat.v1.image.resize_bilinear(
          logits, tf.shape(labels)[1:3], align_corners=True)
      scaled_labels = labels
    else:
      # Label is downsampled to the same size as logits.
      if gt_is_matting_map:
        logging.warning('Label downsampling with nearest neighbor may introduce artifacts.')
      scaled_labels = tf.compat.v1.image.resize_nearest_neighbor(
          labels, tf.shape(logits)[1:3], align_corners=True)

    scaled_labels = tf.reshape(scaled_labels, shape=[-1])
    weights = utils.get_label_weight_mask(scaled_labels, ignore_label, num_classes,
                                          label_weights=loss_weight)
    # Dimension of keep_mask is equal to the total number of pixels.
    keep_mask = tf.cast(tf.not_equal(scaled_labels, ignore_label), dtype=tf.float32)

    train_labels = None
    logits = tf.reshape(logits, shape=[-1, num_classes])

    if gt_is_matting_map:
      # When the groundtruth is integer label mask, we can assign class dependent label weights to
      # the loss. When the groundtruth is image matting confidence, we do not apply class-dependent
      # label weight (i.e., label_weight = 1.0).
      if loss_weight != 1.0:
        raise ValueError('Loss weight is not applicable for matting map labels.')
      # Always label #0 == background and #1 == foreground.
      train_labels = scaled_labels * keep_mask
      train_labels = tf.expand_dims(train_labels, 1)
      train_labels = tf.concat([1 - train_labels, train_labels], axis=1)
    else:
      train_labels = tf.one_hot(scaled_labels, num_classes, on_value=1.0, off_value=0.0)

    default_loss_scope = (_ALL_PIXEL_LOSS_SCOPE if top_k_percent_pixels == 1.0
                          else _HARD_EXAMPLE_MINING_SCOPE)
    with tf.name_scope(loss_scope or default_loss_scope):
      # Compute the loss for all pixels.
      pixel_losses = tf.nn.softmax_cross_entropy_with_logits(
          labels=tf.stop_gradient(train_labels, name='train_labels_stop_gradient'),
          logits=logits, name='pixel_losses')
      weighted_pixel_losses = tf.multiply(pixel_losses, weights)

      if top_k_percent_pixels == 1.0:
        total_loss = tf.reduce_sum(weighted_pixel_losses)
        num_present = tf.reduce_sum(keep_mask)
        loss = _div_maybe_zero(total_loss, num_present)
        tf.compat.v1.losses.add_loss(loss)
      else:
        num_pixels = tf.cast(tf.shape(logits)[0], tf.float32)
        # Compute the top_k_percent pixels based on current training step.
        if hard_example_mining_step == 0:
          # Directly focus on the top_k pixels.
          top_k_pixels = tf.cast(top_k_percent_pixels * num_pixels, tf.int32)
        else:
          # Gradually reduce the mining percent to top_k_percent_pixels.
          global_step = tf.cast(tf.compat.v1.train.get_or_create_global_step(), tf.float32)
          ratio = tf.minimum(1.0, global_step / hard_example_mining_step)
          top_k_pixels = tf.cast((ratio * top_k_percent_pixels + (1.0 - ratio)) * num_pixels,
                                 tf.int32)
        top_k_losses, _ = tf.nn.top_k(weighted_pixel_losses, k=top_k_pixels, sorted=True,
                                      name='top_k_percent_pixels')
        total_loss = tf.reduce_sum(top_k_losses)
        num_present = tf.reduce_sum(tf.cast(tf.not_equal(top_k_losses, 0.0), tf.float32))
        loss = _div_maybe_zero(total_loss, num_present)
        tf.compat.v1.losses.add_loss(loss)


def get_model_init_fn(train_logdir, tf_initial_checkpoint, initialize_last_layer, last_layers,
                      ignore_missing_vars=False):
  """Gets the function initializing model variables from a checkpoint.

  `tf_initial_checkpoint` may be a checkpoint prefix (as in the original), a folder holding one
  checkpoint, a released-layout `.tar.gz` (extracted safely beside it, manifest verified) or its
  extracted folder; see slim.runtime.checkpoints.resolve.

  Before anything is restored, the model variables are compared with the checkpoint: a
  checkpoint sharing no variable with the model, or holding any variable with a different shape,
  raises one error listing them. Variables the checkpoint lacks (e.g. the ASPP head when starting
  from an ImageNet backbone, QAT min/max ranges, optimizer slots) keep their initial values and
  are logged as one list (the original skipped them silently).

  Args:
    train_logdir: Log directory for training.
    tf_initial_checkpoint: TensorFlow checkpoint for initialization (prefix, folder or tarball).
    initialize_last_layer: Initialize last layer or not.
    last_layers: Last layers of the model (scopes excluded when initialize_last_layer is False).
    ignore_missing_vars: Ignore missing variables in the checkpoint (logged as one list); when
      False, missing variables raise.

  Returns:
    Initialization function `init_fn(sess)`, or None when there is nothing to restore (no
    initial checkpoint, or train_logdir already has a checkpoint to resume from).

  Raises:
    slim.runtime.checkpoints.CheckpointError (a ValueError): the checkpoint cannot be found or
      extracted, shares no variable with the model, has wrong-shaped variables, or (with
      ignore_missing_vars=False) lacks model variables.
  """
  if tf_initial_checkpoint is None:
    logging.info('Not initializing the model from a checkpoint.')
    return None
  if train_logdir and tf.train.latest_checkpoint(train_logdir):
    logging.info('Ignoring initialization; other checkpoint exists')
    return None

  checkpoint_prefix = checkpoints.resolve(tf_initial_checkpoint, 'tf_initial_checkpoint')
  logging.info('Initializing model from path: %s (checkpoint %s)', tf_initial_checkpoint,
               checkpoint_prefix)
  # Variables that will not be restored.
  exclude_list = [_GLOBAL_STEP]
  if not initialize_last_layer:
    exclude_list.extend(last_layers)
  return checkpoints.init_fn(checkpoint_prefix,
                             tf_slim.get_variables_to_restore(exclude=exclude_list),
                             ignore_missing_vars=ignore_missing_vars,
                             flag='tf_initial_checkpoint')


def get_model_gradient_multipliers(last_layers, last_layer_gradient_multiplier):
  """Gets the gradient multipliers.

  The gradient multipliers will adjust the learning rates for model variables. For the task of
  semantic segmentation, the models are usually fine-tuned from the models trained on the task of
  image classification. To fine-tune the models, we usually set larger (e.g., 10 times larger)
  learning rate for the parameters of last layer.

  Args:
    last_layers: Scopes of last layers.
    last_layer_gradient_multiplier: The gradient multiplier for last layers.

  Returns:
    The gradient multiplier map with variables as key, and multipliers as value.
  """
  gradient_multipliers = {}
  for var in tf.compat.v1.model_variables():
    # Double the learning rate for biases.
    if 'biases' in var.op.name:
      gradient_multipliers[var.op.name] = 2.
    # Use larger learning rate for last layer variables.
    for layer in last_layers:
      if layer in var.op.name and 'biases' in var.op.name:
        gradient_multipliers[var.op.name] = 2 * last_layer_gradient_multiplier
        break
      elif layer in var.op.name:
        gradient_multipliers[var.op.name] = last_layer_gradient_multiplier
        break
  return gradient_multipliers


def get_model_learning_rate(learning_policy, base_learning_rate, learning_rate_decay_step,
                            learning_rate_decay_factor, training_number_of_steps,
                            learning_power, slow_start_step, slow_start_learning_rate,
                            slow_start_burnin_type='none', decay_steps=0.0,
                            end_learning_rate=0.0, boundaries=None,
                            boundary_learning_rates=None):
  """Gets model's learning rate.

  Computes the model's learning rate for different learning policy. Right now, only "step" and
  "poly" are reachable from train.py flags; "cosine" and "multi_steps" are also supported here.
  (1) The learning policy for "step" is computed as follows:
    current_learning_rate = base_learning_rate *
      learning_rate_decay_factor ^ (global_step / learning_rate_decay_step)
  (2) The learning policy for "poly" is computed as follows:
    current_learning_rate = base_learning_rate *
      (1 - global_step / training_number_of_steps) ^ learning_power

  Args:
    learning_policy: Learning rate policy for training.
    base_learning_rate: The base learning rate for model training.
    learning_rate_decay_step: Decay the base learning rate at a fixed step.
    learning_rate_decay_factor: The rate to decay the base learning rate.
    training_number_of_steps: Number of steps for training.
    learning_power: Power used for 'poly' learning policy.
    slow_start_step: Training model with small learning rate for the first few steps.
    slow_start_learning_rate: The learning rate employed during slow start.
    slow_start_burnin_type: The burnin type for the slow start stage. Can be `none` which means no
      burnin or `linear` which means the learning rate increases linearly from
      slow_start_learning_rate and reaches base_learning_rate after slow_start_steps.
    decay_steps: Float, `decay_steps` for polynomial learning rate (0 = the remaining steps).
    end_learning_rate: Float, `end_learning_rate` for polynomial learning rate.
    boundaries: A list of `Tensor`s or `int`s or `float`s with strictly increasing entries.
    boundary_learning_rates: A list of `Tensor`s or `float`s or `int`s that specifies the values
      for the intervals defined by `boundaries`.

  Returns:
    Learning rate for the specified learning policy.

  Raises:
    ValueError: If learning policy or slow start burnin type is not recognized, or
      boundaries/boundary_learning_rates do not match.
  """
  global_step = tf.compat.v1.train.get_or_create_global_step()
  adjusted_global_step = tf.maximum(global_step - slow_start_step, 0)
  if decay_steps == 0.0:
    logging.info('Setting decay_steps to total training steps.')
    decay_steps = training_number_of_steps - slow_start_step
  if learning_policy == 'step':
    learning_rate = tf.compat.v1.train.exponential_decay(
        base_learning_rate, adjusted_global_step, learning_rate_decay_step,
        learning_rate_decay_factor, staircase=True)
  elif learning_policy == 'poly':
    learning_rate = tf.compat.v1.train.polynomial_decay(
        base_learning_rate, adjusted_global_step, decay_steps=decay_steps,
        end_learning_rate=end_learning_rate, power=learning_power)
  elif learning_policy == 'cosine':
    learning_rate = tf.compat.v1.train.cosine_decay(
        base_learning_rate, adjusted_global_step, training_number_of_steps - slow_start_step)
  elif learning_policy == 'multi_steps':
    if boundaries is None or boundary_learning_rates is None:
      raise ValueError('Must set `boundaries` and `boundary_learning_rates` for multi_steps '
                       'learning rate decay.')
    learning_rate = tf.compat.v1.train.piecewise_constant_decay(
        adjusted_global_step, boundaries, boundary_learning_rates)
  else:
    raise ValueError('Unknown learning policy %r (expected step, poly, cosine or '
                     'multi_steps).' % learning_policy)

  adjusted_slow_start_learning_rate = slow_start_learning_rate
  if slow_start_burnin_type == 'linear':
    # Do linear burnin. Increase linearly from slow_start_learning_rate and reach
    # base_learning_rate after (global_step >= slow_start_step).
    adjusted_slow_start_learning_rate = (
        slow_start_learning_rate +
        (base_learning_rate - slow_start_learning_rate) *
        tf.cast(global_step, tf.float32) / slow_start_step)
  elif slow_start_burnin_type != 'none':
    raise ValueError('Unknown burnin type %r (expected none or linear).' % slow_start_burnin_type)

  # Employ small learning rate at the first few steps for warm start.
  return tf.where(global_step < slow_start_step, adjusted_slow_start_learning_rate,
                  learning_rate)


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
        add_softmax_cross_entropy_loss_for_each_scale(
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


def maybe_quantize_training_graph(quantize_delay_step, num_clones, scheme=None):
  """Applies the QAT training rewrite, the original way (call BEFORE the optimizer).

  Args:
    quantize_delay_step: steps before fake quantization starts; < 0 disables it.
    num_clones: number of clones.
    scheme: a `slim.quantize.scheme.Scheme` (--quantize_scheme): the experimental rewrite
      with it instead of `create_training_graph`.

  Returns:
    True if the graph was rewritten.

  Raises:
    ValueError: "Quantization doesn't support multi-clone yet." with num_clones > 1.
  """
  if quantize_delay_step < 0:
    return False
  if num_clones > 1:
    raise ValueError(MULTI_CLONE_QUANT_ERROR)
  if scheme is None:
    contrib_quantize.create_training_graph(quant_delay=quantize_delay_step)
  else:
    contrib_quantize.experimental_create_training_graph(quant_delay=quantize_delay_step,
                                                        scheme=scheme)
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
