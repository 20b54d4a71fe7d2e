"""The real-dataset builders and shell scripts on tiny folders in the official layouts.

Each test makes a few tiny images in the PASCAL VOC 2012, Cityscapes or ADE20K layout (archives
included), runs the shell script as a subprocess (SKIP_SETUP_ENV=1, no reinstall) or the builder
library, and reads the shards back with datasets.data_generator to compare pixels and labels.
"""
import io
import os
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image

import slim  # noqa: F401
import tensorflow as tf

from datasets import build_ade20k_data
from datasets import build_cityscapes_data
from datasets import build_data
from datasets import data_generator
from deeplab import common
from deeplab import input_preprocess
from tests import helpers

_SIZE = (9, 13)  # height, width of every test image


# ---------------------------------------------------------------------------------------------
# Fixture helpers.

def _encode(array, fmt, mode=None, palette=False):
  """Encodes an array as PNG/JPEG bytes; palette=True makes a VOC-style palette ('P') PNG."""
  image = Image.fromarray(array, mode='P' if palette else mode)
  if palette:
    image.putpalette([v % 256 for v in range(768)])
  buf = io.BytesIO()
  image.save(buf, format=fmt)
  return buf.getvalue()


def _write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data)


def _rgb(rng, size=_SIZE):
  return rng.integers(0, 256, size + (3,), dtype=np.uint8)


def _read_split(dataset_name, split, tfrecord_dir, size=_SIZE):
  """Reads every example of a split with data_generator; returns {image name: (image, label)}."""
  dataset = data_generator.Dataset(dataset_name, split, tfrecord_dir, batch_size=1,
                                   crop_size=list(size), is_training=False,
                                   preprocess_fn=input_preprocess.preprocess_image_and_label)
  sample = dataset.get_one_shot_iterator().get_next()
  seen = {}
  with tf.compat.v1.Session() as sess:
    while True:
      try:
        values = sess.run(sample)
      except tf.errors.OutOfRangeError:
        break
      seen[values[common.IMAGE_NAME][0].decode()] = (values[common.ORIGINAL_IMAGE][0],
                                                     values[common.LABEL][0, ..., 0])
  return seen


def _decode_jpeg(data):
  """Decodes JPEG bytes with TF's decoder (the one data_generator uses)."""
  with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
    return sess.run(tf.io.decode_jpeg(data, channels=3))


def _shard_names(folder):
  return sorted(os.listdir(folder))


def _no_tmp_left(root):
  leftovers = [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files
               if '.tmp-' in n or '.old-' in n]
  assert not leftovers


# ---------------------------------------------------------------------------------------------
# PASCAL VOC 2012.

def _make_voc_tar(root, rng):
  """Writes VOCtrainval_11-May-2012.tar with 3 images; returns (tar path, jpegs, labels)."""
  voc = os.path.join(root, 'src', 'VOCdevkit', 'VOC2012')
  jpegs, labels = {}, {}
  for name in ('2007_000032', '2007_000039', '2007_000063'):
    jpegs[name] = _encode(_rgb(rng), 'JPEG')
    labels[name] = rng.integers(0, 21, _SIZE, dtype=np.uint8)
    labels[name][0, :] = 255
    _write(os.path.join(voc, 'JPEGImages', name + '.jpg'), jpegs[name])
    _write(os.path.join(voc, 'SegmentationClass', name + '.png'),
           _encode(labels[name], 'PNG', palette=True))
  lists = os.path.join(voc, 'ImageSets', 'Segmentation')
  _write(os.path.join(lists, 'train.txt'), b'2007_000032\n2007_000039\n')
  _write(os.path.join(lists, 'val.txt'), b'2007_000063\n')
  tar_path = os.path.join(root, 'VOCtrainval_11-May-2012.tar')
  with tarfile.open(tar_path, 'w') as tar:
    tar.add(os.path.join(root, 'src', 'VOCdevkit'), arcname='VOCdevkit')
  return tar_path, jpegs, labels


