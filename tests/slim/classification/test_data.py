"""Folder -> TFRecord builder, the classification reader and the synthetic set."""
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from datasets import build_classification_data
from datasets import build_data
from datasets import synthetic_classification
from slim import classification_data
from slim.preprocessing import preprocessing_factory


def _write_folder(root, classes_to_colours, size=(20, 24)):
  """Writes <root>/<class>/img_<i>.{jpg,png}: solid-colour images, two per class."""
  for name, colour in classes_to_colours.items():
    os.makedirs(os.path.join(root, name))
    for i, ext in enumerate(('png', 'jpg')):
      image = np.full(size + (3,), colour, np.uint8)
      Image.fromarray(image).save(os.path.join(root, name, 'img_%d.%s' % (i, ext)))


def testConvertFolder_RoundTripsLabelsAndPixels(tmp_path):
  colours = {'cat': (250, 0, 0), 'ant': (0, 250, 0), 'dog': (0, 0, 250)}
  _write_folder(str(tmp_path / 'images'), colours)
  out = str(tmp_path / 'records')
  class_names, count = build_classification_data.convert_folder(
      str(tmp_path / 'images'), out, 'train', num_shards=2)
  assert class_names == ['ant', 'cat', 'dog']  # Sorted folder names define the ids.
  assert count == 6
  assert sorted(os.listdir(out)) == ['labels.txt', 'train-00000-of-00002.tfrecord',
                                     'train-00001-of-00002.tfrecord']
  assert build_classification_data.read_label_file(out) == {0: 'ant', 1: 'cat', 2: 'dog'}

  records = []
  for path in sorted(tf.io.gfile.glob(os.path.join(out, 'train-*'))):
    for raw in tf.compat.v1.io.tf_record_iterator(path):
      records.append(tf.train.Example.FromString(raw).features.feature)
  assert len(records) == 6
  for feature in records:
    assert feature['image/height'].int64_list.value == [20]
    assert feature['image/width'].int64_list.value == [24]
    assert feature['image/format'].bytes_list.value[0] in (b'png', b'jpeg')

  descriptor = classification_data.get_dataset('folder', 'train', out)
  assert descriptor.num_classes == 3
  seen = []
  for images, labels in classification_data.iterate_numpy(
      descriptor, lambda image, h, w: tf.image.resize(tf.cast(image, tf.float32), [h, w]),
      image_size=20, batch_size=4):
    for image, label in zip(images, labels):
      # The decoded colour identifies the class (JPEG keeps a solid colour within a few levels).
      expected = colours[class_names[label]]
      np.testing.assert_allclose(image.mean(axis=(0, 1)), expected, atol=4)
      seen.append(int(label))
  assert sorted(seen) == [0, 0, 1, 1, 2, 2]


def testConvertFolder_MissingOrEmptyFolderRaises(tmp_path):
  with pytest.raises(build_data.DatasetBuildError, match='folder not found'):
    build_classification_data.convert_folder(str(tmp_path / 'nope'), str(tmp_path), 'train')
  (tmp_path / 'empty').mkdir()
  with pytest.raises(build_data.DatasetBuildError, match='one sub-folder per class'):
    build_classification_data.convert_folder(str(tmp_path / 'empty'), str(tmp_path), 'train')
  (tmp_path / 'empty' / 'cls').mkdir()
  with pytest.raises(build_data.DatasetBuildError, match='no .jpg/.jpeg/.png image'):
    build_classification_data.convert_folder(str(tmp_path / 'empty'), str(tmp_path), 'train')


def testGetDataset_BadInputRaises(tmp_path):
  with pytest.raises(ValueError, match=r"Unknown --dataset_name 'cifar'; valid names: folder, "
                     r'imagenet, synthetic_classification'):
    classification_data.get_dataset('cifar', 'train', str(tmp_path))
  with pytest.raises(ValueError, match='folder not found'):
    classification_data.get_dataset('folder', 'train', str(tmp_path / 'missing'))
  with pytest.raises(ValueError, match="no TFRecord shard matching 'train-\\*' for split 'train'"):
    classification_data.get_dataset('folder', 'train', str(tmp_path))


def testSyntheticGenerate_IsDeterministicAndBalanced(tmp_path):
  a = synthetic_classification.generate(str(tmp_path / 'a'), seed=3, num_train=20,
                                        num_validation=10, size=32)
  synthetic_classification.generate(str(tmp_path / 'b'), seed=3, num_train=20,
                                    num_validation=10, size=32)
  assert a == {'train': 20, 'validation': 10}
  raw = tmp_path / 'a' / synthetic_classification.RAW_DIR / 'train'
  assert sorted(os.listdir(raw)) == sorted(synthetic_classification.CLASS_NAMES)
  for name in synthetic_classification.CLASS_NAMES:
    files = sorted(os.listdir(raw / name))
    assert len(files) == 2
    for f in files:
      other = tmp_path / 'b' / synthetic_classification.RAW_DIR / 'train' / name / f
      assert (raw / name / f).read_bytes() == other.read_bytes()
  with pytest.raises(ValueError, match='num_validation must be >= 10'):
    synthetic_classification.generate(str(tmp_path / 'c'), num_train=10, num_validation=5)


def testPreprocessing_RangesAndUnknownName():
  image = tf.constant(np.array([[[0, 255, 128]] * 8] * 8, np.uint8))
  mobilenet = preprocessing_factory.get_preprocessing('mobilenet_v2')(image, 4, 4)
  vgg = preprocessing_factory.get_preprocessing('vgg')(image, 4, 4)
  train = preprocessing_factory.get_preprocessing('mobilenet_v2', is_training=True)(image, 6, 6)
  with tf.compat.v1.Session() as sess:
    m, v, t = sess.run([mobilenet, vgg, train])
  np.testing.assert_allclose(m[0, 0], [-1.0, 1.0, 0.5 / 127.5], atol=1e-5)
  np.testing.assert_allclose(v[0, 0], [-123.68, 255 - 116.78, 128 - 103.94], atol=1e-3)
  assert t.shape == (6, 6, 3) and t.min() >= -1.0 and t.max() <= 1.0
  assert preprocessing_factory.input_stats('mobilenet') == (127.5, 127.5)
  with pytest.raises(ValueError, match="Unknown preprocessing name 'lenet'; valid names: "
                     'inception, inception_v3, mobilenet'):
    preprocessing_factory.get_preprocessing('lenet')
