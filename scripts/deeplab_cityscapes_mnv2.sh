#!/usr/bin/env bash
# Cityscapes, MobileNetV2 DeepLabV3 (OS16, crop 769x769), float training and eval.
# Needs converted TFRecords (scripts/convert_cityscapes.sh) in $CITYSCAPES_TFRECORD.
# Usage: CITYSCAPES_TFRECORD=.../cityscapes/tfrecord bash scripts/deeplab_cityscapes_mnv2.sh [EXP_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
PY="$ROOT/.venv/bin/python"
: "${CITYSCAPES_TFRECORD:?set CITYSCAPES_TFRECORD to the cityscapes/tfrecord folder}"
EXP="${1:-$ROOT/exp/cityscapes_mnv2}"
STEPS="${STEPS:-90000}"
COMMON=(--model_variant=mobilenet_v2 --dataset=cityscapes --dataset_dir="$CITYSCAPES_TFRECORD")
"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$EXP/train" --train_split=train_fine \
  --output_stride=16 --train_crop_size=769,769 --train_batch_size=8 \
  --base_learning_rate=0.01 --training_number_of_steps="$STEPS" --fine_tune_batch_norm=true
"$PY" deeplab/eval.py "${COMMON[@]}" --checkpoint_dir="$EXP/train" --eval_logdir="$EXP/eval" \
  --eval_split=val_fine --eval_crop_size=1025,2049 --output_stride=16 --max_number_of_evaluations=1
