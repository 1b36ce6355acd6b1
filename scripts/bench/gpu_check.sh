#!/usr/bin/env bash
# GPU check for the hypergraph kernels, in one call of under 5 minutes:
#   1. the kernel and ops tests with the *compiled* Triton kernels on CUDA (TRITON_INTERPRET=0), vs the torch reference;
#   2. scripts/bench/hypergraph_conv.py on CUDA: fused Triton vs torch reference (cuSPARSE) vs PyG, and the fused
#      kernel's achieved bandwidth as a fraction of the card's (nominal and measured-copy).
# Usage (from the repository root):  bash scripts/bench/gpu_check.sh [output-dir]
# Writes gpu_check.log and bench_cuda.json into output-dir (default: $OUT if set, else ./gpu-check-output).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR="${1:-${OUT:-gpu-check-output}}"
mkdir -p "$OUTDIR"
LOG="$OUTDIR/gpu_check.log"
if [ -x .venv/bin/python ] && .venv/bin/python -c "import torch" 2>/dev/null; then PY=.venv/bin/python; else PY="${PYTHON:-python3}"; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TRITON_INTERPRET=0 DGLBACKEND=pytorch
status=0
{
  echo "== $(date -u +%FT%TZ) gpu_check on $(hostname), python: $PY"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" -c "import torch, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'triton', triton.__version__, 'gpu', torch.cuda.get_device_name(0))" || exit 3
} 2>&1 | tee "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "torch/triton/CUDA not usable" | tee -a "$LOG"; exit 3; }

echo "== 1. kernel + ops tests on CUDA (compiled Triton)" | tee -a "$LOG"
timeout 150 "$PY" -m pytest -q -o addopts="" -p no:cacheprovider -rs \
  tests/hypergraph/test_kernels.py tests/hypergraph/test_ops.py 2>&1 | tail -25 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== 2. benchmark on CUDA" | tee -a "$LOG"
timeout 130 "$PY" scripts/bench/hypergraph_conv.py --device cuda --sizes cora,1e6,1e7 --peers pyg --repeats 10 \
  --threads 8 --json "$OUTDIR/bench_cuda.json" 2>&1 | grep -v -i warn | tee -a "$LOG"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=$((status + 2))

echo "== done, status $status (0 ok, 1 tests failed, 2 bench failed, 3 both)" | tee -a "$LOG"
exit $status