def testVocScript_TarAndAugZipToShards(tmp_path):
  rng = np.random.default_rng(0)
  tar_path, jpegs, labels = _make_voc_tar(str(tmp_path), rng)
  # SegmentationClassAug.zip: grayscale class-id PNGs; its list uses the "image label" line form.
  aug_labels = {name: rng.integers(0, 21, _SIZE, dtype=np.uint8) for name in jpegs}
  aug_zip = str(tmp_path / 'SegmentationClassAug.zip')
  with zipfile.ZipFile(aug_zip, 'w') as z:
    for name, label in aug_labels.items():
      z.writestr('SegmentationClassAug/%s.png' % name, _encode(label, 'PNG', mode='L'))
  aug_list = tmp_path / 'train_aug.txt'
  aug_list.write_text(''.join('/JPEGImages/%s.jpg /SegmentationClassAug/%s.png\n' % (n, n)
                              for n in sorted(jpegs)))
  work = str(tmp_path / 'pascal_voc_seg')

  result = helpers.run_script('download_and_convert_voc2012.sh', [tar_path],
                       env={'WORK_DIR': work, 'VOC_AUG_LABELS': aug_zip,
                            'VOC_AUG_LIST': str(aug_list)})

  assert result.returncode == 0, result.stderr
  tfrecord = os.path.join(work, 'tfrecord')
  assert _shard_names(tfrecord) == sorted('%s-%05d-of-00004.tfrecord' % (split, i)
                                          for split in ('train', 'train_aug', 'val')
                                          for i in range(4))
  raw = np.asarray(Image.open(os.path.join(work, 'VOCdevkit', 'VOC2012', 'SegmentationClassRaw',
                                           '2007_000063.png')))
  np.testing.assert_array_equal(raw, labels['2007_000063'])
  expected_splits = {'train': ['2007_000032', '2007_000039'], 'val': ['2007_000063'],
                     'train_aug': sorted(jpegs)}
  for split, names in expected_splits.items():
    seen = _read_split('pascal_voc_seg', split, tfrecord)
    assert sorted(seen) == names
    for name in names:
      image, label = seen[name]
      np.testing.assert_array_equal(image, _decode_jpeg(jpegs[name]))
      np.testing.assert_array_equal(label, (aug_labels if split == 'train_aug' else labels)[name])
  _no_tmp_left(work)


def testVocScript_MissingArchivePrintsWhatToDownload(tmp_path):
  work = str(tmp_path / 'pascal_voc_seg')
  result = helpers.run_script('download_and_convert_voc2012.sh', env={'WORK_DIR': work})
  assert result.returncode == 1
  tar = os.path.join(work, 'VOCtrainval_11-May-2012.tar')
  assert result.stderr.splitlines()[:5] == [
      'ERROR: PASCAL VOC 2012 not found: %s does not exist.' % tar,
      'This script does not download anything. Download',
      '  http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar',
      '(file VOCtrainval_11-May-2012.tar, 1.9 GB) and put it at',
      '  %s' % tar]
  assert not os.path.exists(work)


def testVocScript_AugLabelsWithoutListFails(tmp_path):
  voc = tmp_path / 'VOC2012'
  (voc / 'JPEGImages').mkdir(parents=True)
  result = helpers.run_script('download_and_convert_voc2012.sh', [str(voc)],
                       env={'WORK_DIR': str(tmp_path / 'w'), 'VOC_AUG_LABELS': str(tmp_path)})
  assert result.returncode == 1
  assert result.stderr.startswith('ERROR: train_aug needs both VOC_AUG_LABELS '
                                  '(SegmentationClassAug folder or .zip) and VOC_AUG_LIST '
                                  '(train_aug.txt)')


def testVocScript_FolderWithoutVoc2012Fails(tmp_path):
  (tmp_path / 'VOCdevkit' / 'VOC2012' / 'JPEGImages').mkdir(parents=True)
  result = helpers.run_script('download_and_convert_voc2012.sh', [str(tmp_path)],
                       env={'WORK_DIR': str(tmp_path / 'w')})
  assert result.returncode == 1
  assert result.stderr == ('ERROR: %s: no VOC2012 folder (expected JPEGImages/ and '
                           'SegmentationClass/ in it, in VOC2012/ or in VOCdevkit/VOC2012/)\n'
                           % tmp_path)


