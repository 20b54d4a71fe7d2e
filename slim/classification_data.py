"""Reader of slim classification TFRecords (the output of datasets/build_classification_data.py).

Schema: image/encoded, image/format, image/class/label (int64), image/height, image/width.
Shards are `<split>-*` in the dataset folder; labels.txt ("<id>:<name>") gives the class count.

A dataset is looked up by name in one table of `DatasetDescriptor` records; every name reads the
same schema, so a user's converted ImageNet-style folder works under 'folder' (class count from
labels.txt) and the embedded set under 'synthetic_classification'.

  descriptor = classification_data.get_dataset('synthetic_classification', 'train', DIR)
  images, labels = classification_data.make_batches(descriptor, batch_size=32,
                                                    preprocess_fn=fn, image_size=64,
                                                    is_training=True).get_next()
"""
import dataclasses
import os
import types
from typing import Mapping, Optional

import slim  # noqa: F401  (graph-mode TF1 behaviour before any TF use)
from slim import fileio
import tensorflow as tf

IMAGE_ENCODED = 'image/encoded'
IMAGE_FORMAT = 'image/format'
CLASS_LABEL = 'image/class/label'
IMAGE_HEIGHT = 'image/height'
IMAGE_WIDTH = 'image/width'
LABELS_FILENAME = 'labels.txt'
# Shard naming of build_classification_data.py (via datasets/build_data.SHARD_PATTERN).
FILE_PATTERN = '%s-*'


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """Static facts about a named classification dataset.

  Attributes:
    name: registry key (the --dataset_name value).
    num_classes: class count, or None to read it from labels.txt.
    splits_to_sizes: known split sizes (informational; readers count records).
    labels_offset: label shift the trainer may subtract (1 for ImageNet's background class).
  """
  name: str
  num_classes: Optional[int]
  splits_to_sizes: Mapping[str, int]
  labels_offset: int = 0


_DATASETS = types.MappingProxyType({d.name: d for d in (
    DatasetInfo('folder', None, types.MappingProxyType({})),
    DatasetInfo('synthetic_classification', 10, types.MappingProxyType({})),
    # Slim's ImageNet: 1000 classes + background 0 (labels_offset=1 for 1000-way models).
    DatasetInfo('imagenet', 1001, types.MappingProxyType({'train': 1281167, 'validation': 50000}),
                labels_offset=1),
)})


@dataclasses.dataclass(frozen=True)
class DatasetDescriptor:
  """One split of a dataset on disk.

  Attributes:
    info: the registry record.
    split_name: split name.
    dataset_dir: folder holding the shards.
    files: sorted shard paths.
    num_classes: number of classes.
  """
  info: DatasetInfo
  split_name: str
  dataset_dir: str
  files: tuple
  num_classes: int


def dataset_names():
  """Returns the sorted registered dataset names."""
  return sorted(_DATASETS)


def _num_classes_from_labels(dataset_dir):
  path = os.path.join(dataset_dir, LABELS_FILENAME)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return sum(1 for line in f if line.strip())


def get_dataset(dataset_name, split_name, dataset_dir):
  """Returns the `DatasetDescriptor` of one split.

  Args:
    dataset_name: a registered name (see `dataset_names()`).
    split_name: split name, e.g. 'train' or 'validation'.
    dataset_dir: folder with `<split_name>-*` shards (and labels.txt).

  Returns:
    A DatasetDescriptor.

  Raises:
    ValueError: unknown dataset name (lists the valid ones), missing folder, no shard of the split,
      or an unknown class count.
  """
  if dataset_name not in _DATASETS:
    raise ValueError('Unknown --dataset_name %r; valid names: %s'
                     % (dataset_name, ', '.join(dataset_names())))
  info = _DATASETS[dataset_name]
  if not dataset_dir or not os.path.isdir(dataset_dir):
    raise ValueError('--dataset_dir=%s: folder not found' % dataset_dir)
  files = tuple(fileio.find_shards(dataset_dir, split_name))
  if not files:
    raise ValueError('--dataset_dir=%s: no TFRecord shard matching %r for split %r (run '
                     'datasets/build_classification_data.py first)'
                     % (dataset_dir, FILE_PATTERN % split_name, split_name))
  num_classes = _num_classes_from_labels(dataset_dir) or info.num_classes
  if not num_classes:
    raise ValueError('--dataset_dir=%s: no %s to count the classes of dataset %r'
                     % (dataset_dir, LABELS_FILENAME, dataset_name))
  return DatasetDescriptor(info, split_name, dataset_dir, files, num_classes)


