#!/usr/bin/env bash
# The GPU run: the device, the test suite on CuPy and on torch with CUDA, and the GPU
# benchmarks, in one call of at most 8 minutes that leaves everything in OUTDIR.
#
#   bash benchmarks/gpu_run.sh OUTDIR              # on a machine with a CUDA GPU
#   bash benchmarks/gpu_run.sh --dry-run OUTDIR    # the same steps on the CPU, in under 2 minutes
#   options: --budget SECONDS  the whole run (default 480; dry run 115)
#
# Steps, each under `timeout` with its own cap, never past the budget (whose last
# RESERVE seconds are kept for the summary):
#   wheels        the wheels in .whl/ (or $MLP_XP_WHEELS), installed into a temporary
#                 folder put on PYTHONPATH: pure-Python packages the machine lacks
#   device        device.txt: nvidia-smi, driver, CUDA runtime, every library's version
#   tests-cupy, tests-torch-cuda
#                 the whole suite on MLP_XP_BACKENDS=cupy and on torch with
#                 MLP_XP_TORCH_DEVICE=cuda, side by side; tests-<step>.log each
#   bench-T, bench-M, bench-L, bench-L-tf32
#                 benchmarks/train_step.py on cupy (mlp_xp on cupy, with its fused CuPy
#                 kernels and on torch-cuda, the native CuPy loop, PyTorch eager and its
#                 whole-step CUDA graph, the GEMM floors), float32, then L with TF32 for
#                 every contender: bench.log and <device>-<date>.json and .md
# summary.txt has one line per step (status, seconds, limit, and pytest's last line or
# the step's) and is rewritten after every step.  A step whose library is missing is
# "skipped" with the reason.  Exit status 1 if a step failed or timed out (in a dry
# run also if one was skipped).  The project runs from this checkout (PYTHONPATH):
# nothing is built or installed.  The dry run puts numpy in cupy's place, the CPU in
# cuda's, and tiny workloads in the benchmarks' (no nvidia-smi).

set -uo pipefail
shopt -s nullglob

DRY=0 BUDGET="" OUT=""
while (($#)); do
    case $1 in
        --dry-run) DRY=1 ;;
        --budget) BUDGET=${2:?--budget needs a number of seconds}; shift ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        -*) echo "gpu_run.sh: unknown option $1" >&2; exit 2 ;;
        *) OUT=$1 ;;
    esac
    shift
