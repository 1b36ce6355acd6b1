"""HIF, the Hypergraph Interchange Format: the JSON document that XGI, HyperNetX and HyperBench exchange.

A HIF document is ``{"network-type", "metadata", "incidences", "nodes", "edges"}`` where only ``incidences``
is required. Each incidence is ``{"node": id, "edge": id}`` plus optional ``weight``, ``direction``
(``"head"`` / ``"tail"``, directed hypergraphs) and ``attrs``; ``nodes`` / ``edges`` records
``{"node"|"edge": id, "weight", "attrs"}`` list isolated nodes, empty hyperedges and attributes. Ids are strings or
integers. The schema (MIT, HIF development team) ships as ``hif_schema.json`` next to this module, copied verbatim
from :data:`HIF_SCHEMA_SOURCE`.

What maps onto a :class:`~graphhyper.hypergraph.Hypergraph` (``k`` an incidence in CSR order):

- incidence ``(v, e)``: ``incidences[k] = {"node": node_ids[v], "edge": edge_ids[e]}``;
- ``hyperedge_weight [E]``: ``edges[e]["weight"]`` (every hyperedge is listed; a missing weight reads as 1);
- ``node_weight [V]``: ``nodes[v]["weight"]`` (every node is listed; the weight written when not all are 1);
- ``incidence_features [nnz, F]``: ``incidences[k]["attrs"]["features"]`` (a list of F numbers);
- ``is_head [nnz]`` (``DirectedHypergraph``): ``incidences[k]["direction"]``, ``"head"`` or ``"tail"``;
- ``node_type`` / ``edge_type`` (when there are several types): ``attrs["type"]``, with
  ``metadata["graphhyper"]["num_node_types"]`` / ``["num_edge_types"]``.

Everything else a document can hold (string ids, attributes, incidence weights, node features, metadata, the
``"asc"`` network type) goes into a :class:`HIFExtra`, which :func:`from_hif_with_extra` returns and
:func:`to_hif` writes back, so a document read and written again keeps it. :func:`from_hif` returns only the
hypergraph and refuses a document whose extra content it would drop, unless ``unmapped="drop"`` says to.

Validation against the schema (``validate=True``) needs the optional package ``jsonschema``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import numbers
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

import torch

from graphhyper.errors import InvalidInputError, require

if TYPE_CHECKING:
    from graphhyper.hypergraph.directed import DirectedHypergraph
    from graphhyper.hypergraph.structure import Hypergraph

__all__ = [
    "HIFExtra",
    "HIF_SCHEMA_SOURCE",
    "from_hif",
    "from_hif_with_extra",
    "hif_schema",
    "load_json",
    "read_hif",
    "to_hif",
    "validate_hif",
    "write_hif",
]

HIFId = Union[int, str]
Unmapped = Literal["raise", "drop"]

HIF_SCHEMA_SOURCE = (
    "https://github.com/HIF-org/HIF-standard/blob/28044d78b36b2adf3dcfa5c023a9caf74c4d718d/schemas/hif_schema.json"
)
NETWORK_TYPES = ("undirected", "directed", "asc")
FEATURES = "features"
OURS = "graphhyper"
_ID_KEYS = {"incidences": ("node", "edge"), "nodes": ("node",), "edges": ("edge",)}
_TOP = frozenset({"network-type", "metadata", "incidences", "nodes", "edges"})
_RECORD_KEYS = {
    "incidences": frozenset({"node", "edge", "weight", "direction", "attrs"}),
    "nodes": frozenset({"node", "weight", "attrs"}),
    "edges": frozenset({"edge", "weight", "attrs"}),
}


@dataclasses.dataclass
class HIFExtra:
    """What a HIF document holds beyond a :class:`Hypergraph`; :func:`to_hif` writes it back.

    Attributes:
        node_ids: ``[V]`` the HIF id of node ``v`` (default ``0 .. V-1``).
        edge_ids: ``[E]`` the HIF id of hyperedge ``e``.
        network_type: ``"undirected"``, ``"directed"`` or ``"asc"``.
        metadata: the document's ``metadata`` less the ``"graphhyper"`` entry this module reads.
        node_attrs / edge_attrs: ``{v: attrs}`` / ``{e: attrs}`` for the records whose attrs were not mapped.
        incidence_attrs: ``{k: attrs}``, ``k`` an incidence in the hypergraph's CSR order.
        incidence_weight: ``[nnz]`` HIF incidence weights in CSR order, or ``None`` when all are 1.
        node_features: ``[V, F]`` from every node's ``attrs["features"]``, or ``None``.
    """

    node_ids: list[HIFId]
    edge_ids: list[HIFId]
    network_type: str = "undirected"
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    node_attrs: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    edge_attrs: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    incidence_attrs: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)
    incidence_weight: torch.Tensor | None = None
    node_features: torch.Tensor | None = None

    def unmapped(self, directed: bool) -> list[str]:
        """What a plain hypergraph would lose, in words (empty when nothing)."""
        lost = []
        if self.node_ids != list(range(len(self.node_ids))) or self.edge_ids != list(range(len(self.edge_ids))):
            lost.append("node/edge ids that are not 0..n-1 integers (they were renumbered)")
        if self.network_type != ("directed" if directed else "undirected"):
            lost.append(f"network-type {self.network_type!r}")
        lost += [f"metadata keys {sorted(self.metadata)}"] if self.metadata else []
        for what, attrs in (("node", self.node_attrs), ("edge", self.edge_attrs), ("incidence", self.incidence_attrs)):
            lost += [f"attrs on {len(attrs)} {what} record(s)"] if attrs else []
        lost += ["incidence weights"] if self.incidence_weight is not None else []
        lost += ["node features (nodes[*].attrs.features)"] if self.node_features is not None else []
        return lost


# ---------------------------------------------------------------------------------------------- schema
def hif_schema() -> dict[str, Any]:
    """The HIF JSON schema shipped with graphhyper (a copy of :data:`HIF_SCHEMA_SOURCE`)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("graphhyper.hypergraph").joinpath("hif_schema.json").read_text()


