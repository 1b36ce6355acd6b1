"""trace(): nn.Module -> ArchGraph on meta tensors, for torchvision and Hugging Face models and for bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from graphhyper.arch import meta_init, register_function_op, register_module_op, trace
from graphhyper.arch import ops as arch_ops
from graphhyper.errors import GraphhyperError, InvalidInputError, TraceError

torchvision = pytest.importorskip("torchvision")
_TV_MODELS = torchvision.models.list_models(module=torchvision.models)


def _check_complete(graph, model):
    expected = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert graph.parameters == expected
    assert graph.unmapped_parameters() == [], graph.meta.get("unmapped_reason")
    assert graph.unknown_ops() == []
    owners = [name for node in graph.nodes for name in node.params]
    assert sorted(owners) == sorted(expected)  # every parameter owned by exactly one node
    assert all(s < d for s, d in graph.edges)
    assert graph.nodes[-1].op == "output" and any(n.op == "input" for n in graph.nodes)


def test_torchvision_list_is_complete():
    assert len(_TV_MODELS) >= 75


@pytest.mark.parametrize("name", _TV_MODELS)
def test_trace_every_torchvision_classifier(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with meta_init():
            model = torchvision.models.get_model(name)
    size = 299 if name.startswith("inception") else 224
    graph = trace(model, input_shape=(1, 3, size, size), name=name)
    assert graph.meta["trace_path"] == "fx"
    _check_complete(graph, model)
    assert graph.nodes[-2].out_shape == (1, 1000) or any(n.out_shape == (1, 1000) for n in graph.nodes)
    assert sum(n.op == "conv" for n in graph.nodes) >= 1


def _hf_models():
    tf = pytest.importorskip("transformers")
    small = dict(hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2)
    return {
        "gpt2": (
            lambda: tf.GPT2Model(
                tf.GPT2Config(
                    n_layer=2, n_embd=32, n_head=4, vocab_size=97, n_positions=16, bos_token_id=0, eos_token_id=0
                )
            ),
            "ids",
        ),
        "bert": (lambda: tf.BertModel(tf.BertConfig(vocab_size=97, max_position_embeddings=16, **small)), "ids"),
        "vit": (lambda: tf.ViTModel(tf.ViTConfig(image_size=16, patch_size=4, **small)), "pixels"),
        "llama": (
            lambda: tf.LlamaModel(
                tf.LlamaConfig(vocab_size=97, max_position_embeddings=16, num_key_value_heads=2, **small)
            ),
            "ids",
        ),
    }


@pytest.mark.parametrize("name", ["gpt2", "bert", "vit", "llama"])
def test_trace_huggingface(name):
    factory, kind = _hf_models()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with meta_init():
            model = factory()
    inputs = (
        {"input_ids": torch.zeros(1, 8, dtype=torch.long)}
        if kind == "ids"
        else {"pixel_values": torch.zeros(1, 3, 16, 16)}
    )
    graph = trace(model, example_inputs=inputs, name=name)
    assert graph.meta["trace_path"] in ("fx", "export", "autograd")
    _check_complete(graph, model)
    ops = graph.op_histogram()
    assert ops.get("linear", 0) >= 8 and ops.get("attention", 0) >= 2
    if name == "gpt2":  # transformers' Conv1D is a linear layer with a transposed weight
        node = next(n for n in graph.nodes if n.name.endswith("attn.c_attn"))
        assert node.op == "linear" and node.attrs == {"in_features": 32, "out_features": 96}
    if name == "llama":
        assert ops.get("rms_norm", 0) == 5 and ops.get("embedding", 0) == 1


def test_no_activation_is_allocated():
    model = torchvision.models.resnet18()
    before = {n: (p.data_ptr(), p.device) for n, p in model.named_parameters()}
    model.train()
    # the first conv's activation alone would need 64 * 64 * 4096 * 4096 * 4 bytes = 275 GB
    graph = trace(model, input_shape=(64, 3, 8192, 8192))
    assert graph.nodes[1].out_shape == (64, 64, 4096, 4096)
    assert {n: (p.data_ptr(), p.device) for n, p in model.named_parameters()} == before  # model untouched
    assert model.training and model.layer1[0].bn1.training


def test_functional_and_tied_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(11, 6)
            self.head = nn.Linear(6, 11, bias=False)
            self.head.weight = self.emb.weight  # tied
            self.scale = nn.Parameter(torch.ones(6))
            self.proj = nn.Parameter(torch.zeros(6, 6))

        def forward(self, ids):
            h = self.emb(ids) * self.scale
            h = F.linear(h, self.proj)
            return self.head(h)

    model = Net()
    for path in ("fx", "autograd"):
        graph = trace(model, example_inputs=torch.zeros(2, 5, dtype=torch.long), paths=(path,))
        assert graph.meta["trace_path"] == path
        _check_complete(graph, model)
        owner = graph.param_owner()
        assert set(owner) == {"emb.weight", "scale", "proj"}
        assert graph.nodes[owner["scale"]].op == "mul" and graph.nodes[owner["proj"]].op == "linear"
        assert graph.nodes[owner["emb.weight"]].op == "embedding"


def test_fx_and_autograd_paths_agree_on_a_cnn():
    model = torchvision.models.resnet18()
    fx_graph = trace(model, input_shape=(1, 3, 64, 64), paths=("fx",))
    ag_graph = trace(model, input_shape=(1, 3, 64, 64), paths=("autograd",))
    assert fx_graph.op_histogram() == ag_graph.op_histogram()
    assert fx_graph.param_owner().keys() == ag_graph.param_owner().keys()
    assert fx_graph.structural_hash() == ag_graph.structural_hash()


def test_fallback_is_recorded():
    class DataDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            for _ in range(int(x.shape[0])):  # int() of an fx Proxy fails: fx cannot trace this
                x = torch.relu(self.lin(x))
            return x

    graph = trace(DataDependent(), input_shape=(3, 4))
    assert graph.meta["trace_path"] in ("export", "autograd")
    assert graph.meta["notes"] and graph.meta["notes"][0].startswith("fx failed")
    assert graph.op_histogram()["linear"] == 3  # the module is called three times, its params owned once
    assert graph.unmapped_parameters() == []


def test_unknown_ops_are_reported_and_registrable():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x):
            return torch.special.erfcx(self.lin(x))

    graph = trace(Net(), input_shape=(1, 4))
    assert len(graph.unknown_ops()) == 1
    name, target = graph.unknown_ops()[0]
    assert "erfcx" in target and graph.nodes[graph.param_owner()["lin.weight"]].op == "linear"
    assert "unknown ops: 1" in graph.summary() and any("erfcx" in note for note in graph.meta["notes"])
    register_function_op(torch.special.erfcx, "erf")
    try:
        assert trace(Net(), input_shape=(1, 4)).unknown_ops() == []
    finally:
        arch_ops._FUNC_BY_OBJ.pop(torch.special.erfcx, None)


def test_registered_module_is_one_leaf_node():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 8)
            self.b = nn.Linear(8, 4)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    model = nn.Sequential(Block(), nn.ReLU())
    assert trace(model, input_shape=(1, 4)).op_histogram()["linear"] == 2
    register_module_op(Block, "linear")
    try:
        graph = trace(model, input_shape=(1, 4))
        node = next(n for n in graph.nodes if n.name == "0")
        assert node.op == "linear" and set(node.params) == {"0.a.weight", "0.a.bias", "0.b.weight", "0.b.bias"}
    finally:
        arch_ops._MODULE_OPS.pop(Block, None)
        arch_ops._MODULE_LOOKUP_CACHE.clear()


# ---------------------------------------------------------------------------------------------------- bad input


def test_not_a_module():
    with pytest.raises(InvalidInputError, match="nn.Module"):
        trace(lambda x: x, input_shape=(1, 3))
    with pytest.raises(InvalidInputError, match="input_shape"):
        trace(nn.Linear(3, 3), input_shape=(1, -3))
    with pytest.raises(InvalidInputError, match="exactly one"):
        trace(nn.Linear(3, 3))


def test_input_shape_that_does_not_fit_names_the_module():
    model = torchvision.models.resnet18()
    with pytest.raises(InvalidInputError, match=r"'conv1'.*Check input_shape") as info:
        trace(model, input_shape=(1, 1, 32, 32))
    assert isinstance(info.value, GraphhyperError)
    mlp = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Sequential(nn.Linear(5, 2)))
    with pytest.raises(GraphhyperError, match=r"'2\.0'"):
        trace(mlp, input_shape=(1, 8))


def test_untraceable_module_names_the_path():
    class ValueBranch(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # depends on data: no symbolic trace can follow it
                return x * 2
            return x

    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), ValueBranch()))
    with pytest.raises(TraceError, match=r"'1\.1'.*Try") as info:
        trace(model, input_shape=(1, 4))
    assert "fx" in str(info.value) and "autograd" in str(info.value)


def test_huggingface_input_that_does_not_fit_names_the_module():
    factory, _ = _hf_models()["vit"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with meta_init():
            model = factory()
    with pytest.raises(GraphhyperError, match=r"'embeddings\.patch_embeddings'.*input_shape"):
        trace(model, example_inputs={"pixel_values": torch.zeros(1, 1, 16, 16)})


@pytest.mark.parametrize("path", ["fx", "export", "autograd"])
def test_operand_order_and_functional_pool_sizes(path):
    """Node.inputs keeps operand order (``cat([b, a])``); functional pooling keeps its kernel like a module's."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)

        def forward(self, x):
            y = torch.cat([self.b(x), self.a(x)], 1)
            return F.avg_pool2d(y, kernel_size=5, stride=3) + F.max_pool2d(y, 5, 3)

    graph = trace(Net(), input_shape=(1, 3, 16, 16), paths=(path,))
    cat = next(n for n in graph.nodes if n.op == "concat")
    assert cat.inputs == ("b", "a")
    pools = {n.op: n.attrs for n in graph.nodes if n.op in ("avg_pool", "max_pool")}
    for attrs in pools.values():
        assert attrs["kernel_size"] in (5, (5, 5)) and attrs["stride"] in (3, (3, 3))
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    preds = graph.predecessors()
    for i, node in enumerate(graph.nodes):
        assert sorted(index[x] for x in node.inputs) == sorted(preds[i])  # the same edges, only ordered
    back = type(graph).from_dict(graph.to_dict())
    assert [n.inputs for n in back.nodes] == [n.inputs for n in graph.nodes]
