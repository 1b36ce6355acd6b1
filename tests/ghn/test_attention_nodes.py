"""``GHNConfig.attention_nodes``: the graph transformer's log-length attention rule (prediction time, off by default).

A graph of ``N > N_ref`` nodes gets its attention logits multiplied by ``log N / log N_ref``; smaller graphs, and
every GHN whose config lacks the key, are predicted exactly as before.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from graphhyper.arch.spaces import gpt
from graphhyper.errors import InvalidInputError
from graphhyper.ghn import GHN, GHNConfig, load, save
from graphhyper.ghn.encoders import GraphTransformerLayer, log_length_scale


def test_log_length_scale():
    assert log_length_scale(200, 0) == 1.0  # off
    assert log_length_scale(67, 67) == 1.0 and log_length_scale(30, 67) == 1.0  # not larger than the reference
    assert log_length_scale(187, 67) == pytest.approx(math.log(187) / math.log(67))
    assert log_length_scale(187, 67) > 1.0


def test_layer_scales_the_whole_logit():
    """softmax(s (q k^T / sqrt(d_h) + b)) v, written out by hand, against the layer with ``scale=s``."""
    torch.manual_seed(0)
    layer = GraphTransformerLayer(16, 2).eval()
    x, bias, s = torch.randn(9, 16), torch.randn(2, 9, 9), 1.7
    q, k, v = layer.qkv(layer.ln1(x)).view(9, 3, 2, 8).permute(1, 2, 0, 3)
    att = torch.softmax(s * (q @ k.transpose(1, 2) / math.sqrt(8) + bias), dim=-1) @ v
    h = x + layer.out(att.transpose(0, 1).reshape(9, 16))
    want = h + layer.ff(layer.ln2(h))
    torch.testing.assert_close(layer(x, bias, s), want, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(layer(x, bias, 1.0), want, atol=1e-3)


def test_config_default_old_json_and_bad_value(tmp_path):
    assert GHNConfig().attention_nodes == 0
    old = {k: v for k, v in GHNConfig().to_dict().items() if k != "attention_nodes"}
    assert GHNConfig.from_dict(old).attention_nodes == 0
    with pytest.raises(InvalidInputError, match="attention_nodes.*largest training graph"):
        GHNConfig(attention_nodes=1).validate()
    with pytest.raises(InvalidInputError, match="attention_nodes"):
        GHNConfig(attention_nodes=-3).validate()
    ghn = GHN(GHNConfig(hidden=16, layers=1, rank=4, heads=2, attention_nodes=20))
    save(ghn, tmp_path / "g")
    assert json.loads((tmp_path / "g.json").read_text())["config"]["attention_nodes"] == 20
    assert load(tmp_path / "g").config.attention_nodes == 20


def _predict(ghn: GHN, depth: int) -> dict[str, torch.Tensor]:
    graph = gpt.spec_to_graph(gpt.GPTSpec(depth=depth, width=32, heads=2, vocab=64, context=16))
    with torch.no_grad():
        return dict(ghn.predict(graph).items())


def test_prediction_changes_only_past_the_reference():
    """A 1-block decoder (22 nodes) is predicted bit-identically with the rule at N_ref = 22 or off; a 3-block one
    (52 nodes) changes at N_ref = 22 and not at N_ref = 52."""
    torch.manual_seed(3)
    off = GHN(GHNConfig(hidden=16, layers=2, rank=4, heads=2)).eval()
    n1 = int(gpt.spec_to_graph(gpt.GPTSpec(depth=1, width=32, heads=2, vocab=64, context=16)).num_nodes)
    n3 = int(gpt.spec_to_graph(gpt.GPTSpec(depth=3, width=32, heads=2, vocab=64, context=16)).num_nodes)
    assert n1 < n3
    on = copy.deepcopy(off)
    on.config.attention_nodes = n1
    a, b = _predict(off, 1), _predict(on, 1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    a, b = _predict(off, 3), _predict(on, 3)
    assert any(not torch.allclose(a[k], b[k]) for k in a)
    on.config.attention_nodes = n3
    b = _predict(on, 3)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_flag_sets_the_rule_and_refuses_where_it_does_nothing():
    """``graphhyper ghn predict --attention-nodes N``: set on a transformer-encoder GHN, refused (with the fix named)
    on a GatedGNN encoder and for values the rule cannot take."""
    import argparse

    from graphhyper.cli.ghn import _set_attention_nodes

    ghn = GHN(GHNConfig(hidden=16, layers=1, rank=4, heads=2, encoder="transformer"))
    _set_attention_nodes(ghn, argparse.Namespace(attention_nodes=67, ckpt="mine"))
    assert ghn.config.attention_nodes == 67
    for bad in (1, -5):
        with pytest.raises(InvalidInputError, match="0 \\(off\\) or N >= 2"):
            _set_attention_nodes(ghn, argparse.Namespace(attention_nodes=bad, ckpt="mine"))
    gated = GHN(GHNConfig(hidden=16, layers=1, encoder="gatedgnn", decoder="tiled"))
    with pytest.raises(InvalidInputError, match="drop --attention-nodes"):
        _set_attention_nodes(gated, argparse.Namespace(attention_nodes=67, ckpt="gated"))
    assert gated.config.attention_nodes == 0
