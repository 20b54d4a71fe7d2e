"""Shared pytest setup: TF1 behaviour (via `import slim`) and a fresh default graph per test."""
import pytest
import tensorflow as tf

import slim  # noqa: F401  (applies slim.compat: graph mode, v1 control flow)


@pytest.fixture(autouse=True)
def _fresh_graph():
  """Every test starts with an empty default graph, as tf.test.TestCase did in TF1."""
  tf.compat.v1.reset_default_graph()
  yield
  tf.compat.v1.reset_default_graph()