# ---------------------------------------------------------------------------------------------
# Cityscapes.

_CITYSCAPES_FILES = {  # split -> [(city, name)]
    'train': [('aachen', 'aachen_000000_000019'), ('bochum', 'bochum_000000_000313')],
    'val': [('frankfurt', 'frankfurt_000000_000294')],
    'test': [('berlin', 'berlin_000000_000019')],
}


def _make_cityscapes(root, rng, zip_gtfine=True):
  """Writes leftImg8bit/ and gtFine (labelIds) in the official layout; returns the pixels.

  Returns:
    {name: (rgb array, labelIds array)}.
  """
  pixels = {}
  gt_files = {}
  for split, entries in _CITYSCAPES_FILES.items():
    for city, name in entries:
      image = _rgb(rng)
      label_ids = rng.integers(0, 35, _SIZE, dtype=np.uint8)  # 34 is not a Cityscapes id.
      pixels[name] = (image, label_ids)
      _write(os.path.join(root, 'leftImg8bit', split, city, name + '_leftImg8bit.png'),
             _encode(image, 'PNG'))
      gt_files['gtFine/%s/%s/%s_gtFine_labelIds.png' % (split, city, name)] = _encode(
          label_ids, 'PNG', mode='L')
      gt_files['gtFine/%s/%s/%s_gtFine_polygons.json' % (split, city, name)] = b'{}'
  if zip_gtfine:
    with zipfile.ZipFile(os.path.join(root, 'gtFine_trainvaltest.zip'), 'w') as z:
      z.writestr('README', b'Cityscapes')
      for member, data in gt_files.items():
        z.writestr(member, data)
  else:
    for member, data in gt_files.items():
      _write(os.path.join(root, member), data)
  return pixels


def testCityscapesScript_GtFineZipToShards(tmp_path):
  root = str(tmp_path / 'cityscapes')
  pixels = _make_cityscapes(root, np.random.default_rng(1))

  result = helpers.run_script('convert_cityscapes.sh', [root])

  assert result.returncode == 0, result.stderr
  tfrecord = os.path.join(root, 'tfrecord')
  assert _shard_names(tfrecord) == sorted('%s_fine-%05d-of-00010.tfrecord' % (split, i)
                                          for split in ('train', 'val', 'test')
                                          for i in range(10))
  train_ids = np.asarray(Image.open(os.path.join(
      root, 'gtFine', 'val', 'frankfurt', 'frankfurt_000000_000294_gtFine_labelTrainIds.png')))
  np.testing.assert_array_equal(
      train_ids, build_cityscapes_data.label_ids_to_train_ids(pixels['frankfurt_000000_000294'][1]))
  for split, entries in _CITYSCAPES_FILES.items():
    seen = _read_split('cityscapes', split + '_fine', tfrecord)
    assert sorted(seen) == sorted(name for _, name in entries)
    for name, (image, label) in seen.items():
      np.testing.assert_array_equal(image, pixels[name][0])
      np.testing.assert_array_equal(
          label, build_cityscapes_data.label_ids_to_train_ids(pixels[name][1]))
  _no_tmp_left(root)


def testCityscapesScript_BadLabelLeavesNoTfrecord(tmp_path):
  root = str(tmp_path / 'cityscapes')
  _make_cityscapes(root, np.random.default_rng(2), zip_gtfine=False)
  # The val label is one row short: train shards get written, then the val split fails.
  bad = os.path.join(root, 'gtFine', 'val', 'frankfurt',
                     'frankfurt_000000_000294_gtFine_labelIds.png')
  _write(bad, _encode(np.zeros((_SIZE[0] - 1, _SIZE[1]), np.uint8), 'PNG', mode='L'))

  result = helpers.run_script('convert_cityscapes.sh', [root])

  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1] == (
      'ERROR: %s: label size 8x13 does not match image size 9x13'
      % bad.replace('_labelIds', '_labelTrainIds'))
  assert not os.path.exists(os.path.join(root, 'tfrecord'))
  _no_tmp_left(root)


