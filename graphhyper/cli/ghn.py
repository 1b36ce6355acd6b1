"""`graphhyper ghn ...` sub-commands: ``predict``, ``train``, ``list``, ``convert``."""

from __future__ import annotations

import argparse
import os
import time

from graphhyper.cli._args import (
    device,
    existing_file,
    int_in,
    non_empty,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    random_seed,
    shape,
    thread_count,
    writable_dir,
    writable_file,
)


def _pool_mix(text: str) -> dict[str, float]:
    """``id=0.5,bn_free=0.5`` -> ``{"id": 0.5, "bn_free": 0.5}`` (architecture splits and their shares)."""
    from graphhyper.ghn.tasks import ARCH_SPLITS

    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name.strip() not in ARCH_SPLITS or not share:
            raise argparse.ArgumentTypeError(
                f"{part!r}: write SPLIT=SHARE pairs with SPLIT in {ARCH_SPLITS}, e.g. id=0.5,bn_free=0.5"
            )
        mix[name.strip()] = non_negative_float(share)
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the shares must not all be 0")
    return mix


def _add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/ghn", type=writable_dir, help="run directory (checkpoints, history)")
    p.add_argument(
        "--tasks",
        default="digits,mnist1d",
        help="comma-separated: digits, mnist1d (DARTS CNNs), digits-vit, mnist1d-vit (ViTs), pytext (GPT decoders)",
    )
    p.add_argument("--steps", type=positive_int, default=3000)
    p.add_argument("--meta-batch", type=positive_int, default=4, help="architectures per step")
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive_float, default=2e-3)
    p.add_argument("--warmup", type=non_negative_int, default=100)
    p.add_argument("--pool-size", type=positive_int, default=512, help="training architectures per task")
    p.add_argument(
        "--pool-mix",
        default="id=1",
        type=_pool_mix,
        help="shares of architecture splits in the training pool, e.g. id=0.5,bn_free=0.5",
    )
    p.add_argument(
        "--init-from", default=None, type=non_empty, help="start from this GHN (bundled name or path): fine-tune"
    )
    p.add_argument("--seed", type=random_seed, default=0)
    p.add_argument("--ckpt-every", type=positive_int, default=50)
    p.add_argument("--hidden", type=int_in(1, 4096, "a hidden size"), default=64)
    p.add_argument("--encoder", default="transformer", choices=["transformer", "gatedgnn"])
    p.add_argument("--decoder", default="lowrank", choices=["lowrank", "tiled"])
    p.add_argument(
        "--mip",
        action="store_true",
        help="MIP: constant-norm input encodings, free learned theta0, theta = theta0 + delta, no output normalisation",
    )
    p.add_argument("--rank", type=int_in(1, 4096, "a rank"), default=16)
    p.add_argument(
        "--code-dim",
        type=int_in(2, 4096, "a code size"),
        default=64,
        help="low-rank decoder: size of the index codes (even); predicted weights have rank <= min(rank, code-dim)",
    )
    p.add_argument(
        "--weight-scale",
        default="spectral",
        choices=["spectral", "rms"],
        help="size rule of predicted weights: largest singular value (width-aware, default) or entry RMS (before)",
    )
    p.add_argument("--threads", type=thread_count, default=1)
    p.add_argument(
        "--max-minutes", type=positive_float, default=None, help="stop (and checkpoint) after this wall time"
    )
    p.add_argument(
        "--export", default=None, type=non_empty, help="bundle as graphhyper/ghn/pretrained/NAME (or a path)"
    )
    p.add_argument("--export-only", action="store_true", help="only export OUT/last.pt, do not train")
    p.add_argument(
        "--export-dtype",
        choices=["float32", "float16", "bfloat16"],
        default=None,
        help="store the exported weights in this precision (default float32; half precision halves the file and "
        "loads back as float32)",
    )
    p.add_argument("--device", default=None, type=device, help="cpu or cuda (default: cuda when available)")
    p.add_argument(
        "--nproc-per-node",
        type=int_in(1, 1024, "a process count"),
        default=None,
        help="data-parallel processes (default 1): relaunches this command under torchrun, DDP on gloo (CPU) "
        "or NCCL (CUDA, one GPU per process); --meta-batch is the global meta-batch, split over the processes",
    )


def _train_argv(args: argparse.Namespace) -> list[str]:
    """``args`` as ``ghn train`` options again (sorted; unset and false options left out)."""
    argv: list[str] = []
    for key, val in sorted(vars(args).items()):
        if key in ("handler", "area", "command") or val is None or val is False:
            continue
        argv.append("--" + key.replace("_", "-"))
        if isinstance(val, dict):  # --pool-mix: written back as it is typed
            val = ",".join(f"{k}={v}" for k, v in val.items())
        if val is not True:
            argv.append(str(val))
    return argv


