"""DeepLab meta-architecture: backbone + ASPP + decoder + logits, with the original scope names.

`ModelOptions.segmentation_head` (--segmentation_head, new) picks the head: 'deeplab' (this
module's ASPP + decoder + logits, the original) or 'mosaic' (deeplab/core/mosaic.py, whose
stride-4 output is the logits); the backbone, the multi-scale merge and the predictions are
shared.

Public API (original names and signatures): `get_extra_layer_scopes`, `predict_labels`,
`predict_labels_multi_scale`, `multi_scale_logits`, `extract_features`, `refine_by_decoder`,
`get_branch_logits`.

Variable names are checkpoint API: the ASPP branches live at the root variable scope
(`image_pooling`, `aspp0`, `aspp{i}_{depthwise,pointwise}`, `concat_projection`), the decoder
under `decoder/`, the classifier under `logits/semantic`. `predict_labels` creates the root ops
`ArgMax` and `Softmax` that the quantized export and tflite_convert name.
"""

import slim  # pylint: disable=unused-import  (applies the TF 2.21 compat layer)
import tensorflow as tf
import tf_slim

from deeplab import common
from deeplab.core import dense_prediction_cell
from deeplab.core import feature_extractor
from deeplab.core import mosaic
from deeplab.core import utils

# Scope names (checkpoint API).
LOGITS_SCOPE_NAME = 'logits'
MERGED_LOGITS_SCOPE = 'merged_logits'
IMAGE_POOLING_SCOPE = 'image_pooling'
ASPP_SCOPE = 'aspp'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
DECODER_SCOPE = 'decoder'
META_ARCHITECTURE_SCOPE = dense_prediction_cell.META_ARCHITECTURE_SCOPE

PROB_SUFFIX = '_prob'

_resize_bilinear = utils.resize_bilinear
scale_dimension = utils.scale_dimension
split_separable_conv2d = utils.split_separable_conv2d

# Batch-norm epsilon of the ASPP/decoder layers (the original value).
_ASPP_BN_EPSILON = 1e-5


def get_extra_layer_scopes(last_layers_contain_logits_only=False,
                           segmentation_head=common.DEEPLAB_HEAD):
  """Gets the scopes for extra layers.

  Args:
    last_layers_contain_logits_only: Boolean, True if only consider logits as the last layer
      (i.e., exclude ASPP module, decoder module and so on)
    segmentation_head: New: the head (common.SEGMENTATION_HEADS); MOSAIC's extra layers are its
      encoder and decoder, its "logits" the decoder's num_classes-deep convs.

  Returns:
    A list of scopes for extra layers.
  """
  if segmentation_head == common.MOSAIC_HEAD:
    return mosaic.extra_layer_scopes(last_layers_contain_logits_only)
  if last_layers_contain_logits_only:
    return [LOGITS_SCOPE_NAME]
  return [LOGITS_SCOPE_NAME, IMAGE_POOLING_SCOPE, ASPP_SCOPE, CONCAT_PROJECTION_SCOPE,
          DECODER_SCOPE, META_ARCHITECTURE_SCOPE]


