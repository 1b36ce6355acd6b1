import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph import Hypergraph, hsbm
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.nn import HGNNConv
from graphhyper.hypergraph.sampling import (
    HyperedgeSampler,
    NodeSampler,
    SampledHypergraph,
    hop_pointers,
    sample_segments,
    trim,
)


@pytest.fixture(scope="module")
def small():
    hg, x, y = hsbm(120, 90, num_classes=3, feature_dim=6, mean_edge_size=4, seed=3)
    w = 0.5 + torch.rand(hg.num_edges, generator=torch.Generator().manual_seed(0))
    return hg._replace(hyperedge_weight=w), x, y


def _pairs(batch):
    """The sub-hypergraph's incidences as global (node, hyperedge) pairs."""
    sub = batch.hg
    return set(zip(batch.node_ids[sub.inc_node].tolist(), batch.edge_ids[sub.inc_edge].tolist()))


def _brute_force(hg, seeds, hops):
    """All incidences of the hyperedges within `hops` hops of the seed nodes (no caps), with python sets."""
    members = hg.hyperedges()
    edges_of = [set() for _ in range(hg.num_nodes)]
    for e, nodes in enumerate(members):
        for v in nodes:
            edges_of[v].add(e)
    frontier, seen_nodes, seen_edges = set(seeds), set(seeds), set()
    for _ in range(hops):
        new_edges = {e for v in frontier for e in edges_of[v]} - seen_edges
        seen_edges |= new_edges
        frontier = {v for e in new_edges for v in members[e]} - seen_nodes
        seen_nodes |= frontier
    return {(v, e) for e in seen_edges for v in members[e]}, seen_nodes


@pytest.mark.parametrize("hops", [1, 2])
def test_full_fanout_subgraph_matches_brute_force(small, hops):
    hg, _, _ = small
    seeds = torch.tensor([5, 17, 3, 64])
    batch = NodeSampler(hg, num_layers=hops, batch_size=4).sample(seeds)
    pairs, nodes = _brute_force(hg, seeds.tolist(), hops)
    assert _pairs(batch) == pairs
    assert set(batch.node_ids.tolist()) == nodes and batch.node_ids.unique().numel() == batch.node_ids.numel()
    assert torch.equal(batch.node_ids[batch.seed_local], seeds) and torch.equal(batch.seeds, seeds)
    sub = batch.hg
    assert torch.equal(sub.hyperedge_weight, hg.hyperedge_weight[batch.edge_ids])
    assert isinstance(sub, SampledHypergraph)
    assert torch.equal(sub.weighted_node_degree, hg.weighted_node_degree[batch.node_ids])
    assert torch.equal(sub.edge_degree, hg.edge_degree[batch.edge_ids])  # no cap: whole hyperedges


def test_caps_bound_the_sample_and_keep_real_incidences(small):
    hg, _, _ = small
    all_pairs = set(zip(hg.inc_node.tolist(), hg.inc_edge.tolist()))
    seeds = torch.arange(0, 40, 4)
    sampler = NodeSampler(hg, num_layers=1, max_edges_per_node=2, max_nodes_per_edge=2, batch_size=10)
    batch = sampler.sample(seeds, torch.Generator().manual_seed(1))
    pairs = _pairs(batch)
    assert pairs <= all_pairs
    sub_deg = torch.bincount(batch.hg.inc_node, minlength=batch.hg.num_nodes)
    full_deg = hg.node_degree[seeds]
    assert bool((sub_deg[: seeds.numel()] >= full_deg.clamp(max=2)).all())
    # each hyperedge holds its <= 2 sampled members plus the seeds that chose it
    seed_set = set(seeds.tolist())
    for e_local in range(batch.hg.num_edges):
        members = batch.node_ids[batch.hg.inc_node[batch.hg.inc_edge == e_local]].tolist()
        assert len([v for v in members if v not in seed_set]) <= 2
    local = NodeSampler(hg, num_layers=1, max_edges_per_node=2, batch_size=10, degrees="local").sample(seeds)
    assert type(local.hg) is Hypergraph
    assert torch.allclose(local.hg.weighted_node_degree, _weighted_degree(local.hg))


def _weighted_degree(hg):
    return torch.zeros(hg.num_nodes).index_add_(0, hg.inc_node, hg.hyperedge_weight[hg.inc_edge])


