"""Checkpoint tarballs in the layout of the released DeepLab/slim models.

A released tarball `<name>.tar.gz` holds one folder:

  <name>/model.ckpt.index
  <name>/model.ckpt.data-00000-of-00001
  <name>/frozen_inference_graph.pb
  <name>/frozen_inference_graph.tflite     (8-bit models only)
  <name>/manifest.json                     (this project: sha256 of every file + eval numbers)

This module writes such tarballs from a training run (`package`), reads them back safely
(`safe_extract` refuses absolute paths, `..` components, and links or devices that could write
outside the target folder), and turns whatever a user passes as `--tf_initial_checkpoint` (a
`.tar.gz`, its extracted folder, a folder with a `checkpoint` file, or a checkpoint prefix)
into a checkpoint prefix (`resolve_checkpoint`).

CLI (packages a finished run):
  python -m slim.checkpoint_tarball --name=deeplabv3_mnv2_synthetic_8bit \
      --checkpoint=exp/train/model.ckpt-3000 --frozen_graph=exp/export/frozen_inference_graph.pb \
      --tflite=exp/model_uint8.tflite --eval_json=exp/eval.json --output_dir=exp/
"""
import hashlib
import io
import json
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile

import tensorflow as tf

from slim import fileio
from slim.runtime import entry

CHECKPOINT_NAME = 'model.ckpt'
CHECKPOINT_SUFFIXES = ('.index', '.data-00000-of-00001')
FROZEN_GRAPH_NAME = 'frozen_inference_graph.pb'
TFLITE_NAME = 'frozen_inference_graph.tflite'
MANIFEST_NAME = 'manifest.json'
TARBALL_SUFFIXES = ('.tar.gz', '.tgz', '.tar')


class CheckpointError(ValueError):
  """A checkpoint, tarball or folder is not what was expected."""


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def _checkpoint_files(checkpoint_prefix):
  """Returns {suffix: path} for a single-shard checkpoint, or raises CheckpointError."""
  files = {}
  for suffix in CHECKPOINT_SUFFIXES:
    path = checkpoint_prefix + suffix
    if not os.path.isfile(path):
      shards = [f for f in os.listdir(os.path.dirname(path) or '.')
                if f.startswith(os.path.basename(checkpoint_prefix) + '.data-')]
      raise CheckpointError(
          'checkpoint %s: expected file %s (a single-shard checkpoint as written by '
          'tf.compat.v1.train.Saver); found data files %s' % (checkpoint_prefix, path, shards))
    files[suffix] = path
  return files


def package(name, checkpoint, frozen_graph, output_dir, tflite=None, eval_results=None):
  """Writes `<output_dir>/<name>.tar.gz` in the released layout, plus a manifest.

  Args:
    name: folder name inside the tarball (e.g. 'deeplabv3_mnv2_pascal_train_aug_8bit').
    checkpoint: checkpoint prefix, e.g. 'train/model.ckpt-3000'. Stored as `model.ckpt`.
    frozen_graph: path of the frozen inference GraphDef.
    output_dir: folder for the tarball (created if missing).
    tflite: optional .tflite path (8-bit models), stored as frozen_inference_graph.tflite.
    eval_results: optional JSON-serialisable dict (e.g. {'miou': 0.81}) kept in the manifest.

  Returns:
    The tarball path.

  Raises:
    CheckpointError: when an input file is missing or `name` is not a plain folder name.
  """
  if not name or '/' in name or name in ('.', '..'):
    raise CheckpointError('--name must be a plain folder name, got %r' % (name,))
  members = {CHECKPOINT_NAME + suffix: path
             for suffix, path in _checkpoint_files(checkpoint).items()}
  members[FROZEN_GRAPH_NAME] = frozen_graph
  if tflite:
    members[TFLITE_NAME] = tflite
  for arcname, path in members.items():
    if not os.path.isfile(path):
      raise CheckpointError('%s: file not found (needed as %s/%s)' % (path, name, arcname))
  manifest = {
      'name': name,
      'files': {arcname: {'sha256': _sha256(path), 'bytes': os.path.getsize(path)}
                for arcname, path in sorted(members.items())},
      'source_checkpoint': os.path.basename(checkpoint),
      'eval': eval_results or {},
  }
  out_path = os.path.join(output_dir, name + '.tar.gz')
  with fileio.atomic_write(out_path, 'wb') as f:
    with tarfile.open(fileobj=f, mode='w:gz') as tar:
      for arcname, path in sorted(members.items()):
        tar.add(path, arcname=posixpath.join(name, arcname), recursive=False)
      data = json.dumps(manifest, indent=2, sort_keys=True).encode('utf-8')
      info = tarfile.TarInfo(posixpath.join(name, MANIFEST_NAME))
      info.size = len(data)
      info.mode = 0o644
      tar.addfile(info, io.BytesIO(data))
  return out_path


