"""DeepLab constants shared by the input pipeline, model, trainer and exporters.

Names are API (TFRecord sample keys, output type): keep them here, as the original did.
Flags are defined at import (as the original); ModelOptions never reads them.
"""

import collections
import copy
import json

from absl import flags
import tensorflow as tf

from datasets import sample_keys


# Semantic segmentation item names: the keys of the samples datasets/data_generator produces,
# defined in the data layer and re-exported here under their original names.
LABELS_CLASS = sample_keys.LABELS_CLASS
IMAGE = sample_keys.IMAGE
HEIGHT = sample_keys.HEIGHT
WIDTH = sample_keys.WIDTH
IMAGE_NAME = sample_keys.IMAGE_NAME
LABEL = sample_keys.LABEL
ORIGINAL_IMAGE = sample_keys.ORIGINAL_IMAGE

# Test set name: its samples have no labels.
TEST_SET = sample_keys.TEST_SET

# Output type of the model's logits dict.
OUTPUT_TYPE = 'semantic'

# Segmentation heads (--segmentation_head, new): the original ASPP + decoder, or MOSAIC's
# encoder/decoder (deeplab/core/mosaic.py).
DEEPLAB_HEAD = 'deeplab'
MOSAIC_HEAD = 'mosaic'
SEGMENTATION_HEADS = (DEEPLAB_HEAD, MOSAIC_HEAD)


flags.DEFINE_integer('min_resize_value', None, 'Desired size of the smaller image side.')
flags.DEFINE_integer('max_resize_value', None, 'Maximum allowed size of the larger image side.')
flags.DEFINE_integer('resize_factor', None, 'Resized dimensions are multiple of factor plus one.')
flags.DEFINE_boolean('keep_aspect_ratio', True, 'Keep aspect ratio after resizing or not.')
flags.DEFINE_integer('logits_kernel_size', 1, 'The kernel size for the convolutional kernel that '
                     'generates logits.')
flags.DEFINE_string('model_variant', 'mobilenet_v2', 'DeepLab model variant.')
flags.DEFINE_multi_float('image_pyramid', None, 'Input scales for multi-scale feature extraction.')
flags.DEFINE_boolean('add_image_level_feature', True, 'Add image level feature.')
flags.DEFINE_list('image_pooling_crop_size', None, 'Image pooling crop size [height, width] used in '
                  'the ASPP module. When None, use train_crop_size.')
flags.DEFINE_list('image_pooling_stride', '1,1', 'Image pooling stride [height, width] used in the '
                  'ASPP image pooling.')
flags.DEFINE_boolean('aspp_with_batch_norm', True, 'Use batch norm parameters for ASPP or not.')
flags.DEFINE_boolean('aspp_with_separable_conv', True, 'Use separable convolution for ASPP or not.')
flags.DEFINE_multi_integer('multi_grid', None, 'Employ a hierarchy of atrous rates for ResNet.')
flags.DEFINE_float('depth_multiplier', 1.0, 'Multiplier for the depth (number of channels) for all '
                   'convolution ops used in MobileNet.')
flags.DEFINE_integer('divisible_by', None, 'An integer that ensures the layer # channels are '
                     'divisible by this value. Used in MobileNet.')
flags.DEFINE_list('decoder_output_stride', None, 'Comma-separated list of strings with the number '
                  'specifying output stride of low-level features at each network level.')
flags.DEFINE_boolean('decoder_use_separable_conv', True, 'Employ separable convolution for decoder '
                     'or not.')
flags.DEFINE_enum('merge_method', 'max', ['max', 'avg'], 'Scheme to merge multi scale features.')
flags.DEFINE_boolean('prediction_with_upsampled_logits', True, 'When performing prediction, there are '
                     'two options: (1) bilinear upsampling the logits followed by softmax, or (2) '
                     'softmax followed by bilinear upsampling.')
flags.DEFINE_string('dense_prediction_cell_json', '', 'A JSON file that specifies the dense '
                    'prediction cell.')
flags.DEFINE_integer('nas_stem_output_num_conv_filters', 20, 'Number of filters of the stem output '
                     'tensor in NAS models.')
