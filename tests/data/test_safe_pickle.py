import os
import pickle
import pickletools

import numpy as np
import pytest
import scipy.sparse as sp

from graphhyper.data import safe_loads
from graphhyper.errors import DatasetError, UnsafePickleError


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"features": _Evil(marker)}, protocol=2)
    assert any(op.name in ("GLOBAL", "STACK_GLOBAL") for op, _, _ in pickletools.genops(payload))
    with pytest.raises(UnsafePickleError, match="system"):
        safe_loads(payload, source="evil.pickle")
    assert not marker.exists()
    # sanity: the payload really is dangerous with the stock unpickler
    pickle.loads(payload)
    assert marker.exists()


@pytest.mark.parametrize("target", ["builtins.eval", "subprocess.Popen", "numpy.load", "torch.load"])
def test_other_globals_refused(target):
    module, name = target.rsplit(".", 1)
    payload = f"c{module}\n{name}\n(S'1'\ntR.".encode()
    with pytest.raises(UnsafePickleError, match=name):
        safe_loads(payload)


def test_allowed_objects_roundtrip():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    csr = sp.csr_matrix(arr)
    obj = {"a": arr, "m": csr, "s": {np.int32(3), np.int32(4)}, "l": [1, 2.5, "x"], "t": (1, 2)}
    for protocol in (2, 4):
        out = safe_loads(pickle.dumps(obj, protocol=protocol))
        np.testing.assert_array_equal(out["a"], arr)
        np.testing.assert_array_equal(out["m"].toarray(), arr)
        assert out["s"] == {3, 4} and out["l"] == [1, 2.5, "x"] and out["t"] == (1, 2)


def test_truncated_pickle_is_dataset_error():
    payload = pickle.dumps(list(range(1000)), protocol=2)
    with pytest.raises(DatasetError, match="truncated or corrupt"):
        safe_loads(payload[: len(payload) // 2], source="labels.pickle")
