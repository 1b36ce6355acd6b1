"""ReferenceGHN against the published GHN-2 / GHN-3 code, through a committed fixture.

The fixture (written by ``scripts/oracle_ghn_reference.py --configs small_ghn3,small_ghn2,small_ghn2_ghn3
--models resnet18,mobilenet_v3_small,convnext_tiny2,vit_tiny --fixture tests/ghn/fixtures``) holds small
configurations with seeded random weights in the published layout -- GHN-3, GHN-2 as ppuda runs it, GHN-2 as
ghn3 runs it -- the reference's graphs of four small torchvision models, and digests of the tensors the
reference code predicted for them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from graphhyper.errors import CheckpointError, InvalidInputError
from graphhyper.ghn.reference.graph import NodeInfo, ReferenceGraph
from graphhyper.ghn.reference.model import ReferenceGHN, infer_config, map_published_keys, resolve_config

FIXTURES = Path(__file__).parent / "fixtures"


def _cases() -> dict[str, Any]:
    with gzip.open(FIXTURES / "reference_ghn_cases.json.gz", "rt") as f:
        return json.load(f)


CASES = _cases()


def _state_dict(name: str) -> dict[str, torch.Tensor]:
    return torch.load(FIXTURES / f"reference_ghn_{name}.pt", weights_only=True)


def _graph(g: dict[str, Any]) -> ReferenceGraph:
    n = g["num_nodes"]
    adj = torch.zeros(n, n, dtype=torch.long)
    e = torch.tensor(g["edges"], dtype=torch.long)
    adj[e[:, 0], e[:, 1]] = e[:, 2]
    rows = [NodeInfo(r[0], r[1], r[2], None if r[3] is None else tuple(r[3]), r[4], r[5]) for r in g["node_info"]]
    return ReferenceGraph(node_feat=torch.tensor(g["node_feat"], dtype=torch.long), node_info=rows, adjacency=adj)


def _model(name: str) -> ReferenceGHN:
    return ReferenceGHN.from_reference_state_dict(_state_dict(name), CASES["configs"][name])


def _check(pred: dict[str, torch.Tensor], expected: dict[str, Any], rtol: float) -> None:
    assert set(pred) == set(expected)
    for name, d in expected.items():
        t = pred[name]
        if name.endswith("pos_embedding"):
            t = t[:, 1:]  # the class-token row is random in the reference too
        assert list(t.shape) == d["shape"], name
        flat = t.double().flatten()
        tol = rtol * d["max_abs"]
        assert abs(float(flat.abs().max()) - d["max_abs"]) <= tol, name
        assert torch.allclose(flat[d["idx"]], torch.tensor(d["values"], dtype=torch.double), rtol=0, atol=tol), name
        assert abs(float(flat.sum()) - d["sum"]) <= tol * flat.numel(), name
        assert abs(float(flat.abs().sum()) - d["abs_sum"]) <= tol * flat.numel(), name


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: f"{c['config']}-{c['model']}")
def test_predictions_match_reference(case: dict[str, Any]) -> None:
    ghn = _model(case["config"])
    shapes = {k: tuple(v) for k, v in case["shapes"].items()}
    pred = ghn.predict_graph(_graph(case["graph"]), shapes)
    _check(pred, case["expected"], CASES["rtol"])


def test_predicted_names_are_what_predict_returns() -> None:
    case = next(c for c in CASES["cases"] if c["model"] == "vit_tiny")
    ghn = _model(case["config"])
    shapes = {k: tuple(v) for k, v in case["shapes"].items()}
    graph = _graph(case["graph"])
    names = ghn.predicted_names(graph, shapes)
    assert sorted(names) == sorted(ghn.predict_graph(graph, shapes))
    assert "class_token" in shapes and "class_token" not in names


def test_bad_graph_is_refused() -> None:
    case = CASES["cases"][0]
    ghn = _model(case["config"])
    shapes = {k: tuple(v) for k, v in case["shapes"].items()}
    graph = _graph(case["graph"])
    graph.node_feat[3] = 99
    with pytest.raises(InvalidInputError, match="PRIMITIVES_DEEPNETS1M"):
        ghn.predict_graph(graph, shapes)
    graph = _graph(case["graph"])
    graph.adjacency = graph.adjacency[:-1]
    with pytest.raises(InvalidInputError, match="adjacency"):
        ghn.predict_graph(graph, shapes)


def test_from_published_file(tmp_path: Path) -> None:
    """A checkpoint file in ppuda's format ({'state_dict', 'config'}), read through the allow-list loader."""
    case = next(c for c in CASES["cases"] if c["config"] == "small_ghn2")
    path = tmp_path / "ghn2_small.pt"
    config = {k: v for k, v in CASES["configs"]["small_ghn2"].items() if k != "is_ghn2"}
    torch.save({"state_dict": _state_dict("small_ghn2"), "config": config}, path)
    ghn = ReferenceGHN.from_published(path)
    assert ghn.is_ghn2 and ghn.use_ppuda
    pred = ghn.predict_graph(_graph(case["graph"]), {k: tuple(v) for k, v in case["shapes"].items()})
    _check(pred, case["expected"], CASES["rtol"])