def validate_hif(doc: Any) -> None:
    """Check ``doc`` against the HIF schema; raise :class:`InvalidInputError` naming the first bad field.

    Needs ``jsonschema`` (``pip install jsonschema``); a missing one raises ``MissingDependencyError``.
    """
    jsonschema = require("jsonschema", "hif", "validating HIF documents against the HIF schema")
    validator = jsonschema.Draft7Validator(hif_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda err: [str(p) for p in err.absolute_path])
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise InvalidInputError(
            f"The HIF document does not follow the HIF schema at {where}: {err.message}. Fix that field "
            f"({len(errors)} problem(s) in all; schema: {HIF_SCHEMA_SOURCE})."
        )


# ---------------------------------------------------------------------------------------------- writing
def to_hif(
    hg: Hypergraph,
    *,
    node_features: torch.Tensor | None = None,
    extra: HIFExtra | None = None,
    metadata: dict[str, Any] | None = None,
    weight_attrs: bool = False,
    validate: bool = False,
) -> dict[str, Any]:
    """The HIF document (a JSON-ready ``dict``) of ``hg``.

    Args:
        hg: a :class:`Hypergraph` (``network-type`` ``"undirected"``) or ``DirectedHypergraph`` (``"directed"``,
            each incidence with its ``direction``).
        node_features: optional ``[V, F]`` tensor written as ``nodes[v]["attrs"]["features"]`` (off by default:
            features can be large).
        extra: a :class:`HIFExtra` from :func:`from_hif_with_extra` to write back (ids, attrs, metadata, ...).
        metadata: more document metadata (merged over ``extra.metadata``; the ``"graphhyper"`` key is ours).
        weight_attrs: also copy each node / hyperedge weight into its record's ``attrs["weight"]``, where XGI
            (which ignores HIF's own ``weight`` field) looks for it.
        validate: check the result against the HIF schema (needs ``jsonschema``).
    """
    node_ids, edge_ids = _ids_for(hg, extra)
    nodes = _node_records(hg, node_ids, node_features, extra, weight_attrs)
    edges = _edge_records(hg, edge_ids, extra, weight_attrs)
    doc = {
        "network-type": _network_type(hg, extra),
        "metadata": _metadata_out(hg, extra, metadata),
        "incidences": _incidence_records(hg, node_ids, edge_ids, extra),
        "nodes": nodes,
        "edges": edges,
    }
    if validate:
        validate_hif(doc)
    return doc


