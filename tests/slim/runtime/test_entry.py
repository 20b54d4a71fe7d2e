"""User errors of the entry scripts: one line, exit status 1, no traceback, nothing half-written."""
import os
import re
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from datasets import build_voc2012_data
from slim.runtime import entry

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _flag_values(verbose=False):
  fv = flags.FlagValues()
  flags.DEFINE_boolean(entry.VERBOSE_FLAG, False, 'v', flag_values=fv)
  fv(['prog'] + (['--verbose'] if verbose else []))
  return fv


def _fail(message, error=ValueError):
  def main(unused_argv):
    raise error(message)
  return main


def testGuarded_UserErrorIsOneLineAndStatusOne():
  with pytest.raises(SystemExit) as e:
    entry.guarded(_fail('--x=3: expected\n  a positive count'), [], _flag_values())
  assert e.value.code == 'ERROR: --x=3: expected; a positive count'


def testGuarded_VerboseKeepsTheTracebackAndBugsAreNotHidden():
  with pytest.raises(ValueError, match='bad'):
    entry.guarded(_fail('bad'), [], _flag_values(verbose=True))
  with pytest.raises(KeyError):
    entry.guarded(_fail('a bug', KeyError), [], _flag_values())


def _run(script, *args):
  return subprocess.run([sys.executable, os.path.join(_ROOT, script)] + list(args),
                        capture_output=True, text=True, timeout=300, cwd=_ROOT)


def _assert_one_line_error(result, pattern):
  assert result.returncode == 1, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert re.match(pattern, last), last


def testConvertToTflite_JunkGraphIsOneLineAndWritesNothing(tmp_path):
  junk = tmp_path / 'frozen.pb'
  junk.write_bytes(b'\x00not a graph\xff' * 10)
  out = tmp_path / 'model.tflite'
  result = _run('deeplab/convert_to_tflite.py', '--quantized_graph_def_path=%s' % junk,
                '--output_tflite_path=%s' % out, '--input_tensor_name=input:0')
  _assert_one_line_error(
      result, r'^ERROR: --quantized_graph_def_path=.*frozen\.pb: not a binary GraphDef \(.+\)$')
  assert sorted(os.listdir(tmp_path)) == ['frozen.pb']


def testTrain_DatasetWithMissingShardsIsRefusedInOneLine(tmp_path):
  from PIL import Image
  for folder in ('images', 'labels'):
    os.makedirs(tmp_path / folder)
  names = ['a', 'b']
  for name in names:
    Image.fromarray(np.zeros([9, 9, 3], np.uint8)).save(tmp_path / 'images' / (name + '.png'))
    Image.fromarray(np.zeros([9, 9], np.uint8)).save(tmp_path / 'labels' / (name + '.png'))
  (tmp_path / 'train.txt').write_text('a\nb\n')
  out = str(tmp_path / 'tfrecord')
  build_voc2012_data.convert_dataset(str(tmp_path / 'train.txt'), str(tmp_path / 'images'),
                                     str(tmp_path / 'labels'), out, image_format='png',
                                     num_classes=21, num_shards=2)
  os.remove(os.path.join(out, 'train-00001-of-00002.tfrecord'))
  result = _run('deeplab/train.py', '--train_logdir=%s' % (tmp_path / 'train'),
                '--dataset_dir=%s' % out, '--train_crop_size=33,33',
                '--training_number_of_steps=1')
  _assert_one_line_error(result, r"^ERROR: .*tfrecord: split 'train' has 1 of its 2 shards; "
                                 r"missing train-00001-of-00002\.tfrecord")
  assert not os.path.exists(tmp_path / 'train' / 'checkpoint')
