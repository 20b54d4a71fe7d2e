#!/usr/bin/env bash
# Classification quantization recipe on the embedded synthetic set, for several backbones:
#   float training -> PTQ (full-integer int8 TFLite, calibrated on the train split)
#                  -> QAT fine-tune (--quantize_delay=0) -> export -> uint8 TFLite
# then top-1 on the validation split of: the float graph, the PTQ TFLite model, the QAT graph
# (fake quant) and the QAT uint8 TFLite model. Prints a Markdown table and saves it (and every
# per-step result as JSON) in $RUN_DIR.
#
# Usage: bash scripts/classification_quantize.sh
# Settings (environment variables). Measured: ~15-20 min per MobileNet backbone on 2 cores under
# heavy load (g3doc/classification.md); expect roughly a quarter of that on an idle machine.
#   MODELS="mobilenet_v2 mobilenet_v3_large mobilenet_multi_avg resnet_v1_50"
#   RUN_DIR=/tmp/classification_quantize   IMAGE_SIZE=64  NUM_TRAIN=500  NUM_VALIDATION=200
#   BATCH_SIZE=32  FLOAT_STEPS=300  QAT_STEPS=100  FLOAT_LR=0.002  QAT_LR=0.0002
#   BN_DECAY=0.9  WEIGHT_DECAY=0.00004  CALIBRATION_IMAGES=200  SEED=0
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
PY="$ROOT/.venv/bin/python"

MODELS="${MODELS:-mobilenet_v2 mobilenet_v3_large mobilenet_multi_avg resnet_v1_50}"
RUN_DIR="${RUN_DIR:-/tmp/classification_quantize}"
IMAGE_SIZE="${IMAGE_SIZE:-64}"
NUM_TRAIN="${NUM_TRAIN:-500}"
NUM_VALIDATION="${NUM_VALIDATION:-200}"
BATCH_SIZE="${BATCH_SIZE:-32}"
FLOAT_STEPS="${FLOAT_STEPS:-300}"
QAT_STEPS="${QAT_STEPS:-100}"
FLOAT_LR="${FLOAT_LR:-0.002}"
QAT_LR="${QAT_LR:-0.0002}"
BN_DECAY="${BN_DECAY:-0.9}"
WEIGHT_DECAY="${WEIGHT_DECAY:-0.00004}"
CALIBRATION_IMAGES="${CALIBRATION_IMAGES:-200}"
SEED="${SEED:-0}"
DATA="$RUN_DIR/data"
RECORDS="$DATA/tfrecord"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

log() { echo "[classification_quantize $(date -u +%H:%M:%S)] $*"; }
# Runs a python step quietly; its log goes to $RUN_DIR/logs/<name>.log (shown on failure).
run() {
  local name="$1"; shift
  mkdir -p "$RUN_DIR/logs"
  if ! "$PY" "$@" >"$RUN_DIR/logs/$name.log" 2>&1; then
    tail -n 30 "$RUN_DIR/logs/$name.log" >&2
    echo "[classification_quantize] step '$name' failed; full log: $RUN_DIR/logs/$name.log" >&2
    exit 1
  fi
}

# Fail early on an unknown backbone (the message lists the registered ones).
"$PY" -c "import sys; from slim import classification_model as m; bad=[n for n in sys.argv[1:] \
if n not in m.model_names()]; sys.exit('unknown MODELS %s; registered: %s' % (bad, \
', '.join(m.model_names())) if bad else 0)" $MODELS

if [ ! -f "$RECORDS/labels.txt" ]; then
  log "generating the synthetic classification set in $DATA"
  run data datasets/synthetic_classification.py --output_dir="$DATA" --seed="$SEED" \
    --num_train="$NUM_TRAIN" --num_validation="$NUM_VALIDATION" --size="$IMAGE_SIZE"
fi

