"""Named variants of one builder: `wrapped_partial`, a `functools.partial` that keeps its metadata.

A variant (`resnet_v1_50`, `xception_65`, `mobilenet_v3.large`, ...) is its family builder with
some arguments fixed, never a copied function. A bare `functools.partial` has no `__name__`,
`__doc__` or `default_image_size`, which `help()`, nets_factory and the docs read, so the
partial gets the builder's metadata and, optionally, a docstring of its own:

  resnet_v1_50 = partials.wrapped_partial(
      build_variant, 'resnet_v1_50', doc='ResNet-50 v1 (blocks of 3, 4, 6, 3 units).')
"""

import functools
import inspect


def wrapped_partial(func, *args, doc=None, **kwargs):
  """Returns `functools.partial(func, *args, **kwargs)` carrying `func`'s metadata.

  Args:
    func: The builder.
    *args: Leading positional arguments to fix (e.g. the variant name).
    doc: The variant's own docstring; None keeps `func`'s.
    **kwargs: Keyword arguments to fix (callers may still override them).

  Returns:
    The partial, with `func`'s `__name__`, `__module__`, `__qualname__`, `__doc__` and
    attributes (e.g. `default_image_size`), `__wrapped__` = `func`, and the signature of the
    partial itself (the fixed arguments removed or re-defaulted).
  """
  partial = functools.partial(func, *args, **kwargs)
  # Taken before `__wrapped__` is set: inspect.signature follows `__wrapped__` to `func` and
  # would report the fixed arguments as parameters again.
  signature = inspect.signature(partial)
  functools.update_wrapper(partial, func)
  partial.__signature__ = signature
  if doc is not None:
    partial.__doc__ = doc
  return partial