def predict_labels_multi_scale(images, model_options, eval_scales=(1.0,),
                               add_flipped_images=False):
  """Predicts segmentation labels with multi-scale (and flipped) inputs.

  Args:
    images: A tensor of size [batch, height, width, channels].
    model_options: A ModelOptions instance to configure models.
    eval_scales: The scales to resize images for evaluation.
    add_flipped_images: Add flipped images for evaluation or not.

  Returns:
    A dictionary with keys specifying the output_type (e.g., semantic prediction) and values
    storing Tensors representing predictions (argmax over channels). Each prediction has size
    [batch, height, width]; `<output>_prob` keys hold the averaged probabilities.
  """
  outputs_to_predictions = {output: [] for output in model_options.outputs_to_num_classes}
  for i, image_scale in enumerate(eval_scales):
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(),
                                     reuse=True if i else None):
      outputs_to_scales_to_logits = multi_scale_logits(
          images, model_options=model_options, image_pyramid=[image_scale],
          is_training=False, fine_tune_batch_norm=False)
    if add_flipped_images:
      with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
        outputs_to_scales_to_logits_reversed = multi_scale_logits(
            tf.reverse(images, [2]), model_options=model_options,
            image_pyramid=[image_scale], is_training=False, fine_tune_batch_norm=False)
    for output in sorted(outputs_to_scales_to_logits):
      scales_to_logits = outputs_to_scales_to_logits[output]
      logits = _resize_bilinear(scales_to_logits[MERGED_LOGITS_SCOPE], tf.shape(images)[1:3],
                                scales_to_logits[MERGED_LOGITS_SCOPE].dtype)
      outputs_to_predictions[output].append(tf.expand_dims(tf.nn.softmax(logits), 4))
      if add_flipped_images:
        scales_to_logits_reversed = outputs_to_scales_to_logits_reversed[output]
        logits_reversed = _resize_bilinear(
            tf.reverse(scales_to_logits_reversed[MERGED_LOGITS_SCOPE], [2]),
            tf.shape(images)[1:3], scales_to_logits_reversed[MERGED_LOGITS_SCOPE].dtype)
        outputs_to_predictions[output].append(tf.expand_dims(tf.nn.softmax(logits_reversed), 4))

  for output in sorted(outputs_to_predictions):
    predictions = outputs_to_predictions[output]
    predictions = tf.reduce_mean(tf.concat(predictions, 4), axis=4)
    outputs_to_predictions[output] = tf.argmax(predictions, 3)
    outputs_to_predictions[output + PROB_SUFFIX] = tf.nn.softmax(predictions)
  return outputs_to_predictions


def predict_labels(images, model_options, image_pyramid=None):
  """Predicts segmentation labels.

  With prediction_with_upsampled_logits (default) the merged logits are bilinearly upsampled to
  the input size, then `tf.argmax` (root op `ArgMax`) and `tf.nn.softmax` (root op `Softmax`).

  Args:
    images: A tensor of size [batch, height, width, channels].
    model_options: A ModelOptions instance to configure models.
    image_pyramid: Input image scales for multi-scale feature extraction.

  Returns:
    A dictionary with keys specifying the output_type (e.g., semantic prediction) and values
    storing Tensors representing predictions (argmax over channels) of size
    [batch, height, width], plus `<output>_prob` probabilities.
  """
  outputs_to_scales_to_logits = multi_scale_logits(
      images, model_options=model_options, image_pyramid=image_pyramid, is_training=False,
      fine_tune_batch_norm=False)
  predictions = {}
  for output in sorted(outputs_to_scales_to_logits):
    scales_to_logits = outputs_to_scales_to_logits[output]
    logits = scales_to_logits[MERGED_LOGITS_SCOPE]
    if model_options.prediction_with_upsampled_logits:
      logits = _resize_bilinear(logits, tf.shape(images)[1:3], scales_to_logits[
          MERGED_LOGITS_SCOPE].dtype)
      predictions[output] = tf.argmax(logits, 3)
      predictions[output + PROB_SUFFIX] = tf.nn.softmax(logits)
    else:
      argmax_results = tf.argmax(logits, 3)
      argmax_results = tf.compat.v1.image.resize_nearest_neighbor(
          tf.expand_dims(argmax_results, 3), tf.shape(images)[1:3], align_corners=True,
          name='resize_prediction')
      predictions[output] = tf.squeeze(argmax_results, 3)
      predictions[output + PROB_SUFFIX] = tf.compat.v1.image.resize_bilinear(
          tf.nn.softmax(logits), tf.shape(images)[1:3], align_corners=True,
          name='resize_prob')
  return predictions


