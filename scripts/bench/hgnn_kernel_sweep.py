#!/usr/bin/env python
"""Launch-parameter sweep of the fused Triton HGNN kernel against the torch reference (cuSPARSE) on CUDA.

Forward only (the backward is the same operator), median of ``--repeats`` CUDA-event timings, on HSBM hypergraphs
with mean hyperedge size 20 (as in ``hypergraph_conv.py``). Prints one row per (size, BLOCK_K, BLOCK_F, warps),
the speed-up over the torch reference and the two-pass (atomic-free) Triton variant, and whether the result
matches the reference.

    python scripts/bench/hgnn_kernel_sweep.py --sizes 1e6,1e7 --json sweep.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import sys

import torch
from _common import cuda_median as cuda_time
from _common import machine_line

from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.kernels import torch_ref, triton_kernels


def native_gather_scatter(x: torch.Tensor, g) -> torch.Tensor:
    """The HGNN operator from native torch ops only: gather rows per incidence, ``index_add_`` into hyperedges,
    gather back and ``index_add_`` into nodes (materialises the ``[nnz, F]`` messages twice)."""
    q = torch_ref.hgnn_factor(g, x.dtype).unsqueeze(1)
    t = torch.zeros(g.num_edges, x.shape[1], device=x.device, dtype=x.dtype)
    t.index_add_(0, g.inc_edge, x.index_select(0, g.inc_node) * q)
    out = torch.zeros_like(x)
    return out.index_add_(0, g.inc_node, t.index_select(0, g.inc_edge) * q)


def sweep_size(nnz: int, features: int, repeats: int) -> list[dict]:
    hg, _, _ = hsbm(max(100, nnz // 10), max(20, nnz // 20), num_classes=8, feature_dim=1, mean_edge_size=20.0, seed=0)
    g = hg.to("cuda")
    x = torch.randn(g.num_nodes, features, device="cuda")
    ref_out = torch_ref.hgnn_apply(x, g)
    t_ref = cuda_time(lambda: torch_ref.hgnn_apply(x, g), repeats)
    t_two = cuda_time(lambda: triton_kernels.hgnn_two_pass(x, g), repeats)
    t_nat = cuda_time(lambda: native_gather_scatter(x, g), repeats)
    rows = [
        dict(nnz=g.nnz, features=features, variant="torch-ref", ms=t_ref * 1e3, speedup=1.0),
        dict(
            nnz=g.nnz,
            features=features,
            variant="torch-gather-index_add",
            ms=t_nat * 1e3,
            speedup=t_ref / t_nat,
            matches=bool(torch.allclose(native_gather_scatter(x, g), ref_out, rtol=1e-4, atol=1e-5)),
        ),
        dict(nnz=g.nnz, features=features, variant="triton-2pass", ms=t_two * 1e3, speedup=t_ref / t_two),
    ]
    kernels = {"fused": triton_kernels.hgnn_apply, "2pass": triton_kernels.hgnn_two_pass}
    for (kind, fn), bk, bf, nw in itertools.product(kernels.items(), (16, 32, 64), (32, 64), (1, 2, 4)):
        if bf > features * 2:
            continue
        kw = dict(block_k=bk, block_f=bf, num_warps=nw)
        try:
            ok = bool(torch.allclose(fn(x, g, **kw), ref_out, rtol=1e-4, atol=1e-5))
            t = cuda_time(lambda fn=fn, kw=kw: fn(x, g, **kw), repeats)
        except Exception as exc:  # noqa: BLE001 - a config that does not compile is reported
            print(f"  {kind} {kw}: failed ({type(exc).__name__}: {str(exc)[:100]})", flush=True)
            continue
        rows.append(
            dict(
                nnz=g.nnz,
                features=features,
                variant=f"{kind} bk={bk} bf={bf} w={nw}",
                ms=t * 1e3,
                speedup=t_ref / t,
                matches=ok,
            )
        )
    default = cuda_time(lambda: triton_kernels.hgnn_apply(x, g), repeats)
    rows.append(dict(nnz=g.nnz, features=features, variant="fused default", ms=default * 1e3, speedup=t_ref / default))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1e6,1e7")
    p.add_argument("--features", default="64")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--json")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("needs a CUDA GPU")
        return 2
    print(machine_line())
    rows = []
    for size, f in itertools.product(args.sizes.split(","), args.features.split(",")):
        part = sweep_size(int(float(size)), int(f), args.repeats)
        rows += part
        for r in sorted(part, key=lambda r: r["ms"]):
            flag = "" if r.get("matches", True) else "  MISMATCH"
            print(
                f"{r['nnz']:>9} F={r['features']:<4} {r['variant']:<26} {r['ms']:>8.3f} ms  "
                f"{r['speedup']:>5.2f}x vs torch-ref{flag}",
                flush=True,
            )
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
