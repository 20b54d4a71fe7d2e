#!/usr/bin/env bash
# THE MAIN JOB (no network): the DeepLab quantization recipe end to end on the synthetic dataset.
#   setup_env -> generate + convert the synthetic dataset -> train float -> QAT fine-tune from it
#   (--quantize_delay_step=0, one clone) -> eval float and QAT -> vis -> export (513x513, ArgMax)
#   -> tflite_convert QUANTIZED_UINT8 (the original command) -> int8 per-channel export/convert
#   -> TFLite mIoU and latency -> Markdown table (float / QAT graph / TFLite uint8 / TFLite int8).
#
# Usage: bash scripts/local_test.sh [RUN_DIR]
# Overridable with env vars: MODEL_VARIANT (mobilenet_v2), FLOAT_STEPS (700), QAT_STEPS (300),
#   CROP (129), BATCH (8), BN_DECAY (0.9), EXPORT_SIZE (513), RUN_DIR (runs/local_test_<time>).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup_env.sh
PY="$ROOT/.venv/bin/python"
export PATH="$ROOT/.venv/bin:$PATH"

MODEL_VARIANT="${MODEL_VARIANT:-mobilenet_v2}"
FLOAT_STEPS="${FLOAT_STEPS:-700}"
QAT_STEPS="${QAT_STEPS:-300}"
CROP="${CROP:-129}"
BATCH="${BATCH:-8}"
BN_DECAY="${BN_DECAY:-0.9}"
EXPORT_SIZE="${EXPORT_SIZE:-513}"
RUN_DIR="${1:-${RUN_DIR:-$ROOT/runs/local_test_$(date -u +%Y%m%d_%H%M%S)}}"
DATA="$RUN_DIR/synthetic"
TFRECORD="$DATA/tfrecord"
FLOAT_DIR="$RUN_DIR/train_float"
QAT_DIR="$RUN_DIR/train_qat"
mkdir -p "$RUN_DIR"
START=$(date +%s)
log() { echo "[local_test $(( $(date +%s) - START ))s] $*"; }

COMMON=(--model_variant="$MODEL_VARIANT" --dataset=synthetic --dataset_dir="$TFRECORD"
        --batch_norm_decay="$BN_DECAY")

log "1/8 synthetic dataset -> $DATA"
if ! ls "$TFRECORD"/val-*.tfrecord >/dev/null 2>&1; then
  "$PY" -m datasets.synthetic --output_dir="$DATA" --convert
fi

log "2/8 float training ($FLOAT_STEPS steps, crop $CROP, batch $BATCH, Adam, BN decay $BN_DECAY)"
"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$FLOAT_DIR" --train_split=train \
  --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH" --output_stride=16 \
  --optimizer=adam --adam_learning_rate=1e-3 --training_number_of_steps="$FLOAT_STEPS" \
  --fine_tune_batch_norm=true --save_interval_secs=120 --log_steps=50 --weight_decay=4e-5

# As in the original, --tf_initial_checkpoint restores every variable but global_step, so the
# fine-tune counts its own steps from 0.
log "3/8 QAT fine-tune ($QAT_STEPS steps, --quantize_delay_step=0, one clone)"
"$PY" deeplab/train.py "${COMMON[@]}" --train_logdir="$QAT_DIR" --train_split=train \
  --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH" --output_stride=16 \
  --optimizer=adam --adam_learning_rate=1e-4 \
  --training_number_of_steps="$QAT_STEPS" \
  --tf_initial_checkpoint="$FLOAT_DIR/model.ckpt-$FLOAT_STEPS" --quantize_delay_step=0 \
  --num_clones=1 --fine_tune_batch_norm=true --save_interval_secs=120 --log_steps=50

log "4/8 eval float and QAT"
"$PY" deeplab/eval.py "${COMMON[@]}" --checkpoint_dir="$FLOAT_DIR" --eval_logdir="$RUN_DIR/eval_float" \
  --eval_split=val --eval_crop_size="$CROP,$CROP" --output_stride=16 --max_number_of_evaluations=1 \
  | tee "$RUN_DIR/eval_float.txt"
"$PY" deeplab/eval.py "${COMMON[@]}" --checkpoint_dir="$QAT_DIR" --eval_logdir="$RUN_DIR/eval_qat" \
  --eval_split=val --eval_crop_size="$CROP,$CROP" --output_stride=16 --max_number_of_evaluations=1 \
  --quantize_delay_step=0 | tee "$RUN_DIR/eval_qat.txt"

