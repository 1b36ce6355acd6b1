"""Oracle: graphhyper's reference view of an architecture against the published GHN-3 graph builder.

For torchvision classifiers, builds the reference's ``ghn3.graph.Graph(model)`` (an autograd walk after a real
forward pass, from the local checkout) and ours (``graphhyper.ghn.reference.reference_graph``: our symbolic trace
plus the reference's rules) and compares node ops, node_info rows (parameter names, shapes, classifier flags) and
the adjacency with its virtual edges. When the node order differs, it checks whether the two graphs are
isomorphic with identical node labels (op, parameter name, shape). Both builders are timed in the same process.

Never imported by the package or by tests. Run::

    PYTHONPATH=$PWD:/work/ref/deps:/work/ref/facebookresearch+ppuda:/work/ref/SamsungSAILMontreal+ghn3 \\
        python scripts/oracle_ghn_graph.py --models resnet18 vgg11 [--all] \\
            [--fixtures tests/ghn/fixtures/reference_graphs]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

STARTERS = (
    "resnet18 resnet50 vgg11 mobilenet_v2 densenet121 efficientnet_b0 squeezenet1_0 googlenet vit_b_16 "
    "convnext_tiny swin_t"
).split()


def _shape(sz: Any) -> list[int] | None:
    return None if sz is None else [int(d) for d in sz]


def reference_dict(model: torch.nn.Module, ve_cutoff: int = 50) -> tuple[dict[str, Any], float]:
    """The reference's graph of ``model`` as a JSON-able dict, and the seconds its builder took."""
    from ghn3.graph import Graph
    from ppuda.deepnets1m.genotypes import PRIMITIVES_DEEPNETS1M

    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        g = Graph(model, ve_cutoff=ve_cutoff, verbose=False)
        seconds = time.perf_counter() - start
    adj = g._Adj
    ind = torch.nonzero(adj)
    return {
        "ops": [PRIMITIVES_DEEPNETS1M[int(i)] for i in g.node_feat.view(-1)],
        "names": [n["param_name"] for n in g._nodes],
        "shapes": [_shape(s) for s in g._param_shapes],
        "node_info": [[int(r[0]), r[1], r[2], _shape(r[3]), bool(r[4]), bool(r[5])] for r in g.node_info[0]],
        "edges": [[int(i), int(j), int(adj[i, j])] for i, j in ind.tolist()],
        "ve_cutoff": ve_cutoff,
    }, seconds


def ours_dict(model: torch.nn.Module, input_shape: tuple[int, ...], ve_cutoff: int = 50) -> tuple[dict, float]:
    """graphhyper's reference view of ``model`` in the same form, and the seconds trace + view took."""
    from graphhyper.ghn.reference.view import reference_graph

    start = time.perf_counter()
    rg = reference_graph(model, ve_cutoff=ve_cutoff, input_shape=input_shape)
    seconds = time.perf_counter() - start
    return graph_dict(rg, ve_cutoff), seconds


def graph_dict(rg: Any, ve_cutoff: int = 50) -> dict[str, Any]:
    """A :class:`ReferenceGraph` as the same JSON-able dict as :func:`reference_dict`."""
    return {
        "ops": rg.ops(),
        "names": list(rg.names) if getattr(rg, "names", None) else [],
        "shapes": [_shape(s) for s in rg.shapes],
        "node_info": [[r.node, r.param, r.op, _shape(r.shape), r.last_weight, r.last_bias] for r in rg.node_info],
        "edges": rg.edges().tolist(),
        "ve_cutoff": ve_cutoff,
    }


def _labels(d: dict[str, Any]) -> list[tuple]:
    """Node label: op, the node_info parameter name (or op) and shape; what the GHNs read of a node."""
    info = {r[0]: (r[1], tuple(r[3]) if r[3] is not None else None, r[4], r[5]) for r in d["node_info"]}
    shapes = [tuple(s) if s is not None else None for s in d["shapes"]]
    return [(op, info.get(i), shapes[i]) for i, op in enumerate(d["ops"])]


def _first_difference(ref: dict[str, Any], ours: dict[str, Any]) -> str | None:
    if len(ref["ops"]) != len(ours["ops"]):
        head = next((i for i, (a, b) in enumerate(zip(ref["ops"], ours["ops"])) if a != b), None)
        return f"{len(ref['ops'])} vs {len(ours['ops'])} nodes (first op difference at {head})"
    for i, (a, b) in enumerate(zip(ref["ops"], ours["ops"])):
        if a != b:
            return f"op of node {i}: {a} ({ref['names'][i]}) vs {b} ({_name(ours, i)})"
    for a, b in zip(ref["node_info"], ours["node_info"]):
        if a != b:
            return f"node_info row {a} vs {b}"
    if len(ref["node_info"]) != len(ours["node_info"]):
        return f"{len(ref['node_info'])} vs {len(ours['node_info'])} node_info rows"
    for i, (a, b) in enumerate(zip(ref["shapes"], ours["shapes"])):
        if a != b:
            return f"shape of node {i} ({ref['names'][i]}): {a} vs {b}"
    ea = {(i, j): w for i, j, w in ref["edges"]}
    eb = {(i, j): w for i, j, w in ours["edges"]}
    if ea != eb:
        real_a = {k for k, w in ea.items() if w == 1}
        real_b = {k for k, w in eb.items() if w == 1}
        only_a, only_b = sorted(real_a - real_b), sorted(real_b - real_a)
        if only_a or only_b:
            show = [(e, ref["names"][e[0]], ref["names"][e[1]]) for e in only_a[:2]]
            return f"edges only in ref {len(only_a)} {show}, only in ours {len(only_b)} {only_b[:2]}"
        diff = sorted(k for k in ea.keys() | eb.keys() if ea.get(k) != eb.get(k))
        return f"virtual edges differ at {len(diff)} pairs, e.g. {diff[:3]}"
    return None