def testCityscapesScript_MissingZipsPrintWhatToDownload(tmp_path):
  root = str(tmp_path / 'cityscapes')
  result = helpers.run_script('convert_cityscapes.sh', env={'CITYSCAPES_ROOT': root})
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      'ERROR: Cityscapes not found under %s.' % root,
      'This script does not download anything. Register and download from',
      '  https://www.cityscapes-dataset.com/downloads/',
      '  gtFine_trainvaltest.zip (241 MB, package 1): put it at %s/gtFine_trainvaltest.zip or '
      'extract it so that %s/gtFine/ exists' % (root, root),
      '  leftImg8bit_trainvaltest.zip (11 GB, package 3): put it at '
      '%s/leftImg8bit_trainvaltest.zip or extract it so that %s/leftImg8bit/ exists'
      % (root, root),
      'then run: bash scripts/convert_cityscapes.sh %s' % root]


def testCityscapesLabelTable_MapsIdsToTheNineteenTrainIds():
  ids = np.arange(256, dtype=np.uint8)
  train_ids = build_cityscapes_data.label_ids_to_train_ids(ids)
  eval_ids = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
  expected = np.full(256, 255, np.uint8)
  expected[eval_ids] = np.arange(19)
  np.testing.assert_array_equal(train_ids, expected)
  assert build_cityscapes_data.TRAIN_ID_TO_ID == tuple(eval_ids)


def testCityscapesCreateLabelTrainIds_KeepsExistingFiles(tmp_path):
  root = str(tmp_path)
  _make_cityscapes(root, np.random.default_rng(3), zip_gtfine=False)
  assert build_cityscapes_data.create_label_trainids(root) == 4
  assert build_cityscapes_data.create_label_trainids(root) == 0
  assert build_cityscapes_data.create_label_trainids(root, overwrite=True) == 4


def testCityscapesCreateLabelTrainIds_NoLabelIdsRaises(tmp_path):
  pattern = os.path.join(str(tmp_path), 'gtFine', '*', '*', '*_gtFine_labelIds.png')
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_cityscapes_data.create_label_trainids(str(tmp_path))
  assert str(e.value) == (
      '%s: no label files found (expected gtFine/<split>/<city>/<name>_gtFine_labelIds.png '
      'from gtFine_trainvaltest.zip)' % pattern)


def testCityscapesListPairs_MissingLabelRaises(tmp_path):
  root = str(tmp_path)
  _make_cityscapes(root, np.random.default_rng(4), zip_gtfine=False)
  build_cityscapes_data.create_label_trainids(root)
  label = os.path.join(root, 'gtFine', 'train', 'bochum',
                       'bochum_000000_000313_gtFine_labelTrainIds.png')
  os.remove(label)
  image = os.path.join(root, 'leftImg8bit', 'train', 'bochum',
                       'bochum_000000_000313_leftImg8bit.png')
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_cityscapes_data.convert_dataset(root, 'train', str(tmp_path / 'out'))
  assert str(e.value) == ('%s: no label %s (run with --create_label_trainids to make it from '
                          'bochum/bochum_000000_000313_gtFine_labelIds.png)' % (image, label))
  assert not os.path.exists(str(tmp_path / 'out'))


def testCityscapesListPairs_LabelWithoutImageRaises(tmp_path):
  root = str(tmp_path)
  _make_cityscapes(root, np.random.default_rng(5), zip_gtfine=False)
  build_cityscapes_data.create_label_trainids(root)
  image = os.path.join(root, 'leftImg8bit', 'val', 'frankfurt',
                       'frankfurt_000000_000294_leftImg8bit.png')
  os.remove(image)
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_cityscapes_data.list_pairs(root, 'val')
  assert str(e.value) == ('%s: no images found (expected leftImg8bit/val/<city>/'
                          '<name>_leftImg8bit.png)' % os.path.join(root, 'leftImg8bit', 'val'))
  city = os.path.join(root, '%s', 'val', 'lindau', 'lindau_000000_000019')
  _write(city % 'leftImg8bit' + '_leftImg8bit.png', _encode(_rgb(np.random.default_rng(0)), 'PNG'))
  _write(city % 'gtFine' + '_gtFine_labelTrainIds.png',
         _encode(np.zeros(_SIZE, np.uint8), 'PNG', mode='L'))
  label = os.path.join(root, 'gtFine', 'val', 'frankfurt',
                       'frankfurt_000000_000294_gtFine_labelTrainIds.png')
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_cityscapes_data.list_pairs(root, 'val')
  assert str(e.value) == '%s: no image %s' % (label, image)


