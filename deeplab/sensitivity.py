"""DeepLab's task for `python -m slim.quantize.sensitivity`: the eval graph and its mIoU.

  python -m slim.quantize.sensitivity --task=deeplab.sensitivity:make_task \\
      --checkpoint=train_float/model.ckpt-700 --output_dir=OUT \\
      --task_arg=dataset_dir=DATA/tfrecord --task_arg=crop_size=257 \\
      --task_arg=image_pooling_crop_size=129 --task_arg=batch_norm_decay=0.9

The task arguments arrive as strings (the CLI's --task_arg=key=value) and are parsed here.
Calibration and evaluation read the first `max_batches` images of the split (all with 0), one
image per batch, padded to `crop_size` as eval.py does.
"""
import numpy as np
import tensorflow as tf

from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from deeplab.utils import inference
from deeplab.utils import metrics
from slim.quantize import sensitivity


class SegmentationTask(sensitivity.Task):
  """A DeepLab model on a segmentation split; metric mIoU."""

  metric_name = 'mIoU'

  def __init__(self, dataset_dir, dataset='synthetic', split='val', crop_size=513,
               model_variant='mobilenet_v2', output_stride=16, image_pooling_crop_size=None,
               batch_norm_decay=0.9997, max_batches=0):
    self.dataset_dir = dataset_dir
    self.dataset = dataset
    self.split = split
    self.crop_size = [crop_size, crop_size]
    self.model_variant = model_variant
    self.output_stride = output_stride
    self.image_pooling_crop_size = image_pooling_crop_size
    self.batch_norm_decay = batch_norm_decay
    self.max_batches = max_batches

  def build(self):
    dataset = data_generator.Dataset(
        dataset_name=self.dataset, split_name=self.split, dataset_dir=self.dataset_dir,
        batch_size=1, crop_size=self.crop_size, model_variant=self.model_variant,
        is_training=False, should_shuffle=False, should_repeat=bool(self.max_batches),
        preprocess_fn=input_preprocess.preprocess_image_and_label)
    pooling = self.image_pooling_crop_size
    model_options = common.ModelOptions(
        {common.OUTPUT_TYPE: dataset.num_of_classes}, crop_size=self.crop_size,
        output_stride=self.output_stride, model_variant=self.model_variant,
        image_pooling_crop_size=None if pooling is None else [pooling, pooling],
        batch_norm_decay=self.batch_norm_decay)
    samples = dataset.get_one_shot_iterator().get_next()
    predictions = inference.build_predictions(tf.cast(samples[common.IMAGE], tf.float32),
                                              model_options)
    return dict(dataset=dataset, predictions=predictions, labels=samples[common.LABEL])

  def _run(self, sess, fetches):
    """Yields `sess.run(fetches)` for max_batches batches, or until the split ends (0)."""
    count = 0
    while not self.max_batches or count < self.max_batches:
      try:
        yield sess.run(fetches)
      except tf.errors.OutOfRangeError:
        return
      count += 1

  def calibrate(self, sess, handle):
    for _ in self._run(sess, handle['predictions']):
      pass

  def evaluate(self, sess, handle):
    dataset = handle['dataset']
    confusion = np.zeros([dataset.num_of_classes] * 2, np.int64)
    for pred, label in self._run(sess, [handle['predictions'], handle['labels']]):
      confusion += metrics.confusion_matrix(pred, label, dataset.num_of_classes,
                                            dataset.ignore_label)
    return float(metrics.iou_from_confusion(confusion)[1])


def make_task(dataset_dir, dataset='synthetic', split='val', crop_size='513',
              model_variant='mobilenet_v2', output_stride='16', image_pooling_crop_size=None,
              batch_norm_decay='0.9997', max_batches='0'):
  """The CLI factory: string arguments to a `SegmentationTask`.

  Raises:
    ValueError: a number argument that does not parse (named).
  """
  def number(name, value, kind):
    try:
      return kind(value)
    except ValueError:
      raise ValueError('--task_arg=%s=%s: expected %s' % (name, value, kind.__name__)) from None
  return SegmentationTask(
      dataset_dir, dataset, split, number('crop_size', crop_size, int), model_variant,
      number('output_stride', output_stride, int),
      None if image_pooling_crop_size is None else number(
          'image_pooling_crop_size', image_pooling_crop_size, int),
      number('batch_norm_decay', batch_norm_decay, float),
      number('max_batches', max_batches, int))