COMMON=(--dataset_name=synthetic_classification --dataset_dir="$RECORDS")
for MODEL in $MODELS; do
  M="$RUN_DIR/$MODEL"
  mkdir -p "$M"
  log "$MODEL: float training ($FLOAT_STEPS steps)"
  start=$(date +%s)
  run "$MODEL.train_float" slim/train_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --train_dir="$M/float" --train_image_size="$IMAGE_SIZE" --batch_size="$BATCH_SIZE" \
    --max_number_of_steps="$FLOAT_STEPS" --optimizer=adam --opt_epsilon=1e-8 \
    --learning_rate="$FLOAT_LR" --learning_rate_decay_type=fixed \
    --weight_decay="$WEIGHT_DECAY" --batch_norm_decay="$BN_DECAY" --seed="$SEED" \
    --save_interval_secs=100000 --log_every_n_steps=50
  echo $(( $(date +%s) - start )) > "$M/float_train_secs"
  run "$MODEL.eval_float" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --checkpoint_path="$M/float" --eval_image_size="$IMAGE_SIZE" \
    --results_file="$M/float_graph.json"

  log "$MODEL: float export + PTQ (int8, $CALIBRATION_IMAGES calibration images)"
  run "$MODEL.export_float" slim/export_inference_graph.py "${COMMON[@]}" \
    --model_name="$MODEL" --image_size="$IMAGE_SIZE" --batch_size=1 \
    --checkpoint_path="$M/float" --output_file="$M/float_frozen.pb"
  run "$MODEL.ptq" -m slim.tflite.ptq --frozen_graph="$M/float_frozen.pb" \
    --dataset_dir="$RECORDS" --num_calibration_images="$CALIBRATION_IMAGES" --io_type=int8 \
    --output_file="$M/ptq_int8.tflite"
  run "$MODEL.eval_ptq" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --tflite_file="$M/ptq_int8.tflite" --eval_image_size="$IMAGE_SIZE" \
    --results_file="$M/ptq_tflite.json"

  log "$MODEL: QAT fine-tune ($QAT_STEPS steps from the float checkpoint)"
  start=$(date +%s)
  run "$MODEL.train_qat" slim/train_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --train_dir="$M/qat" --checkpoint_path="$M/float" --quantize_delay=0 \
    --train_image_size="$IMAGE_SIZE" --batch_size="$BATCH_SIZE" \
    --max_number_of_steps="$QAT_STEPS" --optimizer=adam --opt_epsilon=1e-8 \
    --learning_rate="$QAT_LR" --learning_rate_decay_type=fixed \
    --weight_decay="$WEIGHT_DECAY" --batch_norm_decay="$BN_DECAY" --seed="$SEED" \
    --save_interval_secs=100000 --log_every_n_steps=50
  echo $(( $(date +%s) - start )) > "$M/qat_train_secs"
  run "$MODEL.eval_qat" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --checkpoint_path="$M/qat" --quantize --eval_image_size="$IMAGE_SIZE" \
    --results_file="$M/qat_graph.json"
  run "$MODEL.export_qat" slim/export_inference_graph.py "${COMMON[@]}" --model_name="$MODEL" \
    --image_size="$IMAGE_SIZE" --batch_size=1 --quantize --checkpoint_path="$M/qat" \
    --output_file="$M/qat_frozen.pb" --tflite_output_file="$M/qat_uint8.tflite" \
    --tflite_type=uint8
  run "$MODEL.eval_qat_tflite" slim/eval_image_classifier.py "${COMMON[@]}" \
    --model_name="$MODEL" --tflite_file="$M/qat_uint8.tflite" --eval_image_size="$IMAGE_SIZE" \
    --results_file="$M/qat_tflite.json"
  log "$MODEL: done"
done

"$PY" - "$RUN_DIR" $MODELS <<'EOF'
import json, os, sys
run_dir, models = sys.argv[1], sys.argv[2:]
def top1(model, name):
  with open(os.path.join(run_dir, model, name + '.json')) as f:
    return 100.0 * json.load(f)['top1']
def read(model, name):
  with open(os.path.join(run_dir, model, name)) as f:
    return f.read().strip()
rows = ['| Backbone | Float graph | PTQ int8 TFLite | QAT graph | QAT uint8 TFLite '
        '| PTQ drop | QAT drop | float / QAT train (s) |', '|' + '---|' * 8]
for m in models:
  f, p, qg, qt = (top1(m, n) for n in ('float_graph', 'ptq_tflite', 'qat_graph', 'qat_tflite'))
  rows.append('| %s | %.1f | %.1f | %.1f | %.1f | %+.1f | %+.1f | %s / %s |' % (
      m, f, p, qg, qt, p - f, qt - f, read(m, 'float_train_secs'), read(m, 'qat_train_secs')))
table = '\n'.join(rows) + '\n'
print(table)
from slim import fileio
fileio.atomic_write_text(os.path.join(run_dir, 'results.md'), table)
EOF
log "table saved in $RUN_DIR/results.md"
