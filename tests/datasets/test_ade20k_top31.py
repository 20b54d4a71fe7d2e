"""build_ade20k_data --top_classes (MLPerf Mobile's ADE20K top-31) and its dataset descriptor."""
import glob
import io
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from datasets import build_ade20k_data
from datasets import build_data
from datasets import data_generator


def _write_pair(root, name, label):
  for folder, array, fmt in (('images', np.zeros(label.shape + (3,), np.uint8), 'JPEG'),
                             ('annotations', label, 'PNG')):
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    Image.fromarray(array).save(
        os.path.join(root, folder, name + ('.jpg' if fmt == 'JPEG' else '.png')), format=fmt)
  return os.path.join(root, 'images'), os.path.join(root, 'annotations')


def _labels(output_dir, split):
  labels = []
  for path in sorted(glob.glob(os.path.join(output_dir, split + '-*'))):
    for record in tf.compat.v1.io.tf_record_iterator(path):
      example = tf.train.Example.FromString(record)
      data = example.features.feature[build_data.LABEL_ENCODED].bytes_list.value[0]
      labels.append(np.array(Image.open(io.BytesIO(data))))
  return labels


def testTopClasses_OtherClassesBecomeTheIgnoreLabel(tmp_path):
  label = np.arange(0, 151, dtype=np.uint8).reshape(1, 151).repeat(2, axis=0)
  images, annotations = _write_pair(str(tmp_path / 'src'), 'ADE_val_00000001', label)
  out = str(tmp_path / 'out')
  build_ade20k_data.convert_dataset('val', images, annotations, out,
                                    top_classes=build_ade20k_data.MLPERF_TOP_CLASSES)
  (written,) = _labels(out, 'val')
  expected = np.where(label <= 31, label, 0)
  np.testing.assert_array_equal(written, expected)
  assert sorted(set(written.ravel())) == list(range(32))


def testTopClasses_ZeroKeepsEveryClass(tmp_path):
  label = np.arange(0, 151, dtype=np.uint8).reshape(1, 151)
  images, annotations = _write_pair(str(tmp_path / 'src'), 'ADE_val_00000001', label)
  build_ade20k_data.convert_dataset('val', images, annotations, str(tmp_path / 'out'))
  np.testing.assert_array_equal(_labels(str(tmp_path / 'out'), 'val')[0], label)


def testTopClasses_OutOfRangeNamesTheFlag(tmp_path):
  opts = build_ade20k_data.BuildOptions(top_classes=151, output_dir=str(tmp_path))
  with pytest.raises(build_data.DatasetBuildError, match='--top_classes=151: expected 0'):
    build_ade20k_data.build(opts)


def testDescriptor_Top31():
  descriptor = data_generator.get_dataset_descriptor('ade20k_top31')
  assert (descriptor.num_classes, descriptor.ignore_label) == (32, 0)
