"""Atomic file writes: a reader never sees a half-written file.

Every file the project writes (TFRecord shards, frozen graphs, .tflite models, reports, PNGs)
goes through `atomic_write`: the data is written to a temporary name in the target folder,
flushed to disk, then renamed over the target (rename is atomic on POSIX within a file system).
A killed process leaves at most a `*.tmp-*` file, which no reader globs for.

Usage:
  with fileio.atomic_write('/out/model.tflite', 'wb') as f:
    f.write(model_bytes)
"""
import contextlib
import glob
import os
import re
import tempfile

TMP_MARKER = '.tmp-'
# TFRecord shard names: <split>-<index>-of-<count>.tfrecord (build_data.py's, the original's).
SHARD_PATTERN = '%s-%05d-of-%05d.tfrecord'
_SHARD_NAME_RE = re.compile(r'^(.+)-(\d{5})-of-(\d{5})\.tfrecord$')


@contextlib.contextmanager
def atomic_write(path, mode='wb', encoding=None):
  """Opens a temporary file beside `path`; renames it to `path` if the block succeeds.

  Args:
    path: final file path. Its folder is created if missing.
    mode: 'w' or 'wb' (text or binary).
    encoding: text encoding for mode 'w' (default utf-8).

  Yields:
    A writable file object.

  Raises:
    ValueError: for a read or append mode.
  """
  if mode not in ('w', 'wb'):
    raise ValueError('atomic_write supports modes "w" and "wb", got %r' % (mode,))
  path = os.fspath(path)
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + TMP_MARKER, dir=folder)
  try:
    kwargs = {} if mode == 'wb' else {'encoding': encoding or 'utf-8'}
    with os.fdopen(fd, mode, **kwargs) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def atomic_write_bytes(path, data):
  """Writes `data` (bytes) to `path` atomically."""
  with atomic_write(path, 'wb') as f:
    f.write(data)


def atomic_write_text(path, text):
  """Writes `text` (str) to `path` atomically, utf-8 encoded."""
  with atomic_write(path, 'w') as f:
    f.write(text)


def find_shards(folder, split):
  """Returns the sorted shard paths `<folder>/<split>-*` (temporary files left out).

  A split's shards carry their count (`-of-N`): when some of them are missing (an interrupted
  build or copy) or two shard sets are mixed, a reader would silently use part of the data, so
  that is an error. An empty list is returned as is (the caller says what to build).

  Raises:
    ValueError: missing shards or mixed shard counts, naming the folder, split and files.
  """
  files = sorted(f for f in glob.glob(os.path.join(glob.escape(folder), glob.escape(split) + '-*'))
                 if TMP_MARKER not in os.path.basename(f))
  counts, indices = set(), set()
  for path in files:
    match = _SHARD_NAME_RE.match(os.path.basename(path))
    if match:
      indices.add(int(match.group(2)))
      counts.add(int(match.group(3)))
  if len(counts) > 1:
    raise ValueError('%s: split %r mixes shard sets of different sizes (%s); remove the stale '
                     'ones or rebuild the split'
                     % (folder, split, ', '.join('-of-%05d' % c for c in sorted(counts))))
  if counts:
    (count,) = counts
    missing = sorted(set(range(count)) - indices)
    if missing:
      raise ValueError('%s: split %r has %d of its %d shards; missing %s (an interrupted build '
                       'or copy?): rebuild the split'
                       % (folder, split, count - len(missing), count,
                          ', '.join(SHARD_PATTERN % (split, i, count) for i in missing)))
  return files


def unreadable_shard(files):
  """Returns (path, reason) of the first TFRecord file that cannot be read to its end, or None.

  TF's reader names neither the file nor the split when a record is truncated or corrupt ("Read
  less bytes than requested" from IteratorGetNext): readers call this after such an error to say
  which shard it was.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (fileio itself needs no TF)
  for path in files:
    try:
      for _ in tf.compat.v1.io.tf_record_iterator(path):
        pass
    except tf.errors.OpError as e:
      return path, e.message.strip().splitlines()[0]
  return None
