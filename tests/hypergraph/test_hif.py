"""HIF (Hypergraph Interchange Format): our documents follow the published schema and round-trip, documents written
by others (string ids, partial node lists, missing weights, attrs) read back without losing anything silently, bad
documents raise InvalidInputError naming the field, and XGI / HyperNetX read what we write and we read theirs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from graphhyper.errors import InvalidHypergraphError, InvalidInputError, MissingDependencyError
from graphhyper.hypergraph import DirectedHypergraph, Hypergraph, hif
from tests.hypergraph.test_convert import hypergraphs

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HAS_JSONSCHEMA = importlib.util.find_spec("jsonschema") is not None
needs_jsonschema = pytest.mark.skipif(not HAS_JSONSCHEMA, reason="jsonschema is not installed (requirements-dev)")
needs_xgi = pytest.mark.skipif(
    importlib.util.find_spec("xgi") is None, reason="xgi is not installed (requirements-dev)"
)
needs_hnx = pytest.mark.skipif(
    importlib.util.find_spec("hypernetx") is None, reason="hypernetx is not installed (requirements-dev)"
)


def schema_valid(doc) -> dict:
    """``doc`` after a JSON round trip, checked against the shipped HIF schema when jsonschema is there."""
    doc = json.loads(json.dumps(doc))
    if HAS_JSONSCHEMA:
        hif.validate_hif(doc)
    return doc


@st.composite
def directed_hypergraphs(draw):
    num_nodes = draw(st.integers(1, 8))
    node_ids = st.lists(st.integers(0, num_nodes - 1), max_size=num_nodes, unique=True)
    pairs = []
    for _ in range(draw(st.integers(0, 6))):
        members = draw(node_ids)
        cut = draw(st.integers(0, len(members)))
        pairs.append((members[:cut], members[cut:]))
    num_types = draw(st.integers(1, 3))
    node_type = draw(st.lists(st.integers(0, num_types - 1), min_size=num_nodes, max_size=num_nodes))
    edge_type = draw(st.lists(st.integers(0, 1), min_size=len(pairs), max_size=len(pairs)))
    weights = draw(st.lists(st.floats(0.0, 3.0, width=32), min_size=len(pairs), max_size=len(pairs)))
    return DirectedHypergraph(
        num_nodes,
        pairs,
        node_type=torch.tensor(node_type, dtype=torch.long),
        num_node_types=num_types,
        edge_type=torch.tensor(edge_type, dtype=torch.long),
        num_edge_types=2,
        hyperedge_weight=weights,
        allow_empty_edges=True,
    )


# ---------------------------------------------------------------------------------------------- our documents
@SETTINGS
@given(hypergraphs(allow_empty=True))
def test_undirected_roundtrip_is_exact_and_schema_valid(hg):
    doc = schema_valid(hg.to_hif())
    assert doc["network-type"] == "undirected"
    assert len(doc["incidences"]) == hg.nnz and len(doc["edges"]) == hg.num_edges
    back = Hypergraph.from_hif(doc)
    assert back == hg
    assert back.hyperedges() == hg.hyperedges()


@SETTINGS
@given(directed_hypergraphs())
def test_directed_roundtrip_keeps_heads_tails_and_types(hg):
    doc = schema_valid(hg.to_hif())
    assert doc["network-type"] == "directed"
    assert {r["direction"] for r in doc["incidences"]} <= {"head", "tail"}
    back = hif.from_hif(doc)  # picks DirectedHypergraph from network-type
    assert isinstance(back, DirectedHypergraph) and back == hg
    assert back.heads() == hg.heads() and back.tails() == hg.tails()
    assert back.num_node_types == hg.num_node_types


def test_incidence_features_weights_and_dtypes_survive_a_file(tmp_path):
    feats = torch.tensor([[0.1, 1.0], [2.0, -3.5], [4.25, 5.0], [1e-7, 6.0], [7.0, 8.0]], dtype=torch.float64)
    hg = Hypergraph(
        5, [[0, 1, 2], [3, 1]], hyperedge_weight=torch.tensor([0.3, 2.0], dtype=torch.float64),
        node_weight=[1.0, 0.5, 1.0, 2.0, 1.0], incidence_features=feats,
    )  # fmt: skip
    path = hg.write_hif(tmp_path / "hg.hif.json", validate=HAS_JSONSCHEMA)
    back = Hypergraph.read_hif(path, validate=HAS_JSONSCHEMA)
    assert back == hg
    assert back.incidence_features is not None and back.incidence_features.dtype == torch.float64
    assert back.hyperedge_weight.dtype == torch.float64
    torch.testing.assert_close(back.incidence_features, hg.incidence_features, rtol=0, atol=0)
    assert back.isolated_nodes().tolist() == [4]


def test_node_features_only_when_asked_and_back_through_extra():
    hg = Hypergraph(3, [[0, 1], [1, 2]])
    assert all("attrs" not in r for r in hg.to_hif()["nodes"])
    x = torch.randn(3, 4)
    doc = schema_valid(hg.to_hif(node_features=x))
    assert [len(r["attrs"]["features"]) for r in doc["nodes"]] == [4, 4, 4]
    back, extra = hif.from_hif_with_extra(doc)
    assert back == hg
    assert extra.node_features is not None
    torch.testing.assert_close(extra.node_features, x)
    with pytest.raises(InvalidInputError, match="node features"):
        Hypergraph.from_hif(doc)
    assert Hypergraph.from_hif(doc, unmapped="drop") == hg
    with pytest.raises(InvalidInputError, match=r"node_features must be a tensor \[3, F\]"):
        hg.to_hif(node_features=torch.zeros(2, 4))
    with pytest.raises(InvalidInputError, match="NaN"):
        hg.to_hif(node_features=torch.full((3, 1), float("nan")))


# ---------------------------------------------------------------------------------------------- others' documents
FOREIGN = {
    "network-type": "undirected",
    "metadata": {"name": "toy", "source": {"year": 2024}},
    "nodes": [{"node": "z", "attrs": {"color": "red"}}, {"node": "a", "weight": 2}],
    "edges": [{"edge": "e2", "weight": 0.5, "attrs": {"label": "x"}}, {"edge": "empty"}],
    "incidences": [
        {"edge": "e1", "node": "a"},
        {"edge": "e1", "node": "b", "weight": 3.0, "attrs": {"role": "author"}},
        {"edge": "e2", "node": "b"},
        {"edge": "e2", "node": "c"},
    ],
}


def test_foreign_document_reads_with_string_ids_partial_lists_and_default_weights():
    hg, extra = hif.from_hif_with_extra(FOREIGN)
    assert extra.node_ids == ["z", "a", "b", "c"]  # nodes list first, then incidences, first appearance
    assert extra.edge_ids == ["e2", "empty", "e1"]
    assert hg.hyperedges() == [[2, 3], [], [1, 2]]
    assert hg.hyperedge_weight.tolist() == [0.5, 1.0, 1.0]  # e1 is not listed: weight 1
    assert hg.node_weight.tolist() == [1.0, 2.0, 1.0, 1.0]
    assert hg.isolated_nodes().tolist() == [0]
    assert extra.metadata == FOREIGN["metadata"]
    assert extra.node_attrs == {0: {"color": "red"}} and extra.edge_attrs == {0: {"label": "x"}}
    assert extra.incidence_weight is not None
    role = {k: a for k, a in extra.incidence_attrs.items()}
    k = next(iter(role))
    assert (extra.node_ids[int(hg.inc_node[k])], extra.edge_ids[int(hg.inc_edge[k])]) == ("b", "e1")
    assert float(extra.incidence_weight[k]) == 3.0 and role[k] == {"role": "author"}


def _canonical(doc) -> dict:
    """Records as sorted JSON strings, metadata without our own key: equal documents compare equal."""
    incidences = [{**r, "weight": float(r.get("weight", 1))} for r in doc["incidences"]]  # missing weight is 1
    out: dict = {"incidences": sorted(json.dumps(r, sort_keys=True) for r in incidences)}
    out["metadata"] = {k: v for k, v in doc.get("metadata", {}).items() if k != hif.OURS}
    out["network-type"] = doc.get("network-type", "undirected")
    for part, key in (("nodes", "node"), ("edges", "edge")):  # all listed on the way out; compare listed ones
        listed = {json.dumps(r[key]): r for r in doc.get(part, [])}
        out[part] = {k: (r.get("weight", 1), r.get("attrs", {})) for k, r in listed.items()}
    return out


def test_foreign_document_written_back_keeps_everything():
    hg, extra = hif.from_hif_with_extra(FOREIGN)
    again = schema_valid(hg.to_hif(extra=extra))
    ours, theirs = _canonical(again), _canonical(FOREIGN)
    assert ours["incidences"] == theirs["incidences"] and ours["metadata"] == theirs["metadata"]
    for part in ("nodes", "edges"):
        for rid, (weight, attrs) in theirs[part].items():
            assert ours[part][rid] == (weight, attrs), (part, rid)
        assert all(v == (1, {}) or v[0] == 1.0 and not v[1] for k, v in ours[part].items() if k not in theirs[part])


def test_foreign_document_refused_by_default_then_dropped_on_request():
    with pytest.raises(InvalidInputError, match=r"ids .* metadata .*from_hif_with_extra.*unmapped='drop'") as info:
        Hypergraph.from_hif(FOREIGN)
    assert "attrs on 1 node record" in str(info.value) and "incidence weights" in str(info.value)
    hg = Hypergraph.from_hif(FOREIGN, unmapped="drop")
    assert hg.num_nodes == 4 and hg.nnz == 4


def test_xgi_style_attrs_weight_is_the_weight_and_integer_ids_are_sorted():
    doc = {
        "incidences": [{"edge": 10, "node": 7}, {"edge": 10, "node": 3}, {"edge": 4, "node": 3}],
        "edges": [{"edge": 10, "attrs": {"weight": 2.5}}],
    }
    hg, extra = hif.from_hif_with_extra(doc)
    assert extra.node_ids == [3, 7] and extra.edge_ids == [4, 10]
    assert hg.hyperedges() == [[0], [0, 1]] and hg.hyperedge_weight.tolist() == [1.0, 2.5]
    assert not extra.edge_attrs  # the weight was taken, nothing left over
    # a copy of the HIF weight in attrs is dropped; a different one is kept as an attribute
    doc["edges"] = [
        {"edge": 10, "weight": 2.5, "attrs": {"weight": 2.5}},
        {"edge": 4, "weight": 1, "attrs": {"weight": 9}},
    ]
    hg, extra = hif.from_hif_with_extra(doc)
    assert hg.hyperedge_weight.tolist() == [1.0, 2.5] and extra.edge_attrs == {0: {"weight": 9}}


def test_missing_network_type_with_directions_reads_directed_and_asc_is_kept():
    doc = {
        "incidences": [{"edge": "r", "node": "x", "direction": "tail"}, {"edge": "r", "node": "y", "direction": "head"}]
    }
    hg = hif.from_hif(doc, unmapped="drop")
    assert isinstance(hg, DirectedHypergraph) and hg.heads() == [[1]] and hg.tails() == [[0]]
    asc = {"network-type": "asc", "incidences": [{"edge": 0, "node": 0}, {"edge": 0, "node": 1}]}
    with pytest.raises(InvalidInputError, match="network-type 'asc'"):
        Hypergraph.from_hif(asc)
    hg, extra = hif.from_hif_with_extra(asc)
    assert hg.to_hif(extra=extra)["network-type"] == "asc"


def test_identical_repeated_records_are_one():
    """As in HIF-standard's compliant example duplicated_nodes_edges.json: the same record twice is one."""
    doc = {
        "nodes": [{"node": "n1"}, {"node": "n1"}],
        "edges": [{"edge": "e1", "weight": 2}, {"edge": "e1", "weight": 2}],
        "incidences": [{"edge": "e1", "node": "n1"}, {"edge": "e1", "node": "n1"}],
    }
    with pytest.raises(InvalidInputError, match="deduplicate=True"):  # a repeated incidence may be meant
        hif.from_hif(doc, unmapped="drop")
    hg = hif.from_hif(doc, unmapped="drop", deduplicate=True)
    assert hg.hyperedges() == [[0]] and hg.hyperedge_weight.tolist() == [2.0]


