#!/usr/bin/env bash
# PASCAL VOC 2012, MobileNetV2 DeepLabV3 (OS16, no ASPP rates, no decoder): float training, then
# the 8-bit recipe of g3doc/quantize.md (QAT fine-tune, one clone, export, tflite_convert).
# Needs converted TFRecords (scripts/download_and_convert_voc2012.sh) in $VOC_TFRECORD.
# Usage: VOC_TFRECORD=.../pascal_voc_seg/tfrecord bash scripts/deeplab_pascal_mnv2.sh [EXP_DIR]
#   FLOAT_STEPS (30000), QAT_STEPS (3000), INIT_CKPT (optional ImageNet/COCO checkpoint).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
PY="$ROOT/.venv/bin/python"; export PATH="$ROOT/.venv/bin:$PATH"
: "${VOC_TFRECORD:?set VOC_TFRECORD to the pascal_voc_seg/tfrecord folder}"
EXP="${1:-$ROOT/exp/pascal_mnv2}"
FLOAT_STEPS="${FLOAT_STEPS:-30000}"; QAT_STEPS="${QAT_STEPS:-3000}"
INIT=()
[ -n "${INIT_CKPT:-}" ] && INIT=(--tf_initial_checkpoint="$INIT_CKPT")
COMMON=(--model_variant=mobilenet_v2 --dataset=pascal_voc_seg --dataset_dir="$VOC_TFRECORD")

"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$EXP/train" --train_split=train \
  --output_stride=16 --train_crop_size=513,513 --train_batch_size=8 \
  --base_learning_rate=0.007 --training_number_of_steps="$FLOAT_STEPS" --fine_tune_batch_norm=true \
  "${INIT[@]}"
"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$EXP/train_qat" --train_split=train \
  --output_stride=16 --train_crop_size=513,513 --train_batch_size=8 --num_clones=1 \
  --base_learning_rate=3e-5 --training_number_of_steps="$((FLOAT_STEPS + QAT_STEPS))" \
  --tf_initial_checkpoint="$EXP/train/model.ckpt-$FLOAT_STEPS" --quantize_delay_step=0
"$PY" deeplab/eval.py "${COMMON[@]}" --checkpoint_dir="$EXP/train_qat" --eval_logdir="$EXP/eval_qat" \
  --eval_split=val --eval_crop_size=513,513 --output_stride=16 --quantize_delay_step=0 \
  --max_number_of_evaluations=1
"$PY" deeplab/export_model.py --model_variant=mobilenet_v2 --num_classes=21 \
  --checkpoint_path="$EXP/train_qat/model.ckpt-$((FLOAT_STEPS + QAT_STEPS))" \
  --export_path="$EXP/export/frozen_inference_graph.pb" --crop_size=513 --crop_size=513 \
  --output_stride=16 --quantize_delay_step=0
tflite_convert --enable_v1_converter --graph_def_file="$EXP/export/frozen_inference_graph.pb" \
  --output_file="$EXP/export/frozen_inference_graph.tflite" --output_format=TFLITE \
  --input_shape=1,513,513,3 --input_arrays="MobilenetV2/MobilenetV2/input" \
  --inference_type=QUANTIZED_UINT8 --inference_input_type=QUANTIZED_UINT8 \
  --std_dev_values=128 --mean_values=128 --change_concat_input_ranges=true --output_arrays="ArgMax"
"$PY" deeplab/evaluate_tflite.py --tflite_path="$EXP/export/frozen_inference_graph.tflite" \
  "${COMMON[@]}" --eval_split=val
