"""Tests for slim.checkpoint_tarball: released layout, safe extraction, checkpoint checks."""
import io
import json
import os
import tarfile

import numpy as np
import pytest
import tensorflow as tf

from slim import checkpoint_tarball as ct


def _write_checkpoint(folder, shapes):
  """Saves variables {name: shape} to <folder>/model.ckpt-7 and returns the prefix."""
  with tf.Graph().as_default():
    variables = [tf.compat.v1.get_variable(n, shape=s, initializer=tf.compat.v1.ones_initializer())
                 for n, s in shapes.items()]
    saver = tf.compat.v1.train.Saver(variables)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return saver.save(sess, os.path.join(str(folder), 'model.ckpt'), global_step=7)


def _package(tmp_path, tflite=True):
  prefix = _write_checkpoint(tmp_path / 'train', {'a/weights': [2, 3], 'b': [4]})
  (tmp_path / 'frozen.pb').write_bytes(b'graph')
  (tmp_path / 'm.tflite').write_bytes(b'tfl3')
  return ct.package('mymodel_8bit', prefix, str(tmp_path / 'frozen.pb'), str(tmp_path / 'out'),
                    tflite=str(tmp_path / 'm.tflite') if tflite else None,
                    eval_results={'miou': 0.8125})


def _tar_with(tmp_path, entries):
  """Writes a tar.gz with (TarInfo, data) entries and returns its path."""
  path = tmp_path / 'evil.tar.gz'
  with tarfile.open(path, 'w:gz') as tar:
    for info, data in entries:
      tar.addfile(info, io.BytesIO(data) if data is not None else None)
  return str(path)


def _file(name, data=b'x'):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
  info = tarfile.TarInfo(name)
  info.type = kind
  info.linkname = target
  return info, None


def testPackage_WritesReleasedLayoutAndManifest(tmp_path):
  path = _package(tmp_path)
  assert path.endswith('mymodel_8bit.tar.gz')
  with tarfile.open(path) as tar:
    names = sorted(tar.getnames())
    manifest = json.load(tar.extractfile('mymodel_8bit/manifest.json'))
  assert names == ['mymodel_8bit/frozen_inference_graph.pb',
                   'mymodel_8bit/frozen_inference_graph.tflite',
                   'mymodel_8bit/manifest.json',
                   'mymodel_8bit/model.ckpt.data-00000-of-00001',
                   'mymodel_8bit/model.ckpt.index']
  assert manifest['eval'] == {'miou': 0.8125}
  assert manifest['source_checkpoint'] == 'model.ckpt-7'
  assert len(manifest['files']['frozen_inference_graph.pb']['sha256']) == 64


def testResolveCheckpoint_FromTarballFolderAndPrefix(tmp_path):
  path = _package(tmp_path, tflite=False)
  prefix = ct.resolve_checkpoint(path)
  assert prefix.endswith(os.path.join('mymodel_8bit', 'model.ckpt'))
  reader = tf.compat.v1.train.NewCheckpointReader(prefix)
  np.testing.assert_array_equal(reader.get_tensor('b'), np.ones(4))
  folder = os.path.dirname(prefix)
  assert ct.resolve_checkpoint(folder) == prefix
  assert ct.resolve_checkpoint(prefix) == prefix
  train_prefix = ct.resolve_checkpoint(str(tmp_path / 'train'))
  assert train_prefix.endswith('model.ckpt-7')


def testResolveCheckpoint_DetectsCorruptedFile(tmp_path):
  prefix = ct.resolve_checkpoint(_package(tmp_path))
  with open(os.path.join(os.path.dirname(prefix), 'frozen_inference_graph.pb'), 'wb') as f:
    f.write(b'tampered')
  with pytest.raises(ct.CheckpointError, match='frozen_inference_graph.pb sha256 mismatch'):
    ct.resolve_checkpoint(os.path.dirname(prefix))


def testResolveCheckpoint_RejectsNonCheckpoint(tmp_path):
  with pytest.raises(ct.CheckpointError, match='not a checkpoint'):
    ct.resolve_checkpoint(str(tmp_path / 'nothing'))