def multi_scale_logits(images, model_options, image_pyramid, weight_decay=0.0001,
                       is_training=False, fine_tune_batch_norm=False,
                       nas_training_hyper_parameters=None):
  """Gets the logits for multi-scale inputs.

  The returned logits are all downsampled (due to max-pooling layers) for both training and
  evaluation.

  Args:
    images: A tensor of size [batch, height, width, channels].
    model_options: A ModelOptions instance to configure models.
    image_pyramid: Input image scales for multi-scale feature extraction.
    weight_decay: The weight decay for model variables.
    is_training: Is training or not.
    fine_tune_batch_norm: Fine-tune the batch norm parameters or not.
    nas_training_hyper_parameters: Unused (NAS variants are not registered).

  Returns:
    outputs_to_scales_to_logits: A map of maps from output_type (e.g., semantic prediction) to a
      dictionary of multi-scale logits names to logits. For each output_type, the dictionary has
      keys which correspond to the scales and values which correspond to the logits. For example,
      if `scales` equals [1.0, 1.5], then the keys would include 'merged_logits', 'logits_1.00'
      and 'logits_1.50'.

  Raises:
    ValueError: If model_options doesn't specify crop_size and its add_image_level_feature =
      True, since add_image_level_feature requires crop_size information.
  """
  del nas_training_hyper_parameters
  if not image_pyramid:
    image_pyramid = [1.0]
  crop_height = (model_options.crop_size[0] if model_options.crop_size
                 else tf.shape(images)[1])
  crop_width = (model_options.crop_size[1] if model_options.crop_size
                else tf.shape(images)[2])
  if model_options.image_pooling_crop_size:
    image_pooling_crop_height = model_options.image_pooling_crop_size[0]
    image_pooling_crop_width = model_options.image_pooling_crop_size[1]

  # Compute the height, width for the output logits.
  if model_options.segmentation_head == common.MOSAIC_HEAD:
    logits_output_stride = _mosaic_config(model_options).logits_output_stride
  elif model_options.decoder_output_stride:
    logits_output_stride = min(model_options.decoder_output_stride)
  else:
    logits_output_stride = model_options.output_stride
  logits_height = scale_dimension(crop_height,
                                  max(1.0, max(image_pyramid)) / logits_output_stride)
  logits_width = scale_dimension(crop_width,
                                 max(1.0, max(image_pyramid)) / logits_output_stride)

  outputs_to_scales_to_logits = {k: {} for k in model_options.outputs_to_num_classes}
  num_channels = images.get_shape().as_list()[-1]

  for image_scale in image_pyramid:
    if image_scale != 1.0:
      scaled_height = scale_dimension(crop_height, image_scale)
      scaled_width = scale_dimension(crop_width, image_scale)
      scaled_crop_size = [scaled_height, scaled_width]
      scaled_images = _resize_bilinear(images, scaled_crop_size, images.dtype)
      if model_options.crop_size:
        scaled_images.set_shape([None, scaled_height, scaled_width, num_channels])
      scaled_image_pooling_crop_size = None
      if model_options.image_pooling_crop_size:
        scaled_image_pooling_crop_size = [
            scale_dimension(image_pooling_crop_height, image_scale),
            scale_dimension(image_pooling_crop_width, image_scale)]
    else:
      scaled_crop_size = model_options.crop_size
      scaled_images = images
      scaled_image_pooling_crop_size = model_options.image_pooling_crop_size

    updated_options = model_options._replace(
        crop_size=scaled_crop_size, image_pooling_crop_size=scaled_image_pooling_crop_size)
    outputs_to_logits = _get_logits(
        scaled_images, updated_options, weight_decay=weight_decay,
        reuse=tf.compat.v1.AUTO_REUSE, is_training=is_training,
        fine_tune_batch_norm=fine_tune_batch_norm)

    # Resize the logits to have the same dimension before merging.
    for output in sorted(outputs_to_logits):
      outputs_to_logits[output] = _resize_bilinear(
          outputs_to_logits[output], [logits_height, logits_width],
          outputs_to_logits[output].dtype)

    # Return when only one input scale.
    if len(image_pyramid) == 1:
      for output in sorted(model_options.outputs_to_num_classes):
        outputs_to_scales_to_logits[output][MERGED_LOGITS_SCOPE] = outputs_to_logits[output]
      return outputs_to_scales_to_logits

    # Save logits to the output map.
    for output in sorted(model_options.outputs_to_num_classes):
      outputs_to_scales_to_logits[output]['logits_%.2f' % image_scale] = outputs_to_logits[output]

  # Merge the logits from all the multi-scale inputs.
  for output in sorted(model_options.outputs_to_num_classes):
    all_logits = [tf.expand_dims(logits, axis=4)
                  for logits in outputs_to_scales_to_logits[output].values()]
    all_logits = tf.concat(all_logits, 4)
    merge_fn = tf.reduce_max if model_options.merge_method == 'max' else tf.reduce_mean
    outputs_to_scales_to_logits[output][MERGED_LOGITS_SCOPE] = merge_fn(all_logits, axis=4)
  return outputs_to_scales_to_logits


