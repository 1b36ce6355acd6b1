"""The shortcuts on the published-GHN path give what the plain computations give.

- Virtual edges by one sweep over a topologically numbered graph = a breadth-first search from every node.
- The GHN-3 decoder computing only the rows that survive its cuts = decoding the whole block and cutting it.
- ``trace`` skipping ``torch.export`` for a model whose output export cannot return = the eager meta pass it
  would have fallen back to.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphhyper.arch import trace
from graphhyper.ghn.reference.layers import TiledDecoder, _center_window
from graphhyper.ghn.reference.view import _virtual_edges, _virtual_edges_bfs


@pytest.mark.parametrize("n,p", [(1, 0.5), (7, 0.4), (60, 0.08), (300, 0.01)])
@pytest.mark.parametrize("cutoff", [2, 3, 50])
def test_virtual_edges_sweep_equals_bfs(n: int, p: float, cutoff: int) -> None:
    g = torch.Generator().manual_seed(n * 100 + cutoff)
    adj = (torch.rand(n, n, generator=g) < p).long().triu(1)
    fast = _virtual_edges(adj, cutoff)
    assert fast.dtype == torch.long and torch.equal(fast, _virtual_edges_bfs(adj, cutoff))
    if n > 7:
        assert int(fast.max()) > 1  # there are virtual edges to get right


def test_virtual_edges_of_a_graph_not_in_topological_order() -> None:
    # 2 -> 0 -> 1 -> 3: an edge to a lower number, so the sweep does not apply and the search runs
    adj = torch.zeros(4, 4, dtype=torch.long)
    for i, j in [(2, 0), (0, 1), (1, 3)]:
        adj[i, j] = 1
    out = _virtual_edges(adj, 50)
    assert torch.equal(out, _virtual_edges_bfs(adj, 50))
    assert out[2, 1] == 2 and out[2, 3] == 3 and out[0, 3] == 2 and out[3].sum() == 0


def _decode_whole_block(dec: TiledDecoder, x: torch.Tensor, want: tuple[int, ...], class_pred: bool, centred: bool):
    """The published order: the full ``[4C, S, S]`` map, cropped, decoded to all ``O·I`` rows, then cut."""
    n = x.shape[0]
    h = dec.fc(x).view(n, -1, *dec.out_shape[2:])
    if centred:
        h = h[:, :, _center_window(dec.out_shape[2], want[2]), _center_window(dec.out_shape[3], want[3])]
    else:
        h = h[:, :, : want[2], : want[3]]
    o, i = dec.out_shape[:2]
    y = dec.conv(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    y = y.reshape(n, o, i, *y.shape[2:])[:, :, : want[1], : want[2], : want[3]]
    if min(want[2:]) > min(dec.out_shape[2], want[2], dec.out_shape[3], want[3]):
        flat = F.interpolate(y.flatten(0, 1), tuple(want[2:]), mode="bilinear")
        y = flat.view(n, -1, *flat.shape[1:])
    if class_pred:
        k = y.shape[-1] // 2
        return dec.class_layer_predictor(y[:, :, :, k, k].permute(0, 2, 1)).permute(0, 2, 1)
    return y[:, : want[0]]


WANTS = [(8, 8, 1, 1), (8, 8, 3, 3), (4, 8, 3, 3), (8, 3, 5, 5), (2, 6, 1, 1), (8, 8, 7, 7), (8, 8, 9, 9)]
WANTS += [(1, 24, 4, 4)]  # a ViT position-embedding key: more input channels than I


@pytest.mark.parametrize("centred", [True, False])
def test_decoder_computes_only_what_survives_the_cuts(centred: bool) -> None:
    torch.manual_seed(0)
    dec = TiledDecoder(16, (8, 8, 7, 7), num_classes=10)
    with torch.no_grad():
        for p in dec.parameters():
            p.normal_(0.0, 0.3)
        for n, want, class_pred in itertools.product((1, 4), WANTS, (False, True)):
            if class_pred and want[2:] != (1, 1):
                continue
            x = torch.randn(n, 16)
            got = dec.forward_ghn3(x, want, class_pred=class_pred, centred=centred)
            ref = _decode_whole_block(dec, x, want, class_pred, centred)
            assert got.shape == ref.shape, (n, want, class_pred)
            torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-6 * float(ref.abs().max()))


class _CacheLike:
    """Stands for transformers' DynamicCache: an object in the output that torch.export cannot return."""


class _ReturnsCache(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, _CacheLike]:
        x = x * float(int(x.shape[-1]))  # int() of a traced size: fx fails, meta tensors and export do not
        return self.b(torch.relu(self.a(x))), _CacheLike()


def test_trace_skips_export_for_an_output_it_cannot_return() -> None:
    model = _ReturnsCache()
    graph = trace(model, input_shape=(1, 4))
    assert graph.meta["trace_path"] == "autograd"
    assert any(n.startswith("export skipped") and "_CacheLike" in n for n in graph.meta["notes"])
    eager = trace(model, input_shape=(1, 4), paths=("autograd",))
    assert [(n.name, n.op, n.params) for n in graph.nodes] == [(n.name, n.op, n.params) for n in eager.nodes]
    assert sorted(graph.edges) == sorted(eager.edges)


def test_trace_still_exports_when_export_can_return_the_output() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x * float(int(x.shape[-1])))  # fx fails on int() of a traced size; export does not

    graph = trace(Branchy(), input_shape=(1, 4))
    assert graph.meta["trace_path"] in ("export", "autograd")
    assert not any(n.startswith("export skipped") for n in graph.meta["notes"])
