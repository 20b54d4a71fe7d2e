#!/usr/bin/env bash
# Converts PASCAL VOC 2012 segmentation to TFRecords, the steps of the original
# deeplab/datasets/download_and_convert_voc2012.sh, from an archive you downloaded (this script uses
# no network):
#   VOCtrainval_11-May-2012.tar -> $WORK_DIR/VOCdevkit/VOC2012
#   -> remove_gt_colormap: SegmentationClass (palette PNGs) -> SegmentationClassRaw (class ids)
#   -> build_voc2012_data: one split per ImageSets/Segmentation/*.txt -> $WORK_DIR/tfrecord
#   -> with SegmentationClassAug and train_aug.txt (SBD, see g3doc/datasets.md): train_aug.
#
# Usage: bash scripts/download_and_convert_voc2012.sh [VOC_SOURCE]
#   VOC_SOURCE      VOCtrainval_11-May-2012.tar (or a .zip/.tar.gz of VOC2012), or an extracted
#                   folder: VOC2012 itself or one holding VOCdevkit/VOC2012 or VOC2012.
#                   Default: $WORK_DIR/VOCdevkit/VOC2012 if present, else
#                   $WORK_DIR/VOCtrainval_11-May-2012.tar. Also read from the env var.
#   WORK_DIR        output root (default ./pascal_voc_seg).
#   OUTPUT_DIR      TFRecord folder (default $WORK_DIR/tfrecord).
#   VOC_AUG_LABELS  optional: SegmentationClassAug folder or SegmentationClassAug.zip.
#   VOC_AUG_LIST    train_aug.txt (needed with VOC_AUG_LABELS); lines are image names, or
#                   "<image path> <label path>" pairs, of which the image base name is used.
#   SKIP_SETUP_ENV=1  skip scripts/setup_env.sh (use the existing .venv).
# Nothing partial is left where a reader looks: extraction, raw labels and shards are written to
# *.tmp-<pid> folders and renamed into place when complete (removed on failure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG_TAG=voc2012
# The staging helpers: abspath, fail, log, pick_source, stage_source, new_tmp, publish, ...
source "$ROOT/scripts/lib/staging.sh"
VOC_URL="http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_TAR_NAME="VOCtrainval_11-May-2012.tar"

WORK_DIR="$(abspath "${WORK_DIR:-./pascal_voc_seg}")"
OUTPUT_DIR="$(abspath "${OUTPUT_DIR:-$WORK_DIR/tfrecord}")"
EXTRACTED="$WORK_DIR/VOCdevkit/VOC2012"
pick_source VOC_SOURCE "${1:-}" "$EXTRACTED" "$WORK_DIR/$VOC_TAR_NAME"
VOC_AUG_LABELS="${VOC_AUG_LABELS:-}"
VOC_AUG_LIST="${VOC_AUG_LIST:-}"

if [ ! -e "$VOC_SOURCE" ]; then
  cat >&2 <<EOF
ERROR: PASCAL VOC 2012 not found: $VOC_SOURCE does not exist.
This script does not download anything. Download
  $VOC_URL
(file $VOC_TAR_NAME, 1.9 GB) and put it at
  $WORK_DIR/$VOC_TAR_NAME
or pass the archive, or the folder it was extracted to, as the first argument (or VOC_SOURCE).
For the train_aug split also get SegmentationClassAug.zip and train_aug.txt (see
g3doc/datasets.md) and set VOC_AUG_LABELS and VOC_AUG_LIST.
EOF
  exit 1