def test_sample_segments_without_replacement():
    ptr = torch.tensor([0, 5, 6, 6, 16])
    segs = torch.tensor([3, 0, 1, 2])
    pos = sample_segments(ptr, segs, 3, torch.Generator().manual_seed(0))
    assert pos.unique().numel() == pos.numel() == 3 + 3 + 1 + 0
    assert bool(((pos[:3] >= 6) & (pos[:3] < 16)).all()) and bool((pos[3:6] < 5).all()) and int(pos[6]) == 5
    assert torch.equal(sample_segments(ptr, segs, None, None), torch.cat([torch.arange(6, 16), torch.arange(6)]))
    # uniform: every position of a capped segment is drawn about equally often
    gen = torch.Generator().manual_seed(1)
    counts = torch.bincount(torch.cat([sample_segments(ptr, segs[:1], 2, gen) for _ in range(2000)]), minlength=16)
    assert bool(((counts[6:] > 300) & (counts[6:] < 500)).all())  # expectation 400


def test_epoch_covers_every_seed_once_and_is_deterministic(small):
    hg, _, _ = small
    pool = torch.arange(0, 100, 3)
    sampler = NodeSampler(hg, pool, batch_size=8, max_edges_per_node=3, max_nodes_per_edge=3, seed=7)
    sampler.set_epoch(2)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 5
    assert sorted(torch.cat([b.seeds for b in batches]).tolist()) == pool.tolist()
    again = NodeSampler(hg, pool, batch_size=8, max_edges_per_node=3, max_nodes_per_edge=3, seed=7)
    again.set_epoch(2)
    for a, b in zip(batches, again):
        assert torch.equal(a.seeds, b.seeds) and a.hg == b.hg and torch.equal(a.node_ids, b.node_ids)
    again.set_epoch(3)
    assert not torch.equal(torch.cat([b.seeds for b in again]), torch.cat([b.seeds for b in batches]))


def test_shards_are_equal_and_cover_the_pool(small):
    hg, _, _ = small
    pool = torch.arange(11)
    shards = [NodeSampler(hg, pool, batch_size=4, seed=1, rank=r, world_size=2) for r in range(2)]
    steps = [list(s.seed_batches()) for s in shards]
    assert len(steps[0]) == len(steps[1]) == 3
    for a, b in zip(*steps):
        assert a.numel() == b.numel() and not set(a.tolist()) & set(b.tolist())
    assert set(torch.cat([torch.cat(s) for s in steps]).tolist()) == set(range(11))  # 12 slots: one repeat
    with pytest.raises(InvalidInputError, match="multiple of world_size"):
        NodeSampler(hg, pool, batch_size=5, world_size=2)


def test_full_fanout_equals_full_batch_at_the_seeds(small):
    hg, x, _ = small
    seeds = torch.tensor([1, 50, 99, 7, 33])
    torch.manual_seed(0)
    conv = HGNNConv(6, 4)
    one = NodeSampler(hg, num_layers=1).sample(seeds)
    full = conv(x, hg)[seeds]
    assert torch.allclose(conv(x[one.node_ids], one.hg)[one.seed_local], full, atol=1e-5)
    model = build_model("hgnn", 6, 3, hidden_channels=8).eval()
    two = NodeSampler(hg, num_layers=2).sample(seeds)
    with torch.no_grad():
        expected = model(x, hg)[seeds]
        got = model(x[two.node_ids], two.hg)[two.seed_local]
    assert torch.allclose(got, expected, atol=1e-5)
    # the sub-hypergraph's own degrees would not give the full-batch output
    local = NodeSampler(hg, num_layers=1, degrees="local").sample(seeds)
    assert not torch.allclose(conv(x[local.node_ids], local.hg)[local.seed_local], full, atol=1e-5)


def test_hyperedge_sampler(small):
    hg, _, _ = small
    seeds = torch.tensor([4, 0, 30])
    batch = HyperedgeSampler(hg, batch_size=3).sample(seeds)
    members = hg.hyperedges()
    assert _pairs(batch) == {(v, e) for e in seeds.tolist() for v in members[e]}
    assert torch.equal(batch.edge_ids[batch.seed_local], seeds)
    capped = HyperedgeSampler(hg, batch_size=3, max_nodes_per_edge=2).sample(seeds, torch.Generator().manual_seed(0))
    assert bool((capped.hg.edge_degree <= 2).all())
    grown = HyperedgeSampler(hg, batch_size=3, num_layers=2).sample(seeds)
    assert _pairs(batch) < _pairs(grown)
    assert len(list(HyperedgeSampler(hg, batch_size=32))) == 3


