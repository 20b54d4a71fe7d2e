#!/usr/bin/env bash
# Cityscapes (19 classes), MOSAIC on MobileNet Multi-HW-AVG-Seg (OS16): float training, QAT
# fine-tune, eval of both, export and fully integer uint8 / int8 TFLite of the QAT model.
#
# Model Garden's cfgs scaled to one machine (mosaic_mnv35_cityscapes_tfds_tpu.yaml: 1024x2048
# crops, batch 32, 100k steps, SGD momentum 0.9, lr 0.1 poly 0.9, 925 warmup steps, l2 1e-4,
# scales 0.5-2.0, BN momentum 0.99; QAT: 20k steps from the float checkpoint, lr 1e-3 poly, l2
# 1e-6): DeepLab's 769x769 crops at batch 8, the learning rates scaled by 8/32 (linear scaling),
# the same step counts (so a quarter of Model Garden's epochs: raise STEPS for more) and the
# warm-up as DeepLab's slow start (a constant low rate, not a linear ramp). No ImageNet
# checkpoint of the backbone exists in TF1 form: pass one with INITIAL_CHECKPOINT if you have it.
# Needs converted TFRecords (scripts/convert_cityscapes.sh) in $CITYSCAPES_TFRECORD.
#
# Usage: CITYSCAPES_TFRECORD=.../cityscapes/tfrecord bash scripts/mosaic_cityscapes.sh [EXP_DIR]
# Settings: STEPS=100000 QAT_STEPS=20000 CROP=769 BATCH=8 LR=0.025 QAT_LR=0.00025
#   EVAL_CROP=1025,2049 DATASET=cityscapes TRAIN_SPLIT=train_fine EVAL_SPLIT=val_fine
#   INITIAL_CHECKPOINT (none) SKIP_SETUP_ENV=1
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "ERROR: $*" >&2; exit 1; }
STEPS="${STEPS:-100000}"
QAT_STEPS="${QAT_STEPS:-20000}"
CROP="${CROP:-769}"
BATCH="${BATCH:-8}"
LR="${LR:-0.025}"
QAT_LR="${QAT_LR:-0.00025}"
EVAL_CROP="${EVAL_CROP:-1025,2049}"
DATASET="${DATASET:-cityscapes}"
TRAIN_SPLIT="${TRAIN_SPLIT:-train_fine}"
EVAL_SPLIT="${EVAL_SPLIT:-val_fine}"
# The data is checked before anything is set up or trained: a wrong folder is one line, not a
# trainer's trace after minutes of set-up.
[ -n "${CITYSCAPES_TFRECORD:-}" ] || fail "CITYSCAPES_TFRECORD is not set; expected the"\
" tfrecord folder written by scripts/convert_cityscapes.sh"
[ -d "$CITYSCAPES_TFRECORD" ] || fail "CITYSCAPES_TFRECORD: no folder '$CITYSCAPES_TFRECORD';"\
" expected the tfrecord folder written by scripts/convert_cityscapes.sh"
CITYSCAPES_TFRECORD="$(cd "$CITYSCAPES_TFRECORD" && pwd)"
for SPLIT in "$TRAIN_SPLIT" "$EVAL_SPLIT"; do
  compgen -G "$CITYSCAPES_TFRECORD/$SPLIT-*" >/dev/null || fail "CITYSCAPES_TFRECORD:"\
" no $SPLIT-* shards in $CITYSCAPES_TFRECORD (TRAIN_SPLIT=$TRAIN_SPLIT, EVAL_SPLIT=$EVAL_SPLIT)"
done
[[ "$EVAL_CROP" =~ ^[0-9]+,[0-9]+$ ]] || fail "EVAL_CROP='$EVAL_CROP'; expected HEIGHT,WIDTH"\
" (e.g. 1025,2049)"
EXP="${1:-$ROOT/exp/cityscapes_mosaic}"
EXP="$(mkdir -p "$EXP" && cd "$EXP" && pwd)"  # A relative EXP_DIR is the caller's, not ROOT's.
cd "$ROOT"
if [ "${SKIP_SETUP_ENV:-0}" != 1 ]; then bash scripts/setup_env.sh; fi
PY="$ROOT/.venv/bin/python"
INIT=(); if [ -n "${INITIAL_CHECKPOINT:-}" ]; then INIT=(--tf_initial_checkpoint="$INITIAL_CHECKPOINT"); fi
MV=mobilenet_multi_avg_seg
COMMON=(--model_variant="$MV" --segmentation_head=mosaic --dataset="$DATASET"
        --dataset_dir="$CITYSCAPES_TFRECORD" --output_stride=16 --batch_norm_decay=0.99)