def test_empty_document():
    hg = Hypergraph.from_hif({"incidences": []})
    assert (hg.num_nodes, hg.num_edges, hg.nnz) == (0, 0, 0)
    assert Hypergraph.from_hif(schema_valid(hg.to_hif())) == hg


E_COLI = Path(__file__).parent / "fixtures" / "e-coli.hif.json"  # HIF-standard's tutorial data, see fixtures/README


def _reactions(hg, extra) -> dict:
    """``{edge id: (head ids, tail ids)}`` of a directed hypergraph in its HIF ids."""
    return {
        extra.edge_ids[e]: ({extra.node_ids[v] for v in h}, {extra.node_ids[v] for v in t})
        for e, (h, t) in enumerate(zip(hg.heads(), hg.tails()))
    }


def test_a_published_directed_document_reads_and_writes_back():
    doc = schema_valid(hif.load_json(E_COLI))
    hg, extra = hif.from_hif_with_extra(doc)
    assert isinstance(hg, DirectedHypergraph)
    want: dict = {}
    for r in doc["incidences"]:
        want.setdefault(r["edge"], (set(), set()))[0 if r["direction"] == "head" else 1].add(r["node"])
    assert _reactions(hg, extra) == want
    assert hg.nnz == len(doc["incidences"]) and extra.metadata == doc["metadata"]
    assert {extra.node_ids[v]: a for v, a in extra.node_attrs.items()} == {r["node"]: r["attrs"] for r in doc["nodes"]}
    again = schema_valid(hg.to_hif(extra=extra))
    assert _canonical(again) == _canonical(doc)
    with pytest.raises(InvalidInputError, match="metadata keys"):
        hif.from_hif(doc)