def test_bad_input_names_the_fix(small):
    hg, _, _ = small
    with pytest.raises(InvalidInputError, match="positive int"):
        NodeSampler(hg, max_edges_per_node=0)
    with pytest.raises(InvalidInputError, match="distinct"):
        NodeSampler(hg, torch.tensor([1, 1, 2]))
    with pytest.raises(InvalidInputError, match="degrees"):
        NodeSampler(hg, degrees="both")
    with pytest.raises(InvalidInputError, match="distinct"):
        NodeSampler(hg).sample(torch.tensor([3, 3]))


def test_sampled_hypergraph_keeps_global_degree_when_moved(small):
    hg, _, _ = small
    batch = NodeSampler(hg, num_layers=1).sample(torch.tensor([2, 9]))
    moved = batch.hg.to("meta")
    assert isinstance(moved, SampledHypergraph) and moved.weighted_node_degree.device.type == "meta"


def test_incidence_features_and_node_weights_follow_their_incidences(small):
    hg, _, _ = small
    feats = torch.arange(hg.nnz, dtype=torch.float32)[:, None].repeat(1, 2)
    nw = torch.rand(hg.num_nodes, generator=torch.Generator().manual_seed(2))
    rich = Hypergraph(hg.num_nodes, hyperedge_index=hg.hyperedge_index, incidence_features=feats, node_weight=nw)
    batch = NodeSampler(rich, num_layers=2, max_edges_per_node=2, max_nodes_per_edge=3).sample(
        torch.tensor([8, 1, 40]), torch.Generator().manual_seed(4)
    )
    sub = batch.hg
    got = sub.incidence_features[:, 0].long()  # the global incidence id each local incidence came from
    assert torch.equal(rich.inc_node[got], batch.node_ids[sub.inc_node])
    assert torch.equal(rich.inc_edge[got], batch.edge_ids[sub.inc_edge])
    assert torch.equal(sub.node_weight, nw[batch.node_ids])


@pytest.mark.parametrize("name", ["hgnn", "hgnnp"])
@pytest.mark.parametrize("hops", [1, 2, 3])
def test_per_layer_trims_equal_full_batch_and_untrimmed_at_the_seeds(small, name, hops):
    hg, x, _ = small
    seeds = torch.tensor([1, 50, 99, 7, 33])
    torch.manual_seed(0)
    model = build_model(name, 6, 3, hidden_channels=8, num_layers=hops).eval()
    trimmed = NodeSampler(hg, num_layers=hops).sample(seeds)
    whole = NodeSampler(hg, num_layers=hops, trim=False).sample(seeds)
    assert hop_pointers(whole.hg) is None
    with torch.no_grad():
        expected = model(x, hg)[seeds]
        got = model(x[trimmed.node_ids], trimmed.hg)
        untrimmed = model(x[whole.node_ids], whole.hg)
    assert got.shape == (5, 3) and untrimmed.shape == (whole.hg.num_nodes, 3)  # the trimmed model scores seeds only
    assert torch.allclose(got, expected, atol=1e-5)
    # the untrimmed sample runs the layers' fused CPU path, the trims the generic one: equal up to rounding
    assert torch.allclose(got, untrimmed[whole.seed_local], rtol=1e-6, atol=1e-6)


