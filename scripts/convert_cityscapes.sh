#!/usr/bin/env bash
# Converts Cityscapes (fine annotations) to TFRecords, the steps of the original
# deeplab/datasets/convert_cityscapes.sh, from the archives you downloaded (this script uses no
# network and does not need cityscapesScripts):
#   gtFine_trainvaltest.zip + leftImg8bit_trainvaltest.zip (or their extracted gtFine/ and
#   leftImg8bit/ folders) -> *_gtFine_labelTrainIds.png from *_gtFine_labelIds.png (the 19-class
#   table of createTrainIdLabelImgs) -> build_cityscapes_data
#   -> $OUTPUT_DIR/{train,val,test}_fine-*.
#
# Usage: bash scripts/convert_cityscapes.sh [CITYSCAPES_ROOT]
#   CITYSCAPES_ROOT  folder holding gtFine/ and leftImg8bit/, or the two zips (default ./cityscapes;
#                    also read from the env var). A zip is extracted there when its folder is
#                    missing.
#   GTFINE_ZIP       default $CITYSCAPES_ROOT/gtFine_trainvaltest.zip
#   LEFTIMG8BIT_ZIP  default $CITYSCAPES_ROOT/leftImg8bit_trainvaltest.zip
#   OUTPUT_DIR       TFRecord folder (default $CITYSCAPES_ROOT/tfrecord)
#   SKIP_SETUP_ENV=1 skip scripts/setup_env.sh (use the existing .venv).
# Nothing partial is left where a reader looks: extraction and shards are written to *.tmp-<pid>
# folders and renamed into place when complete (removed on failure); label files are written
# one by one atomically.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=cityscapes
# The staging helpers: abspath, fail, log, pick_source, stage_source, new_tmp, publish, ...
source "$ROOT/scripts/lib/staging.sh"
DOWNLOAD_PAGE="https://www.cityscapes-dataset.com/downloads/"

CITYSCAPES_ROOT="$(abspath "${1:-${CITYSCAPES_ROOT:-./cityscapes}}")"
GTFINE_ZIP="$(abspath "${GTFINE_ZIP:-$CITYSCAPES_ROOT/gtFine_trainvaltest.zip}")"
LEFTIMG8BIT_ZIP="$(abspath "${LEFTIMG8BIT_ZIP:-$CITYSCAPES_ROOT/leftImg8bit_trainvaltest.zip}")"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$CITYSCAPES_ROOT/tfrecord}")"

MISSING=()
[ -d "$CITYSCAPES_ROOT/gtFine" ] || [ -f "$GTFINE_ZIP" ] || \
  MISSING+=("gtFine_trainvaltest.zip (241 MB, package 1): put it at $GTFINE_ZIP or extract it"\
" so that $CITYSCAPES_ROOT/gtFine/ exists")
[ -d "$CITYSCAPES_ROOT/leftImg8bit" ] || [ -f "$LEFTIMG8BIT_ZIP" ] || \
  MISSING+=("leftImg8bit_trainvaltest.zip (11 GB, package 3): put it at $LEFTIMG8BIT_ZIP or"\
" extract it so that $CITYSCAPES_ROOT/leftImg8bit/ exists")
if [ ${#MISSING[@]} -gt 0 ]; then
  {
    echo "ERROR: Cityscapes not found under $CITYSCAPES_ROOT."
    echo "This script does not download anything. Register and download from"
    echo "  $DOWNLOAD_PAGE"
    printf '  %s\n' "${MISSING[@]}"
    echo "then run: bash scripts/convert_cityscapes.sh $CITYSCAPES_ROOT"
  } >&2
  exit 1
fi

use_project_python

# Each zip holds one top-level folder, extracted to $CITYSCAPES_ROOT when that one is missing.
find_gtfine() { find_layout "$1" "" gtFine; }
find_leftimg8bit() { find_layout "$1" "" leftImg8bit; }

mkdir -p "$CITYSCAPES_ROOT"
GTFINE_DIR="$CITYSCAPES_ROOT/gtFine"
LEFTIMG8BIT_DIR="$CITYSCAPES_ROOT/leftImg8bit"
[ -d "$GTFINE_DIR" ] || stage_archive GTFINE_DIR "$GTFINE_ZIP" "$GTFINE_DIR" find_gtfine \
  "$GTFINE_ZIP: archive holds no top-level gtFine/ folder"
[ -d "$LEFTIMG8BIT_DIR" ] || stage_archive LEFTIMG8BIT_DIR "$LEFTIMG8BIT_ZIP" "$LEFTIMG8BIT_DIR" \
  find_leftimg8bit "$LEFTIMG8BIT_ZIP: archive holds no top-level leftImg8bit/ folder"

log "labelTrainIds + TFRecords -> $OUTPUT_DIR"
new_tmp OUT_STAGE "$OUTPUT_DIR"
"$PY" -m datasets.build_cityscapes_data --cityscapes_root="$CITYSCAPES_ROOT" \
  --output_dir="$OUT_STAGE" --create_label_trainids
publish "$OUT_STAGE" "$OUTPUT_DIR"
log "TFRecords in $OUTPUT_DIR"