def _command_line(args: argparse.Namespace) -> str:
    """The equivalent ``graphhyper ghn train`` command line (recorded beside an exported checkpoint)."""
    argv = _train_argv(args)
    world = os.environ.get("WORLD_SIZE", "1")
    if args.nproc_per_node is None and world.isdigit() and int(world) > 1:  # a torchrun worker: record its launch
        argv += ["--nproc-per-node", world]
    return " ".join(["graphhyper ghn train", *argv])


def launch_torchrun(argv: list[str], nproc: int) -> int:
    """Run ``python -m graphhyper.ghn.train ARGV`` in ``nproc`` processes under torchrun (one machine, a free
    rendezvous port); returns torchrun's exit status."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"]
    return subprocess.call([*cmd, "-m", "graphhyper.ghn.train", *argv])


def _check_nproc(args: argparse.Namespace, device: str) -> None:
    from graphhyper.errors import InvalidInputError

    nproc = args.nproc_per_node
    if nproc > args.meta_batch:
        raise InvalidInputError(
            f"--nproc-per-node {nproc} is more than --meta-batch {args.meta_batch}: the global meta-batch is "
            f"split over the processes, so use --meta-batch {nproc} or more, or fewer processes."
        )
    if device == "mps":
        raise InvalidInputError("--nproc-per-node > 1 runs on cpu (gloo) or cuda (NCCL), not mps; use --device cpu.")
    if device.startswith("cuda"):
        import torch

        if nproc > torch.cuda.device_count():
            raise InvalidInputError(
                f"--nproc-per-node {nproc} on CUDA needs {nproc} GPUs, this machine has "
                f"{torch.cuda.device_count()}; use fewer processes or --device cpu."
            )


def _train(args: argparse.Namespace) -> int:
    import logging

    import torch

    from graphhyper.ghn.model import GHNConfig
    from graphhyper.ghn.train import TrainConfig, run_training

    _check_export(args)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    worker = os.environ.get("WORLD_SIZE", "1").strip() not in ("", "0", "1")  # already one of torchrun's processes
    if args.nproc_per_node is not None and args.nproc_per_node > 1 and not worker:
        _check_nproc(args, device)
        argv = _train_argv(argparse.Namespace(**{**vars(args), "nproc_per_node": None}))
        return launch_torchrun(argv, args.nproc_per_node)
    torch.set_num_threads(args.threads)
    rank0 = os.environ.get("RANK", "0") == "0"
    logging.basicConfig(level=logging.INFO if rank0 else logging.WARNING, format="%(asctime)s %(message)s")
    cfg = TrainConfig(
        tasks=args.tasks.split(","),
        steps=args.steps,
        meta_batch=args.meta_batch,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup=args.warmup,
        pool_size=args.pool_size,
        seed=args.seed,
        ckpt_every=args.ckpt_every,
        device=device,
        pool_mix=args.pool_mix,
        init_from=args.init_from,
    )
    gcfg = GHNConfig(
        hidden=args.hidden,
        encoder=args.encoder,
        decoder=args.decoder,
        mip=args.mip,
        rank=args.rank,
        code_dim=args.code_dim,
        weight_scale=args.weight_scale,
    )
    trainer = run_training(
        cfg,
        gcfg,
        args.out,
        None if args.max_minutes is None else args.max_minutes * 60,
        export=args.export,
        export_only=args.export_only,
        command=_command_line(args),
        export_dtype=args.export_dtype or "float32",
    )
    for h in trainer.history[-3:] if trainer.rank == 0 else []:
        print(h)
    return 0


def _check_export(args: argparse.Namespace) -> None:
    """Refuse, before any training, an export that cannot happen: nothing to export, or nowhere to write it."""
    from pathlib import Path

    from graphhyper.errors import InvalidInputError

    if args.export_only and not args.export:
        raise InvalidInputError("--export-only exports OUT/last.pt; also give --export NAME (or a path).")
    if args.export_only and not (Path(args.out) / "last.pt").is_file():
        raise InvalidInputError(
            f"--export-only: {Path(args.out) / 'last.pt'} does not exist; train first or point "
            "--out at the run directory that holds it."
        )
    if args.export:
        target = Path(args.export)
        if target.parent == Path(".") and not target.suffix:  # a bare name goes into the bundled checkpoints
            from graphhyper.ghn import hub

            target = hub.PRETRAINED_DIR / args.export
        try:
            writable_file(str(target.with_suffix(".safetensors")))
        except argparse.ArgumentTypeError as exc:
            raise InvalidInputError(f"--export {args.export!r}: {exc}") from None


#: ``--model KIND:SPEC.json`` kinds read from a spec file: the space module and the class whose ``from_json`` reads it.
_SPEC_SPACES = {"darts": ("darts", "DartsSpec"), "vit": ("vit", "ViTSpec"), "gpt": ("gpt", "GPTSpec")}


def _load_model(spec: str):
    """``torchvision:NAME`` (built on the meta device), or ``darts:`` / ``vit:`` / ``gpt:SPEC.json`` (a space's
    network, built on the meta device). Returns the model and its trace options (``input_shape``, and ``dtype``
    for token inputs)."""
    from graphhyper.errors import InvalidInputError, require

    kind, _, name = spec.partition(":")
    if kind == "torchvision":
        tv = require("torchvision", extra="vision", purpose="torchvision models")
        if name not in tv.models.list_models():
            raise InvalidInputError(f"Unknown torchvision model {name!r}; see torchvision.models.list_models().")
        from graphhyper.arch import meta_init

        with meta_init():  # parameters on meta: no memory, no init cost (RegNets too)
            model = tv.models.get_model(name)
        size = 299 if name.startswith("inception") else 224
        return model, {"input_shape": (1, 3, size, size)}
    if kind in _SPEC_SPACES:
        return _space_model(kind, name, spec)
    raise InvalidInputError(
        f"--model {spec!r}: use 'torchvision:NAME' (e.g. torchvision:resnet50), or 'darts:SPEC.json', "
        "'vit:SPEC.json', 'gpt:SPEC.json' (a file written by the space's spec .to_json())."
    )


def _space_model(kind: str, name: str, spec: str):
    """The network of a ``darts`` / ``vit`` / ``gpt`` spec file, on the meta device, with its trace options."""
    import importlib
    from pathlib import Path

    import torch

    from graphhyper.errors import InvalidInputError

    module_name, cls_name = _SPEC_SPACES[kind]
    try:
        existing_file(name)
    except argparse.ArgumentTypeError as exc:
        raise InvalidInputError(
            f"--model {spec!r}: {exc}; give {kind}:SPEC.json, a file written by {cls_name}.to_json()."
        ) from None
    space = importlib.import_module(f"graphhyper.arch.spaces.{module_name}")
    try:
        s = getattr(space, cls_name).from_json(Path(name).read_text())
    except (ValueError, TypeError) as exc:  # not JSON, or fields the spec does not have
        raise InvalidInputError(
            f"--model {spec!r}: not a {cls_name} ({exc}); write the file with {cls_name}.to_json()."
        ) from None
    with torch.device("meta"):
        model = space.build(s)
    trace = {"input_shape": s.input_shape}
    if kind == "gpt":
        trace["dtype"] = torch.long  # token ids
    return model, trace


def _predict(args: argparse.Namespace) -> int:
    import torch

    from graphhyper.ghn import from_pretrained

    torch.set_num_threads(args.threads)
    model, trace_kwargs = _load_model(args.model)
    if args.input_shape:
        trace_kwargs["input_shape"] = args.input_shape
    ghn = from_pretrained(args.ckpt)
    from graphhyper.errors import InvalidInputError
    from graphhyper.ghn.reference.ghn import PublishedGHN

    if args.fill != "reference" and not isinstance(ghn, PublishedGHN):
        raise InvalidInputError(
            f"--fill {args.fill} applies to published GHNs (ghn3tm8, ...); {args.ckpt} is one of ours, which "
            "predicts every parameter it has an op for: drop --fill."
        )
    if args.attention_nodes is not None:
        _set_attention_nodes(ghn, args)
    extra = {"fill": args.fill} if isinstance(ghn, PublishedGHN) else {}
    t0 = time.perf_counter()
    with torch.no_grad():
        pred = ghn.predict(model, **trace_kwargs, **extra)
    dt = time.perf_counter() - t0
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in pred.items()},
        args.out,
        metadata={"model": args.model, "ghn": args.ckpt, "unpredicted": ",".join(pred.unpredicted)},
    )
    n = sum(v.numel() for v in pred.values())
    print(f"predicted {len(pred)} tensors ({n:,} values) of {args.model} in {dt:.2f} s -> {args.out}")
    if pred.unpredicted:
        print(f"NOT predicted ({len(pred.unpredicted)}): {', '.join(pred.unpredicted)}")
        return 1
    return 0


def _set_attention_nodes(ghn, args: argparse.Namespace) -> None:
    """``--attention-nodes N``: the log-length attention rule of our transformer-encoder GHNs (see
    :class:`graphhyper.ghn.GHNConfig`), refused where it would silently do nothing."""
    from graphhyper.errors import InvalidInputError
    from graphhyper.ghn.reference.ghn import PublishedGHN

    if isinstance(ghn, PublishedGHN) or ghn.config.encoder != "transformer":
        kind = "a published GHN" if isinstance(ghn, PublishedGHN) else f"encoder={ghn.config.encoder!r}"
        raise InvalidInputError(
            f"--attention-nodes applies to our GHNs with a transformer encoder; {args.ckpt} is {kind}: drop "
            "--attention-nodes."
        )
    if args.attention_nodes < 0 or args.attention_nodes == 1:
        raise InvalidInputError(
            f"--attention-nodes {args.attention_nodes} is not a node count the rule takes (log 1 = 0): use 0 (off) "
            "or N >= 2."
        )
    ghn.config.attention_nodes = args.attention_nodes


def _list(args: argparse.Namespace) -> int:
    from graphhyper.ghn import hub

    for name in hub.list_pretrained():
        meta = hub.read_meta(hub.PRETRAINED_DIR / name)
        cfg, m = meta["config"], meta.get("meta", {})
        print(
            f"{name}: encoder={cfg['encoder']} decoder={cfg['decoder']} hidden={cfg['hidden']} mip={cfg['mip']} "
            f"steps={m.get('steps_done')} train_seconds={m.get('train_seconds')} "
            f"tasks={','.join(m.get('train_config', {}).get('tasks', [])) or '?'}"
        )
    from graphhyper.ghn.reference.published import PUBLISHED

    for entry in PUBLISHED.values():
        print(
            f"{entry.name}: published {entry.family.upper()}, {entry.params:,} parameters; {entry.note} ({entry.url})"
        )
    return 0


def _convert(args: argparse.Namespace) -> int:
    from graphhyper.ghn.reference.published import convert, load_converted

    t0 = time.perf_counter()
    st_path, js_path = convert(args.file, args.out, overwrite=args.overwrite)
    ckpt = load_converted(js_path)  # read back: the pair written is one that loads
    n = sum(v.numel() for v in ckpt.state_dict.values())
    print(
        f"{args.file}: {ckpt.family}, {len(ckpt.state_dict)} tensors ({n:,} values), "
        f"config {'from the file' if ckpt.config is not None else 'not in the file'} -> {st_path} + {js_path} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ghn", help="graph hypernetworks: predict parameters, train a GHN")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("predict", help="predict every parameter of a model and save them as safetensors")
    p.add_argument("--model", required=True, help="torchvision:NAME, or darts: / vit: / gpt:SPEC.json")
    p.add_argument(
        "--ckpt",
        default="ghn-tiny-tiled",
        type=non_empty,
        help="bundled or published GHN name (graphhyper ghn list), or a checkpoint path",
    )
    p.add_argument("--out", required=True, type=writable_file, help="output .safetensors file")
    p.add_argument("--input-shape", default=None, type=shape, help="e.g. 1,3,224,224 (default: the model's usual size)")
    p.add_argument("--threads", type=thread_count, default=2)
    p.add_argument(
        "--fill",
        default="reference",
        choices=["reference", "all"],
        help="published GHNs: predict what the published code predicts (reference), or also the parameters it "
        "leaves at init (all: layer scales, class tokens, relative-position tables, ...)",
    )
    p.add_argument(
        "--attention-nodes",
        type=int,
        default=None,
        metavar="N",
        help="our transformer-encoder GHNs: scale attention logits by log(nodes)/log(N) on graphs of more than N "
        "nodes (set N to the node count of the largest training graph; 0: off). Default: the checkpoint's setting",
    )
    p.set_defaults(handler=_predict)
    t = sub.add_parser("train", help="meta-batch train a GHN on digits / MNIST-1D DARTS architectures")
    _add_train_args(t)
    t.set_defaults(handler=_train)
    s = sub.add_parser("list", help="list the bundled GHN checkpoints")
    s.set_defaults(handler=_list)
    c = sub.add_parser(
        "convert",
        help="read a published GHN-2 / GHN-3 checkpoint once (safely) and write it as safetensors + JSON",
    )
    c.add_argument("file", type=non_empty, help="published name (ghn3tm8, ghn2_imagenet, ...) or a downloaded .pt file")
    c.add_argument("--out", required=True, type=writable_file, help="output NAME (writes NAME.safetensors + NAME.json)")
    c.add_argument("--overwrite", action="store_true", help="replace existing NAME.safetensors / NAME.json")
    c.set_defaults(handler=_convert)