@needs_xgi
def test_a_published_directed_document_through_xgi():
    import xgi

    hg, extra = hif.from_hif_with_extra(hif.load_json(E_COLI))
    theirs = schema_valid(xgi.to_hif_dict(xgi.from_hif_dict(hg.to_hif(extra=extra))))
    hg2, extra2 = hif.from_hif_with_extra(theirs)
    assert _reactions(hg2, extra2) == _reactions(hg, extra)
    assert extra2.metadata == extra.metadata


# ---------------------------------------------------------------------------------------------- bad input
BAD = [
    ([], "JSON object"),
    ({"nodes": []}, "no 'incidences'"),
    ({"incidences": {}}, "'incidences' must be a list"),
    ({"incidences": [], "hyperedges": []}, "Move them into 'metadata'"),
    ({"incidences": [], "network-type": "hyper"}, "network-type must be one of"),
    ({"incidences": [], "metadata": []}, "'metadata' must be a JSON object"),
    ({"incidences": [[0, 1]]}, r"incidences\[0\] must be a JSON object"),
    ({"incidences": [{"edge": 0}]}, r"incidences\[0\] has no 'node'"),
    ({"incidences": [{"edge": 0, "node": 1.5}]}, r"incidences\[0\].node must be a string or an integer"),
    ({"incidences": [{"edge": True, "node": 1}]}, r"incidences\[0\].edge must be a string or an integer"),
    ({"incidences": [{"edge": 0, "node": 1, "weight": "2"}]}, r"incidences\[0\].weight must be a finite number"),
    ({"incidences": [{"edge": 0, "node": 1, "attrs": [1]}]}, r"incidences\[0\].attrs must be a JSON object"),
    ({"incidences": [{"edge": 0, "node": 1, "label": "x"}]}, r"unknown field\(s\) \['label'\].*'attrs'"),
    ({"incidences": [{"edge": 0, "node": 1, "direction": "up"}]}, "direction must be 'head' or 'tail'"),
    (
        {"network-type": "directed", "incidences": [{"edge": 0, "node": 1}]},
        r"incidences\[0\] of a directed document has no 'direction'",
    ),
    (
        {"network-type": "undirected", "incidences": [{"edge": 0, "node": 1, "direction": "head"}]},
        "set network-type 'directed'",
    ),
    ({"incidences": [{"edge": 0, "node": 1}, {"edge": 0, "node": 1}]}, "twice.*deduplicate=True"),
    ({"incidences": [], "nodes": [{"node": "n1"}, {"node": "n1", "weight": 2}]}, "listed twice in 'nodes'"),
    ({"incidences": [{"edge": 0, "node": 1}], "edges": [{"edge": 0, "weight": -2}]}, "weights must be >= 0"),
    ({"incidences": [], "metadata": {"graphhyper": {"hyperedge_weight_dtype": "str"}}}, "hyperedge_weight_dtype"),
    ({"incidences": [], "metadata": {"graphhyper": "mine"}}, "graphhyper's own.*Rename it"),
    ({"incidences": [], "metadata": {"graphhyper": {"num_node_types": 0}}}, "num_node_types must be at least 1"),
    ({"incidences": [], "metadata": {"graphhyper": {"num_edge_types": 1.5}}}, "num_edge_types must be a non-negative"),
    (
        {
            "incidences": [{"edge": 0, "node": 0, "attrs": {"features": [1.5]}}],
            "metadata": {"graphhyper": {"incidence_features_dtype": "int8"}},
        },
        "not integers in",
    ),
]


