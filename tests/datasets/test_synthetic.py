"""datasets.synthetic: deterministic output and valid labels."""
import os

import numpy as np
from PIL import Image

from datasets import synthetic


def _read_all(root):
  files = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      with open(path, 'rb') as f:
        files[os.path.relpath(path, root)] = f.read()
  return files


def testGenerate_SameSeedGivesIdenticalFiles(tmp_path):
  kwargs = dict(num_train=3, num_val=2, size=32)
  synthetic.generate(str(tmp_path / 'a'), seed=5, **kwargs)
  synthetic.generate(str(tmp_path / 'b'), seed=5, **kwargs)
  synthetic.generate(str(tmp_path / 'c'), seed=6, **kwargs)
  a, b, c = (_read_all(str(tmp_path / n)) for n in 'abc')
  assert a == b
  assert a != c
  assert len([k for k in a if k.endswith('.jpg')]) == 5


def testGenerate_LabelsArePaletteWithValidIds(tmp_path):
  splits = synthetic.generate(str(tmp_path), seed=0, num_train=4, num_val=1, size=48)
  assert splits['trainval'] == splits['train'] + splits['val']
  for name in splits['trainval']:
    png = Image.open(str(tmp_path / 'SegmentationClass' / (name + '.png')))
    assert png.mode == 'P'
    values = set(np.unique(np.asarray(png)).tolist())
    assert values <= set(range(synthetic.NUM_CLASSES)) | {synthetic.IGNORE_LABEL}
  lines = (tmp_path / 'ImageSets' / 'Segmentation' / 'val.txt').read_text().split()
  assert lines == splits['val']


def _examples(split, count, size):
  pairs = [synthetic.make_example(synthetic.example_rng(0, split, i), size) for i in range(count)]
  return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def testFlatColourClassifier_DoesNotSolveTheDataset():
  # A per-pixel nearest-mean-colour classifier, fitted on train pixels, must fail on val: the
  # classes share colour families, so shape and texture are needed.
  from deeplab.utils import metrics
  images, labels = _examples('train', 40, 64)
  means = np.stack([images[labels == c].reshape(-1, 3).mean(axis=0)
                    for c in range(synthetic.NUM_CLASSES)])
  images, labels = _examples('val', 20, 64)
  distance = ((images[..., None, :].astype(np.float32) - means) ** 2).sum(axis=-1)
  confusion = metrics.confusion_matrix(distance.argmin(axis=-1), labels,
                                            synthetic.NUM_CLASSES, synthetic.IGNORE_LABEL)
  _, miou = metrics.iou_from_confusion(confusion)
  assert miou < 0.3
  # Every object class has pixels in the sample, so the figure is over all classes.
  assert (confusion.sum(axis=1) > 0).all()


def testClassHistogram_ValSplitAsDocumented():
  # The table in g3doc/datasets.md (percent of pixels, default val split: 100 images, 256x256).
  documented = {0: 78.70, 1: 7.02, 2: 4.03, 3: 2.87, 4: 3.23, 5: 2.42, 255: 1.72}
  histogram = synthetic.class_histogram('val', synthetic.DEFAULT_NUM_VAL)
  assert {k: round(100 * v, 2) for k, v in histogram.items()} == documented
