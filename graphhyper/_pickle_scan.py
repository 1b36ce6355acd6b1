"""A dry run over a pickle's opcodes, before anything is unpickled.

Some costs of unpickling are chosen by opcodes alone, without calling anything: a length field or memo index
of 2**32 makes CPython's unpickler allocate that much up front; a few bytes of ``EMPTY_SET`` build hundreds of
bytes of objects each; a tuple nested a million deep crashes ``hash()``; a tuple that shares its halves through
the memo doubles its hashing cost at every level. :func:`scan` walks the opcodes with ``pickletools.genops``
(which checks every length against the data), keeps a model of the stack and the memo, and refuses the pickle
when the objects it would build, or the work to hash its set elements and dict keys, exceed a small multiple
of its size.

It serves every allow-list unpickler in graphhyper (dataset pickles in :mod:`graphhyper.data.safe_pickle`, published
GHN checkpoints in :mod:`graphhyper.ghn.reference`): ``data`` may be the bytes or an open binary file (read once,
one opcode argument at a time), and the caller chooses the error type its messages end in. A caller may also
pass ``check_global(module, name)``, called for every global the opcodes name (``GLOBAL``, and ``STACK_GLOBAL``
whose two strings the scan saw pushed or memoised): an unknown global is then refused in the scan, before bytes
that are not opcodes (joblib writes numpy arrays' data after their wrapper) end it with a vaguer message.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass
from typing import BinaryIO, Callable

from graphhyper.errors import DatasetError, GraphhyperError

#: objects built by the opcodes, and hashing work, may reach this many times the pickle's size plus BASE.
FACTOR = 64
BASE = 1 << 20
MAX_TUPLE_DEPTH = 100
_FIX = "Delete the file and load the dataset again to re-download it from the source in its card."
# bytes of objects an opcode builds (beyond its own argument); other opcodes count _DEFAULT_COST
_COST = {
    "EMPTY_SET": 216,
    "FROZENSET": 216,
    "EMPTY_DICT": 64,
    "DICT": 64,
    "EMPTY_LIST": 56,
    "LIST": 56,
    "TUPLE": 64,
    "TUPLE1": 56,
    "TUPLE2": 64,
    "TUPLE3": 72,
}
_DEFAULT_COST = 16
_TUPLES = frozenset({"TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"})
GlobalCheck = Callable[[str, str], None]


@dataclass(frozen=True)
class _Item:
    """What the model knows of a stack entry: for tuples, nodes hashed by ``hash()`` and nesting depth."""

    size: int = 1
    depth: int = 0
    text: str | None = None  # the value, for strings (module and name of STACK_GLOBAL)


_LEAF = _Item()
_MARK = _Item(0, -1)


def _dataset_error(source: str, what: str) -> GraphhyperError:
    return DatasetError(f"{source}: {what}; the file is truncated or corrupt, or was crafted. {_FIX}")


class _Model:
    def __init__(
        self, size: int, source: str, error: Callable[[str, str], GraphhyperError], check_global: GlobalCheck | None
    ) -> None:
        self.source, self.size, self.error, self.check_global = source, size, error, check_global
        self.limit = FACTOR * size + BASE
        self.stack: list[_Item] = []
        self.memo: dict[int, _Item] = {}
        self.built = 0
        self.hashed = 0
        self.last_arg: object = None

    def fail(self, what: str) -> GraphhyperError:
        return self.error(self.source, what)

    def pop(self, n: int) -> list[_Item]:
        if n > len(self.stack) or any(item is _MARK for item in self.stack[len(self.stack) - n :]):
            raise self.fail("the pickle takes more objects from its stack than it put there")
        items = self.stack[len(self.stack) - n :] if n else []
        del self.stack[len(self.stack) - n :]
        return items

    def pop_to_mark(self) -> list[_Item]:
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k] is _MARK:
                items = self.stack[k + 1 :]
                del self.stack[k:]
                return items
        raise self.fail("the pickle closes a mark it never opened")

    def hash(self, items: list[_Item]) -> None:
        self.hashed += sum(item.size for item in items)

    def step(self, name: str, op: pickletools.OpcodeInfo, arg: object) -> None:
        self.last_arg = arg
        self.built += _COST.get(name, _DEFAULT_COST) + (len(arg) if isinstance(arg, (str, bytes)) else 0)
        if name in _MEMO_PUT or name in _MEMO_GET:
            if not isinstance(arg, int) or not 0 <= arg < self.size:
                raise self.fail(f"memo index {arg!r:.30} is out of range for a pickle of {self.size} bytes")
            if name in _MEMO_PUT:
                self.memo[arg] = self.pop(1)[0]
                self.stack.append(self.memo[arg])
            else:
                self.stack.append(self.memo.get(arg, _LEAF))
            return
        if name == "MEMOIZE":  # CPython stores it at the number of entries the memo holds
            key = len(self.memo)
            self.memo[key] = self.pop(1)[0]
            self.stack.append(self.memo[key])
            return
        if name == "DUP":
            self.stack.extend(self.pop(1) * 2)
            return
        if name == "MARK":
            self.stack.append(_MARK)
            return
        before = op.stack_before
        if pickletools.markobject in before:
            sliced = self.pop_to_mark()
            popped = self.pop(before.index(pickletools.markobject))
        else:
            sliced, popped = [], self.pop(len(before))
        self.push(name, op, sliced, popped)

    def push(self, name: str, op: pickletools.OpcodeInfo, sliced: list[_Item], popped: list[_Item]) -> None:
        if name in _STRINGS and isinstance(self.last_arg, str):
            self.stack.append(_Item(text=self.last_arg))
            return
        if self.check_global is not None and name in ("GLOBAL", "STACK_GLOBAL"):
            module: str | None
            attr: str | None
            if name == "GLOBAL":
                module, _, attr = str(self.last_arg).partition(" ")
            else:
                module, attr = popped[0].text, popped[1].text
            if module is not None and attr is not None:
                self.check_global(module, attr)
        if name in _TUPLES:
            members = sliced or popped
            item = _Item(1 + sum(m.size for m in members), 1 + max((m.depth for m in members), default=0))
            if item.depth > MAX_TUPLE_DEPTH:
                raise self.fail(f"tuples nested more than {MAX_TUPLE_DEPTH} deep")
            self.stack.append(item)
            return
        if name in ("ADDITEMS", "FROZENSET"):
            self.hash(sliced)
        elif name in ("SETITEMS", "DICT"):
            self.hash(sliced[0::2])
        elif name == "SETITEM":
            self.hash(popped[1:2])
        self.stack.extend([_LEAF] * len(op.stack_after))

    def check(self) -> None:
        if self.built > self.limit:
            raise self.fail(
                f"its opcodes build about {self.built} bytes of objects, more than {FACTOR} x its {self.size} bytes"
            )
        if self.hashed > self.limit:
            raise self.fail(
                f"hashing its set elements and dict keys takes about {self.hashed} steps, more than "
                f"{FACTOR} x its {self.size} bytes (tuples shared through the memo)"
            )


def scan(
    data: bytes | BinaryIO,
    source: str,
    *,
    size: int | None = None,
    error: Callable[[str, str], GraphhyperError] = _dataset_error,
    check_global: GlobalCheck | None = None,
) -> None:
    """Refuse ``data`` when its opcodes alone would allocate or hash out of proportion.

    ``data`` is the pickle's bytes, or a binary file positioned at its start (then ``size`` is the file's size, the
    bound for memo indices and budgets). ``error(source, what)`` makes the exception raised (default:
    :class:`DatasetError` advising a fresh download of the dataset). ``check_global(module, name)`` raises to refuse a
    global the opcodes name.
    """
    if size is None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("scan: pass size= with a file object")
        size = len(data)
    model = _Model(size, source, error, check_global)
    try:
        for op, arg, _ in pickletools.genops(data):
            model.step(op.name, op, arg)
            if model.built > model.limit or model.hashed > model.limit:
                break
    except GraphhyperError:  # a refused global (CheckpointError is a ValueError too)
        raise
    except (ValueError, OverflowError, RecursionError) as exc:  # genops: truncated argument, unknown opcode
        raise model.fail(f"not a readable pickle ({str(exc)[:200]})") from exc
    model.check()