TRAIN=(--train_split="$TRAIN_SPLIT" --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH"
       --optimizer=momentum --momentum=0.9 --learning_policy=poly --learning_power=0.9
       --fine_tune_batch_norm=true --min_scale_factor=0.5 --max_scale_factor=2.0)

echo "[mosaic_cityscapes] float training ($STEPS steps, crop $CROP, batch $BATCH, lr $LR)"
"$PY" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" "${INIT[@]}" --train_logdir="$EXP/train" \
  --base_learning_rate="$LR" --weight_decay=1e-4 --training_number_of_steps="$STEPS" \
  --slow_start_step=925 --slow_start_learning_rate="$(awk "BEGIN {print $LR / 10}")"
echo "[mosaic_cityscapes] QAT fine-tune ($QAT_STEPS steps, lr $QAT_LR, one clone)"
"$PY" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" --train_logdir="$EXP/train_qat" \
  --tf_initial_checkpoint="$EXP/train/model.ckpt-$STEPS" --quantize_delay_step=0 --num_clones=1 \
  --base_learning_rate="$QAT_LR" --weight_decay=1e-6 --training_number_of_steps="$QAT_STEPS"
for KIND in float qat; do
  DIR="$EXP/train"; QUANT=()
  if [ "$KIND" = qat ]; then DIR="$EXP/train_qat"; QUANT=(--quantize_delay_step=0); fi
  "$PY" deeplab/eval.py "${COMMON[@]}" "${QUANT[@]}" --checkpoint_dir="$DIR" \
    --eval_logdir="$EXP/eval_$KIND" --eval_split="$EVAL_SPLIT" --eval_crop_size="$EVAL_CROP" \
    --max_number_of_evaluations=1 --eval_results_json="$EXP/eval_$KIND.json"
done
NUM_CLASSES=$("$PY" -c "from datasets import data_generator as d
print(d.get_dataset_descriptor('$DATASET').num_classes)" 2>/dev/null)
INPUT_NODE=$("$PY" -c "from slim.nets import registry
print(registry.get('$MV').quant_input_node)" 2>/dev/null)
IFS=, read -r EVAL_H EVAL_W <<< "$EVAL_CROP"
for KIND in uint8 int8; do
  PER_CHANNEL=(); if [ "$KIND" = int8 ]; then PER_CHANNEL=(--quantize_per_channel); fi
  "$PY" deeplab/export_model.py --model_variant="$MV" --segmentation_head=mosaic \
    --batch_norm_decay=0.99 --checkpoint_path="$EXP/train_qat/model.ckpt-$QAT_STEPS" \
    --export_path="$EXP/export_$KIND/frozen_inference_graph.pb" --num_classes="$NUM_CLASSES" \
    --crop_size="$EVAL_H" --crop_size="$EVAL_W" --output_stride=16 --quantize_delay_step=0 \
    "${PER_CHANNEL[@]}"
  "$PY" deeplab/convert_to_tflite.py --model_variant="$MV" --inference_type="$KIND" \
    --quantized_graph_def_path="$EXP/export_$KIND/frozen_inference_graph.pb" \
    --output_tflite_path="$EXP/export_$KIND/frozen_inference_graph.tflite" \
    --input_tensor_name="$INPUT_NODE:0"
done
echo "[mosaic_cityscapes] done: $EXP/eval_{float,qat}.json, $EXP/export_{uint8,int8}/frozen_inference_graph.tflite"
