"""tf.data input pipeline over segmentation TFRecords (the original DeepLab `data_generator`).

Reads `<dataset_dir>/<split>-*` shards written by the builders, decodes, preprocesses and
batches. Samples are dicts keyed by the `sample_keys` names (re-exported by deeplab.common).

The preprocessing is the caller's: this data layer must not import the model package above it,
so DeepLab passes its own function in:

  from deeplab import input_preprocess
  dataset = data_generator.Dataset('pascal_voc_seg', 'train', dataset_dir, batch_size=8,
                                   crop_size=[513, 513], is_training=True,
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  samples = dataset.get_one_shot_iterator().get_next()
"""
import collections
import contextlib
import os

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
import tensorflow as tf

from datasets import build_data
from datasets import sample_keys

tf1 = tf.compat.v1

DatasetDescriptor = collections.namedtuple(
    'DatasetDescriptor',
    ['splits_to_sizes',  # Number of examples per split.
     'num_classes',  # Number of classes, including background.
     'ignore_label',  # Label value excluded from loss and metrics.
    ])

_CITYSCAPES_INFORMATION = DatasetDescriptor(
    splits_to_sizes={'train_fine': 2975, 'train_coarse': 22973, 'trainval_fine': 3475,
                     'trainval_coarse': 23473, 'val_fine': 500, 'test_fine': 1525},
    num_classes=19, ignore_label=255)

_PASCAL_VOC_SEG_INFORMATION = DatasetDescriptor(
    splits_to_sizes={'train': 1464, 'train_aug': 10582, 'trainval': 2913, 'val': 1449},
    num_classes=21, ignore_label=255)

_ADE20K_INFORMATION = DatasetDescriptor(
    splits_to_sizes={'train': 20210, 'val': 2000},
    num_classes=151, ignore_label=0)

# New: MLPerf Mobile's ADE20K top-31 (datasets/build_ade20k_data.py --top_classes=31): classes
# 1..31 and the ignore label 0 for everything else.
_ADE20K_TOP31_INFORMATION = DatasetDescriptor(
    splits_to_sizes={'train': 20210, 'val': 2000},
    num_classes=32, ignore_label=0)

# Project dataset from datasets/synthetic.py (default sizes of its CLI).
SYNTHETIC_NUM_TRAIN = 600
SYNTHETIC_NUM_VAL = 100
_SYNTHETIC_INFORMATION = DatasetDescriptor(
    splits_to_sizes={'train': SYNTHETIC_NUM_TRAIN, 'val': SYNTHETIC_NUM_VAL,
                     'trainval': SYNTHETIC_NUM_TRAIN + SYNTHETIC_NUM_VAL},
    num_classes=6, ignore_label=255)

_DATASETS_INFORMATION = {
    'cityscapes': _CITYSCAPES_INFORMATION,
    'pascal_voc_seg': _PASCAL_VOC_SEG_INFORMATION,
    'ade20k': _ADE20K_INFORMATION,
    'ade20k_top31': _ADE20K_TOP31_INFORMATION,
    'synthetic': _SYNTHETIC_INFORMATION,
}

_FILE_PATTERN = '%s-*'
_SHUFFLE_BUFFER = 100

# Keywords `preprocess_fn` is called with for each sample: those of
# deeplab.input_preprocess.preprocess_image_and_label, the function DeepLab passes.
PREPROCESS_KEYWORDS = ('image', 'label', 'crop_height', 'crop_width', 'min_resize_value',
                       'max_resize_value', 'resize_factor', 'min_scale_factor',
                       'max_scale_factor', 'scale_factor_step_size', 'ignore_label',
                       'is_training', 'model_variant')
MISSING_PREPROCESS_FN_ERROR = (
    'Dataset(%r, %r) has no preprocess_fn: pass '
    'preprocess_fn=deeplab.input_preprocess.preprocess_image_and_label (or a function taking '
    'its keywords and returning (original_image, processed_image, label)) to build the iterator')


def _largest_image(files):
  """(max height, max width, file name of the tallest image) over the records of `files`."""
  height = width = 0
  name = ''
  for path in files:
    for record in tf1.io.tf_record_iterator(path):
      feature = tf.train.Example.FromString(record).features.feature
      h = feature[build_data.IMAGE_HEIGHT].int64_list.value[0]
      w = feature[build_data.IMAGE_WIDTH].int64_list.value[0]
      if h > height:
        name = feature[build_data.IMAGE_FILENAME].bytes_list.value[0].decode('utf-8', 'replace')
      height, width = max(height, h), max(width, w)
  return height, width, name


def get_cityscapes_dataset_name():
  return 'cityscapes'


def get_descriptor(dataset_name):
  """Returns the DatasetDescriptor of `dataset_name`; ValueError lists the known names."""
  if dataset_name not in _DATASETS_INFORMATION:
    raise ValueError('Unknown dataset %r; known: %s'
                     % (dataset_name, ', '.join(sorted(_DATASETS_INFORMATION))))
  return _DATASETS_INFORMATION[dataset_name]


