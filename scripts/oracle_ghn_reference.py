"""Oracle check of graphhyper.ghn.reference.ReferenceGHN against the published GHN-2 / GHN-3 code.

Builds each published configuration with seeded random weights in the reference code (ppuda ``GHN`` for
GHN-2, ghn3 ``GHN3`` for GHN-3), loads the same state dict into :class:`ReferenceGHN`, converts the reference's
own graph of each torchvision model into a :class:`ReferenceGraph` and compares every predicted tensor:
``max|ours - ref| <= 1e-4 · max|ref|``. Optionally writes the small fixture the unit test reads.

Needs the reference checkouts on PYTHONPATH, e.g.::

    PYTHONPATH=$PWD:/work/ref/deps:/work/ref/facebookresearch+ppuda:/work/ref/SamsungSAILMontreal+ghn3 \
        python scripts/oracle_ghn_reference.py --configs ghn3tm8,ghn2_cifar10 --models resnet18,mobilenet_v2
    ... --configs ghn3sm8 --all-models             # every torchvision classifier
    ... --configs small_ghn3,small_ghn2,small_ghn2_ghn3 \
        --models resnet18,mobilenet_v3_small,convnext_tiny2,vit_tiny --fixture tests/ghn/fixtures

GHN-3-XL on every classifier, one copy of the GHN weights and no copies of the models (``--low-memory``),
per-model results written after each model to a JSON that a rerun resumes from (``--start/--stop`` cut the
model list into chunks), and the per-model table::

    ... --configs ghn3xlm16 --all-models --low-memory --json docs/bench/ghn_reference_xlm16.json \
        --markdown docs/bench/ghn_reference_xlm16.md   # the table between the page's oracle-table markers

Configurations: ghn3tm8, ghn3sm8, ghn3lm8, ghn3xlm16 (GHN-3; xl: 4.5-7.3 GB peak RSS with ``--low-memory``
on ConvNeXt, ~11 GB without), ghn2_cifar10, ghn2_imagenet
(GHN-2 as ppuda runs it), ghn2_cifar10_ghn3, ghn2_imagenet_ghn3 (GHN-2 as ghn3's from_pretrained runs it), and
the small fixture configurations. A model on which the reference code itself fails is reported as such, with
what ours does on it; it does not count as a failure. Exit status 1 when any compared model fails.
"""

from __future__ import annotations

import argparse
import copy
import gc
import gzip
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
import _common  # noqa: E402

from graphhyper.ghn.reference.graph import NodeInfo, ReferenceGraph
from graphhyper.ghn.reference.model import ReferenceGHN, infer_config, map_published_keys

RTOL = 1e-4

#: The published configurations (GHN-3: ghn3 README / paper table, loaded by ``from_pretrained``; GHN-2: ppuda
#: checkpoints, trained with ``--ln -v 50 -n`` and the default hid 32, max_shape (2·hid, 2·hid, S, S)).
CONFIGS: dict[str, dict[str, Any]] = {
    "ghn3tm8": {"hid": 64, "layers": 3, "heads": 8},
    "ghn3sm8": {"hid": 128, "layers": 5, "heads": 16},
    "ghn3lm8": {"hid": 256, "layers": 12, "heads": 16},
    "ghn3xlm16": {"hid": 384, "layers": 24, "heads": 16},
    "ghn2_cifar10": {"hid": 32, "num_classes": 10, "s": 11},
    "ghn2_imagenet": {"hid": 32, "num_classes": 1000, "s": 16},
    # the GHN-2 checkpoints as ghn3's from_pretrained runs them (GHN3 with is_ghn2=True: its own decoder and
    # tiling, top-left crops, bilinear resize)
    "ghn2_cifar10_ghn3": {"hid": 32, "num_classes": 10, "s": 11, "ppuda": False},
    "ghn2_imagenet_ghn3": {"hid": 32, "num_classes": 1000, "s": 16, "ppuda": False},
}


