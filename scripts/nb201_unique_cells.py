"""How many of the 15,625 NAS-Bench-201 cells are unique? Ours vs the published 6,466.

Run: ``python scripts/nb201_unique_cells.py [--verify-params] [--trace]``

Three notions of "same cell" are counted:

1. ``nb201`` -- the benchmark's own rule (AutoDL-Projects ``Structure.to_unique_str(consider_zero=True)``):
   node ``i`` is the sorted ``+``-join of its incoming terms, a ``skip_connect`` term is the input expression
   itself, a ``none`` term (or any term read from a node whose expression is exactly ``#``) is the marker
   ``#``, other ops write ``(input)@op``. It yields the published 6,466 unique topologies.
2. ``semantic`` -- :func:`graphhyper.arch.spaces.nb201.cell_hash` (the default): each node is the *multiset* of
   its summands, and three things the benchmark's strings keep apart are merged: (a) zero terms are dropped
   from sums (``a + 0 == a``; the benchmark keeps a ``#`` per zero edge); (b) zero propagates through ops and
   through nodes fed only by zero (``conv(0) == 0``; the benchmark writes such a node ``#+#``, which no longer
   counts as zero downstream); (c) a sum passed on by ``skip_connect`` is spliced into the outer sum as
   summands (associativity; the benchmark splices the *string* ``a+b`` and re-sorts only the outer level, so
   equal multisets can give different strings). Every nb201 class lies inside one semantic class; the count
   drops from 6,466 to 4,930. The one approximation: ReLU-Conv-BN of an all-zero input is taken as zero (in
   eval mode it is the BN shift, a constant that does not depend on the input either).
   ``functional`` also uses that parameter-free average pooling is linear (``pool(a+b) == pool(a)+pool(b)``):
   4,660. A numeric check (all cells evaluated with generic random weights shared per op type, zero kept
   symbolic) finds exactly 4,660 distinct outputs, and every class of every rule is one function.
3. ``trace`` (``--trace``, ~10 min on one core) -- the Weisfeiler-Lehman structural hash of
   :class:`~graphhyper.arch.ArchGraph` of each traced cell (``C=16``, 8x8 input). This is pure graph isomorphism
   with no op semantics: identity edges vanish from the traced graph, ``none`` edges stay as ``mul``-by-zero
   nodes, sums are binary ``add`` nodes in code order, so it separates cells the two rules above merge:
   12,320 unique traced graphs (measured). Cells still collapse where the traced graphs are isomorphic, e.g.
   when node 1 is a skip copy of the input, ops reading node 0 or node 1 trace to the same graph; in a check
   of 300 such cells every collision also had equal semantic hashes.

``--verify-params`` builds every one of the 15,625 networks on the meta device and checks its parameter count
against ``73,306 + 5 * (n3x3 * 48,608 + n1x1 * 5,600)``.
"""

from __future__ import annotations

import argparse
import collections
import random
import time

import torch

from graphhyper.arch.spaces import nb201


def count_unique(mode: str) -> dict:
    groups = collections.defaultdict(list)
    for cell in nb201.all_cells():
        groups[nb201.cell_hash(cell, mode)].append(cell)
    return groups


def explain(sem: dict, pub: dict) -> None:
    """Print a few semantic classes that the benchmark's rule splits, then check the refinement."""
    pub_of = {c: h for h, cells in pub.items() for c in cells}
    split_classes = [
        cells for cells in sem.values() if len({pub_of[c] for c in cells}) > 1 and any("conv" in op for op in cells[0])
    ]
    for cells in random.Random(0).sample(split_classes, 3):
        a = cells[0]
        b = next(c for c in cells if pub_of[c] != pub_of[a])
        print(
            f"  same function {nb201.canonical(a, 'semantic')}, different nb201 keys:\n"
            f"    {nb201.to_str(a)}\n    {nb201.to_str(b)}"
        )
    sem_of = {c: h for h, cells in sem.items() for c in cells}
    split = sum(len({sem_of[c] for c in cells}) > 1 for cells in pub.values())
    print(f"  nb201 classes split by the semantic rule: {split} (0: the semantic rule only merges, never splits)")


def numeric_check(groups_by_mode: dict) -> None:
    """Evaluate all cells with random weights shared per op type; compare partitions with the hash modes."""
    t0 = time.perf_counter()
    fp = nb201.numeric_fingerprints(seed=0)
    print(
        f"numeric     (distinct outputs with generic weights, zero kept symbolic): {len(set(fp.values()))} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    for mode, groups in groups_by_mode.items():
        consistent = all(len({fp[c] for c in cells}) == 1 for cells in groups.values())
        print(f"  {mode:10s}: {len(groups)} classes, every class one function: {consistent}")


def verify_params() -> None:
    t0 = time.perf_counter()
    bad = 0
    for cell in nb201.all_cells():
        with torch.device("meta"):
            net = nb201.build(cell)
        n = sum(p.numel() for p in net.parameters())
        formula = 73_306 + 5 * (cell.count("nor_conv_3x3") * 48_608 + cell.count("nor_conv_1x1") * 5_600)
        bad += n != formula or n != nb201.expected_num_params(cell)
    print(
        f"parameter counts: {nb201.NUM_CELLS - bad} / {nb201.NUM_CELLS} cells match the formula "
        f"({time.perf_counter() - t0:.1f} s)"
    )


def count_traced() -> int:
    from graphhyper.arch import trace

    t0 = time.perf_counter()
    hashes = set()
    for cell in nb201.all_cells():
        with torch.device("meta"):
            module = nb201.Cell(cell, 16)
        hashes.add(trace(module, input_shape=(1, 16, 8, 8)).structural_hash())
    print(
        f"trace       (ArchGraph WL hash of the traced cell): {len(hashes)} unique ({time.perf_counter() - t0:.1f} s)"
    )
    return len(hashes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify-params", action="store_true", help="count parameters of all 15,625 networks")
    parser.add_argument("--trace", action="store_true", help="also count unique traced ArchGraphs (slow)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pub, sem = count_unique("nb201"), count_unique("semantic")
    print(f"cells: {nb201.NUM_CELLS}")
    print(f"nb201       (benchmark rule, to_unique_str(consider_zero=True)): {len(pub)} unique (published: 6466)")
    print(f"semantic    (graphhyper cell_hash, zero dropped/propagated): {len(sem)} unique")
    zero = sum(len(cells) for cells in sem.values() if nb201.canonical(cells[0], "semantic") == "zero")
    print(f"  cells whose output does not depend on the input (one semantic class): {zero}")
    explain(sem, pub)
    func = count_unique("functional")
    print(f"functional  (semantic + avg-pool linearity, pool(a+b) = pool(a)+pool(b)): {len(func)} unique")
    numeric_check({"nb201": pub, "semantic": sem, "functional": func})
    if args.verify_params:
        verify_params()
    if args.trace:
        count_traced()


if __name__ == "__main__":
    main()