def testCityscapesConvert_TrainIdOutOfRangeRaises(tmp_path):
  root = str(tmp_path)
  _make_cityscapes(root, np.random.default_rng(6), zip_gtfine=False)
  build_cityscapes_data.create_label_trainids(root)
  label = os.path.join(root, 'gtFine', 'val', 'frankfurt',
                       'frankfurt_000000_000294_gtFine_labelTrainIds.png')
  _write(label, _encode(np.full(_SIZE, 19, np.uint8), 'PNG', mode='L'))
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_cityscapes_data.convert_dataset(root, 'val', str(tmp_path / 'out'))
  assert str(e.value) == '%s: label values [19] outside [0, 19) and != ignore label 255' % label


def testCityscapesSplitsToConvert_TestOnlyWhenPresent(tmp_path):
  assert build_cityscapes_data.splits_to_convert(str(tmp_path)) == ['train', 'val']
  os.makedirs(str(tmp_path / 'leftImg8bit' / 'test'))
  assert build_cityscapes_data.splits_to_convert(str(tmp_path)) == ['train', 'val', 'test']


# ---------------------------------------------------------------------------------------------
# ADE20K.

def _make_ade_zip(root, rng):
  """Writes ADEChallengeData2016.zip (2 train, 1 val); returns {name: (jpeg bytes, label)}."""
  files = {}
  zip_path = os.path.join(root, 'ADEChallengeData2016.zip')
  with zipfile.ZipFile(zip_path, 'w') as z:
    for split, folder, count in (('train', 'training', 2), ('val', 'validation', 1)):
      for i in range(1, count + 1):
        name = 'ADE_%s_%08d' % (split, i)
        jpeg = _encode(_rgb(rng), 'JPEG')
        label = rng.integers(0, 151, _SIZE, dtype=np.uint8)
        label[0, 0], label[0, 1] = 0, 150  # ignore label and the last class
        files[name] = (jpeg, label)
        z.writestr('ADEChallengeData2016/images/%s/%s.jpg' % (folder, name), jpeg)
        z.writestr('ADEChallengeData2016/annotations/%s/%s.png' % (folder, name),
                   _encode(label, 'PNG', mode='L'))
    z.writestr('ADEChallengeData2016/objectInfo150.txt', b'Idx\tRatio\tTrain\tVal\tName\n')
  return zip_path, files


def testAde20kScript_ZipToShards(tmp_path):
  zip_path, files = _make_ade_zip(str(tmp_path), np.random.default_rng(7))
  work = str(tmp_path / 'ADE20K')

  result = helpers.run_script('download_and_convert_ade20k.sh', [zip_path], env={'WORK_DIR': work})

  assert result.returncode == 0, result.stderr
  tfrecord = os.path.join(work, 'tfrecord')
  assert _shard_names(tfrecord) == sorted('%s-%05d-of-00004.tfrecord' % (split, i)
                                          for split in ('train', 'val') for i in range(4))
  for split, folder in (('train', 'training'), ('val', 'validation')):
    seen = _read_split('ade20k', split, tfrecord)
    # As the original, image/filename is the image path.
    image_dir = os.path.join(work, 'ADEChallengeData2016', 'images', folder)
    names = sorted(n for n in files if n.startswith('ADE_%s_' % split))
    assert sorted(seen) == [os.path.join(image_dir, n + '.jpg') for n in names]
    for name in names:
      image, label = seen[os.path.join(image_dir, name + '.jpg')]
      np.testing.assert_array_equal(image, _decode_jpeg(files[name][0]))
      np.testing.assert_array_equal(label, files[name][1])
  _no_tmp_left(work)