def write_hif(hg: Hypergraph, path: str | Path, **kwargs: Any) -> Path:
    """Write :func:`to_hif` of ``hg`` (keyword arguments as there) to ``path`` as JSON; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(to_hif(hg, **kwargs)))
    return path


def _is_directed(hg: Hypergraph) -> bool:
    return _as_directed(hg) is not None


def _as_directed(hg: Hypergraph) -> DirectedHypergraph | None:
    from graphhyper.hypergraph.directed import DirectedHypergraph

    return hg if isinstance(hg, DirectedHypergraph) else None


def _ids_for(hg: Hypergraph, extra: HIFExtra | None) -> tuple[list[HIFId], list[HIFId]]:
    if extra is None:
        return list(range(hg.num_nodes)), list(range(hg.num_edges))
    if len(extra.node_ids) != hg.num_nodes or len(extra.edge_ids) != hg.num_edges:
        raise InvalidInputError(
            f"extra has {len(extra.node_ids)} node ids and {len(extra.edge_ids)} edge ids but the hypergraph has "
            f"{hg.num_nodes} nodes and {hg.num_edges} hyperedges; pass the HIFExtra read with this hypergraph."
        )
    return list(extra.node_ids), list(extra.edge_ids)


def _network_type(hg: Hypergraph, extra: HIFExtra | None) -> str:
    if _is_directed(hg):
        return "directed"
    return "asc" if extra is not None and extra.network_type == "asc" else "undirected"


def _metadata_out(hg: Hypergraph, extra: HIFExtra | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(extra.metadata) if extra is not None else {}
    out.update(copy.deepcopy(metadata or {}))
    ours: dict[str, Any] = {}
    for name, tensor in (("hyperedge_weight", hg.hyperedge_weight), ("incidence_features", hg.incidence_features)):
        if tensor is not None and tensor.dtype != torch.float32:
            ours[f"{name}_dtype"] = str(tensor.dtype).removeprefix("torch.")
    directed = _as_directed(hg)
    for what in ("node", "edge"):  # only when typed: then every attrs["type"] of that kind is ours
        if directed is not None and getattr(directed, f"num_{what}_types") > 1:
            ours[f"num_{what}_types"] = getattr(directed, f"num_{what}_types")
    if ours:
        out[OURS] = ours
    return out


def _attrs_copy(attrs_of: dict[int, dict[str, Any]], i: int) -> dict[str, Any]:
    """A copy of ``attrs_of[i]`` (``{}`` when absent; most records have none, so nothing is copied)."""
    attrs = attrs_of.get(i)
    return copy.deepcopy(attrs) if attrs else {}


def _attrs_with(base: dict[str, Any] | None, key: str, value: Any, where: str) -> dict[str, Any]:
    attrs = copy.deepcopy(base) if base else {}
    if key in attrs and attrs[key] != value:
        raise InvalidInputError(
            f"{where} already has attrs[{key!r}] = {attrs[key]!r} (from extra), which would be overwritten by "
            f"{value!r}; rename that attribute in extra or do not pass both."
        )
    attrs[key] = value
    return attrs


def _feature_rows(features: torch.Tensor | None, size: int, name: str) -> list[list[Any]] | None:
    if features is None:
        return None
    if not isinstance(features, torch.Tensor) or features.dim() not in (1, 2) or features.shape[0] != size:
        raise InvalidInputError(f"{name} must be a tensor [{size}, F] (one row each), got {_shape(features)}.")
    if features.is_floating_point() and not bool(torch.isfinite(features).all()):
        raise InvalidInputError(f"{name} holds NaN or inf, which JSON cannot hold; replace them first.")
    rows: list[list[Any]] = features.reshape(size, -1).tolist()
    return rows


def _shape(value: Any) -> str:
    return str(list(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def _node_records(
    hg: Hypergraph, ids: list[HIFId], features: torch.Tensor | None, extra: HIFExtra | None, weight_attrs: bool
) -> list[dict[str, Any]]:
    rows = _feature_rows(features, hg.num_nodes, "node_features")
    if rows is None and extra is not None and extra.node_features is not None:
        rows = _feature_rows(extra.node_features, hg.num_nodes, "extra.node_features")
    weights = hg.node_weight.tolist()
    write_w = any(w != 1.0 for w in weights)
    attrs_of = extra.node_attrs if extra is not None else {}
    directed = _as_directed(hg)
    types = directed.node_type.tolist() if directed is not None and directed.num_node_types > 1 else None
    out = []
    for v, nid in enumerate(ids):
        rec: dict[str, Any] = {"node": nid}
        attrs = _attrs_copy(attrs_of, v)
        if write_w:
            rec["weight"] = weights[v]
            attrs = _attrs_with(attrs, "weight", weights[v], f"node {nid!r}") if weight_attrs else attrs
        if rows is not None:
            attrs = _attrs_with(attrs, FEATURES, rows[v], f"node {nid!r}")
        if types is not None:
            attrs = _attrs_with(attrs, "type", types[v], f"node {nid!r}")
        if attrs:
            rec["attrs"] = attrs
        out.append(rec)
    return out


def _edge_records(hg: Hypergraph, ids: list[HIFId], extra: HIFExtra | None, weight_attrs: bool) -> list[dict[str, Any]]:
    weights = hg.hyperedge_weight.tolist()
    attrs_of = extra.edge_attrs if extra is not None else {}
    directed = _as_directed(hg)
    types = directed.edge_type.tolist() if directed is not None and directed.num_edge_types > 1 else None
    out = []
    for e, eid in enumerate(ids):
        rec: dict[str, Any] = {"edge": eid, "weight": weights[e]}
        attrs = _attrs_copy(attrs_of, e)
        if weight_attrs:
            attrs = _attrs_with(attrs, "weight", weights[e], f"edge {eid!r}")
        if types is not None:
            attrs = _attrs_with(attrs, "type", types[e], f"edge {eid!r}")
        if attrs:
            rec["attrs"] = attrs
        out.append(rec)
    return out


def _incidence_records(
    hg: Hypergraph, node_ids: list[HIFId], edge_ids: list[HIFId], extra: HIFExtra | None
) -> list[dict[str, Any]]:
    rows = _feature_rows(hg.incidence_features, hg.nnz, "incidence_features")
    directed = _as_directed(hg)
    heads = directed.is_head.tolist() if directed is not None else None
    inc_w = None
    if extra is not None and extra.incidence_weight is not None:
        if extra.incidence_weight.numel() != hg.nnz:
            raise InvalidInputError(
                f"extra.incidence_weight has {extra.incidence_weight.numel()} entries for {hg.nnz} incidences; "
                "pass the HIFExtra read with this hypergraph."
            )
        inc_w = extra.incidence_weight.tolist()
    attrs_of = extra.incidence_attrs if extra is not None else {}
    out = []
    for k, (v, e) in enumerate(zip(hg.inc_node.tolist(), hg.inc_edge.tolist())):
        rec: dict[str, Any] = {"edge": edge_ids[e], "node": node_ids[v]}
        if heads is not None:
            rec["direction"] = "head" if heads[k] else "tail"
        if inc_w is not None:
            rec["weight"] = inc_w[k]
        attrs = _attrs_copy(attrs_of, k)
        if rows is not None:
            attrs = _attrs_with(attrs, FEATURES, rows[k], f"incidence {k}")
        if attrs:
            rec["attrs"] = attrs
        out.append(rec)
    return out


# ---------------------------------------------------------------------------------------------- reading
def from_hif(
    doc: dict[str, Any],
    cls: type[Hypergraph] | None = None,
    *,
    validate: bool = False,
    unmapped: Unmapped = "raise",
    deduplicate: bool = False,
) -> Hypergraph:
    """The hypergraph of a HIF document (a parsed JSON ``dict``).

    Args:
        doc: the document; ``nodes`` / ``edges`` are optional (nodes and hyperedges come from the incidences too),
            ids may be strings or integers, a missing weight is 1.
        cls: ``Hypergraph`` or ``DirectedHypergraph``; default: by ``network-type`` (``"directed"``, or any
            incidence with a ``direction``, gives a ``DirectedHypergraph``).
        validate: check ``doc`` against the HIF schema first (needs ``jsonschema``).
        unmapped: ``"raise"`` (default) refuses a document holding more than the hypergraph can (see
            :meth:`HIFExtra.unmapped`) and names it; ``"drop"`` drops it. :func:`from_hif_with_extra` keeps it.
        deduplicate: keep the first of repeated (node, edge) incidences instead of raising.

    Node ids: ``0 .. V-1`` integers map to themselves; other integer ids are numbered in sorted order, other ids
    in order of first appearance (``nodes`` list first, then ``incidences``). The same for hyperedges.
    """
    if unmapped not in ("raise", "drop"):
        raise InvalidInputError(f"unmapped must be 'raise' or 'drop', got {unmapped!r}.")
    hg, extra = _read(doc, cls, validate=validate, deduplicate=deduplicate, drop=unmapped == "drop")
    lost = extra.unmapped(_is_directed(hg))
    if lost and unmapped == "raise":
        raise InvalidInputError(
            f"The HIF document holds {'; '.join(lost)}, which a {type(hg).__name__} cannot hold. Use "
            "graphhyper.hypergraph.hif.from_hif_with_extra (returns them in a HIFExtra that to_hif(extra=...) "
            "writes back), or pass unmapped='drop' to drop them."
        )
    return hg


def from_hif_with_extra(
    doc: dict[str, Any], cls: type[Hypergraph] | None = None, *, validate: bool = False, deduplicate: bool = False
) -> tuple[Hypergraph, HIFExtra]:
    """Like :func:`from_hif`, but nothing is dropped: returns ``(hypergraph, extra)``.

    ``to_hif(hypergraph, extra=extra)`` gives back an equivalent document (same ids, attrs, metadata, weights;
    records in the hypergraph's order, every node and hyperedge listed).
    """
    return _read(doc, cls, validate=validate, deduplicate=deduplicate, drop=False)


def read_hif(path: str | Path, cls: type[Hypergraph] | None = None, **kwargs: Any) -> Hypergraph:
    """:func:`from_hif` of the JSON file at ``path`` (keyword arguments as there)."""
    return from_hif(load_json(path), cls, **kwargs)


def load_json(path: str | Path) -> dict[str, Any]:
    """The parsed JSON document at ``path``; :class:`InvalidInputError` if it is not a JSON object."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInputError(f"Cannot read the HIF file {path}: {exc}. Give the path of a HIF .json file.") from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON ({exc}); give a HIF .json file.") from None
    if not isinstance(doc, dict):
        raise InvalidInputError(f"{path} holds a JSON {type(doc).__name__}; a HIF document is a JSON object.")
    return doc