flags.DEFINE_bool('nas_use_classification_head', False, 'Use image classification head for NAS '
                  'model variants.')
flags.DEFINE_bool('nas_remove_os32_stride', False, 'Remove the stride in the output stride 32 branch.')
flags.DEFINE_bool('use_bounded_activation', False, 'Whether or not to use bounded activations. '
                  'Bounded activations better lend themselves to quantized inference.')
flags.DEFINE_boolean('aspp_with_concat_projection', True, 'ASPP with concat projection.')
flags.DEFINE_boolean('aspp_with_squeeze_and_excitation', False, 'ASPP with squeeze and excitation.')
flags.DEFINE_integer('aspp_convs_filters', 256, 'ASPP convolution filters.')
flags.DEFINE_boolean('decoder_use_sum_merge', False, 'Decoder uses simply sum merge.')
flags.DEFINE_integer('decoder_filters', 256, 'Decoder filters.')
flags.DEFINE_boolean('decoder_output_is_logits', False, 'Use decoder output as logits or not.')
flags.DEFINE_boolean('image_se_uses_qsigmoid', False, 'Use q-sigmoid.')
flags.DEFINE_multi_float('label_weights', None, 'A list of label weights, each element represents '
                         'the weight for the label of its index, for example, label_weights = '
                         '[0.1, 0.5] means the weight for label 0 is 0.1 and the weight for label 1 '
                         'is 0.5. If set as None, all the labels have the same weight 1.0.')
flags.DEFINE_float('batch_norm_decay', 0.9997, 'Batchnorm decay of the ASPP/decoder layers. When set '
                   'explicitly on the command line it is also used by the backbone (which otherwise '
                   'keeps its family default, 0.997 for MobileNet).')

FLAGS = flags.FLAGS

# Field names of ModelOptions, in the original order.
_MODEL_OPTIONS_FIELDS = (
    'outputs_to_num_classes', 'crop_size', 'atrous_rates', 'output_stride',
    'preprocessed_images_dtype', 'merge_method', 'add_image_level_feature',
    'image_pooling_crop_size', 'image_pooling_stride', 'aspp_with_batch_norm',
    'aspp_with_separable_conv', 'multi_grid', 'decoder_output_stride',
    'decoder_use_separable_conv', 'logits_kernel_size', 'model_variant', 'depth_multiplier',
    'divisible_by', 'prediction_with_upsampled_logits', 'dense_prediction_cell_config',
    'nas_architecture_options', 'use_bounded_activation', 'aspp_with_concat_projection',
    'aspp_with_squeeze_and_excitation', 'aspp_convs_filters', 'decoder_use_sum_merge',
    'decoder_filters', 'decoder_output_is_logits', 'image_se_uses_qsigmoid', 'label_weights',
    'sync_batch_norm_method', 'batch_norm_decay',
    # New: backbone BN decay (None = the family default); see --batch_norm_decay.
    'backbone_batch_norm_decay',
    # New: the head (SEGMENTATION_HEADS) and the MOSAIC head's cfg (None = its defaults).
    'segmentation_head', 'mosaic_config',
)


def _flag_defaults():
  """Returns the ModelOptions field defaults, equal to the flag defaults."""
  return dict(
      merge_method='max', add_image_level_feature=True, image_pooling_crop_size=None,
      image_pooling_stride=[1, 1], aspp_with_batch_norm=True, aspp_with_separable_conv=True,
      multi_grid=None, decoder_output_stride=None, decoder_use_separable_conv=True,
      logits_kernel_size=1, model_variant='mobilenet_v2', depth_multiplier=None,
      divisible_by=None, prediction_with_upsampled_logits=True,
      dense_prediction_cell_config=None,
      nas_architecture_options={'nas_stem_output_num_conv_filters': 20,
                                'nas_use_classification_head': False,
                                'nas_remove_os32_stride': False},
      use_bounded_activation=False, aspp_with_concat_projection=True,
      aspp_with_squeeze_and_excitation=False, aspp_convs_filters=256,
      decoder_use_sum_merge=False, decoder_filters=256, decoder_output_is_logits=False,
      image_se_uses_qsigmoid=False, label_weights=1.0, sync_batch_norm_method='None',
      batch_norm_decay=0.9997, backbone_batch_norm_decay=None,
      segmentation_head=DEEPLAB_HEAD, mosaic_config=None)