@pytest.mark.parametrize("doc,message", BAD, ids=[m[:30] for _, m in BAD])
def test_bad_documents_raise_invalid_input_naming_the_field(doc, message):
    with pytest.raises(InvalidInputError, match=message):
        hif.from_hif(doc)


def test_class_and_document_must_agree_on_direction():
    directed = DirectedHypergraph(3, [([0], [1, 2])]).to_hif()
    with pytest.raises(InvalidInputError, match="DirectedHypergraph.from_hif"):
        Hypergraph.from_hif(directed)
    assert Hypergraph.from_hif(directed, unmapped="drop").hyperedges() == [[0, 1, 2]]
    with pytest.raises(InvalidInputError, match="needs head/tail directions"):
        DirectedHypergraph.from_hif(Hypergraph(2, [[0, 1]]).to_hif())
    both = {"network-type": "directed", "incidences": [
        {"edge": 0, "node": 0, "direction": "head"}, {"edge": 0, "node": 0, "direction": "tail"}]}  # fmt: skip
    with pytest.raises(InvalidInputError, match="as head and as tail"):
        hif.from_hif(both)
    assert hif.from_hif(both, deduplicate=True).nnz == 1


def test_files_that_are_not_hif(tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        hif.read_hif(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError, match="JSON list"):
        hif.read_hif(tmp_path / "list.json")
    with pytest.raises(InvalidInputError, match="Cannot read"):
        hif.read_hif(tmp_path / "missing.json")


def test_extra_must_match_the_hypergraph():
    _, extra = hif.from_hif_with_extra(FOREIGN)
    with pytest.raises(InvalidInputError, match="HIFExtra read with this hypergraph"):
        Hypergraph(2, [[0, 1]]).to_hif(extra=extra)


@needs_jsonschema
def test_schema_validation_names_the_field():
    hif.validate_hif(Hypergraph(3, [[0, 1, 2]]).to_hif())
    doc = {"incidences": [{"edge": 0, "node": 1, "direction": "up"}]}
    with pytest.raises(InvalidInputError, match="incidences/0/direction"):
        hif.validate_hif(doc)
    with pytest.raises(InvalidInputError, match="HIF schema at incidences/0/direction"):
        hif.from_hif(doc, validate=True)
    with pytest.raises(InvalidInputError, match="incidences"):
        hif.validate_hif({"nodes": []})


def test_validation_without_jsonschema_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "jsonschema", None)
    with pytest.raises(MissingDependencyError, match="jsonschema"):
        Hypergraph(2, [[0, 1]]).to_hif(validate=True)


