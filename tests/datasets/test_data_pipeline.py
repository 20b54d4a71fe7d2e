"""Round trip PNG files -> TFRecord -> data_generator batches, and conversion errors."""
import inspect
import io
import os

import numpy as np
import pytest
from PIL import Image

import slim  # noqa: F401
import tensorflow as tf

from datasets import build_data
from datasets import build_voc2012_data
from datasets import data_generator
from datasets import sample_keys
from deeplab import common
from deeplab import input_preprocess

_SIZE = (21, 17)  # height, width


def _png(array, mode):
  buf = io.BytesIO()
  Image.fromarray(array, mode=mode).save(buf, format='PNG')
  return buf.getvalue()


def _write_voc(root, names, images, labels, split='val'):
  """Writes a tiny VOC-layout folder; returns (list_path, image_dir, label_dir)."""
  image_dir = os.path.join(root, 'images')
  label_dir = os.path.join(root, 'labels')
  os.makedirs(image_dir)
  os.makedirs(label_dir)
  for name, image, label in zip(names, images, labels):
    with open(os.path.join(image_dir, name + '.png'), 'wb') as f:
      f.write(_png(image, 'RGB'))
    with open(os.path.join(label_dir, name + '.png'), 'wb') as f:
      f.write(_png(label, 'L'))
  list_path = os.path.join(root, split + '.txt')
  with open(list_path, 'w') as f:
    f.write(''.join(n + '\n' for n in names))
  return list_path, image_dir, label_dir


def _random_pair(rng, size=_SIZE):
  image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
  label = rng.integers(0, 6, size, dtype=np.uint8)
  label[0, :] = 255
  return image, label


def testRoundTrip_PngToBatchEqualsSource(tmp_path):
  rng = np.random.default_rng(0)
  names = ['a', 'b', 'c']
  pairs = [_random_pair(rng) for _ in names]
  list_path, image_dir, label_dir = _write_voc(
      str(tmp_path), names, [p[0] for p in pairs], [p[1] for p in pairs])
  out_dir = str(tmp_path / 'tfrecord')
  paths = build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                             image_format='png', num_classes=6)
  assert [os.path.basename(p) for p in paths] == ['val-%05d-of-00004.tfrecord' % i
                                                  for i in range(4)]
  dataset = data_generator.Dataset('synthetic', 'val', out_dir, batch_size=1,
                                   crop_size=list(_SIZE), is_training=False,
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  sample = dataset.get_one_shot_iterator().get_next()
  seen = {}
  with tf.compat.v1.Session() as sess:
    for _ in names:
      values = sess.run(sample)
      seen[values[common.IMAGE_NAME][0].decode()] = values
    with pytest.raises(tf.errors.OutOfRangeError):
      sess.run(sample)
  assert sorted(seen) == names
  for name, (image, label) in zip(names, pairs):
    values = seen[name]
    np.testing.assert_array_equal(values[common.IMAGE][0], image.astype(np.float32))
    np.testing.assert_array_equal(values[common.ORIGINAL_IMAGE][0], image)
    np.testing.assert_array_equal(values[common.LABEL][0, ..., 0], label)
    assert values[common.HEIGHT][0] == _SIZE[0] and values[common.WIDTH][0] == _SIZE[1]


def testTrainingDataset_BatchesCropsWithoutOriginalImage(tmp_path):
  rng = np.random.default_rng(3)
  pairs = [_random_pair(rng) for _ in range(2)]
  list_path, image_dir, label_dir = _write_voc(
      str(tmp_path), ['p', 'q'], [p[0] for p in pairs], [p[1] for p in pairs], split='train')
  out_dir = str(tmp_path / 'tfrecord')
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6)
  dataset = data_generator.Dataset('synthetic', 'train', out_dir, batch_size=2, crop_size=[9, 11],
                                   min_scale_factor=0.5, max_scale_factor=1.5,
                                   scale_factor_step_size=0.25, model_variant='mobilenet_v2',
                                   is_training=True, should_shuffle=True, should_repeat=True,
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  sample = dataset.get_one_shot_iterator().get_next()
  assert common.ORIGINAL_IMAGE not in sample
  with tf.compat.v1.Session() as sess:
    for _ in range(3):
      values = sess.run(sample)
      assert values[common.IMAGE].shape == (2, 9, 11, 3)
      assert values[common.LABEL].shape == (2, 9, 11, 1)


def testConvert_MissingListFileRaises(tmp_path):
  with pytest.raises(build_data.DatasetBuildError, match='split list file not found'):
    build_voc2012_data.convert_dataset(str(tmp_path / 'train.txt'), str(tmp_path),
                                       str(tmp_path), str(tmp_path / 'out'))


def testConvert_EmptySplitRaises(tmp_path):
  list_path = tmp_path / 'train.txt'
  list_path.write_text('\n')
  with pytest.raises(build_data.DatasetBuildError, match='empty'):
    build_voc2012_data.convert_dataset(str(list_path), str(tmp_path), str(tmp_path),
                                       str(tmp_path / 'out'))


def testConvert_LabelSizeMismatchRaisesNamingFile(tmp_path):
  rng = np.random.default_rng(1)
  image, _ = _random_pair(rng)
  label = np.zeros((_SIZE[0] + 1, _SIZE[1]), np.uint8)
  list_path, image_dir, label_dir = _write_voc(str(tmp_path), ['x'], [image], [label])
  with pytest.raises(build_data.DatasetBuildError, match=r'x\.png: label size 22x17 .* 21x17'):
    build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, str(tmp_path / 'out'),
                                       image_format='png', num_classes=6)
  assert not os.listdir(str(tmp_path / 'out'))  # No partial shard is left behind.


