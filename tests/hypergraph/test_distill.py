import pytest
import torch

from graphhyper.data import from_tensors
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.distill import distill, hyperedge_reliability, make_distill_loss
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.train import set_seed, train_node_classifier


@pytest.fixture(scope="module")
def teacher_and_data():
    hg, x, y = hsbm(400, 300, num_classes=3, feature_dim=32, mean_edge_size=5, p_in=0.9, feature_noise=2.0, seed=2)
    data = from_tensors(hg.add_self_loops(), x, y, seed=0)
    set_seed(0)
    teacher = build_model("hgnn", 32, 3, hidden_channels=32)
    train_node_classifier(teacher, data, epochs=120, lr=1e-2, patience=40, seed=0, progress=False)
    return teacher, data


def test_students_match_teacher_and_beat_plain_mlp(teacher_and_data):
    teacher, data = teacher_and_data
    kw = dict(hidden_channels=64, epochs=200, lr=1e-2, patience=60, seed=0)
    light = distill(teacher, data, **kw)
    plus = distill(teacher, data, plus=True, **kw)
    set_seed(0)
    mlp = build_model("mlp", 32, 3, hidden_channels=64)
    plain = train_node_classifier(mlp, data, epochs=200, lr=1e-2, patience=60, seed=0, progress=False)
    assert light.teacher_test_acc > 0.8
    for res in (light, plus):
        assert res.test_gap < 0.03, res.test_gap  # the student stays close to its teacher ...
        assert res.student_result.test_acc > plain.test_acc + 0.2  # ... and far above an MLP on labels alone
    assert plus.plus and plus.edge_reliability is not None and light.edge_reliability is None


def test_reliability_scores(teacher_and_data):
    teacher, data = teacher_and_data
    rho = hyperedge_reliability(teacher, data, num_samples=3, seed=0)
    assert rho.shape == (data.hg.num_edges,)
    assert float(rho.min()) == 0.0 and float(rho.max()) == 1.0
    assert torch.equal(rho, hyperedge_reliability(teacher, data, num_samples=3, seed=0))
    assert not torch.equal(rho, hyperedge_reliability(teacher, data, num_samples=3, seed=1))


def test_hyperedge_term_adds_to_loss_and_gradient(teacher_and_data):
    teacher, data = teacher_and_data
    t_logits = teacher(data.x, data.hg).detach()
    student_logits = torch.randn_like(t_logits, requires_grad=True)
    base = make_distill_loss(t_logits, tau=2.0)(student_logits, data, torch.tensor(0))
    ones = torch.ones(data.hg.num_edges)
    plus = make_distill_loss(t_logits, tau=2.0, edge_weight=1.0, reliability=ones)(
        student_logits, data, torch.tensor(0)
    )
    assert plus.item() > base.item() > 0
    plus.backward()
    assert student_logits.grad.abs().sum() > 0
    zero = make_distill_loss(t_logits, edge_weight=1.0, reliability=torch.zeros(data.hg.num_edges))
    assert zero(student_logits, data, torch.tensor(0)).item() == pytest.approx(
        make_distill_loss(t_logits)(student_logits, data, torch.tensor(0)).item()
    )
    # matching the teacher exactly gives zero distillation loss (lam=0)
    assert float(make_distill_loss(t_logits, edge_weight=1.0, reliability=ones)(t_logits, data, 0)) < 1e-5


