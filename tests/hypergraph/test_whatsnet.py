"""WHATsNet (graphhyper.hypergraph.nn.whatsnet): shapes, equivariance, the order encoding, training, and agreement
with the authors' model (fixtures written by scripts/oracle_whatsnet_enc.py from their code)."""

import json
from pathlib import Path

import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import enc
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.nn.setblocks import ISABBlock
from graphhyper.hypergraph.nn.whatsnet import PrevQPool, Whatsnet, WhatsnetConv
from graphhyper.hypergraph.sampling import HyperedgeSampler
from graphhyper.hypergraph.structure import Hypergraph
from tests.hypergraph.test_enc import planted_enc

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = dict(hidden_channels=8, att_channels=16, node_channels=8, edge_channels=8, edge_in_channels=8, dropout=0.0)


def toy(seed=0, num_nodes=10, num_edges=6):
    g = torch.Generator().manual_seed(seed)
    cols = [(v, e) for e in range(num_edges) for v in torch.randperm(num_nodes, generator=g)[: 2 + e % 4].tolist()]
    index = torch.tensor(cols).T
    return index, torch.randn(num_nodes, 5, generator=g), torch.rand(index.shape[1], 4, generator=g)


def test_shapes_and_the_layer_sizes():
    index, x, pe = toy()
    hg = Hypergraph.from_pyg(index, num_nodes=x.shape[0])
    conv = WhatsnetConv(5, 7, 6, 9, hidden_channels=16, pe_channels=4)
    xv, ye = conv(x, torch.zeros(hg.num_edges, 7), hg, pe)
    assert xv.shape == (10, 6) and ye.shape == (hg.num_edges, 9)
    model = Whatsnet(5, 3, **SMALL)
    assert model(x, index, pe=pe).shape == (index.shape[1], 3)
    assert model.sampling_hops == 3
    pool = PrevQPool(7, 16, 16, "edge")
    assert pool(torch.randn(hg.num_edges, 7), torch.randn(hg.nnz, 16), hg).shape == (hg.num_edges, 16)


def test_isab_block_takes_another_input_size():
    index, x, _ = toy()
    hg = Hypergraph.from_pyg(index, num_nodes=x.shape[0])
    blk = ISABBlock(16, "edge", heads=4, num_inducing=2, in_channels=5)
    assert blk(torch.randn(hg.nnz, 5), hg).shape == (hg.nnz, 16)


def test_pe_is_required_exactly_when_built_with_it():
    index, x, pe = toy()
    with pytest.raises(InvalidInputError, match="pe_channels=4"):
        Whatsnet(5, 3, **SMALL)(x, index)
    with pytest.raises(InvalidInputError, match="pe_channels=0"):
        Whatsnet(5, 3, **{**SMALL, "pe_channels": 0})(x, index, pe=pe)
    with pytest.raises(InvalidInputError, match="at least one layer"):
        Whatsnet(5, 3, num_layers=0)
    bad = pe.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(InvalidInputError, match="NaN"):  # checked once, before the layers run unchecked
        Whatsnet(5, 3, **SMALL)(x, index, pe=bad)


def test_equivariant_to_relabelling_nodes_and_reordering_incidences():
    """Relabel the nodes and shuffle the incidence columns: every (node, hyperedge) pair keeps its logits."""
    index, x, pe = toy(1)
    torch.manual_seed(0)
    model = Whatsnet(5, 3, **SMALL).eval()
    out = model(x, index, pe=pe)
    g = torch.Generator().manual_seed(5)
    relabel = torch.randperm(x.shape[0], generator=g)  # old node v -> new id relabel[v]
    cols = torch.randperm(index.shape[1], generator=g)
    x2 = torch.empty_like(x)
    x2[relabel] = x
    index2 = torch.stack([relabel[index[0, cols]], index[1, cols]])
    out2 = model(x2, index2, pe=pe[cols])
    assert torch.allclose(out2, out[cols], atol=1e-5)


def test_the_order_encoding_changes_the_outputs():
    index, x, pe = toy(2)
    torch.manual_seed(0)
    model = Whatsnet(5, 3, **SMALL).eval()
    flipped = 1.0 - pe
    assert not torch.allclose(model(x, index, pe=pe), model(x, index, pe=flipped), atol=1e-4)