fi
if [ -n "$VOC_AUG_LABELS$VOC_AUG_LIST" ]; then
  [ -n "$VOC_AUG_LABELS" ] && [ -n "$VOC_AUG_LIST" ] || \
    fail "train_aug needs both VOC_AUG_LABELS (SegmentationClassAug folder or .zip) and" \
      "VOC_AUG_LIST (train_aug.txt); got VOC_AUG_LABELS='$VOC_AUG_LABELS'" \
      "VOC_AUG_LIST='$VOC_AUG_LIST'"
  VOC_AUG_LABELS="$(abspath "$VOC_AUG_LABELS")"; VOC_AUG_LIST="$(abspath "$VOC_AUG_LIST")"
  [ -e "$VOC_AUG_LABELS" ] || fail "VOC_AUG_LABELS: $VOC_AUG_LABELS does not exist" \
    "(expected the SegmentationClassAug folder or SegmentationClassAug.zip)"
  [ -f "$VOC_AUG_LIST" ] || fail "VOC_AUG_LIST: $VOC_AUG_LIST does not exist" \
    "(expected train_aug.txt, one image name per line)"
fi

use_project_python

# The VOC2012 folder: the given one itself, or its VOC2012/ or VOCdevkit/VOC2012/.
find_voc2012() { find_layout "$1" "JPEGImages SegmentationClass" . VOC2012 VOCdevkit/VOC2012; }
find_aug_labels() { find_layout "$1" "" SegmentationClassAug; }
VOC_LAYOUT="JPEGImages/ and SegmentationClass/"
VOC_PLACES="in it, in VOC2012/ or in VOCdevkit/VOC2012/"

mkdir -p "$WORK_DIR"
stage_source VOC_DIR "$VOC_SOURCE" "$EXTRACTED" find_voc2012 \
  "$VOC_SOURCE: no VOC2012 folder (expected $VOC_LAYOUT $VOC_PLACES)" \
  "$VOC_SOURCE: archive holds no VOCdevkit/VOC2012 or VOC2012 folder with $VOC_LAYOUT"
LIST_DIR="$VOC_DIR/ImageSets/Segmentation"
ls "$LIST_DIR"/*.txt >/dev/null 2>&1 || \
  fail "$LIST_DIR: no split lists (expected train.txt, val.txt, trainval.txt)"

log "removing the colour map: $VOC_DIR/SegmentationClass -> SegmentationClassRaw"
new_tmp RAW_STAGE "$VOC_DIR/SegmentationClassRaw"
"$PY" -m datasets.remove_gt_colormap --original_gt_folder="$VOC_DIR/SegmentationClass" \
  --output_dir="$RAW_STAGE"
publish "$RAW_STAGE" "$VOC_DIR/SegmentationClassRaw"

log "building TFRecords for $(cd "$LIST_DIR" && echo *.txt)"
new_tmp OUT_STAGE "$OUTPUT_DIR"
"$PY" -m datasets.build_voc2012_data --image_folder="$VOC_DIR/JPEGImages" \
  --semantic_segmentation_folder="$VOC_DIR/SegmentationClassRaw" --list_folder="$LIST_DIR" \
  --image_format=jpg --output_dir="$OUT_STAGE"

if [ -n "$VOC_AUG_LABELS" ]; then
  if [ -d "$VOC_AUG_LABELS" ]; then
    AUG_DIR="$VOC_AUG_LABELS"
  else
    stage_archive AUG_DIR "$VOC_AUG_LABELS" "$WORK_DIR/SegmentationClassAug" find_aug_labels \
      "$VOC_AUG_LABELS: archive holds no SegmentationClassAug/ folder"
  fi
  log "building train_aug from $AUG_DIR"
  new_tmp AUG_LISTS "$WORK_DIR/train_aug_list"
  # Keep the image base name of the first field: "2007_000032" or "/JPEGImages/2007_000032.jpg ...".
  awk 'NF { print $1 }' "$VOC_AUG_LIST" | sed -e 's#.*/##' -e 's#\.[^.]*$##' \
    > "$AUG_LISTS/train_aug.txt"
  "$PY" -m datasets.build_voc2012_data --image_folder="$VOC_DIR/JPEGImages" \
    --semantic_segmentation_folder="$AUG_DIR" --list_folder="$AUG_LISTS" \
    --image_format=jpg --output_dir="$OUT_STAGE"
fi
publish "$OUT_STAGE" "$OUTPUT_DIR"
log "TFRecords in $OUTPUT_DIR"
