"""Fixtures of the DeepLab tests."""
import pytest

from deeplab.core import feature_extractor
from tests import helpers


@pytest.fixture
def stand_in_backbone(monkeypatch):
  """Patches the tiny backbone of tests.helpers into deeplab.core.feature_extractor."""
  for name, value in helpers.STAND_IN_PATCHES.items():
    monkeypatch.setattr(feature_extractor, name, value)
