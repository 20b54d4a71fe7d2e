"""Tests for slim.fileio atomic writes."""
import os

import pytest

from slim import fileio


def testAtomicWrite_ReplacesTargetOnSuccess(tmp_path):
  target = tmp_path / 'sub' / 'a.bin'
  fileio.atomic_write_bytes(target, b'one')
  fileio.atomic_write_bytes(target, b'two')
  assert target.read_bytes() == b'two'
  assert os.listdir(target.parent) == ['a.bin']


def testAtomicWrite_LeavesNothingOnError(tmp_path):
  target = tmp_path / 'a.txt'
  fileio.atomic_write_text(target, 'old')
  with pytest.raises(RuntimeError):
    with fileio.atomic_write(target, 'w') as f:
      f.write('half')
      raise RuntimeError('killed')
  assert target.read_text() == 'old'
  assert os.listdir(tmp_path) == ['a.txt']


def testAtomicWrite_RejectsAppendMode(tmp_path):
  with pytest.raises(ValueError, match='supports modes'):
    with fileio.atomic_write(tmp_path / 'x', 'a'):
      pass