@dataclasses.dataclass
class _Incidences:
    """Per-incidence columns in CSR order (sorted by edge, then node)."""

    node: torch.Tensor
    edge: torch.Tensor
    head: list[bool]
    weight: list[float]
    attrs: list[dict[str, Any]]


def _read(
    doc: Any, cls: type[Hypergraph] | None, *, validate: bool, deduplicate: bool, drop: bool
) -> tuple[Hypergraph, HIFExtra]:
    if validate:
        validate_hif(doc)
    _check_document(doc)
    network_type = _network_type_in(doc)
    cls = _pick_class(cls, network_type, drop)
    directed = _class_is_directed(cls)
    metadata = copy.deepcopy(doc.get("metadata", {}))
    ours = _our_metadata(metadata.pop(OURS, {}))
    node_recs = _listed(doc.get("nodes", []), "nodes", "node")
    edge_recs = _listed(doc.get("edges", []), "edges", "edge")
    incs = doc["incidences"]
    node_ids = _order_ids([*node_recs, *_plain_ids([r["node"] for r in incs])])
    edge_ids = _order_ids([*edge_recs, *_plain_ids([r["edge"] for r in incs])])
    inc = _incidences(incs, node_ids, edge_ids, directed, deduplicate)
    extra = HIFExtra(node_ids, edge_ids, network_type, metadata)
    kwargs = _structure_kwargs(inc, node_recs, edge_recs, extra, ours)
    if directed:
        kwargs.update(_typed_kwargs(inc, extra, ours))
    return cls(len(node_ids), **kwargs), extra


