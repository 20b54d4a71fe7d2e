#!/usr/bin/env bash
# MobileBERT quantization recipe on the embedded synthetic SQuAD v1.1 set:
#   float training -> predict (EM/F1) -> export float TFLite + full-integer int8 PTQ
#   -> QAT fine-tune from the float checkpoint with each placement:
#        rewriter (slim.quantize, every tensor ranged: int8 with no calibration)
#        hand     (the original hand-inserted units; the converter calibrates the gaps)
#   -> predict the QAT graph, export int8 TFLite, predict it
# then one table (report.md / report.json): F1 and EM (points) of every graph and TFLite model,
# TFLite bytes and interleaved latency. TFLite has no uint8 BATCH_MATMUL, so all quantized
# models are int8 (int32 inputs input_ids / input_mask / segment_ids).
#
# Usage: bash scripts/mobilebert_quantize.sh [RUN_DIR]          (see g3doc/mobilebert.md)
#        QUICK=1 bash scripts/mobilebert_quantize.sh [RUN_DIR]  (short runs: checks the pipeline)
# Settings (environment variables; the QUICK=1 value in brackets where it differs):
#   RUN_DIR=/tmp/mobilebert_quantize  CONFIG=synthetic_small_qat (a name of mobilebert.configs)
#   NUM_TRAIN=4000 [2000]  NUM_DEV=400 [200]  TOWNS_PER_PASSAGE=1 (2: harder, see g3doc)  MAX_SEQ_LENGTH=96
#   BATCH_SIZE=32  FLOAT_STEPS=2000 [800]  FLOAT_LR=0.001  QAT_STEPS=600 [150]  QAT_LR=0.00003
#   SCORE_FLOOR=-12 (rewriter placement: lowest attention score its ranges keep; 0: plain EMA)
#   (FLOAT_STEPS=4000 over-fits to loss ~0: PTQ and QAT then collapse, g3doc/mobilebert.md)
#   LATENCY_ROUNDS=30 [10]  SEED=0
#   SKIP_SETUP_ENV=1 (skip scripts/setup_env.sh, use the existing .venv)
set -euo pipefail
LOG_TAG=mobilebert_quantize
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"

RUN_DIR="${1:-${RUN_DIR:-/tmp/mobilebert_quantize}}"
CONFIG="${CONFIG:-synthetic_small_qat}"
NUM_TRAIN="${NUM_TRAIN:-$(preset 4000 2000)}"
NUM_DEV="${NUM_DEV:-$(preset 400 200)}"
TOWNS_PER_PASSAGE="${TOWNS_PER_PASSAGE:-1}"
MAX_SEQ_LENGTH="${MAX_SEQ_LENGTH:-96}"
BATCH_SIZE="${BATCH_SIZE:-32}"
FLOAT_STEPS="${FLOAT_STEPS:-$(preset 2000 800)}"
FLOAT_LR="${FLOAT_LR:-0.001}"
QAT_STEPS="${QAT_STEPS:-$(preset 600 150)}"
QAT_LR="${QAT_LR:-0.00003}"
SCORE_FLOOR="${SCORE_FLOOR:--12}"
LATENCY_ROUNDS="${LATENCY_ROUNDS:-$(preset 30 10)}"
SEED="${SEED:-0}"
DATA="$RUN_DIR/data"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

# The config's file (an unknown name fails here, listing the known ones: the last stderr line).
mkdir -p "$RUN_DIR/logs"
if ! CONFIG_FILE=$("$PY" -c "import sys; from mobilebert import configs; print(configs.path(sys.argv[1]))" \
    "$CONFIG" 2>"$RUN_DIR/logs/config.log"); then
  tail -n 1 "$RUN_DIR/logs/config.log" >&2
  exit 1
fi
RUN_START=$(date +%s)

if [ ! -f "$DATA/vocab.txt" ]; then
  log "generating the synthetic SQuAD set in $DATA"
  run data -m mobilebert.synthetic_squad --output_dir="$DATA" --num_train="$NUM_TRAIN" \
    --num_dev="$NUM_DEV" --seed="$SEED" --towns_per_passage="$TOWNS_PER_PASSAGE"
