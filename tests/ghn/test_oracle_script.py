"""scripts/oracle_ghn_reference.py without the reference code: the ``--low-memory`` weight sharing predicts what
a copied GHN predicts, and ``--json`` resumes and tabulates per-model results."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import torch

from graphhyper.ghn.reference.graph import NodeInfo, ReferenceGraph
from tests._scripts import load_script

FIXTURES = Path(__file__).parent / "fixtures"
ORACLE = load_script("oracle_ghn_reference.py")


def _resnet18_case() -> tuple[ReferenceGraph, dict[str, tuple[int, ...]]]:
    """The fixture's reference graph of resnet18 (10 classes) and its parameter shapes."""
    with gzip.open(FIXTURES / "reference_ghn_cases.json.gz", "rt") as f:
        cases: dict[str, Any] = json.load(f)
    case = next(c for c in cases["cases"] if c["config"] == "small_ghn3" and c["model"] == "resnet18")
    g = case["graph"]
    adj = torch.zeros(g["num_nodes"], g["num_nodes"], dtype=torch.long)
    e = torch.tensor(g["edges"], dtype=torch.long)
    adj[e[:, 0], e[:, 1]] = e[:, 2]
    rows = [NodeInfo(r[0], r[1], r[2], None if r[3] is None else tuple(r[3]), r[4], r[5]) for r in g["node_info"]]
    graph = ReferenceGraph(node_feat=torch.tensor(g["node_feat"], dtype=torch.long), node_info=rows, adjacency=adj)
    return graph, {k: tuple(v) for k, v in case["shapes"].items()}


def test_shared_weights_are_the_state_dicts_tensors_and_predict_the_same() -> None:
    sd = torch.load(FIXTURES / "reference_ghn_small_ghn3.pt", weights_only=True)
    cfg = ORACLE.full_config("small_ghn3")
    copied = ORACLE.build_ours("small_ghn3", {k: v.clone() for k, v in sd.items()}, cfg, share=False)
    shared = ORACLE.build_ours("small_ghn3", sd, cfg, share=True)
    ptrs = {v.data_ptr() for v in sd.values()}
    own = [t for t in shared.state_dict().values() if t.numel()]
    assert own and all(t.data_ptr() in ptrs for t in own)
    assert not any(t.data_ptr() in ptrs for t in copied.state_dict().values() if t.numel())
    graph, shapes = _resnet18_case()
    a, b = copied.predict_graph(graph, shapes), shared.predict_graph(graph, shapes)
    assert set(a) == set(b) and len(a) == len(shapes)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_report_resumes_and_tabulates(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    rep = ORACLE.Report(path)
    rep.start("oracle_ghn_reference.py --configs x")
    rec = {"config": "x", "model": "m1", "tensors": 3, "ref": 3, "params": 4, "max_rel_err": 0.0, "result": "PASS"}
    rep.add(rec | {"problems": [], "seconds": 1.5, "peak_rss_gb": 2.0})
    fail = {"config": "x", "model": "m2", "result": "REF_FAILED", "error": "KeyError: 'norm'", "ours": "-"}
    rep.add(fail | {"seconds": 0.5, "cpu_seconds": 0.4, "peak_rss_gb": 1.0})
    again = ORACLE.Report(path)
    assert again.done("x", "m1") and again.done("x", "m2") and not again.done("x", "m3")
    assert not again.done("y", "m1") and len(again.runs) == 1
    table = ORACLE.markdown_table(again.results).splitlines()
    assert len(table) == 4
    assert "| x | m1 | 3 (3 / 4) | 0.00e+00 | PASS | 1.5 | - | 2.00 |" in table
    assert "REF_FAILED" in table[3] and "KeyError" in table[3] and "| 0.5 | 0.4 | 1.00 |" in table[3]


def test_markdown_table_replaces_only_the_marked_part(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(f"# Title\nprose\n{ORACLE.TABLE_BEGIN}\nold table\n{ORACLE.TABLE_END}\nafter\n")
    ORACLE.write_markdown(page, "| new |\n")
    assert page.read_text() == f"# Title\nprose\n{ORACLE.TABLE_BEGIN}\n| new |\n{ORACLE.TABLE_END}\nafter\n"
    bare = tmp_path / "bare.md"
    ORACLE.write_markdown(bare, "| new |\n")
    assert bare.read_text() == "| new |\n"