def _class_is_directed(cls: type[Hypergraph]) -> bool:
    from graphhyper.hypergraph.directed import DirectedHypergraph

    return issubclass(cls, DirectedHypergraph)


def _network_type_in(doc: dict[str, Any]) -> str:
    given = doc.get("network-type")
    if given is None:
        return "directed" if any("direction" in r for r in doc["incidences"]) else "undirected"
    return str(given)


def _pick_class(cls: type[Hypergraph] | None, network_type: str, drop: bool) -> type[Hypergraph]:
    from graphhyper.hypergraph.directed import DirectedHypergraph
    from graphhyper.hypergraph.structure import Hypergraph

    if cls is None:
        return DirectedHypergraph if network_type == "directed" else Hypergraph
    if _class_is_directed(cls) and network_type != "directed":
        raise InvalidInputError(
            f"network-type is {network_type!r} but {cls.__name__} needs head/tail directions; read the document "
            "with Hypergraph.from_hif, or set network-type 'directed' and give each incidence a direction."
        )
    if network_type == "directed" and not _class_is_directed(cls) and not drop:
        raise InvalidInputError(
            f"network-type is 'directed'; {cls.__name__} would drop the head/tail directions. Read it with "
            "DirectedHypergraph.from_hif (or graphhyper.hypergraph.hif.from_hif, which picks the class), or pass "
            "unmapped='drop'."
        )
    return cls