fi

COMMON=(-m mobilebert.run_squad --bert_config_file="$CONFIG_FILE" --vocab_file="$DATA/vocab.txt"
        --train_file="$DATA/train-v1.1.json" --predict_file="$DATA/dev-v1.1.json"
        --max_seq_length="$MAX_SEQ_LENGTH" --doc_stride=$((MAX_SEQ_LENGTH / 2))
        --max_query_length=24 --train_batch_size="$BATCH_SIZE" --predict_batch_size=32
        --seed="$SEED" --log_steps=100 --save_checkpoints_secs=100000)

log "float: training ($FLOAT_STEPS steps), predict, export float + PTQ int8 TFLite"
start=$(date +%s)
run float "${COMMON[@]}" --output_dir="$RUN_DIR/float" --do_train --num_train_steps="$FLOAT_STEPS" \
  --learning_rate="$FLOAT_LR" --do_predict --results_file="$RUN_DIR/float/graph.results.json" \
  --export_dir="$RUN_DIR/float/export" --use_post_quantization --activation_quantization \
  --predict_exported
FLOAT_SECS=$(( $(date +%s) - start ))

declare -A QAT_SECS
for Q in rewriter hand; do
  log "QAT ($Q placement): fine-tune $QAT_STEPS steps from the float checkpoint, predict, export int8"
  start=$(date +%s)
  run "qat_$Q" "${COMMON[@]}" --output_dir="$RUN_DIR/qat_$Q" --init_checkpoint="$RUN_DIR/float" \
    --use_quantized_training --quantizer="$Q" --do_train --num_train_steps="$QAT_STEPS" \
    --learning_rate="$QAT_LR" --warmup_proportion=0 --rewriter_score_floor="$SCORE_FLOOR" --do_predict \
    --results_file="$RUN_DIR/qat_$Q/graph.results.json" --export_dir="$RUN_DIR/qat_$Q/export" \
    --predict_exported
  QAT_SECS[$Q]=$(( $(date +%s) - start ))
done

log "report (latency: $LATENCY_ROUNDS interleaved rounds, 1 thread)"
run report -m mobilebert.quantization_report --run_dir="$RUN_DIR" \
  --latency_rounds="$LATENCY_ROUNDS" \
  --row="MobileBERT $CONFIG float (graph)=$RUN_DIR/float/graph.results.json" \
  --row="MobileBERT $CONFIG float TFLite=$RUN_DIR/float/export/model_float.tflite.results.json" \
  --row="MobileBERT $CONFIG PTQ int8 TFLite=$RUN_DIR/float/export/model_quant.tflite.results.json" \
  --row="MobileBERT $CONFIG QAT rewriter (graph)=$RUN_DIR/qat_rewriter/graph.results.json" \
  --row="MobileBERT $CONFIG QAT rewriter int8 TFLite=$RUN_DIR/qat_rewriter/export/model_quant.tflite.results.json" \
  --row="MobileBERT $CONFIG QAT hand (graph)=$RUN_DIR/qat_hand/graph.results.json" \
  --row="MobileBERT $CONFIG QAT hand int8 TFLite=$RUN_DIR/qat_hand/export/model_quant.tflite.results.json" \
  --extra_json="{\"quick\": ${QUICK:-0}, \"float_steps\": $FLOAT_STEPS, \"qat_steps\": $QAT_STEPS,
 \"qat_lr\": $QAT_LR, \"score_floor\": $SCORE_FLOOR,
 \"float_secs\": $FLOAT_SECS, \"qat_rewriter_secs\": ${QAT_SECS[rewriter]},
 \"qat_hand_secs\": ${QAT_SECS[hand]}, \"wall_secs\": $(( $(date +%s) - RUN_START ))}"
cat "$RUN_DIR/report.md"
log "done in $(( $(date +%s) - RUN_START )) s; report: $RUN_DIR/report.md, $RUN_DIR/report.json"