def test_graph_matters() -> None:
    """A changed virtual edge changes GHN-3's predictions beyond the tolerance (the check has teeth)."""
    case = next(c for c in CASES["cases"] if c["config"] == "small_ghn3" and c["model"] == "resnet18")
    graph = _graph(case["graph"])
    graph.adjacency[0, graph.num_nodes - 1] += 1
    pred = _model("small_ghn3").predict_graph(graph, {k: tuple(v) for k, v in case["shapes"].items()})
    with pytest.raises(AssertionError):
        _check(pred, case["expected"], CASES["rtol"])


def test_embedding_tables_inside_first_layer_load() -> None:
    """ghn3 moves the structure tables into ``gnn.0`` after loading; such a state dict loads the same."""
    sd = _state_dict("small_ghn3")
    moved = {(f"gnn.0.{k}" if k.startswith(("centrality_embed", "input_dist_embed")) else k): v for k, v in sd.items()}
    a = ReferenceGHN.from_reference_state_dict(moved, CASES["configs"]["small_ghn3"])
    b = _model("small_ghn3")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_missing_and_unexpected_keys_are_named() -> None:
    sd = _state_dict("small_ghn2")
    sd.pop("gnn.gru.weight_hh")
    sd["decoder.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"gnn\.gru\.weight_hh.*decoder\.extra\.weight"):
        ReferenceGHN.from_reference_state_dict(sd, CASES["configs"]["small_ghn2"])


def test_shape_mismatch_is_named() -> None:
    config = dict(CASES["configs"]["small_ghn3"], hid=32)
    with pytest.raises(CheckpointError, match="embed.weight"):
        ReferenceGHN.from_reference_state_dict(_state_dict("small_ghn3"), config)


def test_unsupported_config_is_refused() -> None:
    config = dict(CASES["configs"]["small_ghn2"], hypernet="mlp")
    with pytest.raises(CheckpointError, match="hypernet"):
        ReferenceGHN.from_reference_state_dict(_state_dict("small_ghn2"), config)
    with pytest.raises(CheckpointError, match="unknown GHN config keys"):
        ReferenceGHN.from_reference_state_dict(_state_dict("small_ghn2"), {**config, "hypernet": "gatedgnn", "x": 1})


def _published_layouts() -> dict[str, Any]:
    with open(FIXTURES / "ghn_reference_shapes.json") as f:
        return json.load(f)


@pytest.mark.parametrize("name", sorted(_published_layouts()))
def test_published_layouts(name: str) -> None:
    """Every published checkpoint's tensor names and shapes (ghn_reference_shapes.json, from the reference code)
    load: the config inferred from them is the published one, and the stated config builds the same layout."""
    layout = _published_layouts()[name]
    published = {k: torch.empty(v, device="meta") for k, v in layout["tensors"].items()}
    stated = layout["config"]
    inferred = infer_config(published)
    for key in ("hid", "num_classes", "layernorm", "ve", "weight_norm"):
        assert inferred[key] == stated[key], key
    assert list(inferred["max_shape"]) == stated["max_shape"]
    if "layers" in stated:
        assert (inferred["layers"], inferred["heads"]) == (stated["layers"], stated["heads"])
    for config in (inferred, stated):
        with torch.device("meta"):
            ghn = ReferenceGHN(resolve_config(config, published))
        ours = map_published_keys(published)
        assert {k: tuple(v.shape) for k, v in ghn.state_dict().items()} == {k: tuple(v.shape) for k, v in ours.items()}
    assert ghn.is_ghn2 == name.startswith("ghn2") == ghn.use_ppuda


def test_stated_family_must_match_keys() -> None:
    config = dict(CASES["configs"]["small_ghn2"], is_ghn2=False)
    with pytest.raises(CheckpointError, match="is_ghn2"):
        ReferenceGHN.from_reference_state_dict(_state_dict("small_ghn2"), config)


@pytest.mark.parametrize("name", ["small_ghn2", "small_ghn2_ghn3", "small_ghn3"])
def test_infer_config(name: str) -> None:
    """The published loader's inference: what the keys tell (``S`` from the spatial table: 9 rows -> 11)."""
    cfg = infer_config(_state_dict(name))
    ref = CASES["configs"][name]
    assert cfg["hid"] == ref["hid"]
    assert cfg["num_classes"] == ref["num_classes"]
    assert cfg["max_shape"][:2] == tuple(ref["max_shape"][:2])
    assert cfg["max_shape"][2:] == (11, 11)
    assert cfg["is_ghn2"] == ref["is_ghn2"]
    assert cfg["layernorm"] is True
    assert cfg["layers"] == ref.get("layers", 0)
