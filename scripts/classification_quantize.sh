#!/usr/bin/env bash
# Classification quantization recipe on the embedded synthetic set, for several backbones:
#   float training -> PTQ (full-integer int8 TFLite, calibrated on the train split)
#                  -> QAT fine-tune (--quantize_delay=0) -> export -> uint8 TFLite
#                     (and, with PER_CHANNEL=1, the same checkpoint exported int8 per-channel)
# then top-1 on the validation split of: the float graph, the PTQ TFLite model, the QAT graph
# (fake quant), the QAT uint8 TFLite model (and the QAT int8 per-channel TFLite model).
# Then, for the backbones in PRUNE_MODELS (which must also be in MODELS), prune-then-QAT: from
# the float checkpoint, prune-fine-tune to each of SPARSITIES (polynomial schedule,
# --pruning_hparams), export the pruned float TFLite, QAT fine-tune with the masks frozen
# (--freeze_pruning_masks --quantize_delay=0), export uint8 TFLite; second table: top-1, file and
# gzip sizes, measured weight sparsity. Prints both Markdown tables and saves them (and every
# per-step result as JSON, every log) in $RUN_DIR.
#
# Usage: bash scripts/classification_quantize.sh          (about 39 min on the 2-core machine)
#        QUICK=1 bash scripts/classification_quantize.sh  (about 22 min: short runs, far from
#                                                          converged; checks the pipeline)
# Settings (environment variables; the QUICK=1 value in brackets where it differs):
#   MODELS="mobilenet_v2 mobilenet_v3_large mobilenet_multi_avg resnet_v1_50"
#   RUN_DIR=/tmp/classification_quantize   IMAGE_SIZE=64  NUM_TRAIN=4000 [2000]
#   NUM_VALIDATION=400  BATCH_SIZE=32  FLOAT_STEPS=2000 [500]  QAT_STEPS=150 [50]
#   FLOAT_LR=0.002  QAT_LR=0.0002  BN_DECAY=0.9  WEIGHT_DECAY=0.00004  CALIBRATION_IMAGES=200
#   SEED=0  PER_CHANNEL=1  PRUNE_MODELS="mobilenet_v2 resnet_v1_50" (empty: no pruning stage)
#   SPARSITIES="0.5 0.8"  PRUNE_STEPS=200 [100]  PRUNE_LR=0.0005  PRUNE_QAT_STEPS=60 [30]
#   SKIP_SETUP_ENV=1 (skip scripts/setup_env.sh, use the existing .venv)
# Per-backbone overrides: <SETTING>_<model>, for IMAGE_SIZE, BATCH_SIZE, FLOAT_STEPS, QAT_STEPS,
# PRUNE_STEPS, PRUNE_QAT_STEPS (e.g. FLOAT_STEPS_resnet_v1_50=300). Defaults for ResNet50 (a
# step costs ~3 MobileNetV2 steps): FLOAT_STEPS_resnet_v1_50=400 [150],
# QAT_STEPS_resnet_v1_50=60 [30], PRUNE_STEPS_resnet_v1_50=80 [40],
# PRUNE_QAT_STEPS_resnet_v1_50=30 [20]. Keep ResNet50 at 64x64 or more: at 32x32 its block4
# sees 1x1 maps and the pruning threshold cannot prune those 3x3 convs (g3doc/pruning.md).
# The synthetic set is generated once at IMAGE_SIZE (the preprocessing resizes to each model's
# size); delete $RUN_DIR/data to regenerate it.
set -euo pipefail
LOG_TAG=classification_quantize
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"