def test_matches_the_authors_model_on_a_toy_hypergraph():
    """Their Whatsnet + sm scorer (weights, inputs and logits in the fixture) vs ours with the same weights."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = FIXTURES / "whatsnet_oracle_toy.safetensors"
    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["config"])
    t = load_file(str(path))
    model = Whatsnet(**config).eval()
    model.load_state_dict({k[len("model.") :]: v for k, v in t.items() if k.startswith("model.")})
    out = model(t["x"], t["hyperedge_index"], pe=t["pe"])
    assert out.shape == t["logits"].shape
    assert torch.allclose(out, t["logits"], atol=1e-5), (out - t["logits"]).abs().max()


def test_parameter_count_equals_the_authors_model():
    """The oracle's record carries the parameter count of their Whatsnet + scorer at the Stack-Biology settings."""
    record = json.loads((FIXTURES / "whatsnet_enc_oracle_stack_biology.json").read_text())
    model = enc.build_enc_model("whatsnet", 44, 3)
    body = sum(p.numel() for p in model.convs.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    assert (body, head) == (record["parameters"]["embedder"], record["parameters"]["scorer"])
    args = record["settings"]
    flag = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
    assert int(flag["--dim_hidden"]) == enc.WHATSNET_ENC["hidden_channels"]
    assert int(flag["--dim_vertex"]) == enc.WHATSNET_ENC["node_channels"]
    assert int(flag["--dim_edge"]) == enc.WHATSNET_ENC["edge_channels"] == enc.WHATSNET_ENC["edge_in_channels"]
    assert float(flag["--dropout"]) == enc.WHATSNET_ENC["dropout"]
    assert int(flag["--num_att_layer"]) == enc.WHATSNET_ENC["num_att_layers"]
    assert int(flag["--bs"]) == enc.WHATSNET_TRAIN["batch_size"]
    assert float(flag["--lr"]) == enc.WHATSNET_TRAIN["lr"] and float(flag["--gamma"]) == enc.WHATSNET_TRAIN["gamma"]
    assert int(flag["--sampling"]) == enc.WHATSNET_TRAIN["hedge_sampling"]
    assert len(flag["--vorder_input"].split(",")) == enc.WHATSNET_ENC["pe_channels"]


def test_uncapped_sample_of_sampling_hops_gives_the_full_graph_logits():
    """``sampling_hops`` (num_layers + 1) hops hold the whole receptive field of the seed hyperedges."""
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    torch.manual_seed(0)
    model = enc.build_enc_model("whatsnet", 8, 3, **SMALL).eval()
    full = enc.incidence_logits(model, task)
    sampler = HyperedgeSampler(task.hg, enc.train_hyperedges(task), 9, model.sampling_hops, None, seed=1)
    batch = next(iter(sampler))
    rows, listed = enc.batch_rows(task, batch, task.split.train)
    out = model(task.x[batch.node_ids], batch.hg, pe=task.pe[batch.incidence_ids])
    assert torch.allclose(out[rows], full[listed], atol=1e-5)
    short = HyperedgeSampler(task.hg, enc.train_hyperedges(task), 9, 2, None, seed=1)
    b2 = next(iter(short))
    rows2, listed2 = enc.batch_rows(task, b2, task.split.train)
    out2 = model(task.x[b2.node_ids], b2.hg, pe=task.pe[b2.incidence_ids])
    assert not torch.allclose(out2[rows2], full[listed2], atol=1e-5)  # one hop short: the receptive field is cut


def test_learns_a_planted_problem_full_batch_and_minibatch():
    task = enc.prepare_enc(planted_enc(), feature_dim=8)
    torch.manual_seed(0)
    model = enc.build_enc_model("whatsnet", 8, 3, **SMALL)
    res = enc.train_enc(model, task, epochs=40, lr=3e-3, patience=None, progress=False, eval_every=40)
    assert res.history[-1]["loss"] < 0.8 * torch.log(torch.tensor(3.0)).item()
    assert res.test_micro_f1 > 0.5  # the majority class (label 1) is ~0.47 of the incidences
    model = enc.build_enc_model("whatsnet", 8, 3, **SMALL)
    train = {**enc.WHATSNET_TRAIN, "batch_size": 16, "lr": 3e-3, "eval_every": 2}
    res = enc.train_enc_minibatch(model, task, epochs=4, progress=False, **train)
    losses = [r["loss"] for r in res.history]
    assert losses[-1] < losses[0]


def test_registered_in_the_model_zoo():
    model = build_model("whatsnet", 5, 3, **SMALL)
    index, x, _ = toy()
    assert model(x, index).shape == (index.shape[1], 3)  # pe_channels=0 by default outside ENC


def test_oracle_record_is_consistent():
    """The committed numbers of the authors' code (scripts/oracle_whatsnet_enc.py) obey their own selection rule."""
    data = json.loads((FIXTURES / "whatsnet_enc_oracle_stack_biology.json").read_text())
    curve, every = data["val_curve"], data.get("test_epoch", 5)
    assert [c["epoch"] for c in curve] == list(range(every, data["epochs"] + 1, every))
    vals = [c["val_micro"] for c in curve]
    assert data["best_epoch"] == curve[vals.index(max(vals))]["epoch"]  # first best validation micro-F1
    for key in ("test_micro_f1", "test_macro_f1"):
        assert 0.0 < data[key] < 1.0
    assert len(data["train_seconds_per_epoch"]) == data["epochs"]
