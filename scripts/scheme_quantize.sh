#!/usr/bin/env bash
# Selective QAT on DeepLab MobileNetV2 (g3doc/scheme.md): one float model, then the same QAT
# fine-tune under three quantization schemes (--quantize_scheme, JSON files written below) and
# once without quantization (the control row):
#   all 8-bit            the original recipe (no scheme: create_training_graph)
#   first conv + logits  {"rules": [{"scope": "^MobilenetV2/Conv/", "quantize": false},
#     float                         {"scope": "^logits/", "quantize": false}]}
#   4-bit backbone       {"rules": [{"scope": "^MobilenetV2/", "weight_bits": 4}]}
# Each QAT graph is evaluated with its scheme (mIoU of the fake-quantized graph); the 8-bit
# schemes are exported and converted to uint8 TFLite (the mixed one with --allow_float_ops),
# the 4-bit one is refused by the converter (its error line goes into the report). Then
# `python -m slim.quantize.sensitivity` ranks the backbone's layer groups of the float model.
#
# Usage: bash scripts/scheme_quantize.sh [RUN_DIR]     (QUICK=1: short runs, checks the pipeline)
# Wall time: the full run took about an hour on the 2-core machine shared with other jobs
# (float training 9 min at 0.7 s/step, each fine-tune + eval ~6-7 min at 1.7 s/step for QAT,
# exports and conversions 9 min, report 5 min, sensitivity 6.5 min at ~40 s per group). QUICK=1 is NOT
# yet within 10 minutes: its ~20 entry-script runs cost 1-2 minutes each on that loaded machine
# (start-up and graph building dominate).
# Settings (env; QUICK=1 value in brackets): RUN_DIR (runs/scheme_<time>), FLOAT_STEPS=700
#   [250], FLOAT_ANNEAL_STEPS=150 [50], QAT_STEPS=100 [30], CROP=129, BATCH=8, BN_DECAY=0.9,
#   SYNTHETIC_SIZE=256 [128], NUM_TRAIN=600 [200], NUM_VAL=100 [30],
#   SENSITIVITY_BATCHES=10 [3], SKIP_SETUP_ENV=1 (use the existing .venv).
set -euo pipefail
LOG_TAG=scheme_quantize
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"

FLOAT_STEPS="${FLOAT_STEPS:-$(preset 700 250)}"
FLOAT_ANNEAL_STEPS="${FLOAT_ANNEAL_STEPS:-$(preset 150 50)}"
QAT_STEPS="${QAT_STEPS:-$(preset 100 30)}"
CROP="${CROP:-129}"
BATCH="${BATCH:-8}"
BN_DECAY="${BN_DECAY:-0.9}"
SYNTHETIC_SIZE="${SYNTHETIC_SIZE:-$(preset 256 128)}"
NUM_TRAIN="${NUM_TRAIN:-$(preset 600 200)}"
NUM_VAL="${NUM_VAL:-$(preset 100 30)}"
SENSITIVITY_BATCHES="${SENSITIVITY_BATCHES:-$(preset 10 3)}"
RUN_DIR="${1:-${RUN_DIR:-$ROOT/runs/scheme_$(date -u +%Y%m%d_%H%M%S)}}"
SIZE=$((SYNTHETIC_SIZE + 1))  # eval/export crop: the whole image (DeepLab's odd sizes)
mkdir -p "$RUN_DIR/logs"
START=$(date +%s)

DATA="$RUN_DIR/synthetic"
TFRECORD="$DATA/tfrecord"
INPUT_NODE=MobilenetV2/MobilenetV2/input
COMMON=(--model_variant=mobilenet_v2 --dataset=synthetic --dataset_dir="$TFRECORD"
        --batch_norm_decay="$BN_DECAY" --output_stride=16 --image_pooling_crop_size="$CROP,$CROP")
TRAIN=(--train_split=train --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH"
       --optimizer=adam --fine_tune_batch_norm=true --save_interval_secs=600 --log_steps=50
       --min_scale_factor=0.75 --max_scale_factor=1.25)

cat > "$RUN_DIR/scheme_float_ends.json" <<'EOF'
{"rules": [{"scope": "^MobilenetV2/Conv/", "quantize": false},
           {"scope": "^logits/", "quantize": false}]}
