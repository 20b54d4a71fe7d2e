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
import os
import tempfile

TMP_MARKER = '.tmp-'


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