def test_hop_pointers_and_trims_are_prefixes_by_hop(small):
    hg, _, _ = small
    seeds = torch.tensor([4, 8, 15])
    batch = NodeSampler(hg, num_layers=2, max_edges_per_node=2, max_nodes_per_edge=3).sample(seeds, None)
    ptr = hop_pointers(batch.hg)
    assert ptr is not None and ptr.num_hops == 2 and ptr.nodes[1] == 3
    assert ptr.nodes[-1] == batch.hg.num_nodes and ptr.edges[-1] == batch.hg.num_edges
    one = trim(batch.hg, 1)
    assert (one.num_nodes, one.num_edges, one.nnz) == (ptr.nodes[2], ptr.edges[1], ptr.incidences[1])
    assert bool((one.inc_edge < ptr.edges[1]).all()) and bool(
        (batch.hg.inc_edge[ptr.incidences[1] :] >= ptr.edges[1]).all()
    )
    # every hyperedge of the trim keeps all its sampled members, and the degrees are the sample's
    assert torch.equal(one.edge_degree, batch.hg.edge_degree[: ptr.edges[1]])
    assert torch.equal(one.weighted_node_degree, batch.hg.weighted_node_degree[: ptr.nodes[2]])
    # hop-1 hyperedges were reached from the seeds, hop-1 nodes from hop-1 hyperedges
    first = set(batch.edge_ids[: ptr.edges[1]].tolist())
    assert first <= {e for e in range(hg.num_edges) if set(hg.inc_node[hg.inc_edge == e].tolist()) & {4, 8, 15}}
    with pytest.raises(InvalidInputError, match="hops=3"):
        trim(batch.hg, 3)
    with pytest.raises(InvalidInputError, match="NodeSampler sub-hypergraph"):
        trim(batch.hg.add_self_loops(), 1)
    assert hop_pointers(HyperedgeSampler(hg).sample(torch.tensor([0, 1])).hg) is None


@pytest.mark.parametrize("name", ["hgnn", "hgnnp"])
def test_trimmed_step_has_the_untrimmed_gradients(small, name):
    """Propagating before the linear map (fewer input than hidden channels) and trimming change neither the loss
    nor the gradients of an uncapped step."""
    hg, x, y = small
    seeds = torch.tensor([3, 9, 27, 81])
    torch.manual_seed(1)
    model = build_model(name, 6, 3, hidden_channels=16, dropout=0.0)
    grads = []
    for trimmed in (True, False):
        batch = NodeSampler(hg, num_layers=2, trim=trimmed).sample(seeds)
        model.zero_grad()
        logits = model(x[batch.node_ids], batch.hg)[batch.seed_local]
        torch.nn.functional.cross_entropy(logits, y[seeds]).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    assert grads[0].abs().sum() > 0 and torch.allclose(grads[0], grads[1], atol=1e-6)


@pytest.mark.parametrize("name", ["unigcn", "unigcnii"])
@pytest.mark.parametrize("layers, hops", [(2, 2), (3, 1)])
def test_self_loop_models_trim_to_the_untrimmed_output(small, name, layers, hops):
    """UniGCN/UniGCNII add self loops: each trim gets its own, with the looped sample's degrees (with global
    degrees: the whole looped hypergraph's, so uncapped they match full batch); more layers than hops run the
    first layers on the whole sample."""
    hg, x, _ = small
    seeds = torch.tensor([1, 50, 99, 7, 33])
    torch.manual_seed(0)
    model = build_model(name, 6, 3, hidden_channels=8, num_layers=layers).eval()
    for degrees in ("global", "local"):
        trimmed = NodeSampler(hg, num_layers=hops, degrees=degrees).sample(seeds)
        whole = NodeSampler(hg, num_layers=hops, degrees=degrees, trim=False).sample(seeds)
        with torch.no_grad():
            got = model(x[trimmed.node_ids], trimmed.hg)
            expected = model(x[whole.node_ids], whole.hg)[whole.seed_local]
        assert got.shape == (5, 3) and torch.allclose(got, expected, atol=1e-6)
        if degrees == "global" and hops == layers:  # the sample's self loops give the whole hypergraph's degrees
            with torch.no_grad():
                assert torch.allclose(got, model(x, hg)[seeds], atol=1e-5)


def test_self_loops_of_a_sample_add_the_whole_hypergraphs_loop_weights():
    hg = Hypergraph(4, hyperedge_index=torch.tensor([[0, 1, 2, 1, 3], [0, 0, 0, 1, 2]]))  # node 1 has {1}
    batch = NodeSampler(hg, num_layers=1).sample(torch.tensor([0]))  # reaches nodes 0, 1, 2 but not {1}
    looped = batch.hg.add_self_loops()
    expected = hg.add_self_loops().weighted_node_degree[batch.node_ids]
    assert torch.equal(looped.weighted_node_degree, expected)
    assert torch.equal(looped.add_self_loops().weighted_node_degree, expected)  # a second call adds nothing