EOF
cat > "$RUN_DIR/scheme_w4_backbone.json" <<'EOF'
{"rules": [{"scope": "^MobilenetV2/", "weight_bits": 4}]}
EOF
SCHEMES=(all8 float_ends w4_backbone)
declare -A LABEL=([all8]='all 8-bit' [float_ends]='first conv + logits float'
                  [w4_backbone]='4-bit backbone weights')
scheme_flag() { [ "$1" = all8 ] || echo "--quantize_scheme=$RUN_DIR/scheme_$1.json"; }

log "1/6 synthetic dataset (${SYNTHETIC_SIZE}px, $NUM_TRAIN train / $NUM_VAL val)"
if ! ls "$TFRECORD"/val-*.tfrecord >/dev/null 2>&1; then
  run data -m datasets.synthetic --output_dir="$DATA" --convert --size="$SYNTHETIC_SIZE" \
    --num_train="$NUM_TRAIN" --num_val="$NUM_VAL"
fi

log "2/6 float training ($FLOAT_STEPS steps)"
FLOAT_CKPT="$RUN_DIR/train_float/model.ckpt-$FLOAT_STEPS"
if [ ! -f "$FLOAT_CKPT.index" ]; then
  run train_float deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" \
    --train_logdir="$RUN_DIR/train_float" --adam_use_learning_policy --learning_policy=step \
    --base_learning_rate=1e-3 --learning_rate_decay_step="$((FLOAT_STEPS - FLOAT_ANNEAL_STEPS))" \
    --learning_rate_decay_factor=0.1 --training_number_of_steps="$FLOAT_STEPS"
fi
EVAL=(--eval_split=val --eval_crop_size="$SIZE,$SIZE" --max_number_of_evaluations=1)
run eval_float deeplab/eval.py "${COMMON[@]}" "${EVAL[@]}" \
  --checkpoint_dir="$RUN_DIR/train_float" --eval_logdir="$RUN_DIR/eval_float" \
  --eval_results_json="$RUN_DIR/eval_float.json"

log "3/6 fine-tunes ($QAT_STEPS steps each) and graph evals: float control, ${SCHEMES[*]}"
# The control: the same fine-tune without fake quantization. A restart alone moves mIoU by a
# point or two (fresh Adam moments, BN statistics), the noise scheme differences are read against.
FINE_TUNE=(--adam_learning_rate=1e-4 --training_number_of_steps="$QAT_STEPS"
           --tf_initial_checkpoint="$FLOAT_CKPT" --num_clones=1)
[ -f "$RUN_DIR/train_control/model.ckpt-$QAT_STEPS.index" ] ||
run train_control deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" "${FINE_TUNE[@]}" \
  --train_logdir="$RUN_DIR/train_control"
run eval_control deeplab/eval.py "${COMMON[@]}" "${EVAL[@]}" \
  --checkpoint_dir="$RUN_DIR/train_control" --eval_logdir="$RUN_DIR/eval_control" \
  --eval_results_json="$RUN_DIR/eval_control.json"
for s in "${SCHEMES[@]}"; do
  # A finished fine-tune is reused when the script runs again on the same RUN_DIR.
  [ -f "$RUN_DIR/train_$s/model.ckpt-$QAT_STEPS.index" ] ||
  # shellcheck disable=SC2046  (an absent scheme flag is no word)
  run "train_$s" deeplab/train.py "${COMMON[@]}" "${TRAIN[@]}" $(scheme_flag "$s") \
    "${FINE_TUNE[@]}" --train_logdir="$RUN_DIR/train_$s" --quantize_delay_step=0
  # shellcheck disable=SC2046
  run "eval_$s" deeplab/eval.py "${COMMON[@]}" "${EVAL[@]}" $(scheme_flag "$s") \
    --checkpoint_dir="$RUN_DIR/train_$s" --eval_logdir="$RUN_DIR/eval_$s" \
    --quantize_delay_step=0 --eval_results_json="$RUN_DIR/eval_$s.json"
done

log "4/6 export ${SIZE}x${SIZE} and uint8 conversion"
for s in "${SCHEMES[@]}"; do
  # shellcheck disable=SC2046
  run "export_$s" deeplab/export_model.py --model_variant=mobilenet_v2 \
    --batch_norm_decay="$BN_DECAY" --checkpoint_path="$RUN_DIR/train_$s/model.ckpt-$QAT_STEPS" \
    --export_path="$RUN_DIR/export_$s/frozen_inference_graph.pb" --num_classes=6 \
    --crop_size="$SIZE" --crop_size="$SIZE" --output_stride=16 --inference_scales=1.0 \
    --image_pooling_crop_size="$CROP,$CROP" --quantize_delay_step=0 $(scheme_flag "$s")