def testConvert_LabelValueOutOfRangeRaises(tmp_path):
  rng = np.random.default_rng(2)
  image, label = _random_pair(rng)
  label[3, 3] = 7
  list_path, image_dir, label_dir = _write_voc(str(tmp_path), ['y'], [image], [label])
  with pytest.raises(build_data.DatasetBuildError, match=r'y\.png: label values \[7\]'):
    build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, str(tmp_path / 'out'),
                                       image_format='png', num_classes=6)


def testDataset_NoShardsRaises(tmp_path):
  dataset = data_generator.Dataset('pascal_voc_seg', 'val', str(tmp_path), batch_size=1,
                                   crop_size=[33, 33],
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  with pytest.raises(build_data.DatasetBuildError, match='no TFRecord files for split'):
    dataset.get_one_shot_iterator()


def testDataset_UnknownSplitRaises(tmp_path):
  with pytest.raises(ValueError, match='Unknown split'):
    data_generator.Dataset('ade20k', 'trainval', str(tmp_path), batch_size=1, crop_size=[33, 33])


def testDescriptors_MatchOriginal():
  voc = data_generator.get_descriptor('pascal_voc_seg')
  assert (voc.num_classes, voc.ignore_label) == (21, 255)
  assert voc.splits_to_sizes == {'train': 1464, 'train_aug': 10582, 'trainval': 2913, 'val': 1449}
  assert data_generator.get_descriptor('ade20k').ignore_label == 0
  assert data_generator.get_descriptor('cityscapes').num_classes == 19
  assert data_generator.get_descriptor('synthetic').num_classes == 6


def testDataset_WithoutPreprocessFnRaisesNamingTheFunction(tmp_path):
  dataset = data_generator.Dataset('pascal_voc_seg', 'val', str(tmp_path), batch_size=1,
                                   crop_size=[33, 33])
  assert dataset.num_of_classes == 21  # The descriptor fields need no preprocess_fn.
  with pytest.raises(ValueError) as e:
    dataset.get_one_shot_iterator()
  assert str(e.value) == (
      "Dataset('pascal_voc_seg', 'val') has no preprocess_fn: pass "
      'preprocess_fn=deeplab.input_preprocess.preprocess_image_and_label (or a function taking '
      'its keywords and returning (original_image, processed_image, label)) to build the '
      'iterator')


def testPreprocessKeywords_AreThoseOfDeeplabPreprocess():
  parameters = inspect.signature(input_preprocess.preprocess_image_and_label).parameters
  assert tuple(parameters) == data_generator.PREPROCESS_KEYWORDS


def testDataset_CallsPreprocessFnWithItsKeywordsAndUsesItsOutputs(tmp_path):
  rng = np.random.default_rng(4)
  image, label = _random_pair(rng)
  list_path, image_dir, label_dir = _write_voc(str(tmp_path), ['z'], [image], [label])
  out_dir = str(tmp_path / 'tfrecord')
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6)
  calls = []

  def preprocess_fn(**kwargs):
    calls.append(kwargs)
    # Marks each output so the test sees which one lands under which key.
    return (kwargs['image'] + 1, tf.cast(kwargs['image'], tf.float32) * 2.,
            255 - kwargs['label'])

  dataset = data_generator.Dataset('synthetic', 'val', out_dir, batch_size=1,
                                   crop_size=list(_SIZE), min_resize_value=5, resize_factor=2,
                                   model_variant='mobilenet_v2', preprocess_fn=preprocess_fn)
  sample = dataset.get_one_shot_iterator().get_next()
  assert len(calls) == 1
  assert set(calls[0]) == set(data_generator.PREPROCESS_KEYWORDS)
  assert {k: v for k, v in calls[0].items() if k not in ('image', 'label')} == {
      'crop_height': _SIZE[0], 'crop_width': _SIZE[1], 'min_resize_value': 5,
      'max_resize_value': None, 'resize_factor': 2, 'min_scale_factor': 1.,
      'max_scale_factor': 1., 'scale_factor_step_size': 0, 'ignore_label': 255,
      'is_training': False, 'model_variant': 'mobilenet_v2'}
  assert common.LABELS_CLASS not in sample
  with tf.compat.v1.Session() as sess:
    values = sess.run(sample)
  np.testing.assert_array_equal(values[common.ORIGINAL_IMAGE][0], image + 1)
  np.testing.assert_array_equal(values[common.IMAGE][0], image.astype(np.float32) * 2.)
  np.testing.assert_array_equal(values[common.LABEL][0, ..., 0], 255 - label)


