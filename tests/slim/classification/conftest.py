"""Shared fixture: one tiny synthetic classification set (TFRecords) per test session."""
import pytest

from datasets import synthetic_classification

IMAGE_SIZE = 32


@pytest.fixture(scope='session')
def dataset_dir(tmp_path_factory):
  """20 train / 10 validation images at IMAGE_SIZE, one shard per split."""
  root = str(tmp_path_factory.mktemp('synthetic_classification'))
  synthetic_classification.generate(root, seed=0, num_train=20, num_validation=10,
                                    size=IMAGE_SIZE)
  return synthetic_classification.convert(root, num_shards=1)
