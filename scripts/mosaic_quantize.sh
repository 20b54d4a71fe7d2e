#!/usr/bin/env bash
# MOSAIC vs DeepLabV3 on the embedded synthetic dataset, float / PTQ / QAT / uint8 / int8.
#
# For each model (MOSAIC: mobilenet_multi_avg_seg + --segmentation_head=mosaic; DeepLab:
# DeepLabV3-MobileNetV2, the model zoo recipe: image pooling + 1x1 ASPP, no decoder), with the
# same training budget:
#   float training -> QAT fine-tune (--quantize_delay_step=0) and its float control (the same
#   fine-tune without fake quantization) -> eval of the float, control and QAT graphs
#   -> export the control (float) and the QAT checkpoint (per-tensor, per-channel) -> TFLite
#   float and PTQ int8 (calibrated on train images) of the control, QAT uint8 and QAT int8
# then one quantization_report.py over every TFLite model of both (mIoU, size, interleaved
# latency in one process) and compare_heads.py: MAdds of the deployed graphs, mIoU of each row
# against its model's control ("float + same fine-tune": a fine-tune alone moves mIoU, so that is
# what QAT is compared with), report.md / report.json and mIoU_vs_latency.png in RUN_DIR.
#
# Usage: bash scripts/mosaic_quantize.sh [RUN_DIR]
#        QUICK=1 bash scripts/mosaic_quantize.sh   (short runs, small images: checks the pipeline)
# Settings (environment; the QUICK=1 value in brackets):
#   FLOAT_STEPS=1000 [150]  FLOAT_ANNEAL_STEPS=300 [50]  QAT_STEPS=100 [30]  CROP=129
#   BATCH=8 [4]  BN_DECAY=0.9  SYNTHETIC_SIZE=256 [128]  NUM_TRAIN=600 [200]  NUM_VAL=100 [30]
#   EXPORT_SIZE=SYNTHETIC_SIZE+1  CALIBRATION_IMAGES=100 [20]  LATENCY_ROUNDS=10 [5]
#   MODELS="MOSAIC DeepLab" (a subset runs only those models; the report holds their rows)
#   RUN_DIR=runs/mosaic_quantize_<time>  SKIP_SETUP_ENV=1 (use the existing .venv)
# The dataset is generated in DATA (default RUN_DIR/synthetic) once (delete it to regenerate).
set -euo pipefail
LOG_TAG=mosaic_quantize
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

FLOAT_STEPS="${FLOAT_STEPS:-$(preset 1000 150)}"
FLOAT_ANNEAL_STEPS="${FLOAT_ANNEAL_STEPS:-$(preset 300 50)}"
QAT_STEPS="${QAT_STEPS:-$(preset 100 30)}"
CROP="${CROP:-129}"
BATCH="${BATCH:-$(preset 8 4)}"
BN_DECAY="${BN_DECAY:-0.9}"
SYNTHETIC_SIZE="${SYNTHETIC_SIZE:-$(preset 256 128)}"
NUM_TRAIN="${NUM_TRAIN:-$(preset 600 200)}"
NUM_VAL="${NUM_VAL:-$(preset 100 30)}"
EXPORT_SIZE="${EXPORT_SIZE:-$((SYNTHETIC_SIZE + 1))}"
CALIBRATION_IMAGES="${CALIBRATION_IMAGES:-$(preset 100 20)}"
LATENCY_ROUNDS="${LATENCY_ROUNDS:-$(preset 10 5)}"
RUN_DIR="${1:-${RUN_DIR:-$ROOT/runs/mosaic_quantize_$(date -u +%Y%m%d_%H%M%S)}}"
mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
DATA="${DATA:-$RUN_DIR/synthetic}"
TFRECORD="$DATA/tfrecord"
START=$(date +%s)

# The models: NAME (row label prefix), backbone, head flags.
read -r -a MODELS <<< "${MODELS:-MOSAIC DeepLab}"
declare -A VARIANT=([MOSAIC]=mobilenet_multi_avg_seg [DeepLab]=mobilenet_v2)
declare -A HEAD=([MOSAIC]="--segmentation_head=mosaic"
                 [DeepLab]="--segmentation_head=deeplab --image_pooling_crop_size=$CROP,$CROP")
