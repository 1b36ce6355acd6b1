"""Helpers every benchmark in ``scripts/bench/`` shares: the machine line printed with each figure, peak-RSS
probes, interleaved wall-clock timing and CUDA-event timing.

The scripts run as ``python scripts/bench/NAME.py``, so Python puts this folder on ``sys.path`` and they import
this module by its plain name.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from typing import Callable

import torch


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or :func:`platform.processor` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line() -> str:
    """One line to print beside every timing: CPU model, cores, torch threads, load average, torch version, GPU."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return (
        f"machine: {cpu_model()} | {os.cpu_count()} cores | torch threads {torch.get_num_threads()} | "
        f"load average {load} | torch {torch.__version__} | GPU {gpu}"
    )


def _status_kib(field: str) -> int:
    """A ``VmRSS``/``VmHWM`` field of ``/proc/self/status`` in KiB, or -1 where there is no such file."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def rss_gb() -> float:
    """Resident set size now, in GB (NaN where ``/proc`` is missing)."""
    kib = _status_kib("VmRSS")
    return kib / 1e6 if kib >= 0 else float("nan")


def peak_rss_gb() -> float:
    """Peak resident set size since the last :func:`reset_peak_rss`, in GB."""
    kib = _status_kib("VmHWM")
    return kib / 1e6 if kib >= 0 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs``); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, inner: dict[str, int]) -> dict[str, list[float]]:
    """Run every ``fns[name]`` once (warm-up), then ``rounds`` rounds in which each runs ``inner[name]`` times
    back to back; returns the per-call seconds of every round."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            times[name].append((time.perf_counter() - start) / inner[name])
    return times


def cuda_median(fn: Callable[[], object], reps: int = 20) -> float:
    """Median seconds of ``fn`` over ``reps`` CUDA-event timings, after three warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    return statistics.median(times)