class ModelOptions(collections.namedtuple('ModelOptions', _MODEL_OPTIONS_FIELDS)):
  """Immutable class to hold model options.

  Same field names and positional signature as the original
  `ModelOptions(outputs_to_num_classes, crop_size=None, atrous_rates=None, output_stride=8,
  preprocessed_images_dtype=tf.float32)`. Unlike the original, it never reads FLAGS: every other
  field takes the flag default and can be given as a keyword, except `depth_multiplier`, whose
  default None means the registry record's multiplier (1.4 for `mobilenet_v2_140`; the
  original always passed the flag's 1.0, so that variant silently built a 1.0-wide backbone).
  Entry scripts build it with `model_options_from_flags`.
  """

  __slots__ = ()

  def __new__(cls, outputs_to_num_classes, crop_size=None, atrous_rates=None, output_stride=8,
              preprocessed_images_dtype=tf.float32, **kwargs):
    """Constructor to set default values.

    Args:
      outputs_to_num_classes: A dictionary from output type to the number of classes.
        For example, for the task of semantic segmentation with 21 semantic classes, we would
        have outputs_to_num_classes['semantic'] = 21.
      crop_size: A tuple [crop_height, crop_width].
      atrous_rates: A list of atrous convolution rates for ASPP.
      output_stride: The ratio of input to output spatial resolution.
      preprocessed_images_dtype: The type after the preprocessing function.
      **kwargs: any other field of ModelOptions (defaults equal the flag defaults).

    Returns:
      A new ModelOptions instance.

    Raises:
      ValueError: on an unknown field, a decoder_output_stride not sorted descending, an
        unknown segmentation_head, or MOSAIC together with a dense prediction cell.
    """
    unknown = sorted(set(kwargs) - set(_MODEL_OPTIONS_FIELDS))
    if unknown:
      raise ValueError('Unknown ModelOptions fields: %s' % unknown)
    values = _flag_defaults()
    values.update(kwargs)
    if values['decoder_output_stride'] is not None:
      values['decoder_output_stride'] = [int(x) for x in values['decoder_output_stride']]
      if sorted(values['decoder_output_stride'], reverse=True) != values['decoder_output_stride']:
        raise ValueError('Decoder output stride need to be sorted in the descending order.')
    if values['image_pooling_crop_size'] is not None:
      values['image_pooling_crop_size'] = [int(x) for x in values['image_pooling_crop_size']]
    if values['image_pooling_stride']:
      values['image_pooling_stride'] = [int(x) for x in values['image_pooling_stride']]
    if values['label_weights'] is None:
      values['label_weights'] = 1.0
    if values['segmentation_head'] not in SEGMENTATION_HEADS:
      raise ValueError('--segmentation_head=%s: expected one of %s'
                       % (values['segmentation_head'], ', '.join(SEGMENTATION_HEADS)))
    if (values['segmentation_head'] == MOSAIC_HEAD and
        values['dense_prediction_cell_config'] is not None):
      # Both replace the ASPP head: building one and ignoring the other would mislead.
      raise ValueError('--segmentation_head=mosaic and --dense_prediction_cell_json are two '
                       'heads: give one of them')
    return super(ModelOptions, cls).__new__(
        cls, outputs_to_num_classes, crop_size, atrous_rates, output_stride,
        preprocessed_images_dtype, **values)

  def __deepcopy__(self, memo):
    return ModelOptions(copy.deepcopy(self.outputs_to_num_classes), self.crop_size,
                        self.atrous_rates, self.output_stride, self.preprocessed_images_dtype,
                        **{k: getattr(self, k) for k in _MODEL_OPTIONS_FIELDS[5:]})


def input_resize_from_flags(flags_obj):
  """Returns the resize flags of this module as keywords (deeplab.options.InputResize)."""
  return dict(min_resize_value=flags_obj.min_resize_value,
              max_resize_value=flags_obj.max_resize_value,
              resize_factor=flags_obj.resize_factor)


