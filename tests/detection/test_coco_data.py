"""The synthetic COCO-layout set, the COCO -> TFRecord builder and the reader."""
import json
import os

import numpy as np
import pytest

from datasets import build_coco_data
from datasets import build_data
from datasets import synthetic_detection
from detection import anchors
from detection import architecture
from detection import data
import tensorflow as tf

SPEC = architecture.get('retinanet_mobilenet_v2')


@pytest.fixture(scope='module')
def coco_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp('coco'))
  synthetic_detection.generate(root, seed=3, num_train=6, num_val=2, size=64)
  return root


def _options(root, split='train', **kwargs):
  values = dict(annotations_file=synthetic_detection.annotations_path(root, split),
                image_dir=synthetic_detection.images_dir(root, split),
                output_dir=os.path.join(root, 'tfrecord'), split_name=split, num_shards=2)
  values.update(kwargs)
  return build_coco_data.BuildOptions(**values)


def testBuild_RoundTripsBoxesAndLabels(coco_dir):
  build_coco_data.build(_options(coco_dir))
  with open(synthetic_detection.annotations_path(coco_dir, 'train')) as f:
    coco = json.load(f)
  assert coco['annotations'], 'the generator drew no object'
  examples = list(data.eval_examples(data.split_files(os.path.join(coco_dir, 'tfrecord'),
                                                      'train'), 64))
  assert [e[3] for e in examples] == [str(im['id']) for im in coco['images']]
  for image, boxes, labels, source_id in examples:
    anns = [a for a in coco['annotations'] if str(a['image_id']) == source_id]
    expected = [[a['bbox'][1] / 64, a['bbox'][0] / 64, (a['bbox'][1] + a['bbox'][3]) / 64,
                 (a['bbox'][0] + a['bbox'][2]) / 64] for a in anns]
    np.testing.assert_allclose(boxes, np.reshape(expected, [-1, 4]), atol=1e-6)
    np.testing.assert_array_equal(labels, [a['category_id'] for a in anns])
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
  assert build_coco_data.read_labels(os.path.join(coco_dir, 'tfrecord')) == {
      i + 1: n for i, n in enumerate(synthetic_detection.CLASS_NAMES)}


def _write_bad(coco_dir, tmp_path, mutate):
  with open(synthetic_detection.annotations_path(coco_dir, 'val')) as f:
    coco = json.load(f)
  mutate(coco)
  path = str(tmp_path / 'bad.json')
  with open(path, 'w') as f:
    json.dump(coco, f)
  return _options(coco_dir, 'val', annotations_file=path,
                  output_dir=str(tmp_path / 'out'))


def testBuild_BoxOutsideImageNamesAnnotation(coco_dir, tmp_path):
  def mutate(coco):
    coco['annotations'][0]['bbox'] = [50.0, 10.0, 20.0, 5.0]  # x + w = 70 > 64
  opts = _write_bad(coco_dir, tmp_path, mutate)
  with pytest.raises(build_data.DatasetBuildError,
                     match=r'bad.json: annotation 1 of image \d+ \(val_\d+.jpg\): bbox '
                     r'\[50.0, 10.0, 20.0, 5.0\] lies outside the 64x64 image'):
    build_coco_data.build(opts)
  assert not os.path.exists(str(tmp_path / 'out'))


def testBuild_UnknownCategoryNamesIt(coco_dir, tmp_path):
  def mutate(coco):
    coco['annotations'][0]['category_id'] = 42
  with pytest.raises(build_data.DatasetBuildError,
                     match=r'unknown category id 42 \(categories: \[1, 2, 3, 4, 5\]\)'):
    build_coco_data.build(_write_bad(coco_dir, tmp_path, mutate))


def testTrainBatches_TargetsMatchAnchors(coco_dir):
  files = data.split_files(os.path.join(coco_dir, 'tfrecord'), 'train')
  batches = data.train_batches(files, SPEC, 64, batch_size=2, seed=0)
  images, class_targets, box_targets = tf.compat.v1.data.make_one_shot_iterator(
      batches).get_next()
  with tf.compat.v1.Session() as sess:
    images, class_targets, box_targets = sess.run([images, class_targets, box_targets])
  assert images.shape == (2, 64, 64, 3)
  assert images.min() >= -1.0 and images.max() <= 1.0
  assert class_targets.shape == (2, anchors.count(SPEC, 64))
  assert set(np.unique(class_targets)) <= {-1, 0, 1, 2, 3, 4, 5}
  assert box_targets.shape == (2, anchors.count(SPEC, 64), 4)
  np.testing.assert_array_equal(box_targets[class_targets <= 0], 0)


def testSplitFiles_MissingNamesFolder(tmp_path):
  with pytest.raises(ValueError, match='no val-\\*.tfrecord shards'):
    data.split_files(str(tmp_path), 'val')
