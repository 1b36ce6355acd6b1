#!/usr/bin/env python
"""HGNN convolution (linear + propagation), forward + backward: graphhyper vs PyG ``HypergraphConv`` vs DHG
``HGNNConv`` vs a plain composition of two torch CSR sparse matmuls — on Cora-CA and synthetic HSBM hypergraphs.

All methods run in one process on the same input, interleaved round-robin (so background load hits them alike);
the script prints the median time per step, the ratio to graphhyper and the peak extra memory of one step.

    .venv/bin/python scripts/bench/hypergraph_conv.py                       # cora, 1e5, 1e6 incidences, CPU
    .venv/bin/python scripts/bench/hypergraph_conv.py --sizes 1e5,1e6,1e7   # 10^7 is opt-in
    .venv/bin/python scripts/bench/hypergraph_conv.py --device cuda         # + Triton fused vs torch reference

CPU peak memory: the process' peak RSS is reset (``/proc/self/clear_refs``) before one step and read after it
(large buffers are mmapped, so freed memory leaves RSS). CUDA: ``torch.cuda.max_memory_allocated``.
PyG's ``HypergraphConv`` normalises as ``D^-1 H W B^-1 H^T`` (not symmetric) — same cost class, different matrix.
"""

from __future__ import annotations

import os
import sys

# glibc: serve buffers >= 64 KiB with mmap so that freed memory leaves RSS (makes the peak-RSS probe honest).
if __name__ == "__main__" and os.environ.get("MALLOC_MMAP_THRESHOLD_") is None and sys.platform.startswith("linux"):
    os.environ["MALLOC_MMAP_THRESHOLD_"] = "65536"
    os.execv(sys.executable, [sys.executable, *sys.argv])

import argparse  # noqa: E402
import gc  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import pickle  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

os.environ.setdefault("DGLBACKEND", "pytorch")
if __name__ == "__main__":
    os.environ["HOME"] = tempfile.mkdtemp(prefix="graphhyper-bench-home-")  # DHG writes into ~

import torch  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]

from _common import cuda_median, machine_line, peak_rss_gb, reset_peak_rss, rss_gb  # noqa: E402

from graphhyper.hypergraph import Hypergraph, hsbm, ops  # noqa: E402