def testSampleKeys_KeepTheOriginalNames():
  assert {name: getattr(sample_keys, name) for name in (
      'LABELS_CLASS', 'IMAGE', 'HEIGHT', 'WIDTH', 'IMAGE_NAME', 'LABEL', 'ORIGINAL_IMAGE',
      'TEST_SET')} == {
          'LABELS_CLASS': 'labels_class', 'IMAGE': 'image', 'HEIGHT': 'height',
          'WIDTH': 'width', 'IMAGE_NAME': 'image_name', 'LABEL': 'label',
          'ORIGINAL_IMAGE': 'original_image', 'TEST_SET': 'test'}
  for name in ('LABELS_CLASS', 'IMAGE', 'LABEL', 'ORIGINAL_IMAGE', 'TEST_SET'):
    assert getattr(common, name) == getattr(sample_keys, name), name


def _four_pairs(tmp_path, corrupt_index=None):
  rng = np.random.default_rng(3)
  names = ['p%d' % i for i in range(4)]
  pairs = [_random_pair(rng) for _ in names]
  list_path, image_dir, label_dir = _write_voc(str(tmp_path), names, [p[0] for p in pairs],
                                               [p[1] for p in pairs])
  if corrupt_index is not None:
    with open(os.path.join(image_dir, names[corrupt_index] + '.png'), 'wb') as f:
      f.write(b'\x89PNG not really')
  return list_path, image_dir, label_dir


