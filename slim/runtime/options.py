"""Entry-script options as data: a dataclass per entry point whose fields are its flags.

Each flag is declared once, as a dataclass field made by `flag(default, help)`; the entry script
defines the absl flags from the class and builds the options object from the parsed flags, and
the library code below it only ever sees the object:

  @dataclasses.dataclass
  class TrainOptions(runtime.ClusterOptions):
    train_logdir: str = options.flag(None, 'Where the checkpoint and logs are stored.',
                                     required=True)
    training_number_of_steps: int = options.flag(30000, 'The number of steps used for training')

  def run():                                    # the console-script entry point
    options.define_flags(TrainOptions)
    app.run(lambda argv: train(options.from_flags(TrainOptions)))

Flags shared by several entry points are fields of a shared base class, so their names, defaults
and help texts exist once. A field made with plain `dataclasses.field` (or a bare default) is not
a flag: the entry script passes it to `from_flags` as an override.
"""
import dataclasses

from absl import flags

# Flag kinds: the absl DEFINE_* function of each.
_DEFINERS = {
    'string': flags.DEFINE_string,
    'integer': flags.DEFINE_integer,
    'float': flags.DEFINE_float,
    'boolean': flags.DEFINE_boolean,
    'list': flags.DEFINE_list,
    'enum': flags.DEFINE_enum,
    'multi_string': flags.DEFINE_multi_string,
    'multi_integer': flags.DEFINE_multi_integer,
    'multi_float': flags.DEFINE_multi_float,
}
# Kinds inferred from the default's type when `kind` is not given (bool before int: a subclass).
_INFERRED_KINDS = ((bool, 'boolean'), (int, 'integer'), (float, 'float'), (str, 'string'))
_METADATA_KEY = 'flag'


@dataclasses.dataclass(frozen=True)
class FlagSpec:
  """How a field is exposed as a flag: absl kind, help text, enum values, required."""
  kind: str
  help: str
  enum_values: tuple = ()
  required: bool = False


def flag(default, help, *, kind=None, enum_values=(), required=False):  # pylint: disable=redefined-builtin
  """Declares a dataclass field that is also an absl flag.

  Args:
    default: the flag's default (also the field's). A list default is copied per instance.
    help: the flag's help text.
    kind: a key of the absl definers ('string', 'integer', 'float', 'boolean', 'list', 'enum',
      'multi_string', 'multi_integer', 'multi_float'); inferred from a bool/int/float/str
      default when omitted.
    enum_values: the allowed values of an 'enum' flag.
    required: the entry script fails without it (absl's mark_flag_as_required).

  Returns:
    A `dataclasses.field`.

  Raises:
    ValueError: when the kind is unknown or cannot be inferred.
  """
  if kind is None:
    kind = next((k for t, k in _INFERRED_KINDS if isinstance(default, t)), None)
    if kind is None:
      raise ValueError('flag(%r, %r): give kind= (it cannot be inferred from the default)'
                       % (default, help))
  if kind not in _DEFINERS:
    raise ValueError('flag kind %r: expected one of %s' % (kind, ', '.join(sorted(_DEFINERS))))
  if kind == 'enum' and not enum_values:
    raise ValueError('enum flag %r needs enum_values' % (help,))
  metadata = {_METADATA_KEY: FlagSpec(kind, help, tuple(enum_values), required)}
  if isinstance(default, (list, dict, set)):
    return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
  return dataclasses.field(default=default, metadata=metadata)


def flag_fields(options_cls):
  """Returns the fields of `options_cls` that are flags, with their `FlagSpec`s."""
  return [(f, f.metadata[_METADATA_KEY]) for f in dataclasses.fields(options_cls)
          if _METADATA_KEY in f.metadata]


def _default(field):
  if field.default is not dataclasses.MISSING:
    return field.default
  return field.default_factory()


def define_flags(options_cls, flag_values=flags.FLAGS):
  """Defines one absl flag per flag field of `options_cls` (entry scripts only).

  Args:
    options_cls: a dataclass whose flag fields were declared with `flag`.
    flag_values: the FlagValues to define them in (tests pass a fresh one).
  """
  for field, spec in flag_fields(options_cls):
    args = [field.name, _default(field)]
    if spec.kind == 'enum':
      args.append(list(spec.enum_values))
    _DEFINERS[spec.kind](*args, spec.help, flag_values=flag_values)
    if spec.required:
      flags.mark_flag_as_required(field.name, flag_values=flag_values)


def from_flags(options_cls, flag_values=flags.FLAGS, **overrides):
  """Builds an `options_cls` from parsed flags; `overrides` set the non-flag fields.

  Args:
    options_cls: the dataclass given to `define_flags`.
    flag_values: the parsed FlagValues.
    **overrides: values of fields that are not flags (or that replace a flag's value).

  Returns:
    An `options_cls` instance.
  """
  values = {f.name: flag_values[f.name].value for f, _ in flag_fields(options_cls)}
  values.update(overrides)
  return options_cls(**values)