def _unsafe_reason(member, target):
  """Returns why a tar member could write outside `target`, or None if it is safe."""
  name = member.name
  if name.startswith('/') or (len(name) > 1 and name[1] == ':'):
    return 'absolute path'
  if '..' in name.replace('\\', '/').split('/'):
    return 'path contains ".."'
  dest = os.path.realpath(os.path.join(target, name))
  if os.path.commonpath([dest, target]) != target:
    return 'resolves outside the target folder'
  if member.issym() or member.islnk():
    link = member.linkname
    if link.startswith('/'):
      return 'link to an absolute path (%s)' % link
    base = os.path.dirname(dest) if member.issym() else target
    link_dest = os.path.realpath(os.path.join(base, link))
    if os.path.commonpath([link_dest, target]) != target:
      return 'link pointing outside the target folder (%s)' % link
  if member.isdev() or member.isfifo():
    return 'device or fifo entry'
  return None


def safe_extract(tar_path, target_dir):
  """Extracts a tarball into `target_dir`, refusing entries that escape it.

  Every member is checked before anything is written, so a refused tarball writes nothing.

  Args:
    tar_path: .tar, .tar.gz or .tgz path.
    target_dir: destination folder (created if missing).

  Returns:
    The list of extracted member names.

  Raises:
    CheckpointError: naming the tarball, the offending entries and why they were refused, or
      when the file is not a readable tarball.
  """
  target = os.path.realpath(target_dir)
  try:
    with tarfile.open(tar_path, 'r:*') as tar:
      members = tar.getmembers()
      bad = [(m.name, reason) for m in members
             for reason in [_unsafe_reason(m, target)] if reason]
      if bad:
        raise CheckpointError(
            '%s: refusing to extract unsafe entries: %s' %
            (tar_path, '; '.join('%s (%s)' % item for item in bad)))
      os.makedirs(target, exist_ok=True)
      tar.extractall(target, members=members, filter='data')
  except (tarfile.TarError, OSError) as e:
    raise CheckpointError('%s: not a readable tar archive (%s)' % (tar_path, e)) from e
  return [m.name for m in members]


def verify_manifest(folder):
  """Checks the sha256 sums of `<folder>/manifest.json`; returns the manifest (or None if absent).

  Raises:
    CheckpointError: listing every file whose checksum or presence does not match.
  """
  path = os.path.join(folder, MANIFEST_NAME)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    manifest = json.load(f)
  problems = []
  for arcname, entry in sorted(manifest.get('files', {}).items()):
    file_path = os.path.join(folder, arcname)
    if not os.path.isfile(file_path):
      problems.append('%s missing' % arcname)
    elif _sha256(file_path) != entry['sha256']:
      problems.append('%s sha256 mismatch' % arcname)
  if problems:
    raise CheckpointError('%s: manifest check failed: %s' % (path, ', '.join(problems)))
  return manifest


def _prefix_in_folder(folder):
  """Finds the checkpoint prefix inside a folder (a `checkpoint` state file or model.ckpt*)."""
  latest = tf.train.latest_checkpoint(folder)
  if latest:
    return latest
  indexes = sorted(f[:-len('.index')] for f in os.listdir(folder) if f.endswith('.index'))
  if len(indexes) == 1:
    return os.path.join(folder, indexes[0])
  subfolders = [d for d in os.listdir(folder) if os.path.isdir(os.path.join(folder, d))]
  if not indexes and len(subfolders) == 1:
    return _prefix_in_folder(os.path.join(folder, subfolders[0]))
  raise CheckpointError(
      '%s: expected exactly one checkpoint (a `checkpoint` file or one *.index file), found %s'
      % (folder, indexes or 'none'))