#: Small configurations of both families for the committed fixture (``max_shape`` (12, 12, 5, 5): the 7×7
#: stem of resnet18 exercises GHN-3's bilinear resize and ppuda's 2×2 spatial tiling).
SMALL_CONFIGS: dict[str, dict[str, Any]] = {
    "small_ghn3": {
        "hid": 16,
        "max_shape": (12, 12, 5, 5),
        "num_classes": 10,
        "heads": 2,
        "layers": 2,
        "is_ghn2": False,
        "weight_norm": True,
        "ve": True,
        "layernorm": True,
    },
    "small_ghn2": {
        "hid": 16,
        "max_shape": (12, 12, 5, 5),
        "num_classes": 10,
        "is_ghn2": True,
        "weight_norm": True,
        "ve": True,
        "layernorm": True,
    },
}
SMALL_CONFIGS["small_ghn2_ghn3"] = {**SMALL_CONFIGS["small_ghn2"], "ppuda": False}  # GHN-2 as ghn3 runs it


def small_models() -> dict[str, torch.nn.Module]:
    """Small torchvision models for the fixture (10 classes)."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    from torchvision.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    return {
        "resnet18": torchvision.models.resnet18(num_classes=10),
        "mobilenet_v3_small": torchvision.models.mobilenet_v3_small(num_classes=10),
        "convnext_tiny2": ConvNeXt([CNBlockConfig(4, 16, 1), CNBlockConfig(16, None, 1)], num_classes=10),
        "vit_tiny": VisionTransformer(
            image_size=224, patch_size=56, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10
        ),
    }


def full_config(name: str) -> dict[str, Any]:
    if name in SMALL_CONFIGS:
        return dict(SMALL_CONFIGS[name])
    c = dict(CONFIGS[name])
    if name.startswith("ghn3"):
        hid = c["hid"]
        return {
            "hid": hid,
            "max_shape": (hid, hid, 16, 16),
            "num_classes": 1000,
            "heads": c["heads"],
            "layers": c["layers"],
            "is_ghn2": False,
            "weight_norm": True,
            "ve": True,
            "layernorm": True,
        }
    hid, s = c["hid"], c["s"]
    return {
        "hid": hid,
        "max_shape": (2 * hid, 2 * hid, s, s),
        "num_classes": c["num_classes"],
        "is_ghn2": True,
        "weight_norm": True,
        "ve": True,
        "layernorm": True,
        "ppuda": c.get("ppuda", True),
    }


def uses_ppuda(cfg: dict[str, Any]) -> bool:
    return bool(cfg["is_ghn2"] and cfg.get("ppuda", True))


def perturb(module: torch.nn.Module, seed: int) -> None:
    """Seeded noise on every parameter, so that no bias or table is left at a trivial init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.05)


def build_reference(
    name: str, seed: int, share: bool = False
) -> tuple[torch.nn.Module, dict[str, torch.Tensor], dict[str, Any]]:
    """The reference GHN with seeded random weights, its published-style state dict and config.

    ``share``: the state dict's tensors are the reference's own (views, no copy), for :func:`share_weights`.
    """
    cfg = full_config(name)
    torch.manual_seed(seed)
    if uses_ppuda(cfg):
        from ppuda.ghn.nn import GHN

        ref = GHN(
            max_shape=cfg["max_shape"],
            num_classes=cfg["num_classes"],
            hypernet="gatedgnn",
            decoder="conv",
            weight_norm=True,
            ve=True,
            layernorm=True,
            hid=cfg["hid"],
        )
        perturb(ref, seed)
        sd = {k: v if share else v.clone() for k, v in ref.state_dict().items()}
    else:
        from ghn3 import GHN3

        ref = GHN3(**{k: v for k, v in cfg.items() if k != "ppuda"}, pretrained=True)
        perturb(ref, seed)
        sd = {k: v if share else v.clone() for k, v in ref.state_dict().items()}  # published layout
        if cfg["is_ghn2"]:  # published GHN-2 checkpoints hold ppuda's 1x1 convolutions
            sd = {k: (v[:, :, None, None] if k.startswith("decoder.") and v.dim() == 2 else v) for k, v in sd.items()}
        else:
            ref.fix_embed_layers()
    return ref.eval(), sd, cfg