def testConvert_CorruptThirdImageLeavesNoShardAtAll(tmp_path):
  list_path, image_dir, label_dir = _four_pairs(tmp_path, corrupt_index=2)
  out_dir = str(tmp_path / 'out')
  with pytest.raises(build_data.DatasetBuildError, match=r'p2\.png'):
    build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                       image_format='png', num_classes=6, num_shards=4)
  # Shards 0 and 1 (complete before the failure) were never published: nothing is left.
  assert os.listdir(out_dir) == []


def testConvert_RebuildWithOtherShardCountRemovesTheStaleSet(tmp_path):
  list_path, image_dir, label_dir = _four_pairs(tmp_path)
  out_dir = str(tmp_path / 'out')
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6, num_shards=4)
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6, num_shards=2)
  assert sorted(os.listdir(out_dir)) == ['val-00000-of-00002.tfrecord',
                                         'val-00001-of-00002.tfrecord']


def testDataset_MissingShardsAreRefusedNamingThem(tmp_path):
  list_path, image_dir, label_dir = _four_pairs(tmp_path)
  out_dir = str(tmp_path / 'out')
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6, num_shards=4)
  os.remove(os.path.join(out_dir, 'val-00002-of-00004.tfrecord'))
  os.remove(os.path.join(out_dir, 'val-00003-of-00004.tfrecord'))
  dataset = data_generator.Dataset('pascal_voc_seg', 'val', out_dir, batch_size=1,
                                   crop_size=[33, 33],
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  with pytest.raises(build_data.DatasetBuildError,
                     match=r"^.*out: split 'val' has 2 of its 4 shards; missing "
                           r"val-00002-of-00004.tfrecord, val-00003-of-00004.tfrecord "
                           r"\(an interrupted build or copy\?\): rebuild the split$"):
    dataset.get_one_shot_iterator()


def _eval_dataset(out_dir, crop_size):
  return data_generator.Dataset('pascal_voc_seg', 'val', out_dir, batch_size=1,
                                crop_size=crop_size,
                                preprocess_fn=input_preprocess.preprocess_image_and_label)


def _read_all(dataset, crop_flag):
  with tf.Graph().as_default():
    samples = dataset.get_one_shot_iterator().get_next()
    with tf.compat.v1.Session() as sess:
      with dataset.explained_errors(crop_flag):
        while True:
          try:
            sess.run(samples[common.IMAGE])
          except tf.errors.OutOfRangeError:
            return


def testDataset_EvalCropSmallerThanTheImagesSaysTheMinimumCrop(tmp_path):
  list_path, image_dir, label_dir = _four_pairs(tmp_path)
  out_dir = str(tmp_path / 'out')
  build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                     image_format='png', num_classes=6, num_shards=1)
  with pytest.raises(build_data.DatasetBuildError,
                     match=r"^--eval_crop_size=9,9 is smaller than the images of split 'val' "
                           r"\(up to 21x17, e.g. p0\): evaluation pads each image to the crop, "
                           r"so it must be at least 21,17$"):
    _read_all(_eval_dataset(out_dir, [9, 9]), 'eval_crop_size')
  _read_all(_eval_dataset(out_dir, [21, 17]), 'eval_crop_size')  # The minimum works.


def testDataset_TruncatedShardIsNamed(tmp_path):
  list_path, image_dir, label_dir = _four_pairs(tmp_path)
  out_dir = str(tmp_path / 'out')
  paths = build_voc2012_data.convert_dataset(list_path, image_dir, label_dir, out_dir,
                                             image_format='png', num_classes=6, num_shards=2)
  with open(paths[1], 'rb') as f:
    data = f.read()
  with open(paths[1], 'wb') as f:
    f.write(data[:-10])  # Cut inside the last record.
  with pytest.raises(build_data.DatasetBuildError,
                     match=r"^.*out/val-00001-of-00002.tfrecord: truncated or corrupt TFRecord "
                           r"shard of split 'val' \(.+\); rebuild the split$"):
    _read_all(_eval_dataset(out_dir, [33, 33]), 'eval_crop_size')
