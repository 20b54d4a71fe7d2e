"""deeplab.stats: DeepLab's inference graph counted with slim.nets.stats, and its CLI."""

import subprocess
import sys

import pytest

import slim  # noqa: F401  (applies slim.compat)
from deeplab import stats as deeplab_stats
from slim.nets import stats


@pytest.mark.parametrize('depth_multiplier, target', [
    pytest.param(1.0, 2.75e9, marks=pytest.mark.slow), (0.5, 0.88e9)])
def testDeeplabStats_MatchTheModelZooAt513Os16(depth_multiplier, target):
  deeplab_stats.build_deeplab('mobilenet_v2', input_size=513, depth_multiplier=depth_multiplier,
                              output_stride=16)
  madds = stats.graph_stats()['madds']
  assert abs(madds - target) <= 0.02 * target, madds


def testRun_UnsetMultiplierIsTheRecords():
  # mobilenet_v2_140 at its own 1.4 (divisible by 1 off multiplier 1.0, as DeepLab rounds).
  opts = deeplab_stats.DeeplabStatsOptions(input_size=129, output_stride=16)
  unset = deeplab_stats.run('mobilenet_v2_140', None, opts)
  explicit = deeplab_stats.run('mobilenet_v2_140', 1.4, opts)
  unit = deeplab_stats.run('mobilenet_v2_140', 1.0, opts)
  assert unset.startswith('mobilenet_v2_140 DeepLab OS16 depth_multiplier=default input=129: ')
  assert unset.split(': ', 1)[1] == explicit.split(': ', 1)[1]
  assert unset.split(': ', 1)[1] != unit.split(': ', 1)[1]


@pytest.mark.slow
def testMain_PrintsTheModelZooFigures():
  result = subprocess.run(
      [sys.executable, '-m', 'deeplab.stats', '--model_variant=mobilenet_v2', '--input_size=513',
       '--output_stride=16'],
      cwd='/', capture_output=True, text=True, timeout=600, check=True)
  assert ('mobilenet_v2 DeepLab OS16 depth_multiplier=default input=513: '
          'params: 2.114M (2113557)  madds: 2.743B (2743285864)') in result.stdout
