#!/usr/bin/env bash
# Detection quantization recipe (RetinaNet-MobileNetV2) on the embedded synthetic set:
#   synthetic COCO-layout data -> build_coco_data (OD API TFRecords)
#   -> float training -> float graph AP -> float TFLite + full-integer PTQ int8 TFLite
#   -> QAT fine-tune (--quantize_delay_step=0 from the float checkpoint) -> QAT graph AP
#   -> uint8 TFLite (legacy, --allow_custom_ops) and int8 per-channel TFLite, all four TFLite
#      models with the TFLite_Detection_PostProcess op (NMS in float)
# then one table (COCO AP / AP50 by pycocotools, size, interleaved latency) in
# RUN_DIR/report.md + report.json, and images with drawn boxes in RUN_DIR/vis/<model>/.
#
# Usage: bash scripts/detection_quantize.sh [RUN_DIR]
#        QUICK=1 bash scripts/detection_quantize.sh [RUN_DIR]   (short run; checks the pipeline)
# Settings (environment variables; the QUICK=1 value in brackets where it differs):
#   RUN_DIR=/tmp/detection_quantize  IMAGE_SIZE=128  NUM_TRAIN=2000 [300]  NUM_VAL=200 [40]
#   BATCH_SIZE=8  FLOAT_STEPS=2000 [300]  QAT_STEPS=300 [40]  FLOAT_LR=0.001  QAT_LR=0.0001
#   BN_DECAY=0.9  CALIBRATION_IMAGES=100 [16]  SEED=0
#   GRAPH_EVAL=1 [0]: also evaluate the float and QAT graphs (checkpoints) beside their TFLite
#     models (the QAT eval graph is one more rewrite, minutes on 2 busy cores)
#   SKIP_SETUP_ENV=1 (skip scripts/setup_env.sh, use the existing .venv)
# 128x128 (the smallest input with a 1x1 P7) keeps the full run under an hour on 2 cores;
# IMAGE_SIZE=256 is the Model Garden's input (about 4x the training time).
# The data is generated once per RUN_DIR (delete $RUN_DIR/data to regenerate).
set -euo pipefail
LOG_TAG=detection_quantize
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"

RUN_DIR="${1:-${RUN_DIR:-/tmp/detection_quantize}}"
IMAGE_SIZE="${IMAGE_SIZE:-128}"
NUM_TRAIN="${NUM_TRAIN:-$(preset 2000 300)}"
NUM_VAL="${NUM_VAL:-$(preset 200 40)}"
BATCH_SIZE="${BATCH_SIZE:-8}"
FLOAT_STEPS="${FLOAT_STEPS:-$(preset 2000 300)}"
QAT_STEPS="${QAT_STEPS:-$(preset 300 40)}"
FLOAT_LR="${FLOAT_LR:-0.001}"
QAT_LR="${QAT_LR:-0.0001}"
BN_DECAY="${BN_DECAY:-0.9}"
CALIBRATION_IMAGES="${CALIBRATION_IMAGES:-$(preset 100 16)}"
GRAPH_EVAL="${GRAPH_EVAL:-$(preset 1 0)}"
SEED="${SEED:-0}"
DATA="$RUN_DIR/data"
RECORDS="$DATA/tfrecord"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
mkdir -p "$RUN_DIR"
RUN_START=$(date +%s)
GRAPH_ROWS=()

if [ ! -f "$RECORDS/labels.txt" ]; then
  log "generating the synthetic detection set ($NUM_TRAIN + $NUM_VAL images, ${IMAGE_SIZE}px)"
  run data datasets/synthetic_detection.py --output_dir="$DATA" --seed="$SEED" \
    --num_train="$NUM_TRAIN" --num_val="$NUM_VAL" --size="$IMAGE_SIZE"
  for SPLIT in train val; do
    run "build_$SPLIT" datasets/build_coco_data.py \
      --annotations_file="$DATA/annotations/instances_$SPLIT.json" \
      --image_dir="$DATA/images/$SPLIT" --split_name="$SPLIT" --output_dir="$RECORDS"
  done
fi

COMMON=(--dataset_dir="$RECORDS" --image_size="$IMAGE_SIZE")
TRAIN=(--train_batch_size="$BATCH_SIZE" --batch_norm_decay="$BN_DECAY" --seed="$SEED"
  --save_interval_secs=100000 --log_steps=50)
