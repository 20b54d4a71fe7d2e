#!/usr/bin/env bash
# ADE20K, MobileNetV2 DeepLabV3+ (decoder OS4, crop 257 as the zoo's mnv2_ade20k_train model).
# Needs converted TFRecords (scripts/download_and_convert_ade20k.sh) in $ADE20K_TFRECORD.
# Usage: ADE20K_TFRECORD=.../ADE20K/tfrecord bash scripts/deeplab_ade20k_mnv2.sh [EXP_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
PY="$ROOT/.venv/bin/python"
: "${ADE20K_TFRECORD:?set ADE20K_TFRECORD to the ADE20K/tfrecord folder}"
EXP="${1:-$ROOT/exp/ade20k_mnv2}"
STEPS="${STEPS:-150000}"
COMMON=(--model_variant=mobilenet_v2 --dataset=ade20k --dataset_dir="$ADE20K_TFRECORD"
        --decoder_output_stride=4 --min_resize_value=257 --max_resize_value=257 --resize_factor=16)
"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$EXP/train" --train_split=train \
  --output_stride=16 --train_crop_size=257,257 --train_batch_size=8 \
  --base_learning_rate=0.01 --training_number_of_steps="$STEPS" --fine_tune_batch_norm=true
"$PY" deeplab/eval.py "${COMMON[@]}" --checkpoint_dir="$EXP/train" --eval_logdir="$EXP/eval" \
  --eval_split=val --eval_crop_size=257,257 --output_stride=16 --max_number_of_evaluations=1
