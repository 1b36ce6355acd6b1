import ast

import pytest
import torch

from graphhyper.data import load_code_dataset
from graphhyper.data.code_ast import edge_type_vocab, node_type_vocab, source_to_hypergraph
from graphhyper.errors import InvalidInputError

SRC = "def f(a, b=1):\n    return a + b\n"


def _names(ids, vocab):
    return [vocab[i] for i in ids]


def test_builder_types_and_direction():
    g = source_to_hypergraph(SRC)
    hg = g.hg
    kinds = _names(hg.node_type.tolist(), node_type_vocab())
    n_ast = sum(1 for _ in ast.walk(ast.parse(SRC)))
    assert kinds.count("<identifier>") == 5 and kinds.count("<literal>") == 1  # f, a, b, a, b ; 1
    assert hg.num_nodes == n_ast + 6
    edges = {}
    for e, (heads, tails) in enumerate(zip(hg.heads(), hg.tails())):
        edges.setdefault(edge_type_vocab()[int(hg.edge_type[e])], []).append((heads, tails))
    # FunctionDef.args -> arguments; arguments.args -> the two `arg` nodes in one hyperedge, parent as head
    ((heads, tails),) = edges["defaults"]
    assert kinds[heads[0]] == "arguments" and kinds[tails[0]] == "Constant"
    arg_edges = [(h, t) for h, t in edges["args"] if kinds[h[0]] == "arguments"]
    assert len(arg_edges) == 1 and [kinds[i] for i in arg_edges[0][1]] == ["arg", "arg"]
    assert all(len(h) == 1 for pairs in edges.values() for h, _ in pairs)  # exactly one head: the parent
    assert hg.is_head.sum() == hg.num_edges


def test_without_values_and_errors():
    g = source_to_hypergraph(SRC, include_values=False)
    assert g.num_nodes == sum(1 for _ in ast.walk(ast.parse(SRC)))
    assert (g.tokens == -1).all()
    assert g.features().shape == (g.num_nodes, len(node_type_vocab()))
    assert g.features(16).shape == (g.num_nodes, len(node_type_vocab()) + 16)
    with pytest.raises(InvalidInputError, match="not valid Python"):
        source_to_hypergraph("def (:")
    with pytest.raises(InvalidInputError, match="max_nodes"):
        source_to_hypergraph(SRC, max_nodes=5)
    empty = source_to_hypergraph("")
    assert empty.num_nodes == 1 and empty.hg.num_edges == 1


def test_stdlib_dataset_and_batching():
    ds = load_code_dataset(("json", "email"), max_files_per_class=3, seed=0)
    assert ds.classes == ("json", "email") and ds.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert all(f.split("/")[0] in ("json", "email") for f in ds.files)
    again = load_code_dataset(("json", "email"), max_files_per_class=3, seed=0)
    assert again.files == ds.files
    x, hg, batch, y = ds.batch([0, 4])
    assert x.shape[0] == hg.num_nodes == ds.graphs[0].num_nodes + ds.graphs[4].num_nodes
    assert batch.bincount().tolist() == [ds.graphs[0].num_nodes, ds.graphs[4].num_nodes]
    assert y.tolist() == [0, 1]
    from graphhyper.hypergraph.models import build_model

    model = build_model(
        "hdhgn",
        x.shape[1],
        2,
        hidden_channels=16,
        num_layers=1,
        heads=2,
        num_node_types=hg.num_node_types,
        num_edge_types=hg.num_edge_types,
    )
    assert model(x, hg, batch=batch).shape == (2, 2)
    assert torch.isfinite(model(x, hg, batch=batch)).all()