log "float training ($FLOAT_STEPS steps, ${IMAGE_SIZE}x${IMAGE_SIZE}, batch $BATCH_SIZE)"
start=$(date +%s)
run train_float detection/train.py "${COMMON[@]}" "${TRAIN[@]}" --train_logdir="$RUN_DIR/float" \
  --training_number_of_steps="$FLOAT_STEPS" --base_learning_rate="$FLOAT_LR" \
  --learning_rate_decay_steps="$(( FLOAT_STEPS * 8 / 10 ))"
echo $(( $(date +%s) - start )) > "$RUN_DIR/float_train_secs"
if [ "$GRAPH_EVAL" = 1 ]; then
  run eval_float detection/eval.py "${COMMON[@]}" --checkpoint_dir="$RUN_DIR/float" \
    --max_number_of_evaluations=1 --results_file="$RUN_DIR/float_graph.json"
  GRAPH_ROWS+=(--graph_result="RetinaNet-MNv2 float graph=$RUN_DIR/float_graph.json")
fi
log "float export: float TFLite and full-integer PTQ int8 ($CALIBRATION_IMAGES calibration images)"
run export_float detection/export_model.py "${COMMON[@]}" --checkpoint_path="$RUN_DIR/float" \
  --export_path="$RUN_DIR/float/tflite_graph.pb" --tflite_output_file="$RUN_DIR/float.tflite" \
  --tflite_type=float
run export_ptq detection/export_model.py "${COMMON[@]}" --checkpoint_path="$RUN_DIR/float" \
  --export_path="$RUN_DIR/float/tflite_graph.pb" --tflite_output_file="$RUN_DIR/ptq_int8.tflite" \
  --tflite_type=ptq_int8 --num_calibration_images="$CALIBRATION_IMAGES"

log "QAT fine-tune ($QAT_STEPS steps from the float checkpoint, --quantize_delay_step=0)"
start=$(date +%s)
run train_qat detection/train.py "${COMMON[@]}" "${TRAIN[@]}" --train_logdir="$RUN_DIR/qat" \
  --tf_initial_checkpoint="$RUN_DIR/float" --quantize_delay_step=0 \
  --training_number_of_steps="$QAT_STEPS" --base_learning_rate="$QAT_LR"
echo $(( $(date +%s) - start )) > "$RUN_DIR/qat_train_secs"
if [ "$GRAPH_EVAL" = 1 ]; then
  run eval_qat detection/eval.py "${COMMON[@]}" --checkpoint_dir="$RUN_DIR/qat" \
    --quantize_delay_step=0 --max_number_of_evaluations=1 --results_file="$RUN_DIR/qat_graph.json"
  GRAPH_ROWS+=(--graph_result="RetinaNet-MNv2 QAT graph=$RUN_DIR/qat_graph.json")
fi
log "QAT export: uint8 (legacy) and int8 per-channel TFLite"
for TYPE in uint8 int8; do
  run "export_qat_$TYPE" detection/export_model.py "${COMMON[@]}" \
    --checkpoint_path="$RUN_DIR/qat" --quantize_delay_step=0 \
    --export_path="$RUN_DIR/qat/tflite_graph_$TYPE.pb" \
    --tflite_output_file="$RUN_DIR/qat_$TYPE.tflite" --tflite_type="$TYPE"
done

log "evaluating the TFLite models and timing them (interleaved)"
echo $(( $(date +%s) - RUN_START )) > "$RUN_DIR/run_secs"
run report detection/quantization_report.py --dataset_dir="$RECORDS" --output_dir="$RUN_DIR" \
  "${GRAPH_ROWS[@]}" \
  --tflite="RetinaNet-MNv2 float TFLite=$RUN_DIR/float.tflite" \
  --tflite="RetinaNet-MNv2 PTQ int8 TFLite=$RUN_DIR/ptq_int8.tflite" \
  --tflite="RetinaNet-MNv2 QAT uint8 TFLite=$RUN_DIR/qat_uint8.tflite" \
  --tflite="RetinaNet-MNv2 QAT int8 per-channel TFLite=$RUN_DIR/qat_int8.tflite"
cat "$RUN_DIR/report.md"
echo "float / QAT train: $(cat "$RUN_DIR/float_train_secs") s / $(cat "$RUN_DIR/qat_train_secs") s;" \
  "wall time $(( $(date +%s) - RUN_START )) s"
log "report: $RUN_DIR/report.md, boxes drawn in $RUN_DIR/vis/"