def _aspp_arg_scope(model_options, weight_decay, reuse, is_training, fine_tune_batch_norm):
  """Returns the arg_scope shared by the ASPP and decoder convolutions."""
  batch_norm_params = utils.get_batch_norm_params(
      decay=model_options.batch_norm_decay, epsilon=_ASPP_BN_EPSILON, scale=True,
      is_training=(is_training and fine_tune_batch_norm),
      sync_batch_norm_method=model_options.sync_batch_norm_method)
  activation_fn = tf.nn.relu6 if model_options.use_bounded_activation else tf.nn.relu
  return tf_slim.arg_scope(
      [tf_slim.conv2d, tf_slim.separable_conv2d],
      weights_regularizer=tf_slim.l2_regularizer(weight_decay),
      activation_fn=activation_fn,
      normalizer_fn=utils.get_batch_norm_fn(model_options.sync_batch_norm_method),
      padding='SAME', stride=1, reuse=reuse), batch_norm_params


def _backbone_features(images, model_options, weight_decay, reuse, is_training,
                       fine_tune_batch_norm):
  """The registry backbone of `model_options` (features, end points), shared by both heads."""
  return feature_extractor.extract_features(
      images, output_stride=model_options.output_stride, multi_grid=model_options.multi_grid,
      model_variant=model_options.model_variant,
      depth_multiplier=model_options.depth_multiplier,
      divisible_by=model_options.divisible_by, weight_decay=weight_decay, reuse=reuse,
      is_training=is_training, preprocessed_images_dtype=model_options.preprocessed_images_dtype,
      fine_tune_batch_norm=fine_tune_batch_norm,
      bn_decay=model_options.backbone_batch_norm_decay)