done
[[ -n $OUT ]] || { echo "usage: gpu_run.sh [--dry-run] [--budget SECONDS] OUTDIR" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd) || exit 2
cd "$REPO" || exit 2
PY=${PYTHON:-python3}
WHEELS=${MLP_XP_WHEELS:-$REPO/.whl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_run.XXXXXX")
RESERVE=10
export PYTHONPATH=$REPO PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 # the plugins CI has, not whatever the machine holds
export XLA_PYTHON_CLIENT_PREALLOCATE=false # a JAX import in one test run must not take the GPU's memory
export CUPY_TF32=0                         # float32 products in float32, as torch's default

if ((DRY)); then
    BUDGET=${BUDGET:-115} MODE="dry run (CPU)"
    declare -A CAP=([wheels]=30 [device]=30 [tests]=60 [bench-T]=40 [bench-M]=35 [bench-L]=35 [bench-L-tf32]=20)
    TESTS=(numpy "MLP_XP_BACKENDS=numpy" torch-cpu "MLP_XP_BACKENDS=torch MLP_XP_TORCH_DEVICE=cpu")
    TEST_TIMEOUT=60
    # a part of the suite: the backend and device handling, and the benchmark harness's GPU paths
    TEST_SELECTION=(-x tests/test_backend.py tests/test_persistence.py tests/test_benchmarks.py
        tests/test_kernels_cupy.py)
    DEVICE=(--cpu)
    # the GPU workloads' steps on tiny networks (the real T at B = 16, for the targets' table),
    # without the memory probes, which on the CPU start a process per contender
    declare -A BENCH=(
        [T]="--workload T --batch-size 16 --steps 3 --repeats 1 --no-memory"
        [M]="--workload M --sizes 64,32,32,32,10 --batch-size 8 --steps 3 --repeats 1 --no-memory"
        [L]="--workload L --sizes 64,48,48,8 --batch-size 16 --steps 3 --repeats 1 --no-memory"
        [L-tf32]="--workload L --sizes 64,48,48,8 --batch-size 16 --steps 3 --repeats 1 --no-memory --precision tf32"
    )
else
    BUDGET=${BUDGET:-480} MODE="GPU run"
    declare -A CAP=([wheels]=60 [device]=60 [tests]=220 [bench-T]=80 [bench-M]=80 [bench-L]=120 [bench-L-tf32]=60)
    TESTS=(cupy "MLP_XP_BACKENDS=cupy" torch-cuda "MLP_XP_BACKENDS=torch MLP_XP_TORCH_DEVICE=cuda")
    TEST_TIMEOUT=120
    TEST_SELECTION=() # the whole suite
    # float32, TF32 off.  Epochs of about 0.1 s of the native loop, 5 timed each; B: the workloads'
    # GPU batches (T 32, 256, 4096; M 64, 1024, 4096).  L, B = 8192: 6·8192·134·10⁶ = 6.6 TFLOP a
    # step, about 0.13 s at 50 TFLOP/s, so 3 steps an epoch and 3 timed epochs; then with TF32 for
    # every contender (several times faster), without the memory probes.
    DEVICE=()
    declare -A BENCH=(
        [T]="--workload T --epoch-seconds 0.1 --repeats 5"
        [M]="--workload M --epoch-seconds 0.1 --repeats 5"
        [L]="--workload L --steps 3 --repeats 3"
        [L-tf32]="--workload L --steps 3 --repeats 3 --no-memory --precision tf32"
    )
fi
HEADER="mlp_xp $MODE, $(date -u '+%Y-%m-%d %H:%M UTC'), budget ${BUDGET}s, checkout $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)')"

# record NAME STATUS SECONDS LIMIT DETAIL [START]: one summary line, in the order of the steps' starts
record() {
    printf '%-17s %-8s %5ss %5ss  %s\n' "$1" "$2" "$3" "$4" "${5:0:240}" >"$WORK/${6:-$EPOCHREALTIME}-$1.rec"
}

summarise() { # rewrite summary.txt from the records so far, then the closing line $1
    {
        echo "$HEADER"
        printf '%-17s %-8s %6s %6s  %s\n' step status time limit detail
        cat /dev/null "$WORK"/*.rec
        echo "${1:-}"
    } >"$OUT/summary.txt"
}

# run_step NAME CAP LOG COMMAND...: COMMAND under `timeout` for at most CAP seconds and never past
# the budget, its output appended to LOG; recorded as ok, FAILED or TIMEOUT with LOG's last line.
run_step() {
    local name=$1 cap=$2 log=$3 start=$SECONDS started=$EPOCHREALTIME rc status last
    shift 3
    local limit=$((BUDGET - RESERVE - SECONDS))
    ((limit > cap)) && limit=$cap
    if ((limit < 5)); then
        record "$name" skipped 0 0 "no time left in the ${BUDGET}s budget"
        return 1
    fi
    echo "== $name (limit ${limit}s): $*" >>"$log"
    timeout -k 5 "$limit" "$@" >>"$log" 2>&1
    rc=$?
    last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | sed 's/^=* *//; s/ *=*$//') # pytest's, undecorated
    case $rc in
        0) status=ok ;;
        124 | 137) status=TIMEOUT last="stopped at its ${limit}s limit; last line: $last" ;;
        *) status=FAILED ;;
    esac
    record "$name" "$status" $((SECONDS - start)) "$limit" "$last" "$started"
    return "$rc"
}

reaches() { # reaches cupy|torch-cuda|numpy|torch-cpu: can that backend run here? If not, prints why
    local code
    case $1 in
        cupy) code='from mlp_xp._backend import get_namespace; get_namespace("cupy")' ;;
        torch-cuda) code='import torch; assert torch.cuda.is_available(), "torch sees no CUDA device"' ;;
        torch-cpu) code='import torch' ;;
        numpy) code='import numpy' ;;
    esac
    timeout 60 "$PY" -c "$code" 2>&1 | tail -n 1
    return "${PIPESTATUS[0]}"
}

