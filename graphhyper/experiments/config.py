"""One config style for hypergraph experiments: :class:`RunConfig` (how one model is trained on one split) and
:class:`TunedConfig` (a run config with the provenance the tuner writes), loaded from JSON or TOML with unknown
keys refused.

The benchmark protocol (:mod:`graphhyper.experiments.protocol`), the tuned files in ``configs/hypergraph/tuned``
and :func:`graphhyper.experiments.tuning.run_config` all speak this one type; ``to_dict`` gives back the plain
mapping that the table's CSV and the tuner's JSON store (unset fields left out, so the stored form is unchanged).

>>> cfg = RunConfig.from_dict({"model": {"hidden_channels": 64}, "lr": 0.01, "weight_decay": 0.0})
>>> cfg.to_dict()
{'model': {'hidden_channels': 64}, 'lr': 0.01, 'weight_decay': 0.0}
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Mapping

from graphhyper.errors import InvalidInputError

_NUMBER = ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
_INT = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
_STR = ("a string", lambda v: isinstance(v, str))
_BOOL = ("true or false", lambda v: isinstance(v, bool))
_DICT = ("an object of model keyword arguments", lambda v: isinstance(v, dict))
_ANY = ("anything", lambda v: True)


@dataclasses.dataclass
class RunConfig:
    """How one model is trained: model keyword arguments and the training choices (``None`` = not set: the
    caller's default applies). ``tuned`` marks a config that came from a tuned file."""

    model_name: str | None = None
    model: dict[str, Any] = dataclasses.field(default_factory=dict)
    tuned: bool = False
    lr: float | None = None
    weight_decay: float | None = None
    label_smoothing: float | None = None
    feature_norm: str | None = None
    epochs: int | None = None
    patience: int | None = None

    _KINDS = {
        "model_name": _STR,
        "model": _DICT,
        "tuned": _BOOL,
        "lr": _NUMBER,
        "weight_decay": _NUMBER,
        "label_smoothing": _NUMBER,
        "feature_norm": _STR,
        "epochs": _INT,
        "patience": _INT,
    }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "config"):
        """The config in ``data``; a key that is not a field, or a value of the wrong kind, raises
        :class:`InvalidInputError` naming ``source`` and the accepted keys."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"{source}: expected a mapping of settings, got {type(data).__name__}.")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise InvalidInputError(f"{source}: unknown key(s) {unknown}; accepted: {names}.")
        kinds = cls._kinds()
        for key, value in data.items():
            what, ok = kinds[key]
            if value is not None and not ok(value):
                raise InvalidInputError(f"{source}: {key}={json.dumps(value)} should be {what}.")
        values = dict(data)
        if "model" in values:
            values["model"] = dict(values["model"] or {})
        return cls(**values)

    @classmethod
    def _kinds(cls) -> dict[str, tuple]:
        return dict(RunConfig._KINDS)

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping (field order, unset fields and ``tuned=False`` left out); a fresh copy."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "tuned" and not value):
                continue
            out[f.name] = json.loads(json.dumps(value)) if isinstance(value, (dict, list)) else value
        return out

    def merged(self, other: RunConfig) -> RunConfig:
        """``self`` with ``other``'s set fields on top (its ``model`` kwargs update, not replace, ours)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["model"] = {**self.model, **other.model}
        for f in dataclasses.fields(other):
            value = getattr(other, f.name)
            if f.name != "model" and value is not None and not (f.name == "tuned" and not value):
                values[f.name] = value
        return type(self)(**values)


@dataclasses.dataclass
class TunedConfig(RunConfig):
    """A tuned config file (``configs/hypergraph/tuned/*.json``, ``graphhyper hypergraph tune``'s output): the run
    config plus where it came from (dataset, validation scores, study, tune splits, selection rule)."""

    dataset: str | None = None
    val_acc: float | None = None
    val_loss: float | None = None
    trial: int | None = None
    trials: int | None = None
    study: str | None = None
    tune_seeds: list[int] | None = None
    selection: str | None = None
    chosen_from: list[dict[str, Any]] | None = None
    choice: str | None = None

    @classmethod
    def _kinds(cls) -> dict[str, tuple]:
        return {
            **RunConfig._KINDS,
            "dataset": _STR,
            "val_acc": _NUMBER,
            "val_loss": _NUMBER,
            "trial": _INT,
            "trials": _INT,
            "study": _STR,
            "tune_seeds": ("a list", lambda v: isinstance(v, list)),
            "selection": _STR,
            "chosen_from": ("a list", lambda v: isinstance(v, list)),
            "choice": _ANY,
        }

    def run_config(self) -> RunConfig:
        """The training part only."""
        return RunConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RunConfig)})


def read_mapping(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The top-level table of a ``.toml`` file, else the JSON object of ``path``; unreadable or malformed files
    raise :class:`InvalidInputError`."""
    path = Path(path)
    try:
        text = path.read_text()
        data = _toml_loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:  # JSONDecodeError, TOMLDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInputError(
            f"cannot read the {what} {path}: {exc}. Give a JSON or TOML file "
            "(e.g. one written by `graphhyper hypergraph tune`)."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path} is not a {what}: expected an object of settings at the top level.")
    return data


def _toml_loads(text: str) -> dict[str, Any]:
    import importlib

    for name in ("tomllib", "tomli"):  # tomllib from Python 3.11, tomli before
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        return dict(module.loads(text))
    raise InvalidInputError(
        "reading a TOML config needs Python 3.11+ or the tomli package (pip install tomli); or give the config as JSON."
    )


def load_config(path: str | Path) -> TunedConfig:
    """A :class:`TunedConfig` from a JSON or TOML file, unknown keys refused."""
    return TunedConfig.from_dict(read_mapping(path), source=str(path))


def parse_key_values(items: list[str], option: str = "--set") -> dict[str, Any]:
    """``["key=value", ...]`` -> dict; values are parsed as JSON (numbers, bools, lists) when they can be, else
    kept as strings. A missing ``=`` raises :class:`InvalidInputError` naming ``option``. The one parser of every
    ``--set`` / ``--fix`` / ``--space`` option (the CLI and the scripts use it)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInputError(f"{option} {item!r}: use KEY=VALUE, e.g. {option} hidden_channels=256.")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


__all__ = ["RunConfig", "TunedConfig", "load_config", "parse_key_values", "read_mapping"]