# ---------------------------------------------------------------------------------------------- checks
def _check_document(doc: Any) -> None:
    """Raise :class:`InvalidInputError` naming the field and the fix for anything we cannot read."""
    if not isinstance(doc, dict):
        raise InvalidInputError(f"A HIF document is a JSON object (dict), got {type(doc).__name__}.")
    unknown = sorted(set(doc) - _TOP)
    if unknown:
        raise InvalidInputError(
            f"Unknown top-level HIF field(s) {unknown}; HIF allows only {sorted(_TOP)}. Move them into 'metadata'."
        )
    if "incidences" not in doc:
        raise InvalidInputError("The HIF document has no 'incidences' (required); add 'incidences': [...].")
    network_type = doc.get("network-type")
    if network_type is not None and network_type not in NETWORK_TYPES:
        raise InvalidInputError(f"network-type must be one of {list(NETWORK_TYPES)}, got {network_type!r}.")
    if not isinstance(doc.get("metadata", {}), dict):
        raise InvalidInputError(f"'metadata' must be a JSON object, got {type(doc['metadata']).__name__}.")
    for part in ("incidences", "nodes", "edges"):
        records = doc.get(part, [])
        if not isinstance(records, list):
            raise InvalidInputError(f"'{part}' must be a list of records, got {type(records).__name__}.")
        for k, rec in enumerate(records):
            _check_record(rec, part, k)
    if network_type in ("undirected", "asc"):
        bad = next((k for k, r in enumerate(doc["incidences"]) if "direction" in r), None)
        if bad is not None:
            raise InvalidInputError(
                f"incidences[{bad}] has a 'direction' but network-type is {network_type!r}; set network-type "
                "'directed' (or remove the directions)."
            )


def _check_record(rec: Any, part: str, k: int) -> None:
    if not isinstance(rec, dict):
        raise InvalidInputError(f"{part}[{k}] must be a JSON object, got {type(rec).__name__}.")
    if not rec.keys() <= _RECORD_KEYS[part]:
        unknown = sorted(set(rec) - _RECORD_KEYS[part])
        raise InvalidInputError(
            f"{part}[{k}] has unknown field(s) {unknown}; allowed: {sorted(_RECORD_KEYS[part])}. Put them in 'attrs'."
        )
    for key in _ID_KEYS[part]:
        if key not in rec:
            raise InvalidInputError(f"{part}[{k}] has no {key!r} id (required); add it.")
        value = rec[key]
        if type(value) is not str and type(value) is not int:  # JSON's two cases pass without a call
            _id(value, f"{part}[{k}].{key}")
    if "weight" in rec and type(rec["weight"]) is not float:
        _number(rec["weight"], f"{part}[{k}].weight")
    if "direction" in rec and rec["direction"] not in ("head", "tail"):
        raise InvalidInputError(f"{part}[{k}].direction must be 'head' or 'tail', got {rec['direction']!r}.")
    if "attrs" in rec and not isinstance(rec["attrs"], dict):
        raise InvalidInputError(f"{part}[{k}].attrs must be a JSON object, got {type(rec['attrs']).__name__}.")


def _plain_ids(values: list[Any]) -> list[HIFId]:
    """Checked ids as Python ``int`` / ``str`` (numpy integers from pandas become ``int``)."""
    return [v if type(v) is str or type(v) is int else _id(v) for v in values]


def _id(value: Any, where: str = "id") -> HIFId:
    kind = type(value)
    if kind is str or kind is int:  # the JSON cases, first and fast
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise InvalidInputError(f"{where} must be a string or an integer, got {value!r:.60} ({type(value).__name__}).")


def _number(value: Any, where: str) -> float:
    number = _finite(value)
    if number is None:
        raise InvalidInputError(f"{where} must be a finite number, got {value!r:.60}.")
    return number


def _listed(records: list[dict[str, Any]], part: str, key: str) -> dict[HIFId, dict[str, Any]]:
    """``{id: record}`` in list order; a repeat of an identical record is dropped, a different one refused."""
    out: dict[HIFId, dict[str, Any]] = {}
    for rec in records:
        rid = _id(rec[key])
        if rid in out and out[rid] != rec:
            raise InvalidInputError(
                f"{key} {rid!r} is listed twice in '{part}' with different weight or attrs; list each {key} once "
                "(merge the two records)."
            )
        out[rid] = rec
    return out


def _order_ids(ids: list[HIFId]) -> list[HIFId]:
    """Unique ids in index order: ``0..n-1`` ints as they are, other ints sorted, else first appearance."""
    unique = list(dict.fromkeys(ids))
    if all(isinstance(i, int) for i in unique):
        return sorted(unique, key=int)
    return unique