log "5/8 vis (QAT)"
"$PY" deeplab/vis.py "${COMMON[@]}" --checkpoint_dir="$QAT_DIR" --vis_logdir="$RUN_DIR/vis" \
  --vis_split=val --vis_crop_size="$CROP,$CROP" --output_stride=16 --max_number_of_iterations=1 \
  --quantize_delay_step=0 --colormap_type=pascal

NUM_CLASSES=$("$PY" -c "from datasets import data_generator as d; print(d.get_dataset_descriptor('synthetic').num_classes)" 2>/dev/null || echo 6)
log "6/8 export ${EXPORT_SIZE}x${EXPORT_SIZE} (uint8 per-tensor and int8 per-channel)"
export_graph() {  # kind extra-flags...
  local kind="$1"; shift
  "$PY" deeplab/export_model.py --model_variant="$MODEL_VARIANT" --batch_norm_decay="$BN_DECAY" \
    --checkpoint_path="$QAT_DIR/model.ckpt-$QAT_STEPS" \
    --export_path="$RUN_DIR/export_$kind/frozen_inference_graph.pb" --num_classes="$NUM_CLASSES" \
    --crop_size="$EXPORT_SIZE" --crop_size="$EXPORT_SIZE" --output_stride=16 \
    --inference_scales=1.0 --quantize_delay_step=0 "$@"
}
export_graph uint8
# The int8 per-channel path (slim.tflite.convert.convert_int8) is optional here: its row is
# reported only when it succeeds.
export_graph int8 --quantize_per_channel || log "int8 per-channel export failed; row skipped"

log "7/8 tflite_convert QUANTIZED_UINT8 (the original command)"
tflite_convert --enable_v1_converter \
  --graph_def_file="$RUN_DIR/export_uint8/frozen_inference_graph.pb" \
  --output_file="$RUN_DIR/export_uint8/frozen_inference_graph.tflite" \
  --output_format=TFLITE --input_shape=1,$EXPORT_SIZE,$EXPORT_SIZE,3 \
  --input_arrays="MobilenetV2/MobilenetV2/input" \
  --inference_type=QUANTIZED_UINT8 --inference_input_type=QUANTIZED_UINT8 \
  --std_dev_values=128 --mean_values=128 --change_concat_input_ranges=true \
  --output_arrays="ArgMax"

log "8/8 TFLite mIoU and latency, report"
"$PY" - "$RUN_DIR" "$TFRECORD" "$EXPORT_SIZE" <<'PYEOF'
import os, re, sys
import slim  # noqa: F401
from slim import fileio
from datasets import data_generator
from deeplab import evaluate_tflite

run_dir, tfrecord, size = sys.argv[1], sys.argv[2], int(sys.argv[3])

def miou_of(path):
  text = open(path).read()
  return float(re.findall(r'eval/miou_1\.0_overall\[([0-9.]+)\]', text)[-1])

def tflite_row(path):
  seg = evaluate_tflite.TFLiteSegmenter(path)
  ds = data_generator.Dataset(dataset_name='synthetic', split_name='val', dataset_dir=tfrecord,
                              batch_size=1, crop_size=seg.input_size, is_training=False,
                              should_shuffle=False, should_repeat=False)
  _, miou, _ = evaluate_tflite.evaluate(seg, ds)
  return miou, os.path.getsize(path), seg.latency_ms(10)

rows = [('float graph', miou_of(os.path.join(run_dir, 'eval_float.txt')), None, None),
        ('QAT graph', miou_of(os.path.join(run_dir, 'eval_qat.txt')), None, None)]
u8 = os.path.join(run_dir, 'export_uint8', 'frozen_inference_graph.tflite')
rows.append(('TFLite uint8 (tflite_convert)',) + tflite_row(u8))
i8 = os.path.join(run_dir, 'export_int8', 'frozen_inference_graph_int8.tflite')
if os.path.exists(i8):
  rows.append(('TFLite int8 per-channel',) + tflite_row(i8))
lines = ['| model | mIoU | file size | latency (1 thread) |', '|---|---|---|---|']
for name, miou, nbytes, ms in rows:
  lines.append('| %s | %.4f | %s | %s |' % (name, miou,
               '%.1f KB' % (nbytes / 1024.) if nbytes else '-', '%.1f ms' % ms if ms else '-'))
table = '\n'.join(lines) + '\n'
fileio.atomic_write_text(os.path.join(run_dir, 'report.md'), table)
print(table)
PYEOF
log "done: $RUN_DIR/report.md"