# ---------------------------------------------------------------------------------------------- XGI
@needs_xgi
@SETTINGS
@given(hypergraphs(allow_empty=True))
def test_through_xgi_files_and_back(tmp_path_factory, hg):
    """ours -> HIF -> xgi.from_hif_dict -> xgi.write_hif -> our read_hif: incidences exact; weights too when written
    also as attrs (XGI 0.10 ignores HIF's own ``weight`` field)."""
    import xgi

    path = tmp_path_factory.mktemp("xgi") / "h.json"
    xgi.write_hif(xgi.from_hif_dict(hg.to_hif(weight_attrs=True)), str(path))
    written = schema_valid(hif.load_json(path))
    back = Hypergraph.from_hif(written)
    assert back == hg
    plain = Hypergraph.from_hif(schema_valid(xgi.to_hif_dict(xgi.from_hif_dict(hg.to_hif()))))
    assert plain.hyperedges() == hg.hyperedges() and plain.num_nodes == hg.num_nodes
    assert Hypergraph.from_xgi(hg.to_xgi()) == hg


@needs_xgi
@SETTINGS
@given(directed_hypergraphs())
def test_directed_through_xgi(hg):
    import xgi

    h = xgi.from_hif_dict(hg.to_hif())
    assert isinstance(h, xgi.DiHypergraph)
    back = hif.from_hif(schema_valid(xgi.to_hif_dict(h)), unmapped="drop")
    assert isinstance(back, DirectedHypergraph)
    assert back.heads() == hg.heads() and back.tails() == hg.tails()
    assert DirectedHypergraph.from_xgi(hg.to_xgi(), unmapped="drop").heads() == hg.heads()