@pytest.mark.parametrize('entries,reason', [
    ([_file('../evil.txt')], r'\.\./evil\.txt \(path contains "\.\."\)'),
    ([_file('/tmp/abs.txt')], r'/tmp/abs\.txt \(absolute path\)'),
    ([_file('ok/model.ckpt.index'), _link('ok/link', '../../outside')],
     r'ok/link \(link pointing outside the target folder'),
    ([_link('ok/abs_link', '/etc/passwd')], r'ok/abs_link \(link to an absolute path'),
    ([_link('ok/hard', '../x', tarfile.LNKTYPE)], r'ok/hard \(path contains|link pointing outside'),
])
def testSafeExtract_RefusesEscapingEntries(tmp_path, entries, reason):
  path = _tar_with(tmp_path, entries)
  target = tmp_path / 'target'
  with pytest.raises(ct.CheckpointError, match='refusing to extract unsafe entries: .*' + reason):
    ct.safe_extract(path, str(target))
  assert not target.exists()  # nothing written when any entry is refused


def testSafeExtract_AllowsLinksInsideTarget(tmp_path):
  path = _tar_with(tmp_path, [_file('m/a.txt', b'abc'), _link('m/b.txt', 'a.txt')])
  names = ct.safe_extract(path, str(tmp_path / 't'))
  assert names == ['m/a.txt', 'm/b.txt']
  assert (tmp_path / 't' / 'm' / 'b.txt').read_bytes() == b'abc'


def testCheckCompatibility_ListsMissingVariables(tmp_path):
  prefix = _write_checkpoint(tmp_path, {'backbone/w': [3], 'global_step_like': [1]})
  with tf.Graph().as_default():
    variables = {'backbone/w': tf.compat.v1.get_variable('backbone/w', [3]),
                 'aspp0/weights': tf.compat.v1.get_variable('aspp0/weights', [1, 1, 2, 2]),
                 'logits/semantic/biases': tf.compat.v1.get_variable('logits/semantic/biases', [5])}
    assert ct.check_compatibility(prefix, variables) == ['aspp0/weights', 'logits/semantic/biases']


def testCheckCompatibility_NoSharedVariable(tmp_path):
  prefix = _write_checkpoint(tmp_path, {'other/w': [3]})
  with tf.Graph().as_default():
    variables = {'mine/w': tf.compat.v1.get_variable('mine/w', [3])}
    with pytest.raises(ct.CheckpointError, match=r'shares no variable with the model.*mine/w.*other/w'):
      ct.check_compatibility(prefix, variables)


def testCheckCompatibility_WrongShapesListedTogether(tmp_path):
  prefix = _write_checkpoint(tmp_path, {'a': [3], 'b': [2, 2], 'c': [1]})
  with tf.Graph().as_default():
    variables = {n: tf.compat.v1.get_variable(n, s) for n, s in
                 {'a': [4], 'b': [2, 3], 'c': [1]}.items()}
    with pytest.raises(ct.CheckpointError) as err:
      ct.check_compatibility(prefix, variables)
  message = str(err.value)
  assert 'a: model [4] vs checkpoint [3]' in message
  assert 'b: model [2, 3] vs checkpoint [2, 2]' in message
  assert 'c:' not in message


def testMain_PackagesRunFromTrainFolder(tmp_path, capsys):
  _write_checkpoint(tmp_path / 'train', {'w': [1]})
  (tmp_path / 'f.pb').write_bytes(b'g')
  (tmp_path / 'eval.json').write_text('{"miou": 0.5}')
  ct.main(['--name=run1', '--checkpoint=%s' % (tmp_path / 'train'), '--frozen_graph=%s' % (tmp_path / 'f.pb'),
           '--eval_json=%s' % (tmp_path / 'eval.json'), '--output_dir=%s' % (tmp_path / 'o')])
  assert capsys.readouterr().out.strip().endswith('run1.tar.gz')
  with pytest.raises(SystemExit) as e:
    ct.main(['--name=../x', '--checkpoint=%s' % (tmp_path / 'train'),
             '--frozen_graph=%s' % (tmp_path / 'f.pb'), '--output_dir=%s' % (tmp_path / 'o')])
  assert str(e.value.code).startswith('ERROR: ') and '\n' not in str(e.value.code)