@pytest.mark.parametrize("norm", ["none", "bn", "ln"])
def test_inference_mlp_matches_student(norm):
    from graphhyper.hypergraph.distill import InferenceMLP

    torch.manual_seed(0)
    student = build_model("mlp", 12, 4, hidden_channels=24, num_layers=3, norm=norm, dropout=0.5)
    if norm == "bn":  # non-trivial running statistics to fold
        student.train()
        for _ in range(3):
            student(torch.randn(50, 12) * 2 + 1)
    student.eval()
    x = torch.randn(333, 12)
    with torch.no_grad():
        ref = student(x)
    for chunk in (7, 1000):  # several row blocks with a ragged tail, and a single block
        lean = InferenceMLP.from_module(student, chunk_rows=chunk)
        out = lean(x)
        assert out.shape == (333, 4)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    # the weights are copied: training the student further does not change the exported model
    with torch.no_grad():
        student.mlp.lins[0].weight.add_(1.0)
    torch.testing.assert_close(lean(x), ref, atol=1e-5, rtol=1e-5)
    assert lean(x.to_sparse()).shape == (333, 4)
    # loading other weights into the exported model (in place) is picked up by the packed fast path
    other = InferenceMLP.from_module(build_model("mlp", 12, 4, hidden_channels=24, num_layers=3, norm="none").eval())
    lean2 = InferenceMLP.from_module(build_model("mlp", 12, 4, hidden_channels=24, num_layers=3, norm="none").eval())
    lean2(x)
    lean2.load_state_dict(other.state_dict())
    torch.testing.assert_close(lean2(x), other(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm", ["bn", "ln"])
def test_inference_mlp_in_bfloat16_keeps_the_predictions(norm):
    from graphhyper.hypergraph.distill import InferenceMLP

    torch.manual_seed(1)
    student = build_model("mlp", 12, 4, hidden_channels=32, num_layers=2, norm=norm).eval()
    x = torch.randn(2000, 12)
    with torch.no_grad():
        ref = student(x)
    for chunk in (300, 4096):  # row blocks through the fused oneDNN path, and one block
        lean = InferenceMLP.from_module(student, chunk_rows=chunk, dtype=torch.bfloat16)
        out = lean(x)  # float32 input is cast on the way in
        assert out.dtype == torch.bfloat16 and lean.w0.dtype == torch.bfloat16
        torch.testing.assert_close(out.float(), ref, atol=5e-2, rtol=5e-2)
        margin = ref.topk(2).values.diff().abs().squeeze(-1)
        clear = margin > 0.1  # wherever the float32 decision is not a near-tie, bfloat16 makes the same one
        assert torch.equal(out.float().argmax(-1)[clear], ref.argmax(-1)[clear])


def test_inference_mlp_rejects_bad_input():
    from graphhyper.errors import InvalidInputError
    from graphhyper.hypergraph.distill import InferenceMLP

    lean = InferenceMLP.from_module(build_model("mlp", 8, 3).eval())
    with pytest.raises(InvalidInputError, match="channels"):
        lean(torch.randn(5, 9))
    with pytest.raises(InvalidInputError, match="MLP student"):
        InferenceMLP.from_module(build_model("hgnn", 8, 3))
    with pytest.raises(InvalidInputError, match="chunk_rows"):
        InferenceMLP.from_module(build_model("mlp", 8, 3), chunk_rows=0)
    with pytest.raises(InvalidInputError, match="dtype"):
        InferenceMLP.from_module(build_model("mlp", 8, 3), dtype=torch.int8)


def test_distill_result_exports_student(teacher_and_data):
    teacher, data = teacher_and_data
    res = distill(teacher, data, hidden_channels=16, epochs=5, patience=None, seed=0)
    lean = res.inference_model(chunk_rows=64)
    res.student.eval()
    with torch.no_grad():
        torch.testing.assert_close(lean(data.x, data.hg), res.student(data.x, data.hg), atol=1e-5, rtol=1e-5)


def test_inference_mlp_unfused_activation():
    from graphhyper.hypergraph.distill import InferenceMLP
    from graphhyper.hypergraph.nn import MLP

    torch.manual_seed(1)
    mlp = MLP(6, 10, 3, num_layers=2, act=torch.nn.GELU).eval()  # not ReLU: addmm + the module's activation
    x = torch.randn(40, 6)
    with torch.no_grad():
        torch.testing.assert_close(InferenceMLP.from_module(mlp, chunk_rows=16)(x), mlp(x), atol=1e-5, rtol=1e-5)