@needs_xgi
def test_xgi_string_ids_come_back_through_extra():
    import xgi

    h = xgi.Hypergraph({"e1": ["a", "b"], "e2": ["b", "c"]})
    h.add_node("lonely")
    with pytest.raises(InvalidInputError, match="ids"):
        Hypergraph.from_xgi(h)
    hg, extra = hif.from_hif_with_extra(xgi.to_hif_dict(h))
    assert sorted(map(str, extra.node_ids)) == ["a", "b", "c", "lonely"]
    again = xgi.from_hif_dict(hg.to_hif(extra=extra))
    assert {e: set(again.edges.members(e)) for e in again.edges} == {"e1": {"a", "b"}, "e2": {"b", "c"}}
    assert set(again.nodes) == {"a", "b", "c", "lonely"}


# ---------------------------------------------------------------------------------------------- HyperNetX
@pytest.fixture
def hnx_offline(monkeypatch):
    """hypernetx.to_hif / from_hif download the schema on every call; serve the shipped copy instead."""
    hnx_hif = pytest.importorskip("hypernetx.hif", reason="hypernetx is not installed (requirements-dev)")

    class Response:
        text = json.dumps(hif.hif_schema())

    monkeypatch.setattr(hnx_hif.requests, "get", lambda url, *a, **k: Response())
    return pytest.importorskip("hypernetx")


@needs_hnx
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(hypergraphs(allow_empty=False))
def test_through_hypernetx_hif_and_back(hnx_offline, hg):
    assume(hg.nnz > 0)  # hypernetx.from_hif fails on a document without incidences
    hg, _ = hg.remove_isolated_nodes()  # HyperNetX has no isolated nodes
    h = hnx_offline.from_hif(hif=hg.to_hif())
    assert h is not None
    theirs = hnx_offline.to_hif(h)
    assert theirs is not None  # hypernetx returns None when its own output fails the schema
    theirs = schema_valid(theirs)
    with pytest.raises(InvalidInputError, match="metadata keys \\['default_attrs'\\]"):
        Hypergraph.from_hif(theirs)
    back = Hypergraph.from_hif(theirs, unmapped="drop")
    assert back.hyperedges() == hg.hyperedges()
    torch.testing.assert_close(back.hyperedge_weight, hg.hyperedge_weight)
    torch.testing.assert_close(back.node_weight, hg.node_weight)


@needs_hnx
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hypergraphs(allow_empty=False))
def test_to_and_from_hypernetx_objects(hg):
    hg, _ = hg.remove_isolated_nodes()
    assert Hypergraph.from_hypernetx(hg.to_hypernetx()) == hg


