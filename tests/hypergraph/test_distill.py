import pytest
import torch

from graphhyper.data import from_tensors
from graphhyper.hypergraph import hsbm
from graphhyper.hypergraph.distill import distill, hyperedge_reliability, make_distill_loss
from graphhyper.hypergraph.models import build_model
from graphhyper.hypergraph.train import set_seed, train_node_classifier


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
    plus = make_distill_loss(t_logits, tau=2.0, edge_weight=1.0, reliability=ones)(student_logits, data,
                                                                                  torch.tensor(0))
    assert plus.item() > base.item() > 0
    plus.backward()
    assert student_logits.grad.abs().sum() > 0
    zero = make_distill_loss(t_logits, edge_weight=1.0, reliability=torch.zeros(data.hg.num_edges))
    assert zero(student_logits, data, torch.tensor(0)).item() == pytest.approx(
        make_distill_loss(t_logits)(student_logits, data, torch.tensor(0)).item())
    # matching the teacher exactly gives zero distillation loss (lam=0)
    assert float(make_distill_loss(t_logits, edge_weight=1.0, reliability=ones)(t_logits, data, 0)) < 1e-5