def testAde20kScript_MissingZipPrintsWhatToDownload(tmp_path):
  work = str(tmp_path / 'ADE20K')
  result = helpers.run_script('download_and_convert_ade20k.sh', env={'WORK_DIR': work})
  assert result.returncode == 1
  zip_path = os.path.join(work, 'ADEChallengeData2016.zip')
  assert result.stderr.splitlines() == [
      'ERROR: ADE20K not found: %s does not exist.' % zip_path,
      'This script does not download anything. Download',
      '  http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip',
      '(file ADEChallengeData2016.zip, 923 MB) and put it at',
      '  %s' % zip_path,
      'or pass the archive, or the folder it was extracted to, as the first argument '
      '(or ADE20K_SOURCE).']
  assert not os.path.exists(work)


def _make_ade_folder(root, names, label_size=_SIZE, label_value=1):
  image_dir = os.path.join(root, 'images')
  label_dir = os.path.join(root, 'annotations')
  for name in names:
    _write(os.path.join(image_dir, name + '.jpg'), _encode(_rgb(np.random.default_rng(0)), 'JPEG'))
    _write(os.path.join(label_dir, name + '.png'),
           _encode(np.full(label_size, label_value, np.uint8), 'PNG', mode='L'))
  return image_dir, label_dir


def testAde20kConvert_MissingLabelRaises(tmp_path):
  image_dir, label_dir = _make_ade_folder(str(tmp_path), ['ADE_val_00000001', 'ADE_val_00000002'])
  os.remove(os.path.join(label_dir, 'ADE_val_00000002.png'))
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_ade20k_data.convert_dataset('val', image_dir, label_dir, str(tmp_path / 'out'))
  assert str(e.value) == '%s: no label %s' % (os.path.join(image_dir, 'ADE_val_00000002.jpg'),
                                              os.path.join(label_dir, 'ADE_val_00000002.png'))
  assert not os.path.exists(str(tmp_path / 'out'))


def testAde20kConvert_SizeMismatchRaises(tmp_path):
  image_dir, label_dir = _make_ade_folder(str(tmp_path), ['ADE_val_00000001'],
                                          label_size=(_SIZE[0], _SIZE[1] + 2))
  out = str(tmp_path / 'out')
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_ade20k_data.convert_dataset('val', image_dir, label_dir, out)
  assert str(e.value) == '%s: label size 9x15 does not match image size 9x13' % (
      os.path.join(label_dir, 'ADE_val_00000001.png'))
  assert os.listdir(out) == []  # The failing shard was removed; nothing for a reader to glob.


def testAde20kConvert_LabelAbove150Raises(tmp_path):
  image_dir, label_dir = _make_ade_folder(str(tmp_path), ['ADE_val_00000001'], label_value=151)
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_ade20k_data.convert_dataset('val', image_dir, label_dir, str(tmp_path / 'out'))
  assert str(e.value) == '%s: label values [151] outside [0, 151) and != ignore label 0' % (
      os.path.join(label_dir, 'ADE_val_00000001.png'))


def testAde20kConvert_NoImagesRaises(tmp_path):
  with pytest.raises(build_data.DatasetBuildError) as e:
    build_ade20k_data.convert_dataset('train', str(tmp_path), str(tmp_path), str(tmp_path / 'o'))
  assert str(e.value) == '%s: no *.jpg images found' % str(tmp_path)


def testAde20kListPairs_ShuffleIsSeeded(tmp_path):
  names = ['ADE_train_%08d' % i for i in range(1, 9)]
  image_dir, label_dir = _make_ade_folder(str(tmp_path), names)
  first = build_ade20k_data.list_pairs(image_dir, label_dir, shuffle_seed=0)
  assert first == build_ade20k_data.list_pairs(image_dir, label_dir, shuffle_seed=0)
  unshuffled = build_ade20k_data.list_pairs(image_dir, label_dir, shuffle_seed=None)
  assert [p[0] for p in unshuffled] == [os.path.join(image_dir, n + '.jpg') for n in names]
  assert sorted(first) == unshuffled and first != unshuffled