MODELS="${MODELS:-mobilenet_v2 mobilenet_v3_large mobilenet_multi_avg resnet_v1_50}"
RUN_DIR="${RUN_DIR:-/tmp/classification_quantize}"
IMAGE_SIZE="${IMAGE_SIZE:-64}"
NUM_TRAIN="${NUM_TRAIN:-$(preset 4000 2000)}"
NUM_VALIDATION="${NUM_VALIDATION:-400}"
BATCH_SIZE="${BATCH_SIZE:-32}"
FLOAT_STEPS="${FLOAT_STEPS:-$(preset 2000 500)}"
QAT_STEPS="${QAT_STEPS:-$(preset 150 50)}"
FLOAT_LR="${FLOAT_LR:-0.002}"
QAT_LR="${QAT_LR:-0.0002}"
BN_DECAY="${BN_DECAY:-0.9}"
WEIGHT_DECAY="${WEIGHT_DECAY:-0.00004}"
CALIBRATION_IMAGES="${CALIBRATION_IMAGES:-200}"
SEED="${SEED:-0}"
PER_CHANNEL="${PER_CHANNEL:-1}"
PRUNE_MODELS="${PRUNE_MODELS-mobilenet_v2 resnet_v1_50}"
SPARSITIES="${SPARSITIES:-0.5 0.8}"
PRUNE_STEPS="${PRUNE_STEPS:-$(preset 200 100)}"
PRUNE_LR="${PRUNE_LR:-0.0005}"
PRUNE_QAT_STEPS="${PRUNE_QAT_STEPS:-$(preset 60 30)}"
FLOAT_STEPS_resnet_v1_50="${FLOAT_STEPS_resnet_v1_50:-$(preset 400 150)}"
QAT_STEPS_resnet_v1_50="${QAT_STEPS_resnet_v1_50:-$(preset 60 30)}"
PRUNE_STEPS_resnet_v1_50="${PRUNE_STEPS_resnet_v1_50:-$(preset 80 40)}"
PRUNE_QAT_STEPS_resnet_v1_50="${PRUNE_QAT_STEPS_resnet_v1_50:-$(preset 30 20)}"
DATA="$RUN_DIR/data"
RECORDS="$DATA/tfrecord"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

# setting NAME MODEL: $NAME_MODEL when set, else $NAME (per-backbone overrides).
setting() { local specific="$1_$2"; echo "${!specific:-${!1}}"; }
# Runs a python step quietly; its log goes to $RUN_DIR/logs/<name>.log (shown on failure).

# Fail early on an unknown backbone (the message lists the registered ones); of the check's
# output only that message (its last line) is shown, not TF's start-up chatter.
if ! check=$("$PY" -c "import sys; from slim import classification_model as m; bad=[n for n in \
sys.argv[1:] if n not in m.model_names()]; sys.exit('unknown MODELS %s; registered: %s' % (bad, \
', '.join(m.model_names())) if bad else 0)" $MODELS 2>&1); then
  echo "${check##*$'\n'}" >&2
  exit 1
fi
for MODEL in $PRUNE_MODELS; do
  case " $MODELS " in
    *" $MODEL "*) ;;
    *) echo "PRUNE_MODELS: $MODEL is not in MODELS ($MODELS): its float checkpoint is the" \
            "start of pruning" >&2; exit 1 ;;
  esac
done
RUN_START=$(date +%s)

if [ ! -f "$RECORDS/labels.txt" ]; then
  log "generating the synthetic classification set in $DATA"
  run data datasets/synthetic_classification.py --output_dir="$DATA" --seed="$SEED" \
    --num_train="$NUM_TRAIN" --num_validation="$NUM_VALIDATION" --size="$IMAGE_SIZE"
fi

