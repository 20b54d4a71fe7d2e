"""Named variants of one builder: `wrapped_partial`, a `functools.partial` that keeps its metadata.

A variant (`resnet_v1_50`, `xception_65`, `mobilenet_v3.large`, ...) is its family builder with
some arguments fixed, never a copied function. A bare `functools.partial` has no `__name__`,
`__doc__` or `default_image_size`, which `help()`, nets_factory and the docs read, so the
partial gets the builder's metadata and, optionally, a docstring of its own:

  resnet_v1_50 = partials.wrapped_partial(
      build_variant, 'resnet_v1_50', new_defaults={'scope': 'resnet_v1_50'},
      doc='ResNet-50 v1 (blocks of 3, 4, 6, 3 units).')

Fixed keyword arguments (`conv_defs=V3_LARGE`) become keyword-only parameters, as with any
partial; `new_defaults` only changes a parameter's default (the original variants' signatures,
e.g. `scope='resnet_v1_50'`), so callers may still pass it by position.
"""

import functools
import inspect


def _call_with_defaults(signature, target, *args, **kwargs):
  """Calls `target` with the arguments bound to `signature`, its defaults filled in."""
  bound = signature.bind(*args, **kwargs)
  bound.apply_defaults()
  return target(*bound.args, **bound.kwargs)


def wrapped_partial(func, *args, doc=None, new_defaults=None, **kwargs):
  """Returns `functools.partial(func, *args, **kwargs)` carrying `func`'s metadata.

  Args:
    func: The builder.
    *args: Leading positional arguments to fix (e.g. the variant name).
    doc: The variant's own docstring; None keeps `func`'s.
    new_defaults: {parameter: default} to replace in the partial's signature (and to use when
      the caller does not pass that parameter), without making the parameter keyword-only.
    **kwargs: Keyword arguments to fix (callers may still override them by keyword).

  Returns:
    The partial, with `func`'s `__name__`, `__module__`, `__qualname__`, `__doc__` and
    attributes (e.g. `default_image_size`), `__wrapped__` = `func`, and the signature of the
    partial itself (the fixed arguments removed or re-defaulted, `new_defaults` applied).

  Raises:
    ValueError: if a `new_defaults` key is not a parameter of the partial.
  """
  partial = functools.partial(func, *args, **kwargs)
  # Taken before `__wrapped__` is set: inspect.signature follows `__wrapped__` to `func` and
  # would report the fixed arguments as parameters again.
  signature = inspect.signature(partial)
  if new_defaults:
    unknown = sorted(set(new_defaults) - set(signature.parameters))
    if unknown:
      raise ValueError('new_defaults %s are not parameters of %s%s' %
                       (', '.join(unknown), func.__name__, signature))
    signature = signature.replace(parameters=[
        p.replace(default=new_defaults[p.name]) if p.name in new_defaults else p
        for p in signature.parameters.values()])
    partial = functools.partial(_call_with_defaults, signature, partial)
  functools.update_wrapper(partial, func)
  partial.__signature__ = signature
  if doc is not None:
    partial.__doc__ = doc
  return partial