def _incidences(
    records: list[dict[str, Any]], node_ids: list[HIFId], edge_ids: list[HIFId], directed: bool, deduplicate: bool
) -> _Incidences:
    node_at = {nid: i for i, nid in enumerate(node_ids)}
    edge_at = {eid: i for i, eid in enumerate(edge_ids)}
    nodes = torch.tensor([node_at[r["node"]] for r in records], dtype=torch.long)  # ids checked already
    edges = torch.tensor([edge_at[r["edge"]] for r in records], dtype=torch.long)
    order = _sort_by_edge_then_node(nodes, edges)
    nodes, edges = nodes[order], edges[order]
    repeated = (edges[1:] == edges[:-1]) & (nodes[1:] == nodes[:-1])
    if bool(repeated.any()):
        if not deduplicate:
            j = int(torch.nonzero(repeated)[0, 0])
            _raise_repeat(records, int(order[j]), int(order[j + 1]), directed)
        keep = torch.cat([torch.ones(1, dtype=torch.bool), ~repeated])
        order, nodes, edges = order[keep], nodes[keep], edges[keep]
    kept = order.tolist()
    if directed:
        missing = next((k for k in kept if "direction" not in records[k]), None)
        if missing is not None:
            raise InvalidInputError(
                f"incidences[{missing}] of a directed document has no 'direction'; give 'head' or 'tail'."
            )
    out = _Incidences(nodes, edges, [], [], [])
    for rec in map(records.__getitem__, kept):
        out.head.append(rec.get("direction") == "head")
        out.weight.append(float(rec.get("weight", 1.0)))
        out.attrs.append(copy.deepcopy(rec["attrs"]) if rec.get("attrs") else {})
    return out


