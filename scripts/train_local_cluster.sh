#!/usr/bin/env bash
# DeepLab on a loopback cluster: 1 ps + N workers of deeplab/train.py on free local ports, each
# with its own TF_CONFIG (slim/runtime/distributed.py; g3doc/distributed.md), on the synthetic
# dataset. Waits for every process (the cluster ends by itself when the chief reaches the last
# step), then prints each process's exit status and log tail, the final checkpoint step, and
# the chief's throughput, also written to RUN_DIR/cluster.json:
#   {"exit_codes": {"ps0": 0, "worker0": 0, ...}, "final_step": N, "steps_per_sec": x,
#    "worker_steps_logged": {"worker0": k, ...}}
#
# Usage: bash scripts/train_local_cluster.sh [RUN_DIR]
# Settings (environment variables; the QUICK=1 value in brackets where it differs):
#   NUM_WORKERS (2), NUM_PS (1), STEPS (60 [20]), QUANTIZE_DELAY_STEP (-1: float; e.g. 10: QAT
#   from step 10), SYNC_REPLICAS (true), CROP (65 [33]), BATCH (4 [2]), MODEL_VARIANT
#   (mobilenet_v2), DATASET_DIR (a synthetic tfrecord folder; default: generated in RUN_DIR),
#   TIMEOUT (900 s for the whole cluster; then every process is killed and the script fails),
#   EXTRA_FLAGS (more deeplab/train.py flags), SKIP_SETUP_ENV=1 (use the existing .venv),
#   RUN_DIR (runs/local_cluster_<time>).
set -euo pipefail
LOG_TAG=train_local_cluster
source "$(dirname "${BASH_SOURCE[0]}")/lib/recipe.sh"

NUM_WORKERS="${NUM_WORKERS:-2}"
NUM_PS="${NUM_PS:-1}"
STEPS="${STEPS:-$(preset 60 20)}"
QUANTIZE_DELAY_STEP="${QUANTIZE_DELAY_STEP:--1}"
SYNC_REPLICAS="${SYNC_REPLICAS:-true}"
CROP="${CROP:-$(preset 65 33)}"
BATCH="${BATCH:-$(preset 4 2)}"
MODEL_VARIANT="${MODEL_VARIANT:-mobilenet_v2}"
TIMEOUT="${TIMEOUT:-900}"
RUN_DIR="${1:-${RUN_DIR:-$ROOT/runs/local_cluster_$(date -u +%Y%m%d_%H%M%S)}}"
LOGS="$RUN_DIR/logs"
TRAIN_DIR="$RUN_DIR/train"
mkdir -p "$LOGS"

if [ -z "${DATASET_DIR:-}" ]; then
  DATASET_DIR="$RUN_DIR/synthetic/tfrecord"
  if [ ! -d "$DATASET_DIR" ]; then
    log "synthetic dataset -> $RUN_DIR/synthetic"
    "$PY" -m datasets.synthetic --output_dir="$RUN_DIR/synthetic" --convert --num_train=32 \
        --num_val=4 --size=96 >"$LOGS/dataset.log" 2>&1 || { tail -n 20 "$LOGS/dataset.log"; exit 1; }
  fi
fi

# One TF_CONFIG cluster on free loopback ports (each bound to port 0, read, then released).
CLUSTER="$("$PY" - "$NUM_PS" "$NUM_WORKERS" <<'EOF'
import json, socket, sys
num_ps, num_workers = int(sys.argv[1]), int(sys.argv[2])
sockets = [socket.socket() for _ in range(num_ps + num_workers)]
for s in sockets:
  s.bind(('localhost', 0))
ports = [s.getsockname()[1] for s in sockets]
for s in sockets:
  s.close()
print(json.dumps({'ps': ['localhost:%d' % p for p in ports[:num_ps]],
                  'worker': ['localhost:%d' % p for p in ports[num_ps:]]}))
EOF
)"
log "cluster $CLUSTER"

FLAGS=(--train_logdir="$TRAIN_DIR" --dataset=synthetic --dataset_dir="$DATASET_DIR"
       --model_variant="$MODEL_VARIANT" --train_crop_size="$CROP,$CROP" --train_batch_size="$BATCH"
       --training_number_of_steps="$STEPS" --quantize_delay_step="$QUANTIZE_DELAY_STEP"
       --sync_replicas="$SYNC_REPLICAS" --log_steps=1 --save_interval_secs=600
       --base_learning_rate=0.01 ${EXTRA_FLAGS:-})