def explain_input_error(descriptor, error):
  """A clear error for a TF error of reading `descriptor`'s shards (a truncated one), or None."""
  if isinstance(error, tf.errors.DataLossError):
    bad = fileio.unreadable_shard(descriptor.files)
    if bad:
      return ValueError('%s: truncated or corrupt TFRecord shard of split %r (%s); rebuild the '
                        'split' % (bad[0], descriptor.split_name, bad[1]))
  return None


def parse_example(serialized):
  """Parses one serialized example; returns (uint8 image [H, W, 3], int64 label)."""
  features = tf.io.parse_single_example(serialized, {
      IMAGE_ENCODED: tf.io.FixedLenFeature((), tf.string),
      IMAGE_FORMAT: tf.io.FixedLenFeature((), tf.string, default_value='jpeg'),
      CLASS_LABEL: tf.io.FixedLenFeature((), tf.int64),
  })
  # decode_image handles JPEG and PNG; expand_animations=False gives a static rank of 3.
  image = tf.io.decode_image(features[IMAGE_ENCODED], channels=3, expand_animations=False)
  return image, features[CLASS_LABEL]


def make_batches(descriptor, batch_size, preprocess_fn, image_size, is_training=False,
                 num_epochs=None, shuffle_buffer=1000, seed=None, labels_offset=0):
  """Returns a one-shot iterator over (images, labels) batches.

  Args:
    descriptor: a DatasetDescriptor.
    batch_size: batch size (the last batch is dropped only when training).
    preprocess_fn: `fn(image, height, width) -> float image` from preprocessing_factory.
    image_size: output height and width.
    is_training: shuffle and repeat forever (unless num_epochs) and drop the remainder.
    num_epochs: passes over the data; None repeats forever when training, once otherwise.
    shuffle_buffer: shuffle buffer size when training.
    seed: shuffle seed.
    labels_offset: subtracted from every label.

  Returns:
    A one-shot tf.compat.v1 iterator; when not training it raises OutOfRangeError after the pass.
  """
  ds = tf.data.Dataset.from_tensor_slices(list(descriptor.files))
  ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(descriptor.files)))
  if is_training:
    ds = ds.shuffle(shuffle_buffer, seed=seed)
    ds = ds.repeat(num_epochs)
  elif num_epochs:
    ds = ds.repeat(num_epochs)

  def _map(serialized):
    image, label = parse_example(serialized)
    image = preprocess_fn(image, image_size, image_size)
    return image, label - labels_offset

  ds = ds.map(_map, num_parallel_calls=2)
  ds = ds.batch(batch_size, drop_remainder=is_training).prefetch(2)
  return tf.compat.v1.data.make_one_shot_iterator(ds)


def iterate_numpy(descriptor, preprocess_fn, image_size, batch_size=32, max_images=None,
                  labels_offset=0):
  """Yields (float images [N, S, S, 3], int64 labels [N]) numpy batches over one pass of a split.

  Runs the same reader and (eval) preprocessing as `make_batches` in a private graph and session,
  for TFLite evaluation and PTQ calibration.

  Args:
    descriptor: a DatasetDescriptor.
    preprocess_fn: `fn(image, height, width)` (use the eval preprocessing).
    image_size: output height and width.
    batch_size: images per yielded batch.
    max_images: stop after this many images (None: the whole split).
    labels_offset: subtracted from every label.
  """
  graph = tf.Graph()
  with graph.as_default():
    images, labels = make_batches(descriptor, batch_size, preprocess_fn, image_size,
                                  is_training=False, labels_offset=labels_offset).get_next()
    with tf.compat.v1.Session(graph=graph) as sess:
      seen = 0
      while max_images is None or seen < max_images:
        try:
          image_batch, label_batch = sess.run([images, labels])
        except tf.errors.OutOfRangeError:
          return
        if max_images is not None:
          image_batch = image_batch[:max_images - seen]
          label_batch = label_batch[:max_images - seen]
        seen += len(image_batch)
        yield image_batch, label_batch
