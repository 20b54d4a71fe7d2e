"""The dataset scripts' shared entry point (datasets/build_cli.py) and the package's layering.

Each script keeps its flags (names and defaults as before), turns a DatasetBuildError into one
`ERROR: ...` line with status 1, and runs by path, with -m and from any folder (the package is
installed editable, nothing edits sys.path). Nothing under datasets/ imports deeplab.
"""
import ast
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import flags
from PIL import Image

from datasets import build_ade20k_data
from datasets import build_cityscapes_data
from datasets import build_classification_data
from datasets import build_cli
from datasets import build_data
from datasets import build_voc2012_data
from datasets import remove_gt_colormap
from datasets import synthetic
from datasets import synthetic_classification
from slim.runtime import options

_DATASETS_DIR = os.path.dirname(os.path.abspath(build_data.__file__))
_ADE_ROOT = './ADE20K/ADEChallengeData2016'

# Script module -> its flags and their defaults (the original DeepLab flags keep theirs).
_EXPECTED_FLAGS = {
    build_voc2012_data: {
        'image_folder': './VOCdevkit/VOC2012/JPEGImages',
        'semantic_segmentation_folder': './VOCdevkit/VOC2012/SegmentationClassRaw',
        'list_folder': './VOCdevkit/VOC2012/ImageSets/Segmentation',
        'image_format': 'jpg', 'label_format': 'png', 'output_dir': './tfrecord',
        'num_classes': 21, 'ignore_label': 255},
    build_ade20k_data: {
        'train_image_folder': _ADE_ROOT + '/images/training',
        'train_image_label_folder': _ADE_ROOT + '/annotations/training',
        'val_image_folder': _ADE_ROOT + '/images/validation',
        'val_image_label_folder': _ADE_ROOT + '/annotations/validation',
        'output_dir': './ADE20K/tfrecord', 'shuffle_seed': 0,
        'top_classes': 0},  # new: 31 is MLPerf's top-31 class set
    build_cityscapes_data: {
        'cityscapes_root': './cityscapes', 'output_dir': './tfrecord',
        'create_label_trainids': False},
    build_classification_data: {
        'image_dir': None, 'output_dir': None, 'split_name': 'train', 'num_shards': 4,
        'shuffle_seed': 0},
    remove_gt_colormap: {
        'original_gt_folder': './VOCdevkit/VOC2012/SegmentationClass',
        'segmentation_format': 'png', 'output_dir': './VOCdevkit/VOC2012/SegmentationClassRaw'},
    synthetic: {
        'output_dir': None, 'seed': 0, 'num_train': 600, 'num_val': 100, 'size': 256,
        'convert': False},
    synthetic_classification: {
        'output_dir': None, 'seed': 0, 'num_train': 500, 'num_validation': 200, 'size': 64,
        'convert': True},
}


@dataclasses.dataclass
class _ToyOptions:
  folder: str = options.flag('./in', 'A folder.')
  count: int = options.flag(3, 'A count.')


def _defined(options_cls):
  flag_values = flags.FlagValues()
  options.define_flags(options_cls, flag_values)
  return flag_values


def _parsed(options_cls, argv):
  flag_values = _defined(options_cls)
  flag_values(['prog'] + list(argv))
  return flag_values


@pytest.mark.parametrize('module', list(_EXPECTED_FLAGS), ids=lambda m: m.__name__)
def testScripts_KeepTheirFlagsAndDefaults(module):
  flag_values = _defined(module.BuildOptions)
  assert {name: flag_values[name].default for name in flag_values} == _EXPECTED_FLAGS[module]
  # A flag without a default is required (absl refuses the command line without it).
  assert {f.name for f, spec in options.flag_fields(module.BuildOptions) if spec.required} == {
      name for name, default in _EXPECTED_FLAGS[module].items() if default is None}
  assert callable(module.run) and callable(module.build)


def testMain_BuildsTheOptionsFromTheParsedFlags():
  flag_values = _parsed(_ToyOptions, ['--folder=/data', '--count=7'])
  assert build_cli.main(_ToyOptions, lambda opts: opts, flag_values) == _ToyOptions('/data', 7)


def testMain_DatasetBuildErrorExitsWithOneErrorLine():
  def build(opts):
    raise build_data.DatasetBuildError('%s/x.png: file not found' % opts.folder)

  with pytest.raises(SystemExit) as e:
    build_cli.main(_ToyOptions, build, _parsed(_ToyOptions, []))
  assert e.value.code == 'ERROR: ./in/x.png: file not found'