declare -A PIDS=()
start_task() {  # job index
  local name="$1$2"
  TF_CONFIG="{\"cluster\": $CLUSTER, \"task\": {\"type\": \"$1\", \"index\": $2}}" \
      "$PY" -m deeplab.train "${FLAGS[@]}" >"$LOGS/$name.log" 2>&1 &
  PIDS[$name]=$!
}
for ((i = 0; i < NUM_PS; i++)); do start_task ps "$i"; done
for ((i = 0; i < NUM_WORKERS; i++)); do start_task worker "$i"; done
log "started ${!PIDS[*]}; waiting (timeout ${TIMEOUT}s)"

declare -A CODES=()
deadline=$(( $(date +%s) + TIMEOUT ))
while [ "${#CODES[@]}" -lt "${#PIDS[@]}" ]; do
  for name in "${!PIDS[@]}"; do
    [ -n "${CODES[$name]:-}" ] && continue
    if ! kill -0 "${PIDS[$name]}" 2>/dev/null; then
      code=0; wait "${PIDS[$name]}" || code=$?
      CODES[$name]=$code
      log "$name exited with status $code"
    fi
  done
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for name in "${!PIDS[@]}"; do
      if [ -z "${CODES[$name]:-}" ]; then
        kill "${PIDS[$name]}" 2>/dev/null || true
        CODES[$name]=timeout
        log "$name killed after ${TIMEOUT}s"
      fi
    done
  fi
  sleep 1
done

for name in $(printf '%s\n' "${!PIDS[@]}" | sort); do
  echo "----- $name (exit ${CODES[$name]}): tail of $LOGS/$name.log"
  tail -n 5 "$LOGS/$name.log"
done

codes_json="$(for name in "${!CODES[@]}"; do echo "$name=${CODES[$name]}"; done)"
"$PY" - "$RUN_DIR" "$TRAIN_DIR" "$LOGS" $codes_json <<'EOF'
import datetime, glob, json, os, re, sys
run_dir, train_dir, logs = sys.argv[1:4]
codes = dict(arg.split('=', 1) for arg in sys.argv[4:])
codes = {k: int(v) if v.lstrip('-').isdigit() else v for k, v in sorted(codes.items())}
import tensorflow as tf
latest = tf.train.latest_checkpoint(train_dir)
final_step = int(tf.train.load_variable(latest, 'global_step')) if latest else None
# absl lines: "I1204 01:30:00.123456 ... global step 12: loss = ...".
STEP = re.compile(r'^I(\d{4}) (\d\d:\d\d:\d\d\.\d+).*global step (\d+): loss')
steps_logged, rate = {}, None
for path in sorted(glob.glob(os.path.join(logs, 'worker*.log'))):
  name = os.path.basename(path)[:-4]
  points = []
  for line in open(path, errors='replace'):
    m = STEP.match(line)
    if m:
      t = datetime.datetime.strptime(m.group(2), '%H:%M:%S.%f')
      points.append((t, int(m.group(3))))
  steps_logged[name] = len(points)
  if name == 'worker0' and len(points) > 2:
    # The first step (graph set-up, the others joining) is left out.
    (t0, s0), (t1, s1) = points[1], points[-1]
    seconds = (t1 - t0).total_seconds() % 86400
    rate = (s1 - s0) / seconds if seconds > 0 else None
summary = {'exit_codes': codes, 'final_step': final_step, 'checkpoint': latest,
           'steps_per_sec': rate, 'worker_steps_logged': steps_logged}
with open(os.path.join(run_dir, 'cluster.json.tmp'), 'w') as f:
  json.dump(summary, f, indent=1)
os.replace(os.path.join(run_dir, 'cluster.json.tmp'), os.path.join(run_dir, 'cluster.json'))
print(json.dumps(summary))
EOF
for name in "${!CODES[@]}"; do
  if [ "${CODES[$name]}" != 0 ]; then log "FAILED: $name exit ${CODES[$name]}"; exit 1; fi
done
log "done: $RUN_DIR/cluster.json"