def to_reference_graph(g: Any) -> ReferenceGraph:
    """The adapter: a ppuda / ghn3 ``Graph`` object -> our :class:`ReferenceGraph` (single cell)."""
    if getattr(g, "n_cells", 1) != 1 or len(g.node_info) != 1:
        raise ValueError("only single-cell graphs are supported")
    rows = []
    for node, param, op, sz, last_w, last_b in g.node_info[0]:
        shape = None if sz is None else tuple(int(s) for s in sz)
        rows.append(NodeInfo(int(node), str(param), str(op), shape, bool(last_w), bool(last_b)))
    shapes = [None if s is None else tuple(int(v) for v in s) for s in getattr(g, "_param_shapes", [])]
    adj = torch.as_tensor(g._Adj).long()
    return ReferenceGraph(node_feat=g.node_feat[:, 0].long().clone(), node_info=rows, adjacency=adj, shapes=shapes)


def reference_graph(model: torch.nn.Module, ppuda_path: bool) -> Any:
    if ppuda_path:
        from ppuda.deepnets1m.graph import Graph
    else:
        from ghn3 import Graph
    return Graph(model, ve_cutoff=50)


def reference_predictions(
    ref: torch.nn.Module, model: torch.nn.Module, graph: Any, ppuda_path: bool
) -> dict[str, torch.Tensor]:
    """What the reference writes into a copy of ``model`` (see :func:`predictions_in_place`)."""
    return {n: p.clone() for n, p in predictions_in_place(ref, copy.deepcopy(model), graph, ppuda_path).items()}


def comparable(name: str, t: torch.Tensor) -> torch.Tensor:
    """The part of a predicted tensor that is deterministic: a ViT position embedding without its class-token
    row, which the reference samples at random."""
    return t[:, 1:] if name.endswith("pos_embedding") else t


def compare(ours: dict[str, torch.Tensor], refs: dict[str, torch.Tensor]) -> tuple[int, float, list[str]]:
    problems = []
    worst = 0.0
    for name in sorted(set(ours) | set(refs)):
        if name not in ours or name not in refs:
            problems.append(f"{name}: {'missing in ours' if name not in ours else 'not predicted by the reference'}")
            continue
        a, b = ours[name], refs[name]
        if a.shape != b.shape:
            problems.append(f"{name}: shape {tuple(a.shape)} vs {tuple(b.shape)}")
            continue
        a, b = comparable(name, a), comparable(name, b)
        scale = float(b.abs().max())
        err = float((a - b).abs().max()) / max(scale, 1e-30)
        worst = max(worst, err if math.isfinite(err) else float("inf"))
        if not err <= RTOL:
            problems.append(f"{name}: rel err {err:.2e}")
    return len(set(ours) & set(refs)), worst, problems


def digest(t: torch.Tensor, k: int = 4) -> dict[str, Any]:
    flat = t.detach().double().flatten()
    idx = torch.linspace(0, flat.numel() - 1, steps=min(k, flat.numel())).round().long()
    return {
        "shape": list(t.shape),
        "sum": float(flat.sum()),
        "abs_sum": float(flat.abs().sum()),
        "max_abs": float(flat.abs().max()),
        "idx": idx.tolist(),
        "values": flat[idx].tolist(),
    }


def graph_to_json(g: ReferenceGraph) -> dict[str, Any]:
    ind = torch.nonzero(g.adjacency)
    return {
        "node_feat": g.node_feat.tolist(),
        "node_info": [
            [r.node, r.param, r.op, None if r.shape is None else list(r.shape), r.last_weight, r.last_bias]
            for r in g.node_info
        ],
        "num_nodes": g.num_nodes,
        "edges": torch.cat((ind, g.adjacency[ind[:, 0], ind[:, 1]].view(-1, 1)), 1).tolist(),
    }


def ours_without_reference(ours: ReferenceGHN, model: torch.nn.Module, ppuda_path: bool) -> str:
    """What our model does where the reference fails (its graph, when the graph builder works)."""
    try:
        g = to_reference_graph(reference_graph(copy.deepcopy(model), ppuda_path))
        pred = ours.predict_graph(g, {n: tuple(p.shape) for n, p in model.named_parameters()})
    except Exception as e:
        return f"raised {type(e).__name__}: {str(e)[:100]}"
    return f"returned {len(pred)} tensors"