done
convert() {  # scheme extra-flags...
  local s="$1"; shift
  "$PY" deeplab/convert_to_tflite.py --inference_type=uint8 \
    --quantized_graph_def_path="$RUN_DIR/export_$s/frozen_inference_graph.pb" \
    --output_tflite_path="$RUN_DIR/export_$s/model.tflite" \
    --input_tensor_name="$INPUT_NODE:0" --output_tensor_name=ArgMax:0 "$@"
}
run_cmd convert_all8 convert all8
# Without --allow_float_ops the mixed model is refused; the refusal is part of the report.
if convert float_ends > "$RUN_DIR/logs/convert_float_ends_refused.log" 2>&1; then
  echo "scheme_quantize.sh: the mixed model converted without --allow_float_ops" >&2; exit 1
fi
run_cmd convert_float_ends convert float_ends --allow_float_ops
if convert w4_backbone > "$RUN_DIR/logs/convert_w4_backbone.log" 2>&1; then
  echo "scheme_quantize.sh: the 4-bit scheme converted to TFLite" >&2; exit 1
fi
REFUSED_4BIT="$(grep '^ERROR:' "$RUN_DIR/logs/convert_w4_backbone.log" | cut -c1-300)"
log "   4-bit refused: $REFUSED_4BIT"

log "5/6 report (graph mIoU, TFLite mIoU and latency, interleaved)"
GRAPH_ROWS=(--graph_result="float graph=$RUN_DIR/eval_float.json"
            --graph_result="float graph + same fine-tune=$RUN_DIR/eval_control.json")
for s in "${SCHEMES[@]}"; do
  GRAPH_ROWS+=(--graph_result="QAT graph, ${LABEL[$s]}=$RUN_DIR/eval_$s.json")
done
run report deeplab/quantization_report.py --model_variant=mobilenet_v2 --dataset=synthetic \
  --dataset_dir="$TFRECORD" --eval_split=val --output_dir="$RUN_DIR" "${GRAPH_ROWS[@]}" \
  --tflite="TFLite uint8, all 8-bit=$RUN_DIR/export_all8/model.tflite" \
  --tflite="TFLite uint8 mixed, first conv + logits float=$RUN_DIR/export_float_ends/model.tflite" \
  --reference_row="float graph" --eval_threads=2

log "6/6 sensitivity of the float model (one layer group quantized at a time)"
HEAD_GROUP='head=^(image_pooling|aspp0|concat_projection)/'
if [ "${QUICK:-0}" = 1 ]; then
  GROUPS=(--group='backbone=^MobilenetV2/' --group="$HEAD_GROUP" --group='logits=^logits/')
else
  GROUPS=(--group='stem=^MobilenetV2/(Conv|expanded_conv)/'
          --group='blocks 1-3=^MobilenetV2/expanded_conv_[1-3]/'
          --group='blocks 4-6=^MobilenetV2/expanded_conv_[4-6]/'
          --group='blocks 7-10=^MobilenetV2/expanded_conv_([7-9]|10)/'
          --group='blocks 11-13=^MobilenetV2/expanded_conv_1[1-3]/'
          --group='blocks 14-16=^MobilenetV2/expanded_conv_1[4-6]/'
          --group="$HEAD_GROUP" --group='logits=^logits/')
fi
run sensitivity -m slim.quantize.sensitivity \
  --task=deeplab.sensitivity:make_task --checkpoint="$FLOAT_CKPT" \
  --output_dir="$RUN_DIR/sensitivity" "${GROUPS[@]}" \
  --task_arg=dataset_dir="$TFRECORD" --task_arg=crop_size="$SIZE" \
  --task_arg=image_pooling_crop_size="$CROP" --task_arg=batch_norm_decay="$BN_DECAY" \
  --task_arg=max_batches="$SENSITIVITY_BATCHES"
echo "4-bit backbone weights, TFLite: $REFUSED_4BIT" >> "$RUN_DIR/report.md"
log "done in $(( $(date +%s) - START )) s: $RUN_DIR/report.md, $RUN_DIR/sensitivity/"
