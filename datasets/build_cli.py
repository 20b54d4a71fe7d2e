"""The entry point shared by the dataset scripts: flags -> options -> build -> exit status.

Each script (the VOC, Cityscapes, ADE20K and classification builders, the colour-map remover and
the synthetic generators) declares its flags once, as a `slim.runtime.options` dataclass, and
does its work in a `build(options)` function that never reads absl FLAGS; this module turns the
pair into the script:

  @dataclasses.dataclass
  class BuildOptions:
    output_dir: str = options.flag('./tfrecord', 'Where the TFRecords are written.')

  def build(opts):
    ...

  def run():                      # console script; also `python -m datasets.build_X`
    build_cli.run(BuildOptions, build)

  if __name__ == '__main__':      # `python datasets/build_X.py` (the package is installed)
    run()

A bad input file (`build_data.DatasetBuildError`) or flag value is the user's error, not a bug:
the script prints `ERROR: <message>` on stderr and exits with status 1, without a traceback
(`slim.runtime.entry`, shared by every entry script). Every other exception keeps its traceback.
"""
from absl import flags

from slim.runtime import entry
from slim.runtime import options

# How a user error is shown (the scripts' callers match on this prefix).
ERROR_FORMAT = entry.ERROR_FORMAT


def main(options_cls, build_fn, flag_values=flags.FLAGS):
  """Builds the options from parsed flags and runs `build_fn` on them.

  Args:
    options_cls: the dataclass whose flag fields were defined in `flag_values`.
    build_fn: callable(options) doing the script's work.
    flag_values: the parsed FlagValues (tests pass their own).

  Returns:
    What `build_fn` returns.

  Raises:
    SystemExit: with 'ERROR: <message>' (status 1) when `build_fn` raises a user error
      (DatasetBuildError and the other ValueErrors, see slim.runtime.entry).
  """
  return entry.guarded(lambda argv: build_fn(options.from_flags(options_cls, flag_values)),
                       None, flag_values)


def run(options_cls, build_fn, argv=None):
  """Runs a dataset script: defines the flags of `options_cls`, parses argv, calls `build_fn`.

  Args:
    options_cls: the script's options dataclass (its `options.flag` fields are the flags).
    build_fn: callable(options) doing the script's work; its result is not an exit status.
    argv: command line (default sys.argv).

  Raises:
    SystemExit: always, as absl's app.run: status 0 on success, 1 with 'ERROR: <message>' on a
      DatasetBuildError, and absl's usage status on a bad flag.
  """
  def _main(unused_argv):
    main(options_cls, build_fn)  # None: app.run would exit with a returned value as status.

  entry.run(_main, options_cls, argv=argv)
