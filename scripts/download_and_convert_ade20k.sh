#!/usr/bin/env bash
# Converts ADE20K (SceneParsing ADEChallengeData2016) to TFRecords, the steps of the original
# deeplab/datasets/download_and_convert_ade20k.sh, from the archive you downloaded (this script
# uses no network):
#   ADEChallengeData2016.zip -> $WORK_DIR/ADEChallengeData2016 -> build_ade20k_data
#   (images/{training,validation}, annotations/{training,validation}) -> $WORK_DIR/tfrecord.
#
# Usage: bash scripts/download_and_convert_ade20k.sh [ADE20K_SOURCE]
#   ADE20K_SOURCE  ADEChallengeData2016.zip, or the extracted ADEChallengeData2016 folder (or its
#                  parent). Default: $WORK_DIR/ADEChallengeData2016 if present, else
#                  $WORK_DIR/ADEChallengeData2016.zip. Also read from the env var.
#   WORK_DIR       output root (default ./ADE20K).
#   OUTPUT_DIR     TFRecord folder (default $WORK_DIR/tfrecord).
#   SKIP_SETUP_ENV=1 skip scripts/setup_env.sh (use the existing .venv).
# Nothing partial is left where a reader looks: extraction and shards are written to *.tmp-<pid>
# folders and renamed into place when complete (removed on failure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=ade20k
# The staging helpers: abspath, fail, log, pick_source, stage_source, new_tmp, publish, ...
source "$ROOT/scripts/lib/staging.sh"
ADE_URL="http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
ADE_ZIP_NAME="ADEChallengeData2016.zip"
ADE_FOLDER_NAME="ADEChallengeData2016"

WORK_DIR="$(abspath "${WORK_DIR:-./ADE20K}")"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$WORK_DIR/tfrecord}")"
EXTRACTED="$WORK_DIR/$ADE_FOLDER_NAME"
pick_source ADE20K_SOURCE "${1:-}" "$EXTRACTED" "$WORK_DIR/$ADE_ZIP_NAME"

if [ ! -e "$ADE20K_SOURCE" ]; then
  cat >&2 <<EOF
ERROR: ADE20K not found: $ADE20K_SOURCE does not exist.
This script does not download anything. Download
  $ADE_URL
(file $ADE_ZIP_NAME, 923 MB) and put it at
  $WORK_DIR/$ADE_ZIP_NAME
or pass the archive, or the folder it was extracted to, as the first argument (or ADE20K_SOURCE).
EOF
  exit 1
fi

use_project_python

# The ADEChallengeData2016 folder: the given one itself or its ADEChallengeData2016/.
find_ade() { find_layout "$1" "images annotations" . "$ADE_FOLDER_NAME"; }
ADE_LAYOUT="images/ and annotations/"

mkdir -p "$WORK_DIR"
stage_source ADE_DIR "$ADE20K_SOURCE" "$EXTRACTED" find_ade \
  "$ADE20K_SOURCE: no $ADE_FOLDER_NAME folder (expected $ADE_LAYOUT in it or in $ADE_FOLDER_NAME/)"\
  "$ADE20K_SOURCE: archive holds no $ADE_FOLDER_NAME/ folder with $ADE_LAYOUT"

log "building TFRecords -> $OUTPUT_DIR"
new_tmp OUT_STAGE "$OUTPUT_DIR"
"$PY" -m datasets.build_ade20k_data \
  --train_image_folder="$ADE_DIR/images/training" \
  --train_image_label_folder="$ADE_DIR/annotations/training" \
  --val_image_folder="$ADE_DIR/images/validation" \
  --val_image_label_folder="$ADE_DIR/annotations/validation" \
  --output_dir="$OUT_STAGE"
publish "$OUT_STAGE" "$OUTPUT_DIR"
log "TFRecords in $OUTPUT_DIR"
