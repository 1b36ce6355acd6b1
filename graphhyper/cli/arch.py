"""`graphhyper arch ...` sub-commands.

``graphhyper arch inspect torchvision:resnet18 [--input-shape 1,3,224,224] [--json]`` builds the model (with its
parameters on the meta device: nothing is allocated), traces it and prints the graph's summary.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("arch", help="architectures as graphs (trace, inspect)")
    sub = parser.add_subparsers(dest="command", metavar="{inspect}")
    inspect_p = sub.add_parser(
        "inspect",
        help="trace a model and print its ArchGraph summary",
        description="Trace a model into an ArchGraph and print nodes, edges, parameters, the op histogram, the "
        "unknown-op report and the trace path. MODEL is 'torchvision:<name>' (any name of "
        "torchvision.models.list_models()) or 'package.module:factory' (a callable returning an "
        "nn.Module, called without arguments).",
    )
    inspect_p.add_argument("model", help="torchvision:resnet18 or package.module:factory")
    inspect_p.add_argument(
        "--input-shape",
        default="1,3,224,224",
        help="comma-separated input shape; several inputs separated by ';' (default 1,3,224,224)",
    )
    inspect_p.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float16", "bfloat16", "long"),
        help="dtype of the inputs (long for token ids)",
    )
    inspect_p.add_argument(
        "--paths", default="fx,export,autograd", help="trace paths to try, in order (default fx,export,autograd)"
    )
    inspect_p.add_argument("--json", action="store_true", help="print a JSON report instead of text")
    inspect_p.add_argument("--graph", action="store_true", help="with --json: include the full graph (to_dict)")
    inspect_p.set_defaults(handler=_inspect)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)


def _parse_shape(text: str):
    from graphhyper.errors import InvalidInputError

    try:
        shapes = [tuple(int(d) for d in part.split(",") if d.strip()) for part in text.split(";") if part.strip()]
    except ValueError:
        raise InvalidInputError(
            f"--input-shape must look like 1,3,224,224 (or 1,8;1,8 for two inputs), got {text!r}"
        ) from None
    if not shapes:
        raise InvalidInputError("--input-shape is empty; give e.g. 1,3,224,224")
    return shapes[0] if len(shapes) == 1 else shapes


def build_model(spec: str):
    """Build the model named by ``spec`` (``torchvision:<name>`` or ``module.path:factory``) with meta parameters."""
    import importlib

    from graphhyper.arch import meta_init
    from graphhyper.errors import InvalidInputError, require

    if ":" not in spec:
        raise InvalidInputError(f"model spec {spec!r} must be 'torchvision:<name>' or 'package.module:factory'")
    source, name = spec.split(":", 1)
    if source == "torchvision":
        tv = require("torchvision", "vision", "torchvision models")
        if name not in tv.models.list_models():
            raise InvalidInputError(f"torchvision has no model {name!r}; see torchvision.models.list_models()")
        with meta_init():
            return tv.models.get_model(name)
    try:
        module = importlib.import_module(source)
    except ImportError as exc:
        raise InvalidInputError(
            f"cannot import {source!r} for model spec {spec!r} ({exc}); check the module path "
            f"and that it is on PYTHONPATH"
        ) from exc
    factory = getattr(module, name, None)
    if not callable(factory):
        raise InvalidInputError(
            f"{source!r} has no callable {name!r}; give 'module.path:factory' where factory() returns an nn.Module"
        )
    with meta_init():
        return factory()


def _inspect(args: argparse.Namespace) -> int:
    import torch

    from graphhyper.arch import trace

    dtype = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16, "long": torch.long}[
        args.dtype
    ]
    model = build_model(args.model)
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip())
    graph = trace(model, input_shape=_parse_shape(args.input_shape), dtype=dtype, name=args.model, paths=paths)
    if not args.json:
        print(graph.summary())
        return 0
    report = {
        "model": args.model,
        "nodes": len(graph.nodes),
        "edges": len(graph.edges),
        "params": graph.num_params,
        "param_tensors": len(graph.parameters),
        "trace_path": graph.meta.get("trace_path"),
        "input_shape": graph.meta.get("input_shape"),
        "ops": graph.op_histogram(),
        "unknown_ops": [list(u) for u in graph.unknown_ops()],
        "unmapped_parameters": graph.unmapped_parameters(),
        "structural_hash": graph.structural_hash(),
        "vocab_version": graph.meta.get("vocab_version"),
        "notes": graph.meta.get("notes", []),
    }
    if args.graph:
        report["graph"] = graph.to_dict()
    print(json.dumps(report, indent=2))
    return 0