for NAME in "${MODELS[@]}"; do  # Checked before minutes of dataset generation.
  if [ -z "${VARIANT[$NAME]:-}" ]; then
    echo "ERROR: MODELS: unknown model '$NAME'; expected some of: MOSAIC DeepLab" >&2
    exit 1
  fi
done

log "synthetic dataset (${SYNTHETIC_SIZE}px, $NUM_TRAIN train / $NUM_VAL val images) -> $DATA"
if ! ls "$TFRECORD"/val-*.tfrecord >/dev/null 2>&1; then
  run synthetic -m datasets.synthetic --output_dir="$DATA" --convert --size="$SYNTHETIC_SIZE" \
    --num_train="$NUM_TRAIN" --num_val="$NUM_VAL"
fi
# One python start-up (seconds each on a loaded machine) for the look-ups: the class count and
# the input node of each backbone.
read -r NUM_CLASSES MOSAIC_INPUT DEEPLAB_INPUT <<< "$("$PY" -c "
from datasets import data_generator as d
from slim.nets import registry
print(d.get_dataset_descriptor('synthetic').num_classes, *(registry.get(v).quant_input_node
      for v in ('${VARIANT[MOSAIC]}', '${VARIANT[DeepLab]}')))" 2>/dev/null)"
declare -A INPUT_NODES=([MOSAIC]="$MOSAIC_INPUT" [DeepLab]="$DEEPLAB_INPUT")

