#!/usr/bin/env bash
# The one GPU device run for the CUDA backend, from the repository root (scripts/device/README.md):
#
#   bash scripts/device/run.sh [--quick | --smoke] [--device cuda|cpu]
#
# Needs what `node scripts/device/build.mjs` and prepare-node.sh put in .device/ (carry ['.device']).
# Steps, each time-boxed; a step that fails or times out is recorded and the next one runs:
#   node    unpack .device/node.xz (the machine has no Node.js)
#   addon   unpack the native addon (CUDA kernels) from the bundle
#   env     nvidia-smi -L, the card, driver and versions
#   data    the CIFAR-10 JPEG archive into a uint8 cache (cifar-cache.mjs), timed on its own
#   tests   the device test runner (cuda-tests.mjs): CUDA against the CPU and the float64 reference,
#           with cuDNN from PyTorch's environment when found (DL_CUDNN_PATH)
#   own-conv  the convolution tests again with DL_CUDNN=0 (conv.cu's own kernels)
#   ours    our benchmark (bench-cuda.mjs)
#   torch   PyTorch's (torch_cuda_bench.py), eager and compiled
#   report  the final table (report.mjs), printed last
# Raw outputs go to $OUT (set by the device tool; else $TMPDIR/dl-device-out): run.log (every
# step's stderr), steps.jsonl, tests.log, own-conv.log, ours.jsonl, torch.jsonl, report.md.
#
#   --quick        the first try: the whole test runner, short timing budgets, 1 recipe epoch,
#                  no torch.compile (about 3 minutes instead of 8)
#   --smoke        tiny sizes and a test subset: the CPU check of this script in `pnpm test`
#   --device cpu   no GPU: run everything on the CPU (with --smoke, here)
# Environment: DL_NODE (a node binary instead of .device/node.xz), DL_TORCH_PYTHON (default
# /opt/torch/.venv/bin/python, else python3), DL_DEVICE_BUNDLE (default .device/bundle),
# DL_CIFAR_ARCHIVE (default .device/cifar-10-jpeg.tar.gz).
# Exit status: 0 when every step succeeded, else 1 (after the report).
set -uo pipefail
cd "$(dirname "$0")/../.."

MODE=full DEVICE=cuda
while [ $# -gt 0 ]; do
  case $1 in
    --quick) MODE=quick ;;
    --smoke) MODE=smoke ;;
    --device) DEVICE=$2; shift ;;
    *) echo "usage: bash scripts/device/run.sh [--quick | --smoke] [--device cuda|cpu]" >&2; exit 2 ;;
  esac
  shift
done
# Time boxes in seconds (data, tests, ours, torch, own-conv): full fits ~9 minutes at worst, quick ~6.
# Smoke gives ours 120: on the emulated device (the rehearsal in pnpm test) its three ResNet-9
# steps take about 15 s each, and a busy CI machine doubles that.
case $MODE in
  full) LIMITS=(60 120 150 150 60) FLAG=() ;;
  quick) LIMITS=(60 120 60 60 60) FLAG=(--quick) ;;
  smoke) LIMITS=(60 60 120 60 60) FLAG=(--smoke) ;;
esac

TMP=${TMPDIR:-/tmp}
OUT=${OUT:-$TMP/dl-device-out}
BUNDLE=${DL_DEVICE_BUNDLE:-.device/bundle}
ARCHIVE=${DL_CIFAR_ARCHIVE:-.device/cifar-10-jpeg.tar.gz}
mkdir -p "$OUT"
LOG=$OUT/run.log STEPS=$OUT/steps.jsonl
rm -f "$LOG" "$STEPS" "$OUT/tests.log" "$OUT/own-conv.log" "$OUT/ours.jsonl" "$OUT/torch.jsonl" "$OUT/report.md"
FAILED=0 DATA=
[ -d /usr/local/cuda/lib64 ] && export LD_LIBRARY_PATH=/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# cuDNN is only inside PyTorch's environment there; its folder also goes on the loader path,
# where cuDNN 9 looks for its sub-libraries.
if [ -z "${DL_CUDNN_PATH:-}" ]; then
  for d in /opt/torch/.venv/lib/python3*/site-packages/nvidia/cudnn/lib; do [ -d "$d" ] && export DL_CUDNN_PATH=$d; done
fi
[ -n "${DL_CUDNN_PATH:-}" ] && [ -d "$DL_CUDNN_PATH" ] && export LD_LIBRARY_PATH=$DL_CUDNN_PATH:$LD_LIBRARY_PATH

# run_step NAME LIMIT STDOUT STDERR CMD...: runs CMD time-boxed, appends a steps.jsonl line and
# prints one status line (and the end of the step's output when it failed).
run_step() {
  local name=$1 limit=$2 stdout=$3 stderr=$4 t0=$SECONDS rc=0 status=ok
  shift 4
  echo "--- $name: $* (limit ${limit} s)" >>"$LOG"
  timeout -k 10 "$limit" "$@" >>"$stdout" 2>>"$stderr" || rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="timed out"; elif [ $rc -ne 0 ]; then status="failed (exit $rc)"; fi
  printf '{"kind":"step","step":"%s","status":"%s","seconds":%d}\n' "$name" "$status" $((SECONDS - t0)) >>"$STEPS"
  echo "$name: $status, $((SECONDS - t0)) s"
  if [ $rc -ne 0 ]; then
    FAILED=1
    tail -n 12 "$stderr" | sed 's/^/  | /'
  fi
  return $rc
}