def get_model(name: str, seed: int) -> torch.nn.Module:
    small = small_models()
    if name in small:
        return small[name].eval()
    torch.manual_seed(seed)
    return torchvision.models.get_model(name, num_classes=1000).eval()


def build_ours(cname: str, sd: dict[str, torch.Tensor], cfg: dict[str, Any], share: bool) -> ReferenceGHN:
    """Our port from the reference's state dict; with ``share`` its weights are the reference's own tensors."""
    if cname in SMALL_CONFIGS:
        ours = ReferenceGHN.from_reference_state_dict(sd, cfg)
    elif uses_ppuda(cfg) or not cfg["is_ghn2"]:
        ours = ReferenceGHN.from_reference_state_dict(sd)  # config inferred, as the published loader does
    else:
        ours = ReferenceGHN.from_reference_state_dict(sd, {**infer_config(sd), "ppuda": False})
    if share:  # one copy of the weights in memory (GHN-3-XL: 2.6 GB instead of 5.2 GB); nothing writes to them
        ours.load_state_dict(map_published_keys(sd), assign=True)
        gc.collect()
    return ours


def predictions_in_place(
    ref: torch.nn.Module, model: torch.nn.Module, g: Any, ppuda_path: bool
) -> dict[str, torch.Tensor]:
    """The reference's own ``ghn(model)`` usage, without copies of the model: its predictions from its graph
    ``g`` of ``model`` written into ``model`` itself (parameters set to NaN first; the ones left NaN are not
    predicted)."""
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
        if ppuda_path:
            from ppuda.deepnets1m.graph import GraphBatch

            gb = GraphBatch([g])
            gb.to_device("cpu")
            ref(model, gb)
        else:
            ref(model, g)
    return {n: p.detach() for n, p in model.named_parameters() if not torch.isnan(p).all()}


def check_model(
    cname: str, mname: str, ref: torch.nn.Module, ours: ReferenceGHN, opts: dict[str, Any]
) -> dict[str, Any]:
    """One model: the reference's predictions against ours; a record for the JSON report (``result``: PASS,
    FAIL, OURS_RAISED or REF_FAILED), with ``_graph``/``_refs``/``_shapes`` for the fixture."""
    ppuda_path, low = uses_ppuda(full_config(cname)), opts["low_memory"]
    rec: dict[str, Any] = {"config": cname, "model": mname}
    phases = rec["cpu_phases"] = {}  # CPU seconds of each step
    clock = time.process_time()
    model = get_model(mname, opts["seed"])
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    rg = our_view(model) if opts["end_to_end"] else None
    phases["model"], clock = round(time.process_time() - clock, 2), time.process_time()
    try:
        g = reference_graph(model if low else copy.deepcopy(model), ppuda_path)
        phases["ref_graph"], clock = round(time.process_time() - clock, 2), time.process_time()
        if low:
            refs = predictions_in_place(ref, model, g, ppuda_path)
        else:
            refs = reference_predictions(ref, model, g, ppuda_path)
        phases["ref_predict"], clock = round(time.process_time() - clock, 2), time.process_time()
    except Exception as e:  # the reference itself fails on this model
        ours_msg = "not run (--low-memory)" if low else ours_without_reference(ours, model, ppuda_path)
        return rec | {"result": "REF_FAILED", "error": f"{type(e).__name__}: {str(e)[:100]}", "ours": ours_msg}
    rg = rg if rg is not None else to_reference_graph(g)
    del g, model
    try:
        pred = ours.predict_graph(rg, shapes)
    except Exception as e:
        return rec | {"result": "OURS_RAISED", "error": f"{type(e).__name__}: {e}"}
    phases["ours"] = round(time.process_time() - clock, 2)
    n, worst, problems = compare(pred, refs)
    del pred
    rec |= {"tensors": n, "ref": len(refs), "params": len(shapes), "max_rel_err": worst}
    rec |= {"result": "FAIL" if problems else "PASS", "problems": problems[:8]}
    return rec | {"_graph": rg, "_refs": refs, "_shapes": shapes}


