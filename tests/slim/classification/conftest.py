"""Shared by the classification tests: one tiny synthetic classification set (TFRecords) per test
session, and the short SGD training options they train with."""
import pytest

from datasets import synthetic_classification
from slim import train_image_classifier

IMAGE_SIZE = 32


@pytest.fixture(scope='session')
def dataset_dir(tmp_path_factory):
  """20 train / 10 validation images at IMAGE_SIZE, one shard per split."""
  root = str(tmp_path_factory.mktemp('synthetic_classification'))
  synthetic_classification.generate(root, seed=0, num_train=20, num_validation=10,
                                    size=IMAGE_SIZE)
  return synthetic_classification.convert(root, num_shards=1)


def train_options(dataset_dir, train_dir, model_name, steps, batch_size=16, batch_norm_decay=0.9,
                  **kwargs):
  """TrainOptions for `steps` of plain SGD (lr 0.01, fixed) at IMAGE_SIZE, seeded, no logging.

  Batch 16, not smaller: at IMAGE_SIZE the last MobileNet feature maps are 1x1, so training-mode
  batch norm there normalizes `batch_size` values per channel. At batch 4 one SGD step moved
  MobilenetV2/Conv/weights from |w| < 0.2 to 91 (measured): a model that chaotic quantizes to
  per-channel scales that change with the last bits of the float math, and on one CI CPU its PTQ
  model had a scale XNNPACK refuses. At 16 the same step stays at 1.6.
  """
  return train_image_classifier.TrainOptions(
      train_dir=train_dir, dataset_dir=dataset_dir, model_name=model_name,
      train_image_size=IMAGE_SIZE, batch_size=batch_size, max_number_of_steps=steps,
      optimizer='sgd', learning_rate=0.01, learning_rate_decay_type='fixed',
      batch_norm_decay=batch_norm_decay, log_every_n_steps=0, seed=0, **kwargs)