skip_step() {
  printf '{"kind":"step","step":"%s","status":"skipped: %s","seconds":0}\n' "$1" "$2" >>"$STEPS"
  echo "$1: skipped: $2"
  FAILED=1
}

# node: the machine has none; .device/node.xz is Node 20 (prepare-node.sh). It and the addon
# (the bundle's dl_native.node.xz, loaded through DL_NATIVE_PATH) are unpacked outside .device,
# so a local run does not add 100 MB to what the next device run carries.
BIN=$TMP/dl-device-node
mkdir -p "$BIN"
NODE=${DL_NODE:-}
if [ -z "$NODE" ] && [ -s .device/node.xz ]; then
  run_step node 30 "$LOG" "$LOG" bash -c "xz -dc .device/node.xz > '$BIN/node.tmp' && chmod +x '$BIN/node.tmp' && mv '$BIN/node.tmp' '$BIN/node'" && NODE=$BIN/node
fi
[ -z "$NODE" ] && command -v node >/dev/null && NODE=$(command -v node)
[ -z "$NODE" ] && skip_step node "no .device/node.xz and no node on PATH"
if [ -s "$BUNDLE/dl_native.node.xz" ]; then
  run_step addon 30 "$LOG" "$LOG" bash -c "xz -dc '$BUNDLE/dl_native.node.xz' > '$BIN/dl_native.node'" && export DL_NATIVE_PATH=$BIN/dl_native.node
else
  skip_step addon "no $BUNDLE/dl_native.node.xz: TypeScript CPU kernels, no CUDA"
fi
PY=${DL_TORCH_PYTHON:-}
[ -z "$PY" ] && { [ -x /opt/torch/.venv/bin/python ] && PY=/opt/torch/.venv/bin/python || PY=python3; }

# env: what the run ran on, on the terminal and in steps.jsonl (report.mjs reads it).
GPU="" DRIVER="" MEMORY=""
if command -v nvidia-smi >/dev/null; then
  nvidia-smi -L | tee -a "$LOG"
  IFS=, read -r GPU DRIVER MEMORY < <(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1 | tr -d '"\\')
fi
printf '{"kind":"env","gpu":"%s","driver":"%s","memory":"%s","date":"%s","mode":"%s","device":"%s"}\n' \
  "${GPU:-no GPU}" "${DRIVER# }" "${MEMORY# }" "$(date -u +%Y-%m-%d)" "$MODE" "$DEVICE" >>"$STEPS"
echo "mode $MODE, device $DEVICE, node ${NODE:+$("$NODE" --version)}, python $PY, $(command -v nvcc >/dev/null && nvcc --version | tail -n 1), outputs in $OUT"

if [ -n "$NODE" ]; then
  DATA=$TMP/dl-device-cifar10
  if [ -s "$ARCHIVE" ]; then
    run_step data "${LIMITS[0]}" "$OUT/ours.jsonl" "$LOG" "$NODE" --enable-source-maps "$BUNDLE/cifar-cache.mjs" --archive "$ARCHIVE" --out "$DATA" || DATA=
  else
    skip_step data "no $ARCHIVE"
    DATA=
  fi
  QUICK_TESTS=0
  [ "$MODE" = smoke ] && QUICK_TESTS=1
  # DL_POISON_ALLOC=1: kernel outputs start as 0xFF bytes (NaN), so one that leaves part unwritten fails.
  run_step tests "${LIMITS[1]}" "$OUT/tests.log" "$OUT/tests.log" env DL_POISON_ALLOC=1 DL_TEST_DEVICE="$DEVICE" DL_TEST_QUICK=$QUICK_TESTS \
    "$NODE" --enable-source-maps --test-reporter=spec "$BUNDLE/cuda-tests.mjs"
  # The convolution cases again on conv.cu's own kernels (the run above uses cuDNN where found).
  run_step own-conv "${LIMITS[4]}" "$OUT/own-conv.log" "$OUT/own-conv.log" env DL_CUDNN=0 DL_POISON_ALLOC=1 DL_TEST_DEVICE="$DEVICE" DL_TEST_QUICK=$QUICK_TESTS \
    "$NODE" --enable-source-maps --test-reporter=spec --test-name-pattern='[Cc]onv|TutorialNet|ResNet' "$BUNDLE/cuda-tests.mjs"
  run_step ours "${LIMITS[2]}" "$OUT/ours.jsonl" "$LOG" "$NODE" --enable-source-maps "$BUNDLE/bench-cuda.mjs" --device "$DEVICE" "${FLAG[@]}" ${DATA:+--data "$DATA"}
fi
run_step torch "${LIMITS[3]}" "$OUT/torch.jsonl" "$LOG" env PYTHONUNBUFFERED=1 "$PY" scripts/device/torch_cuda_bench.py --device "$DEVICE" "${FLAG[@]}" ${DATA:+--data "$DATA"}

echo
if [ -n "$NODE" ] && "$NODE" scripts/device/report.mjs "$OUT" >"$OUT/report.md" 2>>"$LOG"; then
  cat "$OUT/report.md"
else
  echo "report.mjs did not run: the raw lines follow"
  cat "$STEPS" "$OUT/ours.jsonl" "$OUT/torch.jsonl" 2>/dev/null
fi
exit $FAILED
