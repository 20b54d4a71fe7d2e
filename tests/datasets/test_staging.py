"""scripts/lib/staging.sh, the staging helpers the three dataset scripts source.

Its functions are run in bash directly (source the file, call one); the archive errors are checked
through the scripts, which must stop with one ERROR line and leave nothing behind.
"""
import os
import subprocess
import zipfile

from tests import helpers

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bash(body, cwd):
  """Runs `body` in bash after sourcing the staging library; returns the CompletedProcess."""
  script = ('set -euo pipefail\nROOT=%s\nLOG_TAG=test\nsource "$ROOT/scripts/lib/staging.sh"\n%s'
            % (_ROOT, body))
  return subprocess.run(['bash', '-c', script], cwd=cwd, capture_output=True, text=True,
                        timeout=60)


def _leftovers(root):
  return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files
          if '.tmp-' in n or '.old-' in n]


def testPickSource_ArgumentThenEnvironmentThenEarlierExtractionThenArchive(tmp_path):
  pick = 'pick_source SRC "${ARG:-}" "$PWD/done" "$PWD/data.zip"; echo "$SRC"'
  cases = [({'ARG': 'a/b', 'SRC': '/env'}, str(tmp_path / 'a' / 'b')),
           ({'SRC': './env'}, str(tmp_path / 'env')),
           ({}, str(tmp_path / 'data.zip'))]
  for env, expected in cases:
    exports = ''.join('export %s=%s\n' % kv for kv in env.items())
    assert _bash(exports + pick, str(tmp_path)).stdout == expected + '\n', env
  (tmp_path / 'done').mkdir()
  assert _bash(pick, str(tmp_path)).stdout == str(tmp_path / 'done') + '\n'


def testFindLayout_PrintsFirstCandidateHoldingEveryRequiredFolder(tmp_path):
  (tmp_path / 'src' / 'JPEGImages').mkdir(parents=True)  # Lacks SegmentationClass/.
  for sub in ('JPEGImages', 'SegmentationClass'):
    (tmp_path / 'src' / 'VOCdevkit' / 'VOC2012' / sub).mkdir(parents=True)
  result = _bash('find_layout src "JPEGImages SegmentationClass" . VOC2012 VOCdevkit/VOC2012',
                 str(tmp_path))
  assert (result.returncode, result.stdout) == (0, 'src/VOCdevkit/VOC2012\n')
  result = _bash('find_layout src "" VOC2012 VOCdevkit .', str(tmp_path))
  assert (result.returncode, result.stdout) == (0, 'src/VOCdevkit\n')


def testFindLayout_NoCandidateFailsSilently(tmp_path):
  (tmp_path / 'src' / 'images').mkdir(parents=True)
  result = _bash('find_layout src "images annotations" . ADEChallengeData2016 || echo "status $?"',
                 str(tmp_path))
  assert (result.returncode, result.stdout, result.stderr) == (0, 'status 1\n', '')


def testPublish_ReplacesTheFolderAndMakesItsParent(tmp_path):
  result = _bash('new_tmp DONE out/a/final\n'
                 'echo new > "$DONE/new.txt"\n'
                 'publish "$DONE" out/a/final\n'
                 'new_tmp AGAIN out/a/final\n'
                 'echo newer > "$AGAIN/newer.txt"\n'
                 'publish "$AGAIN" out/a/final', str(tmp_path))
  assert result.returncode == 0, result.stderr
  assert os.listdir(str(tmp_path / 'out' / 'a' / 'final')) == ['newer.txt']
  assert _leftovers(str(tmp_path)) == []


def testNewTmp_RemovedWhenTheScriptFails(tmp_path):
  result = _bash('new_tmp STAGE out\ntouch "$STAGE/partial"\nfail "stage broke"', str(tmp_path))
  assert (result.returncode, result.stderr) == (1, 'ERROR: stage broke\n')
  assert _leftovers(str(tmp_path)) == []
  assert not os.path.exists(str(tmp_path / 'out'))


def testStageArchive_PublishesTheFoundFolderAndLogs(tmp_path):
  with zipfile.ZipFile(str(tmp_path / 'data.zip'), 'w') as z:
    z.writestr('top/images/a.jpg', b'a')
    z.writestr('top/annotations/a.png', b'b')
  result = _bash('PY=%s/.venv/bin/python\n'
                 'find_top() { find_layout "$1" "images annotations" . top; }\n'
                 'stage_archive DIR data.zip "$PWD/work/ADE" find_top "no layout"\n'
                 'echo "DIR=$DIR"' % _ROOT, str(tmp_path))
  assert result.returncode == 0, result.stderr
  work = str(tmp_path / 'work' / 'ADE')
  assert result.stdout.splitlines() == ['[test] extracting data.zip', 'DIR=' + work]
  assert sorted(os.listdir(work)) == ['annotations', 'images']
  assert _leftovers(str(tmp_path)) == []


def testAde20kScript_ArchiveWithoutLayoutFailsAndLeavesNothing(tmp_path):
  zip_path = str(tmp_path / 'ADEChallengeData2016.zip')
  with zipfile.ZipFile(zip_path, 'w') as z:
    z.writestr('ADEChallengeData2016/images/training/ADE_train_00000001.jpg', b'x')
  work = str(tmp_path / 'ADE20K')
  result = helpers.run_script('download_and_convert_ade20k.sh', [zip_path], env={'WORK_DIR': work})
  assert result.returncode == 1
  assert result.stderr == ('ERROR: %s: archive holds no ADEChallengeData2016/ folder with '
                           'images/ and annotations/\n' % zip_path)
  assert os.listdir(work) == []
  assert _leftovers(str(tmp_path)) == []


def testCityscapesScript_ZipWithoutTopFolderFails(tmp_path):
  root = tmp_path / 'cityscapes'
  (root / 'leftImg8bit').mkdir(parents=True)
  with zipfile.ZipFile(str(root / 'gtFine_trainvaltest.zip'), 'w') as z:
    z.writestr('train/aachen/aachen_000000_000019_gtFine_labelIds.png', b'x')
  result = helpers.run_script('convert_cityscapes.sh', [str(root)])
  assert result.returncode == 1
  assert result.stderr == ('ERROR: %s/gtFine_trainvaltest.zip: archive holds no top-level '
                           'gtFine/ folder\n' % root)
  assert sorted(os.listdir(str(root))) == ['gtFine_trainvaltest.zip', 'leftImg8bit']


def testVocScript_UnsupportedArchiveTypeFails(tmp_path):
  archive = tmp_path / 'VOCtrainval_11-May-2012.rar'
  archive.write_bytes(b'Rar!')
  result = helpers.run_script('download_and_convert_voc2012.sh', [str(archive)],
                            env={'WORK_DIR': str(tmp_path / 'w')})
  assert result.returncode == 1
  assert result.stderr == ('ERROR: %s: unsupported archive type (expected .tar, .tar.gz, .tgz '
                           'or .zip)\n' % archive)
  assert _leftovers(str(tmp_path)) == []