COMMON=(--dataset_name=synthetic_classification --dataset_dir="$RECORDS")
for MODEL in $MODELS; do
  M="$RUN_DIR/$MODEL"
  mkdir -p "$M"
  SIZE=$(setting IMAGE_SIZE "$MODEL"); BATCH=$(setting BATCH_SIZE "$MODEL")
  F_STEPS=$(setting FLOAT_STEPS "$MODEL"); Q_STEPS=$(setting QAT_STEPS "$MODEL")
  log "$MODEL: float training ($F_STEPS steps, ${SIZE}x${SIZE})"
  start=$(date +%s)
  run "$MODEL.train_float" slim/train_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --train_dir="$M/float" --train_image_size="$SIZE" --batch_size="$BATCH" \
    --max_number_of_steps="$F_STEPS" --optimizer=adam --opt_epsilon=1e-8 \
    --learning_rate="$FLOAT_LR" --learning_rate_decay_type=fixed \
    --weight_decay="$WEIGHT_DECAY" --batch_norm_decay="$BN_DECAY" --seed="$SEED" \
    --save_interval_secs=100000 --log_every_n_steps=50
  echo $(( $(date +%s) - start )) > "$M/float_train_secs"
  run "$MODEL.eval_float" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --checkpoint_path="$M/float" --eval_image_size="$SIZE" \
    --results_file="$M/float_graph.json"

  log "$MODEL: float export + PTQ (int8, $CALIBRATION_IMAGES calibration images)"
  run "$MODEL.export_float" slim/export_inference_graph.py "${COMMON[@]}" \
    --model_name="$MODEL" --image_size="$SIZE" --batch_size=1 \
    --checkpoint_path="$M/float" --output_file="$M/float_frozen.pb"
  run "$MODEL.ptq" -m slim.ptq_image_classifier --frozen_graph="$M/float_frozen.pb" \
    --dataset_dir="$RECORDS" --num_calibration_images="$CALIBRATION_IMAGES" --io_type=int8 \
    --output_file="$M/ptq_int8.tflite"
  run "$MODEL.eval_ptq" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --tflite_file="$M/ptq_int8.tflite" --eval_image_size="$SIZE" \
    --results_file="$M/ptq_tflite.json"

  log "$MODEL: QAT fine-tune ($Q_STEPS steps from the float checkpoint)"
  start=$(date +%s)
  run "$MODEL.train_qat" slim/train_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --train_dir="$M/qat" --checkpoint_path="$M/float" --quantize_delay=0 \
    --train_image_size="$SIZE" --batch_size="$BATCH" \
    --max_number_of_steps="$Q_STEPS" --optimizer=adam --opt_epsilon=1e-8 \
    --learning_rate="$QAT_LR" --learning_rate_decay_type=fixed \
    --weight_decay="$WEIGHT_DECAY" --batch_norm_decay="$BN_DECAY" --seed="$SEED" \
    --save_interval_secs=100000 --log_every_n_steps=50
  echo $(( $(date +%s) - start )) > "$M/qat_train_secs"
  run "$MODEL.eval_qat" slim/eval_image_classifier.py "${COMMON[@]}" --model_name="$MODEL" \
    --checkpoint_path="$M/qat" --quantize --eval_image_size="$SIZE" \
    --results_file="$M/qat_graph.json"
  run "$MODEL.export_qat" slim/export_inference_graph.py "${COMMON[@]}" --model_name="$MODEL" \
    --image_size="$SIZE" --batch_size=1 --quantize --checkpoint_path="$M/qat" \
    --output_file="$M/qat_frozen.pb" --tflite_output_file="$M/qat_uint8.tflite" \
    --tflite_type=uint8
  run "$MODEL.eval_qat_tflite" slim/eval_image_classifier.py "${COMMON[@]}" \
    --model_name="$MODEL" --tflite_file="$M/qat_uint8.tflite" --eval_image_size="$SIZE" \
    --results_file="$M/qat_tflite.json"
  if [ "$PER_CHANNEL" = 1 ]; then
    log "$MODEL: QAT export int8 per-channel"
    run "$MODEL.export_qat_per_channel" slim/export_inference_graph.py "${COMMON[@]}" \
      --model_name="$MODEL" --image_size="$SIZE" --batch_size=1 --quantize --per_channel \
      --checkpoint_path="$M/qat" --output_file="$M/qat_per_channel_frozen.pb" \
      --tflite_output_file="$M/qat_int8_per_channel.tflite" --tflite_type=int8
    run "$MODEL.eval_qat_per_channel" slim/eval_image_classifier.py "${COMMON[@]}" \
      --model_name="$MODEL" --tflite_file="$M/qat_int8_per_channel.tflite" \
      --eval_image_size="$SIZE" --results_file="$M/qat_per_channel_tflite.json"
  fi
  log "$MODEL: done"
done