def extract_features(images, model_options, weight_decay=0.0001, reuse=None, is_training=False,
                     fine_tune_batch_norm=False, nas_training_hyper_parameters=None):
  """Extracts features by the particular model_variant, then applies ASPP.

  Args:
    images: A tensor of size [batch, height, width, channels].
    model_options: A ModelOptions instance to configure models.
    weight_decay: The weight decay for model variables.
    reuse: Reuse the model variables or not.
    is_training: Is training or not.
    fine_tune_batch_norm: Fine-tune the batch norm parameters or not.
    nas_training_hyper_parameters: Unused.

  Returns:
    concat_logits: A tensor of size [batch, feature_height, feature_width, feature_channels],
      where feature_height/feature_width are determined by the images height/width and
      output_stride.
    end_points: A dictionary from components of the network to the corresponding activation.

  Raises:
    ValueError: on a bad dense_prediction_cell_config (see dense_prediction_cell.py).
  """
  del nas_training_hyper_parameters
  features, end_points = _backbone_features(images, model_options, weight_decay, reuse,
                                            is_training, fine_tune_batch_norm)

  if not model_options.aspp_with_batch_norm:
    return features, end_points
  if model_options.dense_prediction_cell_config is not None:
    return _dense_prediction_cell(features, model_options, weight_decay, reuse, is_training,
                                  fine_tune_batch_norm), end_points

  scope, batch_norm_params = _aspp_arg_scope(model_options, weight_decay, reuse, is_training,
                                             fine_tune_batch_norm)
  with scope:
    with tf_slim.arg_scope([utils.get_batch_norm_fn(model_options.sync_batch_norm_method)],
                           **batch_norm_params):
      depth = model_options.aspp_convs_filters
      branch_logits = []

      if model_options.add_image_level_feature:
        if model_options.crop_size is not None:
          image_pooling_crop_size = model_options.image_pooling_crop_size
          # If image_pooling_crop_size is not specified, use crop_size.
          if image_pooling_crop_size is None:
            image_pooling_crop_size = model_options.crop_size
          pool_height = scale_dimension(image_pooling_crop_size[0],
                                        1. / model_options.output_stride)
          pool_width = scale_dimension(image_pooling_crop_size[1],
                                       1. / model_options.output_stride)
          image_feature = tf_slim.avg_pool2d(
              features, [pool_height, pool_width], model_options.image_pooling_stride,
              padding='VALID')
          resize_height = scale_dimension(model_options.crop_size[0],
                                          1. / model_options.output_stride)
          resize_width = scale_dimension(model_options.crop_size[1],
                                         1. / model_options.output_stride)
        else:
          # If crop_size is None, we simply do global pooling.
          pool_height = tf.shape(features)[1]
          pool_width = tf.shape(features)[2]
          image_feature = tf.reduce_mean(features, axis=[1, 2], keepdims=True)
          resize_height = pool_height
          resize_width = pool_width
        image_feature_activation_fn = tf.nn.relu
        image_feature_normalizer_fn = utils.get_batch_norm_fn(
            model_options.sync_batch_norm_method)
        if model_options.aspp_with_squeeze_and_excitation:
          image_feature_activation_fn = tf.nn.sigmoid
          if model_options.image_se_uses_qsigmoid:
            image_feature_activation_fn = utils.q_sigmoid
          image_feature_normalizer_fn = None
        image_feature = tf_slim.conv2d(
            image_feature, depth, 1, activation_fn=image_feature_activation_fn,
            normalizer_fn=image_feature_normalizer_fn, scope=IMAGE_POOLING_SCOPE)
        image_feature = _resize_bilinear(image_feature, [resize_height, resize_width],
                                         image_feature.dtype)
        # Set shape for resize_height/resize_width if they are not Tensor.
        if isinstance(resize_height, tf.Tensor):
          resize_height = None
        if isinstance(resize_width, tf.Tensor):
          resize_width = None
        image_feature.set_shape([None, resize_height, resize_width, depth])
        if not model_options.aspp_with_squeeze_and_excitation:
          branch_logits.append(image_feature)

      # Employ a 1x1 convolution.
      branch_logits.append(tf_slim.conv2d(features, depth, 1, scope=ASPP_SCOPE + str(0)))

      if model_options.atrous_rates:
        # Employ 3x3 convolutions with different atrous rates.
        for i, rate in enumerate(model_options.atrous_rates, 1):
          scope_name = ASPP_SCOPE + str(i)
          if model_options.aspp_with_separable_conv:
            aspp_features = split_separable_conv2d(
                features, filters=depth, rate=rate, weight_decay=weight_decay,
                scope=scope_name)
          else:
            aspp_features = tf_slim.conv2d(features, depth, 3, rate=rate, scope=scope_name)
          branch_logits.append(aspp_features)

      # Merge branch logits.
      concat_logits = tf.concat(branch_logits, 3)
      if model_options.aspp_with_concat_projection:
        concat_logits = tf_slim.conv2d(concat_logits, depth, 1, scope=CONCAT_PROJECTION_SCOPE)
        concat_logits = tf_slim.dropout(concat_logits, keep_prob=0.9, is_training=is_training,
                                        scope=CONCAT_PROJECTION_SCOPE + '_dropout')
      if (model_options.add_image_level_feature and
          model_options.aspp_with_squeeze_and_excitation):
        concat_logits *= image_feature
      return concat_logits, end_points


