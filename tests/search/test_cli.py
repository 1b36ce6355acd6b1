"""`graphhyper search ...` commands."""

from __future__ import annotations

from graphhyper.cli import main


def test_nb201_command(shared_data, capsys):
    assert main(["search", "nb201", "--searcher", "evolution", "--budget", "30", "--seeds", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "12-epoch" in out and "30 queries" in out and "25 queries" in out


def test_darts_command_writes_plots_and_storage(fast_tmp, capsys):
    objective = "ghn"  # the default GHN ships with the package (tests/ghn/test_pretrained_floor.py)
    rc = main(
        [
            "search",
            "darts",
            "--task",
            "digits",
            "--n-trials",
            "3",
            "--objective",
            objective,
            "--out",
            str(fast_tmp),
            "--no-progress",
            "--seed",
            "1",
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "Pareto front" in out and "optuna-dashboard sqlite:///" in out
    assert (fast_tmp / "pareto.png").stat().st_size > 1000 and (fast_tmp / "history.png").stat().st_size > 1000
    assert (fast_tmp / "search.db").exists()