# ---------------------------------------------------------------------------------------------- data
class _PlainUnpickler(pickle.Unpickler):
    """Allow-list unpickler: builtins containers only (dict, list, str, int); refuses every class."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data pickle")


def load_cora_ca() -> tuple[Hypergraph, str] | None:
    root = os.environ.get("GRAPHHYPER_DATA") or str(ROOT.parent / "shared" / "data")
    path = pathlib.Path(root) / "hypergraph" / "cora-ca" / "hypergraph.pickle"
    if not path.is_file():
        return None
    raw = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    edges = [sorted(set(int(v) for v in members)) for members in raw.values()]
    num_nodes = max(2708, max((max(e) for e in edges if e), default=-1) + 1)
    return Hypergraph(num_nodes, edges), "cora-ca"


def synthetic(nnz: int, seed: int = 0) -> tuple[Hypergraph, str]:
    num_nodes = max(100, nnz // 10)
    num_edges = max(20, nnz // 20)
    hg, _, _ = hsbm(num_nodes, num_edges, num_classes=8, feature_dim=1, mean_edge_size=20.0, seed=seed)
    return hg, f"hsbm-{nnz:.0e}"


# ---------------------------------------------------------------------------------------------- methods
def make_graphhyper(hg, f_in, f_out, device, backend="auto"):
    try:
        from graphhyper.hypergraph.nn.hgnn import HGNNConv

        conv = HGNNConv(f_in, f_out).to(device)
    except ImportError:  # layer not there: the same computation through ops
        lin = torch.nn.Linear(f_in, f_out).to(device)

        def conv(x, g):
            return ops.hgnn_propagate(lin(x), g)

    g = hg.to(device)

    def step(x):
        with ops.use_backend(backend):
            return conv(x, g)

    return step


def make_plain_csr(hg, f_in, f_out, device):
    """D_v^-1/2 H W D_e^-1 and H^T D_v^-1/2 as two torch CSR matrices, autograd through torch.sparse.mm."""
    lin = torch.nn.Linear(f_in, f_out).to(device)
    dv = hg.weighted_node_degree.clamp(min=1e-12).pow(-0.5)
    de = hg.edge_degree.float().clamp(min=1)
    v, e = hg.inc_node, hg.inc_edge
    left = (
        torch.sparse_coo_tensor(
            torch.stack([v, e]), dv[v] * hg.hyperedge_weight[e] / de[e], (hg.num_nodes, hg.num_edges)
        )
        .to_sparse_csr()
        .to(device)
    )
    right = torch.sparse_coo_tensor(torch.stack([e, v]), dv[v], (hg.num_edges, hg.num_nodes)).to_sparse_csr().to(device)

    def step(x):
        return torch.sparse.mm(left, torch.sparse.mm(right, lin(x)))

    return step


def make_pyg(hg, f_in, f_out, device):
    from torch_geometric.nn import HypergraphConv

    conv = HypergraphConv(f_in, f_out).to(device)
    index = hg.hyperedge_index.to(device)

    def step(x):
        return conv(x, index, num_edges=hg.num_edges)

    return step


def make_dhg(hg, f_in, f_out, device):
    import dhg

    g = dhg.Hypergraph(hg.num_nodes, hg.hyperedges(), device=torch.device(device))
    conv = dhg.nn.HGNNConv(f_in, f_out, is_last=True).to(device)

    def step(x):
        return conv(x, g)

    return step


def make_triton_two_pass(hg, f_in, f_out, device):
    """Deterministic Triton variant: two segment-sum kernels instead of the fused atomic one."""
    lin = torch.nn.Linear(f_in, f_out).to(device)
    g = hg.to(device)

    def step(x):
        with ops.use_backend("triton"):
            return ops.hgnn_propagate(lin(x), g, deterministic=True)

    return step


# ---------------------------------------------------------------------------------------------- measuring
def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def run_step(step, x, grad, device):
    out = step(x)
    if out.requires_grad:
        out.backward(grad)
    _sync(device)
    return out


def peak_memory_mib(step, x, grad, device) -> float:
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run_step(step, x, grad, device)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    if not reset_peak_rss():
        return float("nan")
    base = rss_gb()
    run_step(step, x, grad, device)
    return (peak_rss_gb() - base) * 1e6 / 1024


def bench(name: str, hg: Hypergraph, args) -> list[dict]:
    device, f = args.device, args.features
    torch.manual_seed(0)
    x = torch.randn(hg.num_nodes, f, device=device, requires_grad=True)
    grad = torch.randn(hg.num_nodes, f, device=device)
    makers = {"graphhyper": lambda: make_graphhyper(hg, f, f, device)}
    if device == "cuda":
        makers["graphhyper-torch"] = lambda: make_graphhyper(hg, f, f, device, backend="torch")
        makers["triton-2pass"] = lambda: make_triton_two_pass(hg, f, f, device)
    makers["plain-csr"] = lambda: make_plain_csr(hg, f, f, device)
    if "pyg" in args.peers:
        makers["pyg"] = lambda: make_pyg(hg, f, f, device)
    if "dhg" in args.peers and hg.nnz <= args.dhg_max_nnz:
        makers["dhg"] = lambda: make_dhg(hg, f, f, device)
    steps, setup = {}, {}
    for method, make in makers.items():
        start = time.perf_counter()
        try:
            steps[method] = make()
            run_step(steps[method], x, grad, device)  # warm-up: builds caches, compiles kernels
        except Exception as exc:  # a peer that cannot run is reported, not fatal
            print(f"  {method}: skipped ({type(exc).__name__}: {str(exc)[:120]})", flush=True)
            steps.pop(method, None)
            continue
        setup[method] = time.perf_counter() - start
        x.grad = None
    memory = {m: peak_memory_mib(s, x, grad, device) for m, s in steps.items()}
    times: dict[str, list[float]] = {m: [] for m in steps}
    for _ in range(args.repeats):
        for method, step in steps.items():
            x.grad = None
            _sync(device)
            start = time.perf_counter()
            run_step(step, x, grad, device)
            times[method].append(time.perf_counter() - start)
    ours = statistics.median(times["graphhyper"])
    rows = []
    for method in steps:
        med = statistics.median(times[method])
        rows.append(
            dict(
                dataset=name,
                nodes=hg.num_nodes,
                edges=hg.num_edges,
                nnz=hg.nnz,
                features=f,
                method=method,
                median_s=med,
                min_s=min(times[method]),
                ratio_vs_graphhyper=med / ours,
                peak_mib=memory[method],
                setup_s=setup[method],
                device=device,
                threads=torch.get_num_threads(),
            )
        )
    if device == "cuda":
        rows.append(bandwidth_row(name, hg, x, device))
    return rows


def bandwidth_row(name, hg, x, device) -> dict:
    """Forward kernel times (CUDA events, median): the fused Triton kernel, the auto choice (fused while the
    output fits in L2, else two atomic-free passes) and the torch reference (two cuSPARSE CSR products); the fused
    kernel's effective bandwidth vs the card's nominal peak and a measured device copy."""
    from graphhyper.hypergraph.kernels import torch_ref, triton_kernels

    xd, g = x.detach(), hg.to(device)
    t = cuda_median(lambda: triton_kernels.hgnn_apply(xd, g))
    t_auto = cuda_median(lambda: triton_kernels.hgnn_propagate(xd, g))
    t_ref = cuda_median(lambda: torch_ref.hgnn_apply(xd, g))
    elt = xd.element_size()
    f = xd.shape[1]
    # gather x rows + atomic read-modify-write of out rows, per incidence; q and node ids read twice; zero-fill
    moved = hg.nnz * f * elt * 3 + 2 * hg.nnz * (elt + 8) + hg.num_nodes * f * elt
    achieved = moved / t
    big = torch.empty(256 * 2**20 // 4, device=device)
    copy_bw = 2 * big.numel() * 4 / cuda_median(big.clone, 10)
    props = torch.cuda.get_device_properties(0)
    clock, bus = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    nominal = 2 * clock * 1e3 * bus / 8 if clock and bus else float("nan")
    return dict(
        dataset=name,
        nnz=hg.nnz,
        method="triton-fused-bandwidth",
        fwd_s=t,
        auto_fwd_s=t_auto,
        torch_ref_fwd_s=t_ref,
        fused_speedup=t_ref / t,
        auto_speedup=t_ref / t_auto,
        achieved_GBps=achieved / 1e9,
        copy_GBps=copy_bw / 1e9,
        nominal_GBps=nominal / 1e9,
        frac_of_nominal=achieved / nominal,
        frac_of_copy=achieved / copy_bw,
        card=props.name,
    )


def print_table(rows: list[dict]) -> None:
    print(
        f"{'dataset':<12} {'nnz':>9} {'method':<18} {'median ms':>10} {'x graphhyper':>13} {'peak MiB':>9} "
        f"{'setup s':>8}"
    )
    for r in rows:
        if "median_s" not in r:
            print(
                f"{r['dataset']:<12} {r['nnz']:>9} kernels, forward: fused {r['fwd_s'] * 1e3:.3f} ms "
                f"({r['fused_speedup']:.2f}x torch ref), auto {r['auto_fwd_s'] * 1e3:.3f} ms "
                f"({r['auto_speedup']:.2f}x), torch ref {r['torch_ref_fwd_s'] * 1e3:.3f} ms"
            )
            print(
                f"{r['dataset']:<12} {r['nnz']:>9} {r['method']:<18} fused fwd {r['fwd_s'] * 1e3:.3f} ms, "
                f"{r['achieved_GBps']:.0f} GB/s = {r['frac_of_nominal']:.0%} of nominal "
                f"{r['nominal_GBps']:.0f} GB/s, {r['frac_of_copy']:.0%} of copy {r['copy_GBps']:.0f} GB/s "
                f"({r['card']})"
            )
            continue
        print(
            f"{r['dataset']:<12} {r['nnz']:>9} {r['method']:<18} {r['median_s'] * 1e3:>10.1f} "
            f"{r['ratio_vs_graphhyper']:>13.2f} {r['peak_mib']:>9.1f} {r['setup_s']:>8.1f}"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="cora,1e5,1e6", help="comma list: 'cora' and/or incidence counts (1e7 opt-in)")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--peers", default="pyg,dhg", help="comma list of peers to run: pyg, dhg")
    p.add_argument("--dhg-max-nnz", type=float, default=2e6, help="skip DHG above this size (its setup is slow)")
    p.add_argument("--json", help="also write the rows as JSON to this file")
    args = p.parse_args(argv)
    args.peers = set(args.peers.split(",")) if args.peers else set()
    warnings.simplefilter("ignore")  # sparse-beta and deprecation notices from torch/PyG/DHG clutter the table
    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device", file=sys.stderr)
        return 2
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    ops.set_input_checks(False)  # every method gets clean input; measure the kernels
    try:
        return _run(args)
    finally:  # main() is also called in-process by the tests: leave no global state behind
        ops.set_input_checks(True)
        torch.set_num_threads(threads)


def _run(args) -> int:
    print(machine_line())
    rows = []
    for size in args.sizes.split(","):
        if size == "cora":
            loaded = load_cora_ca()
            if loaded is None:
                print("cora-ca not found (set GRAPHHYPER_DATA); using a synthetic stand-in of the same size")
                loaded = synthetic(5_000, seed=1)
        else:
            loaded = synthetic(int(float(size)))
        hg, name = loaded
        print(
            f"== {name}: {hg.num_nodes} nodes, {hg.num_edges} hyperedges, {hg.nnz} incidences, "
            f"{args.features} features, {args.device}, {torch.get_num_threads()} threads",
            flush=True,
        )
        new = bench(name, hg, args)
        print_table(new)
        rows += new
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
