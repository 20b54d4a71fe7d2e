"""How every entry script starts: its options become flags, and a user error is one line.

  def run():
    entry.run(main, TrainOptions)

A bad flag value, a missing or corrupt file, an inconsistent combination: the library raises a
ValueError (or one of the few error types below) whose message names the flag or file, what was
found and what was expected. `run` prints it as ONE line, `ERROR: <message>`, and exits with
status 1, instead of a Python traceback; `--verbose` (new) shows the traceback too, and the
traceback always goes to the log at debug level. Flag parsing errors are absl's own one-line
`FATAL Flags parsing error`. Anything else (a bug) keeps its traceback.
"""
import sys
import traceback

from absl import app
from absl import flags
from absl import logging

from slim.runtime import options
from slim.tflite import interpreter

# Errors a user's input causes (CheckpointError, DatasetBuildError, NotFullyQuantizedError and
# the trainers' NonFiniteLossError are subclasses of these).
USER_ERRORS = (ValueError, FloatingPointError, OSError, interpreter.ModelNotRunnableError)
VERBOSE_FLAG = 'verbose'
ERROR_FORMAT = 'ERROR: %s'


def one_line(error):
  """The message of `error` on one line (multi-line messages are joined with '; ')."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  return '; '.join(lines) or type(error).__name__


def run(main, *options_classes, flag_values=flags.FLAGS, argv=None):
  """Defines the flags of `options_classes` and --verbose, then runs `main` under absl.

  Args:
    main: `f(argv)`, the script's main.
    *options_classes: dataclasses whose flag fields become the script's flags.
    flag_values: where the flags are defined (tests pass a fresh FlagValues).
    argv: the command line (default sys.argv).
  """
  for cls in options_classes:
    options.define_flags(cls, flag_values)
  if VERBOSE_FLAG not in flag_values:
    flags.DEFINE_boolean(VERBOSE_FLAG, False, 'New: also print the Python traceback of an '
                         'input error (bad flag value, missing or corrupt file).',
                         flag_values=flag_values)
  app.run(lambda args: guarded(main, args, flag_values), argv=argv)


def guarded(main, argv, flag_values=flags.FLAGS):
  """Runs `main(argv)`; a user error becomes `ERROR: <one line>` on stderr and exit status 1.

  Raises:
    SystemExit: with code 'ERROR: <message>' (Python prints it and exits with status 1).
  """
  try:
    return main(argv)
  except USER_ERRORS as e:  # pylint: disable=catching-non-exception
    if VERBOSE_FLAG in flag_values and flag_values[VERBOSE_FLAG].value:
      raise
    logging.debug('%s', traceback.format_exc())
    sys.exit(ERROR_FORMAT % one_line(e))