def _name(d: dict[str, Any], i: int) -> str:
    return d["names"][i] if d.get("names") else "?"


def _isomorphic(ref: dict[str, Any], ours: dict[str, Any]) -> bool:
    """Label-preserving isomorphism of the real-edge graphs (virtual edges follow from the real ones)."""
    import networkx as nx

    graphs = []
    for d in (ref, ours):
        g = nx.DiGraph()
        for i, lab in enumerate(_labels(d)):
            g.add_node(i, label=repr(lab))
        g.add_edges_from((i, j) for i, j, w in d["edges"] if w == 1)
        graphs.append(g)
    if graphs[0].number_of_nodes() != graphs[1].number_of_nodes():
        return False
    return bool(nx.vf2pp_is_isomorphic(graphs[0], graphs[1], node_label="label"))


def compare(ref: dict[str, Any], ours: dict[str, Any]) -> tuple[str, str]:
    """``(verdict, detail)``: ``match`` (identical), ``isomorphic`` (same labelled graph, other node order), or
    ``differs`` with the first difference."""
    diff = _first_difference(ref, ours)
    if diff is None:
        return "match", ""
    if _isomorphic(ref, ours):
        return "isomorphic", diff
    return "differs", diff


def _build(name: str) -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None)


def _input_shape(model: torch.nn.Module) -> tuple[int, ...]:
    import torchvision

    sz = getattr(model, "expected_input_sz", 299 if isinstance(model, torchvision.models.Inception3) else 224)
    return (1, *(sz if isinstance(sz, (tuple, list)) else (3, sz, sz)))


def run(names: list[str], cache: Path | None, fixtures: Path | None, fixture_models: set[str]) -> int:
    rows, t_ref, t_ours = [], 0.0, 0.0
    for name in names:
        model = _build(name)
        path = cache / f"{name}.json" if cache else None
        if path is not None and path.exists():
            ref = json.loads(path.read_text())
            s_ref = ref.get("seconds", float("nan"))
        else:
            ref, s_ref = reference_dict(model)
            ref["seconds"] = s_ref
            if path is not None:
                path.write_text(json.dumps(ref))
        try:
            ours, s_ours = ours_dict(model, _input_shape(model))
            verdict, detail = compare(ref, ours)
        except Exception as exc:  # report and go on: one model must not stop the table
            verdict, detail, s_ours = "error", f"{type(exc).__name__}: {str(exc)[:200]}", float("nan")
        t_ref += s_ref
        t_ours += s_ours
        rows.append((name, verdict, len(ref["ops"]), s_ref, s_ours, detail))
        print(f"{name:24s} {verdict:10s} {len(ref['ops']):5d} nodes  ref {s_ref:6.2f}s  ours {s_ours:6.2f}s  {detail}")
        sys.stdout.flush()
        if fixtures is not None and name in fixture_models:
            keep = {k: ref[k] for k in ("ops", "names", "shapes", "node_info", "edges", "ve_cutoff")}
            keep["edges"] = [e for e in keep["edges"] if e[2] == 1]  # virtual edges follow from the real ones
            keep["input_shape"] = list(_input_shape(model))
            keep["source"] = (
                f"ghn3.graph.Graph(torchvision.models.get_model({name!r})) in training mode on CPU, torch "
                f"{torch.__version__}, written by scripts/oracle_ghn_graph.py (edges: real ones only)"
            )
            (fixtures / f"{name}.json").write_text(json.dumps(keep, separators=(",", ":")))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[1]] = counts.get(r[1], 0) + 1
    print(f"\n{len(rows)} models: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(f"builder time over these models: reference {t_ref:.1f}s, ours (trace + view) {t_ours:.1f}s")
    return 0 if counts.get("differs", 0) + counts.get("error", 0) == 0 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=STARTERS)
    parser.add_argument("--all", action="store_true", help="all torchvision classification models")
    parser.add_argument("--skip", nargs="*", default=[], help="models left out of --all")
    parser.add_argument("--cache", type=Path, default=None, help="folder caching the reference graphs as JSON")
    parser.add_argument("--fixtures", type=Path, default=None, help="write test fixtures of --fixture-models here")
    parser.add_argument("--fixture-models", nargs="*", default=[])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    names = list(args.models)
    if args.all:
        import torchvision

        names = [n for n in torchvision.models.list_models(module=torchvision.models) if n not in args.skip]
    for folder in (args.cache, args.fixtures):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    return run(names, args.cache, args.fixtures, set(args.fixture_models))


if __name__ == "__main__":
    raise SystemExit(main())
