r"""Removes pruning variables from a checkpoint's graph and writes a frozen GraphDef.

Same flags as contrib's `strip_pruning_vars`:

  python -m slim.pruning.strip_pruning_vars \
    --checkpoint_dir=/tmp/train --output_node_names=logits/BiasAdd \
    --output_dir=/tmp/export --filename=pruning_stripped.pb

Every `.../masked_weight` becomes a Const of mask * weight, and masks, thresholds and the raw
kernels are dropped. A per-layer sparsity table of the result is printed (measured on the
written constants), with the checkpoint it came from.
"""
import os

from absl import app
from absl import flags
import tensorflow as tf

from slim import fileio
from slim.pruning import report
from slim.pruning import strip_pruning_vars_lib

FLAGS = flags.FLAGS

flags.DEFINE_string('checkpoint_dir', None, 'Folder of the checkpoint to strip (latest is used).')
flags.DEFINE_string('output_node_names', None, 'Comma-separated output op names.')
flags.DEFINE_string('output_dir', None, 'Folder for the stripped GraphDef.')
flags.DEFINE_string('filename', 'pruning_stripped.pb', 'Output file name.')


def strip_checkpoint(checkpoint_dir, output_node_names, output_dir, filename):
  """Freezes the latest checkpoint, strips pruning variables and writes the binary GraphDef.

  Args:
    checkpoint_dir: folder with the checkpoint (and its .meta).
    output_node_names: list of output op names.
    output_dir: destination folder (created if missing).
    filename: destination file name.

  Returns:
    (output_path, stripped_graph_def).

  Raises:
    ValueError: no checkpoint / meta graph, or an unknown output node.
  """
  frozen = strip_pruning_vars_lib.graph_def_from_checkpoint(checkpoint_dir, output_node_names)
  stripped = strip_pruning_vars_lib.strip_pruning_vars_fn(frozen, output_node_names)
  output_path = os.path.join(output_dir, filename)
  fileio.atomic_write_bytes(output_path, stripped.SerializeToString())
  return output_path, stripped


def main(argv):
  del argv
  missing = [name for name in ('checkpoint_dir', 'output_node_names', 'output_dir')
             if not getattr(FLAGS, name)]
  if missing:
    raise app.UsageError('Missing required flag(s): %s' %
                         ', '.join('--' + name for name in missing))
  print('Checkpoint: %s' % tf.train.latest_checkpoint(FLAGS.checkpoint_dir))
  output_nodes = [name.strip() for name in FLAGS.output_node_names.split(',') if name.strip()]
  output_path, stripped = strip_checkpoint(FLAGS.checkpoint_dir, output_nodes, FLAGS.output_dir,
                                           FLAGS.filename)
  print(report.format_sparsity_report(report.sparsity_report_from_graph_def(stripped)))
  print('Wrote %s' % output_path)


def run():
  """Console-script entry point."""
  app.run(main)


if __name__ == '__main__':
  run()