def resolve_checkpoint(path, extract_dir=None):
  """Turns a user-supplied checkpoint location into a checkpoint prefix.

  Args:
    path: a `.tar.gz`/`.tgz`/`.tar` released tarball, its extracted folder, a training folder
      with a `checkpoint` state file, or a checkpoint prefix (e.g. `model.ckpt-30000`).
    extract_dir: where to extract a tarball; default `<tarball without suffix>` beside it.
      An existing extraction with a valid manifest is reused.

  Returns:
    The checkpoint prefix (pass it to Saver.restore / tf.train.NewCheckpointReader).

  Raises:
    CheckpointError: naming `path` and what was expected.
  """
  if path.endswith(TARBALL_SUFFIXES):
    if not os.path.isfile(path):
      raise CheckpointError('%s: tarball not found' % path)
    if extract_dir is None:
      stem = path
      for suffix in TARBALL_SUFFIXES:
        if stem.endswith(suffix):
          stem = stem[:-len(suffix)]
          break
      extract_dir = stem + '_extracted'
    staging = tempfile.mkdtemp(prefix='.extract-', dir=os.path.dirname(os.path.abspath(path)))
    try:
      safe_extract(path, staging)
      if os.path.isdir(extract_dir):
        shutil.rmtree(extract_dir)
      os.replace(staging, extract_dir)
    finally:
      shutil.rmtree(staging, ignore_errors=True)
    path = extract_dir
  if os.path.isdir(path):
    for root, _, files in os.walk(path):
      if MANIFEST_NAME in files:
        verify_manifest(root)
    return _prefix_in_folder(path)
  if os.path.isfile(path + '.index'):
    return path
  raise CheckpointError(
      '%s: no such checkpoint (not a checkpoint prefix: %s.index is missing); expected a '
      'checkpoint prefix, a folder holding one, or a released .tar.gz' % (path, path))


def check_compatibility(checkpoint_prefix, variables):
  """Compares model variables with a checkpoint before restoring.

  Args:
    checkpoint_prefix: checkpoint to read.
    variables: dict {checkpoint key: tf.Variable} (as given to a Saver).

  Returns:
    Sorted list of checkpoint keys the checkpoint lacks (the caller logs them as one list:
    e.g. the ASPP head when starting from an ImageNet backbone checkpoint).

  Raises:
    CheckpointError: if the checkpoint shares no variable with the model, or if any shared
      variable has a different shape; the message lists every offending name.
  """
  reader = tf.compat.v1.train.NewCheckpointReader(checkpoint_prefix)
  shapes = reader.get_variable_to_shape_map()
  missing = sorted(k for k in variables if k not in shapes)
  if len(missing) == len(variables):
    raise CheckpointError(
        '%s shares no variable with the model. Model variables (first 10): %s; checkpoint '
        'variables (first 10): %s' % (checkpoint_prefix, sorted(variables)[:10], sorted(shapes)[:10]))
  wrong = []
  for key, var in sorted(variables.items()):
    if key in shapes and list(shapes[key]) != var.shape.as_list():
      wrong.append('%s: model %s vs checkpoint %s' % (key, var.shape.as_list(), shapes[key]))
  if wrong:
    raise CheckpointError('%s has variables with the wrong shape:\n  %s' %
                          (checkpoint_prefix, '\n  '.join(wrong)))
  return missing


def main(argv=None):
  """CLI entry: package a run in the released layout."""
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--name', required=True)
  parser.add_argument('--checkpoint', required=True, help='checkpoint prefix or training folder')
  parser.add_argument('--frozen_graph', required=True)
  parser.add_argument('--tflite', default=None)
  parser.add_argument('--eval_json', default=None, help='JSON file with eval numbers')
  parser.add_argument('--output_dir', required=True)
  args = parser.parse_args(argv)
  try:
    checkpoint = args.checkpoint
    if os.path.isdir(checkpoint):
      checkpoint = _prefix_in_folder(checkpoint)
    results = None
    if args.eval_json:
      with open(args.eval_json) as f:
        results = json.load(f)
    path = package(args.name, checkpoint, args.frozen_graph, args.output_dir,
                   tflite=args.tflite, eval_results=results)
  except (CheckpointError, OSError, ValueError) as e:  # One line, status 1 (slim.runtime.entry).
    sys.exit(entry.ERROR_FORMAT % entry.one_line(e))
  print(path)
  return 0


if __name__ == '__main__':
  main()