TFLITE_ROWS=()
GRAPH_ROWS=()
FROZEN=()
for NAME in "${MODELS[@]}"; do
  M="$RUN_DIR/$NAME"
  MV="${VARIANT[$NAME]}"
  read -r -a HEAD_FLAGS <<< "${HEAD[$NAME]}"
  INPUT_NODE="${INPUT_NODES[$NAME]}"
  COMMON=(--model_variant="$MV" "${HEAD_FLAGS[@]}" --dataset=synthetic --dataset_dir="$TFRECORD"
          --batch_norm_decay="$BN_DECAY" --output_stride=16)
  TRAIN=(--train_split=train --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH"
         --optimizer=adam --fine_tune_batch_norm=true --save_interval_secs=600 --log_steps=50
         --min_scale_factor=0.75 --max_scale_factor=1.25 --weight_decay=4e-5)

  # Adam 1e-3, then 1e-4 for the last FLOAT_ANNEAL_STEPS (local_test.sh explains why).
  log "$NAME: float training ($FLOAT_STEPS steps, crop $CROP, batch $BATCH)"
  run "$NAME.train_float" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" \
    --train_logdir="$M/train_float" --adam_use_learning_policy --learning_policy=step \
    --base_learning_rate=1e-3 --learning_rate_decay_step="$((FLOAT_STEPS - FLOAT_ANNEAL_STEPS))" \
    --learning_rate_decay_factor=0.1 --training_number_of_steps="$FLOAT_STEPS"
  FINE_TUNE=(--adam_learning_rate=1e-4 --training_number_of_steps="$QAT_STEPS" --num_clones=1
             --tf_initial_checkpoint="$M/train_float/model.ckpt-$FLOAT_STEPS")
  log "$NAME: QAT fine-tune and its float control ($QAT_STEPS steps each)"
  run "$NAME.train_qat" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" "${FINE_TUNE[@]}" \
    --train_logdir="$M/train_qat" --quantize_delay_step=0
  run "$NAME.train_control" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" "${FINE_TUNE[@]}" \
    --train_logdir="$M/train_control"

  log "$NAME: eval of the float, control and QAT graphs (val padded to $EXPORT_SIZE)"
  EVAL=(--eval_split=val --eval_crop_size="$EXPORT_SIZE,$EXPORT_SIZE" --max_number_of_evaluations=1)
  for KIND in float control qat; do
    QUANT=(); if [ "$KIND" = qat ]; then QUANT=(--quantize_delay_step=0); fi
    run "$NAME.eval_$KIND" deeplab/eval.py "${COMMON[@]}" "${EVAL[@]}" "${QUANT[@]}" \
      --checkpoint_dir="$M/train_$KIND" --eval_logdir="$M/eval_$KIND" \
      --eval_results_json="$M/eval_$KIND.json"
  done
  GRAPH_ROWS+=(--graph_result="$NAME float graph=$M/eval_float.json"
               --graph_result="$NAME float + same fine-tune=$M/eval_control.json"
               --graph_result="$NAME QAT graph=$M/eval_qat.json")

  log "$NAME: export ${EXPORT_SIZE}x${EXPORT_SIZE} (ArgMax) and convert: float, PTQ int8, QAT uint8, QAT int8"
  export_graph() {  # KIND CHECKPOINT EXTRA_FLAGS...
    local kind="$1" ckpt="$2"; shift 2
    run "$NAME.export_$kind" deeplab/export_model.py --model_variant="$MV" "${HEAD_FLAGS[@]}" \
      --batch_norm_decay="$BN_DECAY" --checkpoint_path="$ckpt" \
      --export_path="$M/export_$kind/frozen_inference_graph.pb" --num_classes="$NUM_CLASSES" \
      --crop_size="$EXPORT_SIZE" --crop_size="$EXPORT_SIZE" --output_stride=16 "$@"
  }
  export_graph float "$M/train_control/model.ckpt-$QAT_STEPS"
  export_graph uint8 "$M/train_qat/model.ckpt-$QAT_STEPS" --quantize_delay_step=0
  export_graph int8 "$M/train_qat/model.ckpt-$QAT_STEPS" --quantize_delay_step=0 \
    --quantize_per_channel
  if ! "$ROOT/.venv/bin/tflite_convert" --enable_v1_converter \
      --graph_def_file="$M/export_float/frozen_inference_graph.pb" --output_file="$M/float.tflite" \
      --output_format=TFLITE --input_shape="1,$EXPORT_SIZE,$EXPORT_SIZE,3" \
      --input_arrays="$INPUT_NODE" --output_arrays=ArgMax >"$RUN_DIR/logs/$NAME.tflite_float.log" 2>&1; then
    tail -n 30 "$RUN_DIR/logs/$NAME.tflite_float.log" >&2
    echo "ERROR: mosaic_quantize step '$NAME.tflite_float' failed" >&2
    exit 1
  fi
  run "$NAME.ptq" deeplab/ptq_to_tflite.py --model_variant="$MV" --dataset=synthetic \
    --dataset_dir="$TFRECORD" --float_graph_def_path="$M/export_float/frozen_inference_graph.pb" \
    --input_tensor_name="$INPUT_NODE:0" --num_calibration_images="$CALIBRATION_IMAGES" \
    --output_tflite_path="$M/ptq_int8.tflite"
  for KIND in uint8 int8; do
    run "$NAME.convert_$KIND" deeplab/convert_to_tflite.py --model_variant="$MV" \
      --inference_type="$KIND" \
      --quantized_graph_def_path="$M/export_$KIND/frozen_inference_graph.pb" \
      --output_tflite_path="$M/qat_$KIND.tflite" --input_tensor_name="$INPUT_NODE:0"
  done
  TFLITE_ROWS+=(--tflite="$NAME TFLite float=$M/float.tflite"
                --tflite="$NAME PTQ int8=$M/ptq_int8.tflite"
                --tflite="$NAME QAT uint8=$M/qat_uint8.tflite"
                --tflite="$NAME QAT int8=$M/qat_int8.tflite")
  FROZEN+=(--frozen_graph="$NAME=$M/export_float/frozen_inference_graph.pb")
done

log "TFLite mIoU and interleaved latency of every model, then the comparison"
# Both backbones take [-1, 1] inputs: one --model_variant gives every float model's statistics.
run report deeplab/quantization_report.py --model_variant=mobilenet_v2 --dataset=synthetic \
  --dataset_dir="$TFRECORD" --eval_split=val --output_dir="$RUN_DIR/tflite_report" \
  "${GRAPH_ROWS[@]}" "${TFLITE_ROWS[@]}" --latency_rounds="$LATENCY_ROUNDS" --eval_threads=2
run compare deeplab/compare_heads.py --report_json="$RUN_DIR/tflite_report/report.json" \
  "${FROZEN[@]}" --output_dir="$RUN_DIR"
cat "$RUN_DIR/report.md"
log "done in $(( $(date +%s) - START )) s: $RUN_DIR/report.md, $RUN_DIR/miou_vs_latency.png"