def testMain_OtherErrorsKeepTheirTraceback():
  def build(unused_opts):
    raise KeyError('a bug')

  with pytest.raises(KeyError, match='a bug'):
    build_cli.main(_ToyOptions, build, _parsed(_ToyOptions, []))


def _python(args, cwd):
  """Runs the test's python with `args` in `cwd` (not the checkout: the install must serve)."""
  return subprocess.run([sys.executable] + list(args), cwd=cwd, capture_output=True, text=True,
                        timeout=300)


@pytest.mark.parametrize('script, args, error', [
    ('build_voc2012_data.py', ['--list_folder={d}'], '{d}: no <split>.txt list files found'),
    ('build_ade20k_data.py', ['--train_image_folder={d}'], '{d}: no *.jpg images found'),
    ('build_cityscapes_data.py', ['--cityscapes_root={d}'],
     '{d}/leftImg8bit/train: no images found '
     '(expected leftImg8bit/train/<city>/<name>_leftImg8bit.png)'),
    ('build_classification_data.py', ['--image_dir={d}/none', '--output_dir={d}/out'],
     '--image_dir={d}/none: folder not found'),
])
def testScriptByPath_BadInputExitsWithOneErrorLine(tmp_path, script, args, error):
  d = str(tmp_path)
  result = _python([os.path.join(_DATASETS_DIR, script)] + [a.format(d=d) for a in args], d)
  assert result.returncode == 1, result.stderr
  assert result.stderr.strip().splitlines()[-1] == 'ERROR: ' + error.format(d=d)


def testRemoveGtColormap_RunsByPathFromAnotherFolder(tmp_path):
  # (The VOC script test runs it with -m.)
  labels = np.array([[0, 1, 255], [2, 2, 1]], np.uint8)
  palette_png = Image.fromarray(labels, mode='P')
  palette_png.putpalette([(v * 7) % 256 for v in range(768)])
  os.makedirs(str(tmp_path / 'gt'))
  palette_png.save(str(tmp_path / 'gt' / 'a.png'))
  assert Image.open(str(tmp_path / 'gt' / 'a.png')).mode == 'P'
  result = _python([os.path.join(_DATASETS_DIR, 'remove_gt_colormap.py'),
                    '--original_gt_folder=gt', '--output_dir=raw'], str(tmp_path))
  assert result.returncode == 0, result.stderr
  raw = Image.open(str(tmp_path / 'raw' / 'a.png'))
  assert raw.mode == 'L'
  np.testing.assert_array_equal(np.asarray(raw), labels)


def _python_files():
  return sorted(os.path.join(_DATASETS_DIR, n) for n in os.listdir(_DATASETS_DIR)
                if n.endswith('.py'))


def _imported_modules(path):
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.module


def testDatasetsPackage_ImportsNothingFromDeeplab():
  offenders = [(os.path.basename(p), m) for p in _python_files() for m in _imported_modules(p)
               if m == 'deeplab' or m.startswith('deeplab.')]
  assert offenders == []


def testDatasetsPackage_EditsNoSysPath():
  offenders = []
  for path in _python_files():
    with open(path) as f:
      tree = ast.parse(f.read(), path)
    offenders += [(os.path.basename(path), node.lineno) for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and node.attr == 'path'
                  and isinstance(node.value, ast.Name) and node.value.id == 'sys']
  assert offenders == []


def testDatasetsPackage_ImportDoesNotLoadDeeplab(tmp_path):
  modules = sorted('datasets.' + os.path.basename(p)[:-3] for p in _python_files()
                   if not p.endswith('__init__.py'))
  code = ('import importlib, sys\n'
          'for name in %r: importlib.import_module(name)\n'
          'print(sorted(m for m in sys.modules if m.split(".")[0] == "deeplab"))' % modules)
  result = _python(['-c', code], str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().splitlines()[-1] == '[]'


def testSharedEntry_IsUsedByEveryScript():
  # One entry skeleton: every script module defines run() through build_cli, none its own main.
  for module in _EXPECTED_FLAGS:
    with open(module.__file__) as f:
      source = f.read()
    assert 'build_cli.run(BuildOptions, build)' in source, module.__name__
    assert 'app.run(' not in source and 'def main(' not in source, module.__name__