for MODEL in $PRUNE_MODELS; do
  M="$RUN_DIR/$MODEL"
  SIZE=$(setting IMAGE_SIZE "$MODEL"); BATCH=$(setting BATCH_SIZE "$MODEL")
  P_STEPS=$(setting PRUNE_STEPS "$MODEL"); PQ_STEPS=$(setting PRUNE_QAT_STEPS "$MODEL")
  # Polynomial schedule over the first 60% of the fine-tune, then masks fixed while it recovers.
  END=$(( P_STEPS * 6 / 10 )); FREQ=$(( END / 10 > 0 ? END / 10 : 1 ))
  TRAIN_FLAGS=(--model_name="$MODEL" --train_image_size="$SIZE" --batch_size="$BATCH"
    --optimizer=adam --opt_epsilon=1e-8 --learning_rate_decay_type=fixed
    --weight_decay="$WEIGHT_DECAY" --batch_norm_decay="$BN_DECAY" --seed="$SEED"
    --save_interval_secs=100000 --log_every_n_steps=50)
  log "$MODEL: dense float TFLite (reference row of the pruning table)"
  run "$MODEL.export_float_tflite" slim/export_inference_graph.py "${COMMON[@]}" \
    --model_name="$MODEL" --image_size="$SIZE" --batch_size=1 --checkpoint_path="$M/float" \
    --output_file="$M/float_frozen_for_tflite.pb" --tflite_output_file="$M/float.tflite" \
    --tflite_type=float
  for SPARSITY in $SPARSITIES; do
    P="$M/pruned_$SPARSITY"
    mkdir -p "$P"
    HPARAMS="name=model_pruning,begin_pruning_step=0,end_pruning_step=$END"
    HPARAMS+=",pruning_frequency=$FREQ,initial_sparsity=0.0,target_sparsity=$SPARSITY"
    HPARAMS+=",sparsity_function_begin_step=0,sparsity_function_end_step=$END"
    HPARAMS+=",sparsity_function_exponent=3"
    log "$MODEL: prune to $SPARSITY ($P_STEPS steps from the float checkpoint)"
    start=$(date +%s)
    run "$MODEL.prune_$SPARSITY" slim/train_image_classifier.py "${COMMON[@]}" \
      "${TRAIN_FLAGS[@]}" --train_dir="$P/float" --checkpoint_path="$M/float" \
      --pruning_hparams="$HPARAMS" --max_number_of_steps="$P_STEPS" --learning_rate="$PRUNE_LR"
    echo $(( $(date +%s) - start )) > "$P/prune_train_secs"
    run "$MODEL.eval_pruned_$SPARSITY" slim/eval_image_classifier.py "${COMMON[@]}" \
      --model_name="$MODEL" --checkpoint_path="$P/float" --eval_image_size="$SIZE" \
      --results_file="$P/float_graph.json"
    run "$MODEL.export_pruned_float_$SPARSITY" slim/export_inference_graph.py "${COMMON[@]}" \
      --model_name="$MODEL" --image_size="$SIZE" --batch_size=1 --checkpoint_path="$P/float" \
      --output_file="$P/float_frozen.pb" --tflite_output_file="$P/float.tflite" \
      --tflite_type=float
    log "$MODEL: QAT with frozen $SPARSITY masks ($PQ_STEPS steps)"
    start=$(date +%s)
    run "$MODEL.prune_qat_$SPARSITY" slim/train_image_classifier.py "${COMMON[@]}" \
      "${TRAIN_FLAGS[@]}" --train_dir="$P/qat" --checkpoint_path="$P/float" \
      --freeze_pruning_masks --quantize_delay=0 --max_number_of_steps="$PQ_STEPS" \
      --learning_rate="$QAT_LR"
    echo $(( $(date +%s) - start )) > "$P/qat_train_secs"
    run "$MODEL.export_pruned_qat_$SPARSITY" slim/export_inference_graph.py "${COMMON[@]}" \
      --model_name="$MODEL" --image_size="$SIZE" --batch_size=1 --quantize \
      --checkpoint_path="$P/qat" --output_file="$P/qat_frozen.pb" \
      --tflite_output_file="$P/qat_uint8.tflite" --tflite_type=uint8
    run "$MODEL.eval_pruned_qat_tflite_$SPARSITY" slim/eval_image_classifier.py "${COMMON[@]}" \
      --model_name="$MODEL" --tflite_file="$P/qat_uint8.tflite" --eval_image_size="$SIZE" \
      --results_file="$P/qat_tflite.json"
  done
  log "$MODEL: pruning done"
