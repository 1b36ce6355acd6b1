import json

from graphhyper.cli import main


def test_datasets_lists_every_card(capsys):
    assert main(["hypergraph", "datasets", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cora-ca"]["nodes"] == 2708 and rows["cora-cc"]["isolated"] == 1274
    assert len(rows) == 14


def test_train_on_zoo(capsys, shared_data):
    code = main(["hypergraph", "train", "--dataset", "zoo", "--model", "mlp", "--epochs", "30", "--lr", "0.01",
                 "--quiet", "--set", "hidden_channels=32"])
    out = capsys.readouterr().out
    assert code == 0
    assert "model mlp: best val acc" in out and "test acc at that epoch" in out
    assert "published" not in out  # the cards have no MLP number


def test_errors_are_reported_not_raised(capsys):
    assert main(["hypergraph", "train", "--dataset", "no-such-set", "--quiet"]) == 1
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err
    assert main(["hypergraph", "train", "--dataset", "zoo", "--set", "oops", "--quiet"]) == 1


def test_distill_reports_teacher_and_both_students(capsys, shared_data):
    code = main(["hypergraph", "distill", "--dataset", "zoo", "--epochs", "30", "--lr", "0.01", "--quiet",
                 "--set", "hidden_channels=32"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("teacher", "LightHGNN ", "LightHGNN+"):
        assert name in out
    assert "gap" in out
    import re

    pairs = re.findall(r"MLP ([\d.]+) \(gap [^,]+, deployed in bfloat16 ([\d.]+)\)", out)
    assert len(pairs) == 2  # LightHGNN and LightHGNN+
    for student, deployed in pairs:
        assert abs(float(student) - float(deployed)) <= 100 / 26 + 1e-6  # at most one of Zoo's ~26 test nodes