def print_record(rec: dict[str, Any]) -> None:
    head = f"{rec['config']:14s} {rec['model']:22s}"
    if rec["result"] == "REF_FAILED":
        print(f"{head} reference failed: {rec['error']}; ours: {rec['ours']}", flush=True)
    elif rec["result"] == "OURS_RAISED":
        print(f"{head} FAIL ours raised {rec['error']}", flush=True)
    else:
        print(
            f"{head} tensors={rec['tensors']:4d} (ref {rec['ref']}, model {rec['params']}) "
            f"max_rel_err={rec['max_rel_err']:.2e} {rec['result']} ({rec['seconds']:.1f}s, "
            f"CPU {rec['cpu_seconds']:.1f}s {rec['cpu_phases']}, "
            f"peak RSS {rec['peak_rss_gb']:.2f} GB)",
            flush=True,
        )
        for p in rec["problems"]:
            print("    ", p)


def add_fixture_case(fixture: dict[str, Any], rec: dict[str, Any]) -> None:
    fixture["cases"].append(
        {
            "config": rec["config"],
            "model": rec["model"],
            "graph": graph_to_json(rec["_graph"]),
            "shapes": {k: list(v) for k, v in rec["_shapes"].items()},
            "expected": {k: digest(comparable(k, v)) for k, v in rec["_refs"].items()},
        }
    )


def run(
    configs: list[str],
    models: list[str],
    fixture: dict[str, Any] | None,
    opts: dict[str, Any],
    report: Report | None = None,
) -> int:
    """Check every (config, model) pair not already in ``report``; returns the number of failures."""
    failures = 0
    for cname in configs:
        todo = [m for m in models if report is None or not report.done(cname, m)]
        if not todo:
            continue
        ref, sd, cfg = build_reference(cname, opts["seed"], share=opts["low_memory"])
        ours = build_ours(cname, sd, cfg, share=opts["low_memory"])
        if fixture is not None:
            fixture["configs"][cname] = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}
            fixture["state_dicts"][cname] = sd
        del sd
        for mname in todo:
            gc.collect()
            _common.reset_peak_rss()
            t0, c0 = time.time(), time.process_time()
            rec = check_model(cname, mname, ref, ours, opts)
            rec |= {"seconds": round(time.time() - t0, 2), "cpu_seconds": round(time.process_time() - c0, 2)}
            rec |= {"peak_rss_gb": round(_common.peak_rss_gb(), 3)}
            failures += rec["result"] in ("FAIL", "OURS_RAISED")
            print_record(rec)
            if fixture is not None and rec["result"] in ("PASS", "FAIL"):
                add_fixture_case(fixture, rec)
            if report is not None:
                report.add({k: v for k, v in rec.items() if not k.startswith("_")})
            del rec
        del ref, ours
        gc.collect()
    return failures


