"""Shared TF1 graph-mode library: QAT rewriter, nets, pruning, TFLite tools.

Importing this package applies `slim.compat` (TF1 behaviour on TF 2.21). tf_slim itself is
imported as `tf_slim`, never as `slim`, to avoid confusion with this package.
"""
from slim import compat as _compat

_compat.apply()