done
echo $(( $(date +%s) - RUN_START )) > "$RUN_DIR/run_secs"

# The table step writes results.md (its TF start-up chatter goes to logs/table.log); then shown.
run table - "$RUN_DIR" "$MODELS" "$PRUNE_MODELS" "$SPARSITIES" <<'EOF'
import json, os, sys
from slim import fileio
from slim import pruning
from slim.pruning import size_report
run_dir, models, prune_models, sparsities = (sys.argv[1], sys.argv[2].split(),
                                             sys.argv[3].split(), sys.argv[4].split())
def top1(folder, name):
  path = os.path.join(run_dir, folder, name + '.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return 100.0 * json.load(f)['top1']
def read(folder, name):
  with open(os.path.join(run_dir, folder, name)) as f:
    return f.read().strip()
def pct(value):
  return '-' if value is None else '%.1f' % value
rows = ['| Backbone | Float graph | PTQ int8 TFLite | QAT graph | QAT uint8 TFLite '
        '| QAT int8 per-channel TFLite | PTQ - float | QAT uint8 - float | float / QAT train (s) |',
        '|' + '---|' * 9]
for m in models:
  f, p, qg, qt, qc = (top1(m, n) for n in ('float_graph', 'ptq_tflite', 'qat_graph',
                                           'qat_tflite', 'qat_per_channel_tflite'))
  rows.append('| %s | %.1f | %.1f | %.1f | %.1f | %s | %+.1f | %+.1f | %s / %s |' % (
      m, f, p, qg, qt, pct(qc), p - f, qt - f, read(m, 'float_train_secs'),
      read(m, 'qat_train_secs')))
table = '\n'.join(rows) + '\n'
if prune_models:
  def sizes(path):
    data = open(path, 'rb').read()
    return len(data), size_report.gzip_size(data)
  def mb(n):
    return '%.2f' % (n / 1e6)
  rows = ['| Backbone | Target sparsity | Measured sparsity (zeros / size of the CONV_2D + '
          'FULLY_CONNECTED weights of the uint8 TFLite) | Top-1 pruned float graph | Top-1 '
          'pruned+QAT uint8 TFLite | float TFLite MB | float TFLite gzip MB | uint8 TFLite MB '
          '| uint8 TFLite gzip MB | prune / QAT train (s) |', '|' + '---|' * 10]
  for m in prune_models:
    runs = [('0 (dense)', m, False)]
    runs += [(s, os.path.join(m, 'pruned_' + s), True) for s in sparsities]
    for label, folder, pruned in runs:
      folder_path = os.path.join(run_dir, folder)
      uint8 = os.path.join(folder_path, 'qat_uint8.tflite')
      measured = pruning.overall_sparsity(pruning.tflite_weight_sparsity(uint8))
      f_size, f_gzip = sizes(os.path.join(folder_path, 'float.tflite'))
      q_size, q_gzip = sizes(uint8)
      times = ('%s / %s' % (read(folder, 'prune_train_secs'), read(folder, 'qat_train_secs'))
               if pruned else '-')
      rows.append('| %s | %s | %.3f | %s | %s | %s | %s | %s | %s | %s |' % (
          m, label, measured, pct(top1(folder, 'float_graph')), pct(top1(folder, 'qat_tflite')),
          mb(f_size), mb(f_gzip), mb(q_size), mb(q_gzip), times))
  table += '\n' + '\n'.join(rows) + '\n'
table += '\nWall time of the steps before this table: %s s\n' % read('', 'run_secs')
fileio.atomic_write_text(os.path.join(run_dir, 'results.md'), table)
EOF
cat "$RUN_DIR/results.md"
log "tables saved in $RUN_DIR/results.md"