# Longer name used by scripts.
get_dataset_descriptor = get_descriptor


class Dataset(object):
  """Represents an input pipeline for one split of a segmentation dataset."""

  def __init__(self, dataset_name, split_name, dataset_dir, batch_size, crop_size,
               min_resize_value=None, max_resize_value=None, resize_factor=None,
               min_scale_factor=1., max_scale_factor=1., scale_factor_step_size=0,
               model_variant=None, num_readers=1, is_training=False, should_shuffle=False,
               should_repeat=False, preprocess_fn=None):
    """Initializes the dataset.

    Args:
      dataset_name: a key of _DATASETS_INFORMATION.
      split_name: split to read (must be in the descriptor's splits).
      dataset_dir: folder of the TFRecord shards.
      batch_size: batch size.
      crop_size: [crop_height, crop_width].
      min_resize_value, max_resize_value, resize_factor: passed to preprocess_fn.
      min_scale_factor, max_scale_factor, scale_factor_step_size: random scaling (training).
      model_variant: selects the padding value.
      num_readers: parallel TFRecord readers.
      is_training: training preprocessing (random scale/crop/flip).
      should_shuffle: shuffle the examples.
      should_repeat: repeat forever (else one epoch).
      preprocess_fn: called per sample with the keywords PREPROCESS_KEYWORDS (those of
        deeplab.input_preprocess.preprocess_image_and_label) and returning
        (original_image, processed_image, label); label is None on the test split. Required
        to build the iterator; a Dataset made only for its descriptor fields may omit it.

    Raises:
      ValueError: unknown dataset or split.
    """
    descriptor = get_descriptor(dataset_name)
    if split_name not in descriptor.splits_to_sizes:
      raise ValueError('Unknown split %r of dataset %r; known: %s'
                       % (split_name, dataset_name, ', '.join(sorted(descriptor.splits_to_sizes))))
    self.dataset_name = dataset_name
    self.split_name = split_name
    self.dataset_dir = dataset_dir
    self.batch_size = batch_size
    self.crop_size = crop_size
    self.min_resize_value = min_resize_value
    self.max_resize_value = max_resize_value
    self.resize_factor = resize_factor
    self.min_scale_factor = min_scale_factor
    self.max_scale_factor = max_scale_factor
    self.scale_factor_step_size = scale_factor_step_size
    self.model_variant = model_variant
    self.num_readers = num_readers
    self.is_training = is_training
    self.should_shuffle = should_shuffle
    self.should_repeat = should_repeat
    self.preprocess_fn = preprocess_fn
    self.num_of_classes = descriptor.num_classes
    self.ignore_label = descriptor.ignore_label

  def _parse_function(self, example_proto):
    """Decodes one serialized example into a sample dict."""
    features = {
        build_data.IMAGE_ENCODED: tf1.FixedLenFeature((), tf.string, default_value=''),
        build_data.IMAGE_FILENAME: tf1.FixedLenFeature((), tf.string, default_value=''),
        build_data.IMAGE_FORMAT: tf1.FixedLenFeature((), tf.string, default_value='jpeg'),
        build_data.IMAGE_HEIGHT: tf1.FixedLenFeature((), tf.int64, default_value=0),
        build_data.IMAGE_WIDTH: tf1.FixedLenFeature((), tf.int64, default_value=0),
        build_data.LABEL_ENCODED: tf1.FixedLenFeature((), tf.string, default_value=''),
        build_data.LABEL_FORMAT: tf1.FixedLenFeature((), tf.string, default_value='png'),
    }
    parsed = tf1.parse_single_example(example_proto, features)

    def _decode(content, channels):
      # decode_jpeg only handles JPEG; decode_png handles PNG. Pick by magic bytes.
      return tf1.cond(tf.io.is_jpeg(content),
                      lambda: tf.image.decode_jpeg(content, channels),
                      lambda: tf.image.decode_png(content, channels))

    image = _decode(parsed[build_data.IMAGE_ENCODED], 3)
    label = None
    if self.split_name != sample_keys.TEST_SET:
      label = _decode(parsed[build_data.LABEL_ENCODED], 1)
    sample = {
        sample_keys.IMAGE: image,
        sample_keys.IMAGE_NAME: parsed[build_data.IMAGE_FILENAME],
        sample_keys.HEIGHT: parsed[build_data.IMAGE_HEIGHT],
        sample_keys.WIDTH: parsed[build_data.IMAGE_WIDTH],
    }
    if label is not None:
      if label.get_shape().ndims == 2:
        label = tf.expand_dims(label, 2)
      label.set_shape([None, None, 1])
      sample[sample_keys.LABELS_CLASS] = label
    return sample

  def _preprocess_image(self, sample):
    """Runs preprocess_fn on a sample and renames labels_class to label."""
    image = sample[sample_keys.IMAGE]
    label = sample.get(sample_keys.LABELS_CLASS)
    original_image, image, label = self.preprocess_fn(
        image=image, label=label, crop_height=self.crop_size[0], crop_width=self.crop_size[1],
        min_resize_value=self.min_resize_value, max_resize_value=self.max_resize_value,
        resize_factor=self.resize_factor, min_scale_factor=self.min_scale_factor,
        max_scale_factor=self.max_scale_factor,
        scale_factor_step_size=self.scale_factor_step_size, ignore_label=self.ignore_label,
        is_training=self.is_training, model_variant=self.model_variant)
    sample[sample_keys.IMAGE] = image
    if not self.is_training:
      # Original image is kept for visualization.
      sample[sample_keys.ORIGINAL_IMAGE] = original_image
    if label is not None:
      sample[sample_keys.LABEL] = label
    sample.pop(sample_keys.LABELS_CLASS, None)
    return sample

  def _get_all_files(self):
    """Returns the shard paths of the split; DatasetBuildError if none or some are missing."""
    pattern = os.path.join(self.dataset_dir, _FILE_PATTERN % self.split_name)
    try:
      files = fileio.find_shards(self.dataset_dir, self.split_name)
    except ValueError as e:
      raise build_data.DatasetBuildError(str(e)) from None
    if not files:
      raise build_data.DatasetBuildError(
          '%s: no TFRecord files for split %r of dataset %r (expected %s-XXXXX-of-XXXXX.tfrecord)'
          % (pattern, self.split_name, self.dataset_name, self.split_name))
    return files

  def explain_input_error(self, error, crop_flag='crop_size'):
    """Turns a TF error raised while reading this dataset into a clear DatasetBuildError.

    TF reports a truncated shard as a DataLossError of `IteratorGetNext` naming no file, and an
    evaluation crop smaller than an image as "Attempted to pad to a smaller size than the input
    element": both say nothing about what to fix.

    Args:
      error: a `tf.errors.OpError` from running this dataset's iterator.
      crop_flag: the flag the crop size came from (e.g. 'eval_crop_size'); None when it is not a
        flag (a TFLite model's fixed input size).

    Returns:
      A DatasetBuildError naming the shard or the flag and what is expected, or None when the
      error is neither of these.
    """
    files = getattr(self, 'files', None) or self._get_all_files()
    if 'Attempted to pad to a smaller size' in error.message:
      height, width, name = _largest_image(files)
      crop = '%d,%d' % tuple(self.crop_size)
      what = ('--%s=%s' % (crop_flag, crop) if crop_flag
              else 'The crop %s (the model input size)' % crop)
      return build_data.DatasetBuildError(
          '%s is smaller than the images of split %r (up to %dx%d, e.g. %s): evaluation pads '
          'each image to the crop, so it must be at least %d,%d'
          % (what, self.split_name, height, width, name, height, width))
    if isinstance(error, tf.errors.DataLossError):
      bad = fileio.unreadable_shard(files)
      if bad:
        return build_data.DatasetBuildError('%s: truncated or corrupt TFRecord shard of split %r '
                                            '(%s); rebuild the split' % (bad[0], self.split_name,
                                                                         bad[1]))
    return None

  @contextlib.contextmanager
  def explained_errors(self, crop_flag='crop_size'):
    """Context manager: TF errors of reading this dataset come out as `explain_input_error`s."""
    try:
      yield
    except tf.errors.OpError as e:
      clear = self.explain_input_error(e, crop_flag)
      if clear is None:
        raise
      raise clear from None

  def get_one_shot_iterator(self):
    """Returns a one-shot iterator over batched sample dicts.

    Raises:
      ValueError: the Dataset was made without preprocess_fn.
      DatasetBuildError: the split has no TFRecord shard in dataset_dir.
    """
    if self.preprocess_fn is None:
      raise ValueError(MISSING_PREPROCESS_FN_ERROR % (self.dataset_name, self.split_name))
    files = self._get_all_files()
    self.files = files
    dataset = tf.data.TFRecordDataset(files, num_parallel_reads=self.num_readers)
    dataset = dataset.map(self._parse_function, num_parallel_calls=self.num_readers)
    dataset = dataset.map(self._preprocess_image, num_parallel_calls=self.num_readers)
    if self.should_shuffle:
      dataset = dataset.shuffle(buffer_size=_SHUFFLE_BUFFER)
    if self.should_repeat:
      dataset = dataset.repeat()
    else:
      dataset = dataset.repeat(1)
    # Evaluation images differ in size before padding; original_image is padded per batch.
    if self.is_training:
      dataset = dataset.batch(self.batch_size)
    else:
      dataset = dataset.padded_batch(self.batch_size)
    dataset = dataset.prefetch(self.batch_size)
    return tf1.data.make_one_shot_iterator(dataset)
