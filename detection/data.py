"""Reads the OD API detection TFRecords (datasets/build_coco_data.py) for training and eval.

Training: decode, random horizontal flip, scale jitter (resize by a factor in
[min_scale, max_scale] of the output size, then a random crop or a pad back to it), boxes
clipped and those with less than MIN_BOX_SIDE pixels left dropped, then anchor labelling
(detection.matcher) in the input pipeline. Eval: resize to the output size, no augmentation.
Images come out float in [-1, 1] (the backbone's range). Every image is first resized to a
square (its aspect ratio is not kept; boxes are normalized, so they follow; IoU, hence AP, does
not change under such a per-axis scaling).

  batches = data.train_batches(files, spec, num_classes, batch_size=8)
  images, class_targets, box_targets = tf.compat.v1.data.make_one_shot_iterator(
      batches).get_next()
"""
import glob
import os

import tensorflow as tf

from datasets import build_coco_data as coco
from detection import anchors as anchors_lib
from detection import matcher
from detection import model

MIN_BOX_SIDE = 2.0  # pixels
# Ground-truth rows per image after padding (COCO has images with up to ~90 boxes).
MAX_BOXES = 100
_FEATURES = {
    coco.ENCODED: tf.io.FixedLenFeature((), tf.string),
    coco.SOURCE_ID: tf.io.FixedLenFeature((), tf.string, default_value=''),
    coco.HEIGHT: tf.io.FixedLenFeature((), tf.int64),
    coco.WIDTH: tf.io.FixedLenFeature((), tf.int64),
    coco.YMIN: tf.io.VarLenFeature(tf.float32),
    coco.XMIN: tf.io.VarLenFeature(tf.float32),
    coco.YMAX: tf.io.VarLenFeature(tf.float32),
    coco.XMAX: tf.io.VarLenFeature(tf.float32),
    coco.LABEL: tf.io.VarLenFeature(tf.int64),
}


def split_files(dataset_dir, split):
  """The shards `<split>-*.tfrecord` of `dataset_dir`.

  Raises:
    ValueError: none found (names the folder and the pattern).
  """
  files = sorted(glob.glob(os.path.join(glob.escape(dataset_dir), split + '-*.tfrecord')))
  if not files:
    raise ValueError('--dataset_dir=%s: no %s-*.tfrecord shards (build them with '
                     'datasets/build_coco_data.py --split_name=%s)' % (dataset_dir, split, split))
  return files


def parse(serialized):
  """Returns (uint8 image [H, W, 3], normalized boxes [M, 4], int32 labels [M], source id)."""
  f = tf.io.parse_single_example(serialized, _FEATURES)
  image = tf.io.decode_image(f[coco.ENCODED], channels=3, expand_animations=False)
  boxes = tf.stack([tf.sparse.to_dense(f[k]) for k in (coco.YMIN, coco.XMIN, coco.YMAX,
                                                        coco.XMAX)], 1)
  labels = tf.cast(tf.sparse.to_dense(f[coco.LABEL]), tf.int32)
  return image, boxes, labels, f[coco.SOURCE_ID]


def _jitter(image, boxes, size, min_scale, max_scale):
  """Scale jitter + random crop/pad to [size, size]; boxes normalized in, pixels out."""
  scale = tf.random.uniform([], min_scale, max_scale)
  scaled = tf.cast(tf.round(scale * size), tf.int32)
  image = tf.compat.v1.image.resize_bilinear(image[None], [scaled, scaled])[0]
  boxes = boxes * tf.cast(scaled, tf.float32)
  margin = tf.maximum(scaled - size, 0)
  offset = tf.random.uniform([2], 0, margin + 1, dtype=tf.int32)
  image = tf.image.crop_to_bounding_box(image, offset[0], offset[1], tf.minimum(scaled, size),
                                        tf.minimum(scaled, size))
  # Padding with 127.5 (0 after the [-1, 1] scaling), at the bottom right.
  image = tf.image.pad_to_bounding_box(image - 127.5, 0, 0, size, size) + 127.5
  shift = tf.cast(tf.concat([offset, offset], 0), tf.float32)
  boxes = tf.clip_by_value(boxes - shift, 0.0, tf.cast(size, tf.float32))
  return image, boxes


def _keep_visible(boxes, labels):
  keep = tf.logical_and(boxes[:, 2] - boxes[:, 0] >= MIN_BOX_SIDE,
                        boxes[:, 3] - boxes[:, 1] >= MIN_BOX_SIDE)
  return tf.boolean_mask(boxes, keep), tf.boolean_mask(labels, keep)


def _flip(image, boxes, size):
  flipped = tf.random.uniform([]) < 0.5
  image = tf.cond(flipped, lambda: tf.image.flip_left_right(image), lambda: image)
  mirrored = tf.stack([boxes[:, 0], size - boxes[:, 3], boxes[:, 2], size - boxes[:, 1]], 1)
  return image, tf.cond(flipped, lambda: mirrored, lambda: boxes)


def _pad(boxes, labels):
  n = tf.minimum(tf.shape(labels)[0], MAX_BOXES)
  boxes = tf.pad(boxes[:n], [[0, MAX_BOXES - n], [0, 0]])
  labels = tf.pad(labels[:n], [[0, MAX_BOXES - n]])
  return boxes, labels, n


def train_batches(files, spec, image_size, batch_size, min_scale=0.5, max_scale=2.0, seed=None):
  """Shuffled, repeated, augmented batches (images [-1, 1], class_targets, box_targets).

  Args:
    files: TFRecord shards.
    spec: the `architecture.RetinaNetSpec`.
    image_size: output side.
    batch_size: images per batch.
    min_scale, max_scale: scale jitter range (Model Garden's QAT config: 0.5 to 2.0).
    seed: shuffle seed.
  """
  anchors = tf.constant(anchors_lib.generate(spec, image_size))
  size = float(image_size)

  def prepare(serialized):
    image, boxes, labels, _ = parse(serialized)
    image, boxes = _jitter(tf.cast(image, tf.float32), boxes, image_size, min_scale, max_scale)
    image, boxes = _flip(image, boxes, size)
    boxes, labels = _keep_visible(boxes, labels)
    boxes, labels, n = _pad(boxes, labels)
    targets = matcher.assign(anchors, boxes, labels, n, spec)
    image = model.preprocess(tf.reshape(image, [image_size, image_size, 3]), spec)
    return image, targets.class_targets, targets.box_targets

  dataset = tf.data.TFRecordDataset(files).repeat().shuffle(512, seed=seed)
  return dataset.map(prepare, num_parallel_calls=2).batch(batch_size, drop_remainder=True) \
      .prefetch(2)


def eval_examples(files, image_size):
  """Yields numpy (image uint8 [size, size, 3], boxes [M, 4] normalized, labels [M], id str)
  for every record in order (one pass; images resized to the model input)."""
  def prepare(serialized):
    image, boxes, labels, source_id = parse(serialized)
    image = tf.compat.v1.image.resize_bilinear(image[None], [image_size, image_size])[0]
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return image, boxes, labels, source_id

  with tf.Graph().as_default():
    dataset = tf.data.TFRecordDataset(files).map(prepare)
    next_element = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
    sess = tf.compat.v1.Session()
    with sess:
      while True:
        try:
          image, boxes, labels, source_id = sess.run(next_element)
        except tf.errors.OutOfRangeError:
          return
        yield image, boxes, labels, source_id.decode()