@needs_hnx
def test_hypernetx_keeps_incidence_features_and_refuses_what_it_would_drop():
    feats = torch.arange(10.0).view(5, 2)
    hg = Hypergraph(4, [[0, 1, 2], [3, 1]], incidence_features=feats, hyperedge_weight=[1.5, 0.25])
    back = Hypergraph.from_hypernetx(hg.to_hypernetx())
    assert back == hg and back.incidence_features is not None
    torch.testing.assert_close(back.incidence_features, hg.incidence_features)
    with pytest.raises(InvalidHypergraphError, match="remove_isolated_nodes"):
        Hypergraph(3, [[0, 1]]).to_hypernetx()
    with pytest.raises(InvalidHypergraphError, match="drop_empty_edges"):
        Hypergraph(2, [[0, 1], []], allow_empty_edges=True).to_hypernetx()
    with pytest.raises(InvalidHypergraphError, match="to_hif"):
        DirectedHypergraph(2, [([0], [1])]).to_hypernetx()


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_export_writes_the_dataset_as_hif(shared_data, tmp_path, capsys):
    from graphhyper.cli import main
    from graphhyper.data import load_hypergraph

    out = tmp_path / "zoo.hif.json"
    args = ["hypergraph", "export", "--dataset", "zoo", "--root", str(shared_data), "-o", str(out)]
    assert main([*args, "--labels", "--node-features", *(["--validate"] if HAS_JSONSCHEMA else [])]) == 0
    assert "zoo:" in capsys.readouterr().out
    data = load_hypergraph("zoo", shared_data, add_self_loops=False)
    hg, extra = hif.from_hif_with_extra(hif.load_json(out))
    assert hg == data.hg and extra.metadata == {"name": "zoo"}
    assert [extra.node_attrs[v]["label"] for v in range(hg.num_nodes)] == data.y.tolist()
    assert extra.node_features is not None
    torch.testing.assert_close(extra.node_features, data.x.float())
    assert main(["hypergraph", "export", "--dataset", "no-such-set", "-o", str(tmp_path / "x.json")]) == 1


# ---------------------------------------------------------------------------------------------- fuzz
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([2**70, -(2**70), 10**400])
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=3)
    | st.sampled_from(["head", "tail", "features", "type", "weight", "graphhyper", "directed", "asc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)  # fmt: skip
_KEYS = ["node", "edge", "weight", "direction", "attrs", "features", "type", "metadata", "graphhyper", "nodes"]


def _seeds() -> list[dict]:
    typed = DirectedHypergraph(
        4, [([0, 1], [2]), ([2], [3])], node_type=torch.tensor([0, 1, 1, 0]), incidence_features=torch.rand(5, 2)
    )
    plain = Hypergraph(5, [[0, 1, 2], [3], []], hyperedge_weight=[1.0, 2.0, 0.5], allow_empty_edges=True)
    return [json.loads(json.dumps(d)) for d in (typed.to_hif(), plain.to_hif(node_features=torch.rand(5, 2)), FOREIGN)]


def _mutate(doc, data) -> None:
    """Replace, add or delete one value somewhere in the document."""
    node, path = doc, []
    while isinstance(node, (dict, list)) and node and data.draw(st.booleans(), label="deeper"):
        key = data.draw(st.sampled_from(sorted(node, key=str) if isinstance(node, dict) else range(len(node))))
        if not isinstance(node[key], (dict, list)):
            break
        node, path = node[key], [*path, key]
    if isinstance(node, dict):
        key = data.draw(st.sampled_from(sorted(node, key=str) + _KEYS) if node else st.sampled_from(_KEYS))
        if key in node and data.draw(st.booleans(), label="delete"):
            del node[key]
        else:
            node[key] = data.draw(_JSON)
    elif isinstance(node, list):
        if node and data.draw(st.booleans(), label="replace"):
            node[data.draw(st.integers(0, len(node) - 1))] = data.draw(_JSON)
        else:
            node.append(data.draw(_JSON))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_documents_give_our_errors_or_a_consistent_hypergraph(data):
    from graphhyper.errors import GraphhyperError

    doc = data.draw(st.sampled_from(_seeds()))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(doc, data)
    try:
        hg, extra = hif.from_hif_with_extra(doc)
    except GraphhyperError:
        return
    assert len(extra.node_ids) == hg.num_nodes and len(extra.edge_ids) == hg.num_edges
    assert hg.nnz <= len(doc["incidences"])
    again, _ = hif.from_hif_with_extra(json.loads(json.dumps(hg.to_hif(extra=extra))))
    assert again == hg