class Report:
    """Per-model results in a JSON file, rewritten after every model, so that a run can be resumed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        body = json.loads(path.read_text()) if path.exists() else {}
        self.results: list[dict[str, Any]] = body.get("results", [])
        self.runs: list[str] = body.get("runs", [])

    def done(self, config: str, model: str) -> bool:
        return any(r["config"] == config and r["model"] == model for r in self.results)

    def start(self, command: str) -> None:
        self.runs.append(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {command} | {_common.machine_line()}")
        self.save()

    def add(self, rec: dict[str, Any]) -> None:
        self.results.append(rec)
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"rtol": RTOL, "runs": self.runs, "results": self.results}, indent=1) + "\n")
        tmp.replace(self.path)


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The per-model table of a report (one row per config and model)."""
    rows = ["| config | model | tensors (ref / model) | max rel err | result | wall (s) | CPU (s) | peak RSS (GB) |"]
    rows.append("|---|---|---|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (r["config"], r["model"])):
        if "tensors" in r:
            cells = [f"{r['tensors']} ({r['ref']} / {r['params']})", f"{r['max_rel_err']:.2e}"]
        else:
            cells = ["-", r.get("error", "")[:80]]
        res = r["result"] + ("" if r["result"] != "REF_FAILED" else " (the reference's own code)")
        cpu = f"{r['cpu_seconds']:.1f}" if "cpu_seconds" in r else "-"
        rows.append(
            f"| {r['config']} | {r['model']} | {' | '.join(cells)} | {res} | {r['seconds']:.1f} | "
            f"{cpu} | {r['peak_rss_gb']:.2f} |"
        )
    return "\n".join(rows) + "\n"


def our_view(model: torch.nn.Module) -> ReferenceGraph:
    """graphhyper's own reference view (our trace, no autograd): what ``ghn.from_pretrained(...).predict`` uses."""
    from graphhyper.ghn.reference.view import reference_graph as view

    size = 299 if type(model).__name__ == "Inception3" else 224
    return view(model, input_shape=(1, 3, size, size))


def write_fixture(fixture: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for cname, sd in fixture["state_dicts"].items():
        torch.save(sd, out / f"reference_ghn_{cname}.pt")
    body = {"rtol": RTOL, "configs": fixture["configs"], "cases": fixture["cases"]}
    with gzip.open(out / "reference_ghn_cases.json.gz", "wt") as f:
        json.dump(body, f, separators=(",", ":"))


TABLE_BEGIN, TABLE_END = "<!-- oracle-table: begin -->", "<!-- oracle-table: end -->"


def write_markdown(path: Path, table: str) -> None:
    """Write ``table`` between the ``oracle-table`` markers of an existing page (its prose kept), or as the
    whole file when the page has no markers."""
    text = path.read_text() if path.exists() else ""
    if TABLE_BEGIN in text and TABLE_END in text:
        head, rest = text.split(TABLE_BEGIN, 1)
        tail = rest.split(TABLE_END, 1)[1]
        text = f"{head}{TABLE_BEGIN}\n{table}{TABLE_END}{tail}"
    else:
        text = table
    path.write_text(text)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="ghn3tm8,ghn2_cifar10")
    ap.add_argument(
        "--models", default="resnet18,resnet50,mobilenet_v2,vgg11,densenet121,efficientnet_b0,vit_b_16,convnext_tiny"
    )
    ap.add_argument("--all-models", action="store_true", help="every torchvision classifier")
    ap.add_argument("--start", type=int, default=0, help="first index into the model list (chunks)")
    ap.add_argument("--stop", type=int, default=None, help="one past the last index into the model list")
    ap.add_argument(
        "--end-to-end",
        action="store_true",
        help="ours on graphhyper's own view of each model (trace + reference_graph) instead of the reference's graph",
    )
    ap.add_argument(
        "--low-memory",
        action="store_true",
        help="one copy of the GHN weights (ours uses the reference's tensors) and no copies of each model (the "
        "reference predicts into the model itself, as its ghn(model) does): what GHN-3-XL needs",
    )
    ap.add_argument("--json", default="", help="per-model results go to (and resume from) this JSON file")
    ap.add_argument("--markdown", default="", help="write the JSON's per-model table to this markdown file")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fixture", default="", help="write the fixture (state dicts, graphs, digests) to this folder")
    return ap.parse_args()


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    models = torchvision.models.list_models(module=torchvision.models) if args.all_models else args.models.split(",")
    models = models[args.start : args.stop]
    fixture: dict[str, Any] | None = None
    if args.fixture:
        fixture = {"configs": {}, "state_dicts": {}, "cases": []}
    report = Report(Path(args.json)) if args.json else None
    if report is not None:
        report.start(" ".join(["oracle_ghn_reference.py", *sys.argv[1:]]))
    print(_common.machine_line(), flush=True)
    opts = {"seed": args.seed, "end_to_end": args.end_to_end, "low_memory": args.low_memory}
    failures = run([c for c in args.configs.split(",") if c], models, fixture, opts, report)
    if fixture is not None and fixture["cases"] and not failures:
        write_fixture(fixture, Path(args.fixture))
    if args.markdown and report is not None:
        write_markdown(Path(args.markdown), markdown_table(report.results))
    print("failures:", failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
