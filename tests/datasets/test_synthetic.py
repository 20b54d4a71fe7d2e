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