def _dense_prediction_cell(features, model_options, weight_decay, reuse, is_training,
                           fine_tune_batch_norm):
  """The DPC head of `--dense_prediction_cell_json` in place of ASPP (as the original)."""
  cell = dense_prediction_cell.DensePredictionCell(
      config=model_options.dense_prediction_cell_config,
      # The config's rates are for output stride 16.
      hparams={'conv_rate_multiplier': 16 // model_options.output_stride})
  return cell.build_cell(
      features, output_stride=model_options.output_stride, crop_size=model_options.crop_size,
      image_pooling_crop_size=model_options.image_pooling_crop_size, weight_decay=weight_decay,
      reuse=reuse, is_training=is_training, fine_tune_batch_norm=fine_tune_batch_norm,
      batch_norm_decay=model_options.batch_norm_decay)


def _get_logits(images, model_options, weight_decay=0.0001, reuse=None, is_training=False,
                fine_tune_batch_norm=False):
  """Gets the logits by atrous/image spatial pyramid pooling (and the decoder if set)."""
  if model_options.segmentation_head == common.MOSAIC_HEAD:
    return _get_mosaic_logits(images, model_options, weight_decay, reuse, is_training,
                              fine_tune_batch_norm)
  features, end_points = extract_features(
      images, model_options, weight_decay=weight_decay, reuse=reuse, is_training=is_training,
      fine_tune_batch_norm=fine_tune_batch_norm)

  if model_options.decoder_output_stride:
    crop_size = model_options.crop_size
    if crop_size is None:
      crop_size = [tf.shape(images)[1], tf.shape(images)[2]]
    features = refine_by_decoder(
        features, end_points, crop_size=crop_size,
        decoder_output_stride=model_options.decoder_output_stride,
        decoder_use_separable_conv=model_options.decoder_use_separable_conv,
        decoder_use_sum_merge=model_options.decoder_use_sum_merge,
        decoder_filters=model_options.decoder_filters,
        decoder_output_is_logits=model_options.decoder_output_is_logits,
        model_variant=model_options.model_variant, weight_decay=weight_decay, reuse=reuse,
        is_training=is_training, fine_tune_batch_norm=fine_tune_batch_norm,
        use_bounded_activation=model_options.use_bounded_activation,
        batch_norm_decay=model_options.batch_norm_decay)

  outputs_to_logits = {}
  for output in sorted(model_options.outputs_to_num_classes):
    if model_options.decoder_output_is_logits:
      outputs_to_logits[output] = tf.identity(features, name=output)
    else:
      outputs_to_logits[output] = get_branch_logits(
          features, model_options.outputs_to_num_classes[output], model_options.atrous_rates,
          aspp_with_batch_norm=model_options.aspp_with_batch_norm,
          kernel_size=model_options.logits_kernel_size, weight_decay=weight_decay,
          reuse=reuse, scope_suffix=output)
  return outputs_to_logits


def _mosaic_config(model_options):
  return model_options.mosaic_config or mosaic.DEFAULT_CONFIG


def _get_mosaic_logits(images, model_options, weight_decay, reuse, is_training,
                       fine_tune_batch_norm):
  """--segmentation_head=mosaic: the backbone, then MOSAIC's encoder/decoder (stride-4 logits)."""
  features, end_points = _backbone_features(images, model_options, weight_decay, reuse,
                                            is_training, fine_tune_batch_norm)
  variant = model_options.model_variant
  return {output: tf.identity(mosaic.build_logits(
      features, end_points, feature_extractor.name_scope(variant),
      feature_extractor.decoder_end_points(variant), num_classes,
      config=_mosaic_config(model_options), weight_decay=weight_decay,
      batch_norm_decay=model_options.batch_norm_decay, reuse=reuse, is_training=is_training,
      fine_tune_batch_norm=fine_tune_batch_norm), name=output)
          for output, num_classes in sorted(model_options.outputs_to_num_classes.items())}


def refine_by_decoder(features, end_points, crop_size=None, decoder_output_stride=None,
                      decoder_use_separable_conv=False, decoder_use_sum_merge=False,
                      decoder_filters=256, decoder_output_is_logits=False, model_variant=None,
                      weight_decay=0.0001, reuse=None, is_training=False,
                      fine_tune_batch_norm=False, use_bounded_activation=False,
                      sync_batch_norm_method='None', batch_norm_decay=0.9997):
  """Adds the decoder to obtain sharper segmentation results.

  Args:
    features: A tensor of size [batch, features_height, features_width, features_channels].
    end_points: A dictionary from components of the network to the corresponding activation.
    crop_size: A tuple [crop_height, crop_width] specifying whole patch crop size.
    decoder_output_stride: A list of integers specifying the output stride of low-level features
      used in the decoder module.
    decoder_use_separable_conv: Employ separable convolution for decoder or not.
    decoder_use_sum_merge: Boolean, decoder uses simple sum merge or not.
    decoder_filters: Integer, decoder filter size.
    decoder_output_is_logits: Boolean, using decoder output as logits or not.
    model_variant: Model variant for feature extraction.
    weight_decay: The weight decay for model variables.
    reuse: Reuse the model variables or not.
    is_training: Is training or not.
    fine_tune_batch_norm: Fine-tune the batch norm parameters or not.
    use_bounded_activation: Whether or not to use bounded activations.
    sync_batch_norm_method: String, method used to sync batch norm.
    batch_norm_decay: Batch-norm decay of the decoder layers (new; original hard-codes 0.9997).

  Returns:
    Decoder output with size [batch, decoder_height, decoder_width, decoder_channels].

  Raises:
    ValueError: If crop_size is None, or the backbone defines no end point for a decoder stride.
  """
  if crop_size is None:
    raise ValueError('crop_size must be provided when using decoder.')
  batch_norm_params = utils.get_batch_norm_params(
      decay=batch_norm_decay, epsilon=_ASPP_BN_EPSILON, scale=True,
      is_training=(is_training and fine_tune_batch_norm),
      sync_batch_norm_method=sync_batch_norm_method)
  batch_norm = utils.get_batch_norm_fn(sync_batch_norm_method)
  decoder_depth = decoder_filters
  projected_filters = 48
  if decoder_use_sum_merge:
    # When using sum merge, the projected filters must be equal to decoder filters.
    projected_filters = decoder_filters
  if decoder_output_is_logits:
    # Overwrite the setting when decoder output is logits.
    activation_fn = None
    normalizer_fn = None
    conv2d_kernel = 1
    # Use original conv instead of separable conv.
    decoder_use_separable_conv = False
  else:
    activation_fn = tf.nn.relu6 if use_bounded_activation else tf.nn.relu
    normalizer_fn = batch_norm
    conv2d_kernel = 3
  endpoints_by_stride = feature_extractor.decoder_end_points(model_variant)
  backbone_scope = feature_extractor.name_scope(model_variant)
  with tf_slim.arg_scope(
      [tf_slim.conv2d, tf_slim.separable_conv2d],
      weights_regularizer=tf_slim.l2_regularizer(weight_decay), activation_fn=activation_fn,
      normalizer_fn=normalizer_fn, padding='SAME', stride=1, reuse=reuse):
    with tf_slim.arg_scope([batch_norm], **batch_norm_params):
      with tf.compat.v1.variable_scope(DECODER_SCOPE, DECODER_SCOPE, [features]):
        decoder_features = features
        decoder_stage = 0
        scope_suffix = ''
        for output_stride in decoder_output_stride:
          output_stride = int(output_stride)
          if output_stride not in endpoints_by_stride:
            raise ValueError('model_variant %r has no decoder end point for output stride %d '
                             '(has %s).' % (model_variant, output_stride,
                                            sorted(endpoints_by_stride)))
          feature_list = [endpoints_by_stride[output_stride]]
          if decoder_stage:
            scope_suffix = '_{}'.format(decoder_stage)
          for i, name in enumerate(feature_list):
            decoder_features_list = [decoder_features]
            feature_name = '{}/{}'.format(backbone_scope, name)
            decoder_features_list.append(
                tf_slim.conv2d(end_points[feature_name], projected_filters, 1,
                               scope='feature_projection' + str(i) + scope_suffix))
            # Determine the output size.
            decoder_height = scale_dimension(crop_size[0], 1.0 / output_stride)
            decoder_width = scale_dimension(crop_size[1], 1.0 / output_stride)
            # Resize to decoder_height/decoder_width.
            for j, feature in enumerate(decoder_features_list):
              decoder_features_list[j] = _resize_bilinear(
                  feature, [decoder_height, decoder_width], feature.dtype)
              h = (None if isinstance(decoder_height, tf.Tensor) else decoder_height)
              w = (None if isinstance(decoder_width, tf.Tensor) else decoder_width)
              decoder_features_list[j].set_shape([None, h, w, None])
            if decoder_use_sum_merge:
              decoder_features = _decoder_with_sum_merge(
                  decoder_features_list, decoder_depth, conv2d_kernel=conv2d_kernel,
                  decoder_use_separable_conv=decoder_use_separable_conv,
                  weight_decay=weight_decay)
              continue
            if decoder_use_separable_conv:
              decoder_features = split_separable_conv2d(
                  tf.concat(decoder_features_list, 3), filters=decoder_depth, rate=1,
                  weight_decay=weight_decay, scope='decoder_conv0' + scope_suffix)
              decoder_features = split_separable_conv2d(
                  decoder_features, filters=decoder_depth, rate=1, weight_decay=weight_decay,
                  scope='decoder_conv1' + scope_suffix)
            else:
              num_convs = 2
              decoder_features = tf_slim.repeat(
                  tf.concat(decoder_features_list, 3), num_convs, tf_slim.conv2d,
                  decoder_depth, conv2d_kernel, scope='decoder_conv' + str(i) + scope_suffix)
          decoder_stage += 1
        return decoder_features


def _decoder_with_sum_merge(decoder_features_list, decoder_depth, conv2d_kernel=3,
                            weight_decay=0.0001, decoder_use_separable_conv=True):
  """Decoder with sum to merge features (MobileNetV3 seg recipe)."""
  if len(decoder_features_list) != 2:
    raise RuntimeError('Expect decoder_features has length 2.')
  # Only apply one convolution when decoder use sum merge.
  if decoder_use_separable_conv:
    decoder_features = split_separable_conv2d(
        decoder_features_list[0], filters=decoder_depth, rate=1, weight_decay=weight_decay,
        scope='decoder_split_sep_conv0') + decoder_features_list[1]
  else:
    decoder_features = tf_slim.conv2d(
        decoder_features_list[0], decoder_depth, conv2d_kernel,
        scope='decoder_conv0') + decoder_features_list[1]
  return decoder_features


def get_branch_logits(features, num_classes, atrous_rates=None, aspp_with_batch_norm=False,
                      kernel_size=1, weight_decay=0.0001, reuse=None, scope_suffix=''):
  """Gets the logits from each model's branch.

  The underlying model is branched out in the last layer when atrous spatial pyramid pooling is
  employed, and all branches are sum-merged to form the final logits.

  Args:
    features: A float tensor of shape [batch, height, width, channels].
    num_classes: Number of classes to predict.
    atrous_rates: A list of atrous convolution rates for last layer.
    aspp_with_batch_norm: Use batch normalization layers for ASPP.
    kernel_size: Kernel size for convolution.
    weight_decay: Weight decay for the model variables.
    reuse: Reuse model variables or not.
    scope_suffix: Scope suffix for the model variables.

  Returns:
    Merged logits with shape [batch, height, width, num_classes].

  Raises:
    ValueError: Upon invalid input kernel_size value.
  """
  # When using batch normalization with ASPP, ASPP has been applied before in extract_features,
  # and thus we simply apply 1x1 convolution here.
  if aspp_with_batch_norm or atrous_rates is None:
    if kernel_size != 1:
      raise ValueError('Kernel size must be 1 when atrous_rates is None or using '
                       'aspp_with_batch_norm. Gets %d.' % kernel_size)
    atrous_rates = [1]

  with tf_slim.arg_scope(
      [tf_slim.conv2d], weights_regularizer=tf_slim.l2_regularizer(weight_decay),
      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.01), reuse=reuse):
    with tf.compat.v1.variable_scope(LOGITS_SCOPE_NAME, LOGITS_SCOPE_NAME, [features]):
      branch_logits = []
      for i, rate in enumerate(atrous_rates):
        scope = scope_suffix
        if i:
          scope += '_%d' % i
        branch_logits.append(
            tf_slim.conv2d(features, num_classes, kernel_size=kernel_size, rate=rate,
                           activation_fn=None, normalizer_fn=None, scope=scope))
      return tf.add_n(branch_logits)