finish() { # the summary's closing line and the exit status
    local bad
    bad=$(cat /dev/null "$WORK"/*.rec | awk -v dry="$DRY" '$2 == "FAILED" || $2 == "TIMEOUT" || (dry && $2 == "skipped")' | wc -l)
    summarise "total ${SECONDS}s of ${BUDGET}s; $bad step(s) not ok: exit status $((bad ? 1 : 0)); files: $(cd "$OUT" && echo *)"
    cat "$OUT/summary.txt"
    rm -rf "$WORK"
    exit $((bad ? 1 : 0))
}
trap 'kill $(jobs -p) 2>/dev/null; summarise "interrupted after ${SECONDS}s"; rm -rf "$WORK"; exit 130' INT TERM
for log in device.txt bench.log tests-{cupy,torch-cuda,numpy,torch-cpu}.log; do rm -f "$OUT/$log"; done
summarise "running"

# --- wheels: what the machine lacks, from .whl/, on PYTHONPATH --------------------------------
wheels=("$WHEELS"/*.whl)
if ((${#wheels[@]})); then
    run_step wheels "${CAP[wheels]}" "$OUT/device.txt" "$PY" -m pip install --no-index --no-deps \
        --no-compile --no-cache-dir --upgrade --target "$WORK/site" "${wheels[@]}" &&
        export PYTHONPATH=$REPO:$WORK/site
else
    record wheels ok 0 0 "no wheels in $WHEELS: nothing to install"
fi

# --- device: nvidia-smi, driver, CUDA runtime, library versions -------------------------------
run_step device "${CAP[device]}" "$OUT/device.txt" "$PY" benchmarks/device_info.py "${DEVICE[@]}"
summarise "running"

# --- which backends can run here, each asked once ---------------------------------------------
declare -A WHY_NOT # backend -> why it cannot run (absent: it can)
for ((i = 0; i < ${#TESTS[@]}; i += 2)); do
    why=$(reaches "${TESTS[i]}") || WHY_NOT[${TESTS[i]}]=${why:-unavailable}
done

# --- the test suite on both backends, side by side --------------------------------------------
# -v: each test's result as it ends, so a run stopped at its limit still says what passed and failed
PYTEST=(-v --durations=20 -p no:cacheprovider)
"$PY" -c 'import _hypothesis_pytestplugin' 2>/dev/null && PYTEST+=(-p _hypothesis_pytestplugin)
"$PY" -c 'import pytest_timeout' 2>/dev/null && PYTEST+=(-p pytest_timeout --timeout "$TEST_TIMEOUT")
for ((i = 0; i < ${#TESTS[@]}; i += 2)); do
    backend=${TESTS[i]} variables=${TESTS[i + 1]}
    if [[ -v WHY_NOT[$backend] ]]; then
        record "tests-$backend" skipped 0 0 "${WHY_NOT[$backend]}"
    else
        # shellcheck disable=SC2086  # variables: NAME=value words for env
        run_step "tests-$backend" "${CAP[tests]}" "$OUT/tests-$backend.log" \
            env $variables "$PY" -m pytest "${PYTEST[@]}" "${TEST_SELECTION[@]}" &
    fi
done
wait
summarise "running"

# --- the benchmarks on the first backend that can run: one process per workload ---------------
declare -A BENCH_BACKEND=([cupy]="--backend cupy" [torch-cuda]="--backend torch --device cuda"
    [numpy]="--backend numpy" [torch-cpu]="--backend torch --device cpu")
backend=""
for candidate in "${TESTS[0]}" "${TESTS[2]}"; do
    [[ -v WHY_NOT[$candidate] ]] || { backend=$candidate; break; }
done
[[ $backend == "${TESTS[2]}" ]] && echo "${TESTS[0]} cannot run: mlp_xp on $backend only" >>"$OUT/bench.log"
for workload in T M L L-tf32; do
    if [[ -n $backend ]]; then
        # shellcheck disable=SC2086  # BENCH_BACKEND, BENCH: options of train_step.py, as words
        run_step "bench-$workload" "${CAP[bench-$workload]}" "$OUT/bench.log" \
            "$PY" benchmarks/train_step.py ${BENCH_BACKEND[$backend]} ${BENCH[$workload]} --out "$OUT"
        summarise "running"
    else
        record "bench-$workload" skipped 0 0 "neither ${TESTS[0]} nor ${TESTS[2]} can run (see tests-*)"
    fi
done
finish