def model_options_from_flags(flags_obj, outputs_to_num_classes, crop_size=None,
                             atrous_rates=None, output_stride=8,
                             preprocessed_images_dtype=tf.float32,
                             segmentation_head=DEEPLAB_HEAD, mosaic_config=None):
  """Builds ModelOptions from parsed absl flags (entry scripts only).

  Args:
    flags_obj: the parsed absl FLAGS object holding the common.py flags.
    outputs_to_num_classes: dict output type -> number of classes.
    crop_size: [crop_height, crop_width] or None.
    atrous_rates: list of ASPP atrous rates or None.
    output_stride: the output stride.
    preprocessed_images_dtype: dtype after preprocessing.
    segmentation_head: one of SEGMENTATION_HEADS (deeplab.options.HeadFlags).
    mosaic_config: a deeplab.core.mosaic.MosaicConfig or None (its defaults).

  Returns:
    A ModelOptions.

  Raises:
    ValueError: if --dense_prediction_cell_json cannot be read.
  """
  dpc_config = None
  if flags_obj.dense_prediction_cell_json:
    try:
      with tf.io.gfile.GFile(flags_obj.dense_prediction_cell_json, 'r') as f:
        dpc_config = json.load(f)
    except (IOError, ValueError, tf.errors.OpError) as e:
      raise ValueError('--dense_prediction_cell_json=%s: cannot read a JSON file (%s)'
                       % (flags_obj.dense_prediction_cell_json, e))
  bn_flag = flags_obj['batch_norm_decay']
  return ModelOptions(
      outputs_to_num_classes, crop_size, atrous_rates, output_stride, preprocessed_images_dtype,
      merge_method=flags_obj.merge_method,
      add_image_level_feature=flags_obj.add_image_level_feature,
      image_pooling_crop_size=flags_obj.image_pooling_crop_size,
      image_pooling_stride=flags_obj.image_pooling_stride,
      aspp_with_batch_norm=flags_obj.aspp_with_batch_norm,
      aspp_with_separable_conv=flags_obj.aspp_with_separable_conv,
      multi_grid=flags_obj.multi_grid,
      decoder_output_stride=flags_obj.decoder_output_stride,
      decoder_use_separable_conv=flags_obj.decoder_use_separable_conv,
      logits_kernel_size=flags_obj.logits_kernel_size,
      model_variant=flags_obj.model_variant,
      # Unset: the registry record's multiplier (1.4 for mobilenet_v2_140, 1.0 for most).
      depth_multiplier=(flags_obj.depth_multiplier if flags_obj['depth_multiplier'].present
                        else None),
      divisible_by=flags_obj.divisible_by,
      prediction_with_upsampled_logits=flags_obj.prediction_with_upsampled_logits,
      dense_prediction_cell_config=dpc_config,
      nas_architecture_options={
          'nas_stem_output_num_conv_filters': flags_obj.nas_stem_output_num_conv_filters,
          'nas_use_classification_head': flags_obj.nas_use_classification_head,
          'nas_remove_os32_stride': flags_obj.nas_remove_os32_stride,
      },
      use_bounded_activation=flags_obj.use_bounded_activation,
      aspp_with_concat_projection=flags_obj.aspp_with_concat_projection,
      aspp_with_squeeze_and_excitation=flags_obj.aspp_with_squeeze_and_excitation,
      aspp_convs_filters=flags_obj.aspp_convs_filters,
      decoder_use_sum_merge=flags_obj.decoder_use_sum_merge,
      decoder_filters=flags_obj.decoder_filters,
      decoder_output_is_logits=flags_obj.decoder_output_is_logits,
      image_se_uses_qsigmoid=flags_obj.image_se_uses_qsigmoid,
      label_weights=flags_obj.label_weights,
      batch_norm_decay=flags_obj.batch_norm_decay,
      # The backbone follows the flag only when the user set it (original default behaviour).
      backbone_batch_norm_decay=(flags_obj.batch_norm_decay if bn_flag.present else None),
      segmentation_head=segmentation_head, mosaic_config=mosaic_config)
