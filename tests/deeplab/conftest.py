"""Fixtures of the DeepLab tests."""
import pytest

from deeplab.core import feature_extractor
from tests import helpers


@pytest.fixture
def stand_in_backbone(monkeypatch):
  """Patches the tiny backbone of tests.helpers into deeplab.core.feature_extractor."""
  monkeypatch.setattr(feature_extractor, 'extract_features', helpers.fake_extract_features)
  monkeypatch.setattr(feature_extractor, 'decoder_end_points',
                      lambda variant: {4: 'layer_4/depthwise_output'})
  monkeypatch.setattr(feature_extractor, 'name_scope', lambda variant: helpers.STAND_IN_SCOPE)