def _sort_by_edge_then_node(nodes: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """Stable permutation sorting incidences by (edge, node), the CSR order the Hypergraph keeps."""
    by_node = torch.sort(nodes, stable=True)[1]
    return by_node[torch.sort(edges[by_node], stable=True)[1]]


def _raise_repeat(records: list[dict[str, Any]], first: int, again: int, directed: bool) -> None:
    rec = records[again]
    roles = " (as head and as tail: a DirectedHypergraph holds one role per incidence)" if directed else ""
    raise InvalidInputError(
        f"node {rec['node']!r} is in edge {rec['edge']!r} twice, incidences[{min(first, again)}] and "
        f"incidences[{max(first, again)}]{roles}; remove the repeat, or pass deduplicate=True to keep the first."
    )


# ---------------------------------------------------------------------------------------------- mapping
def _structure_kwargs(
    inc: _Incidences,
    node_recs: dict[HIFId, dict[str, Any]],
    edge_recs: dict[HIFId, dict[str, Any]],
    extra: HIFExtra,
    ours: dict[str, Any],
) -> dict[str, Any]:
    """Constructor arguments of the hypergraph; fills ``extra`` with what does not map."""
    node_w = _record_weights(node_recs, extra.node_ids, extra.node_attrs, "node")
    edge_w = _record_weights(edge_recs, extra.edge_ids, extra.edge_attrs, "edge")
    for eid, w in zip(extra.edge_ids, edge_w):
        if w < 0:
            raise InvalidInputError(
                f"edge {eid!r} has weight {w}; hyperedge weights must be >= 0. Fix the weight in 'edges'."
            )
    extra.node_features = _take_features(
        [extra.node_attrs.get(v, {}) for v in range(len(extra.node_ids))], torch.float32
    )
    extra.node_attrs = {v: a for v, a in extra.node_attrs.items() if a}
    feats = _take_features(inc.attrs, _dtype(ours, "incidence_features_dtype"))
    extra.incidence_attrs = {k: a for k, a in enumerate(inc.attrs) if a}
    if any(w != 1.0 for w in inc.weight):
        extra.incidence_weight = torch.tensor(inc.weight, dtype=torch.float32)
    num_edges = len(extra.edge_ids)
    return {
        "hyperedge_index": torch.stack([inc.node, inc.edge]),
        "num_edges": num_edges,
        "hyperedge_weight": torch.tensor(edge_w, dtype=_dtype(ours, "hyperedge_weight_dtype")),
        "node_weight": None if all(w == 1.0 for w in node_w) else torch.tensor(node_w, dtype=torch.float32),
        "incidence_features": feats,
        "allow_empty_edges": int(torch.unique(inc.edge).numel()) < num_edges,
    }


def _record_weights(
    records: dict[HIFId, dict[str, Any]], ids: list[HIFId], attrs_out: dict[int, dict[str, Any]], key: str
) -> list[float]:
    """Weights in index order (missing -> 1); each record's attrs go to ``attrs_out``.

    A record without a HIF ``weight`` but with a numeric ``attrs["weight"]`` (how XGI keeps weights) has that
    weight; an ``attrs["weight"]`` equal to the HIF ``weight`` is a copy and is dropped.
    """
    weights = []
    for i, rid in enumerate(ids):
        rec = records.get(rid, {})
        attrs: dict[str, Any] = copy.deepcopy(rec["attrs"]) if rec.get("attrs") else {}
        weight = rec.get("weight")
        copied = _finite(attrs.get("weight"))
        if weight is None and copied is not None:
            weight = attrs.pop("weight")
        elif weight is not None and copied is not None and copied == float(weight):
            attrs.pop("weight")
        weights.append(1.0 if weight is None else _number(weight, f"{key} {rid!r} weight"))
        if attrs:
            attrs_out[i] = attrs
    return weights


def _finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number (not a bool), else ``None``."""
    if type(value) not in (float, int) and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        return None  # JSON's numbers skip the slow ABC check
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):  # an int beyond float range
        return None
    return number if math.isfinite(number) else None


def _take_features(attrs: list[dict[str, Any]], dtype: torch.dtype) -> torch.Tensor | None:
    """``[n, F]`` from every record's ``attrs["features"]`` (then removed), or ``None`` if any lacks it."""
    rows: list[Any] = [a.get(FEATURES) for a in attrs]
    if not rows or not all(_is_number_row(r) for r in rows):
        return None
    if len({len(r) for r in rows}) != 1:
        return None
    if not dtype.is_floating_point:
        info = torch.iinfo(dtype)
        if not all(type(x) is int and info.min <= x <= info.max for r in rows for x in r):
            raise InvalidInputError(
                f"metadata.graphhyper says the incidence features are {dtype}, but some are not integers in "
                f"[{info.min}, {info.max}]; fix those values or the dtype."
            )
    for a in attrs:
        del a[FEATURES]
    return torch.tensor(rows, dtype=dtype)


def _is_number_row(row: Any) -> bool:
    return isinstance(row, list) and len(row) > 0 and all(_finite(x) is not None for x in row)


_DTYPES = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8"}


def _dtype(ours: dict[str, Any], key: str) -> torch.dtype:
    name = ours.get(key, "float32")
    if name not in _DTYPES:
        raise InvalidInputError(f"metadata.graphhyper.{key} is {name!r}; give one of {sorted(_DTYPES)}.")
    dtype: torch.dtype = getattr(torch, name)
    return dtype


def _type_value(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InvalidInputError(f"{where} must be a non-negative integer (a type id), got {value!r}.")
    return int(value)


_OUR_KEYS = frozenset({"hyperedge_weight_dtype", "incidence_features_dtype", "num_node_types", "num_edge_types"})


def _our_metadata(ours: Any) -> dict[str, Any]:
    """``metadata["graphhyper"]``, checked: an object with only the keys :func:`to_hif` writes."""
    if not isinstance(ours, dict) or not ours.keys() <= _OUR_KEYS:
        raise InvalidInputError(
            f"metadata.graphhyper is {ours!r:.80}; that key is graphhyper's own, an object with keys among "
            f"{sorted(_OUR_KEYS)}. Rename it if it is yours."
        )
    for key in ("num_node_types", "num_edge_types"):
        if key in ours and (_type_value(ours[key], f"metadata.graphhyper.{key}") < 1):
            raise InvalidInputError(f"metadata.graphhyper.{key} must be at least 1, got {ours[key]}.")
    return ours


def _typed_kwargs(inc: _Incidences, extra: HIFExtra, ours: dict[str, Any]) -> dict[str, Any]:
    """``is_head`` and, when graphhyper wrote the document, node / edge types (from ``attrs["type"]``)."""
    out: dict[str, Any] = {"is_head": torch.tensor(inc.head, dtype=torch.bool)}
    for what, attrs, count in (
        ("node", extra.node_attrs, len(extra.node_ids)),
        ("edge", extra.edge_attrs, len(extra.edge_ids)),
    ):
        num = ours.get(f"num_{what}_types")
        if num is None:
            continue
        types = [0] * count
        for i in list(attrs):
            if "type" in attrs[i]:
                types[i] = _type_value(attrs[i].pop("type"), f"{what} {i} attrs.type")
                if not attrs[i]:
                    del attrs[i]
        out[f"{what}_type"] = torch.tensor(types, dtype=torch.long)
        out[f"num_{what}_types"] = num
    return out
