"""Property test: banks (the factory ones, or built ones without the corpus), damaged the ways
real files are, never crash ingest or lose a voice."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepdx.corpus.ingest import ingest
from deepdx.dx7 import check_ranges

MUTATIONS = (
    "truncate",
    "bit_flips",
    "wrong_manufacturer",
    "bad_checksum",
    "concatenate",
    "empty",
    "not_sysex",
    "drop_end",
    "insert_garbage",
)


def mutate(data: bytes, other: bytes, kind: str, rng: np.random.Generator) -> bytes:
    b = bytearray(data)
    if kind == "truncate":
        return bytes(b[: int(rng.integers(0, len(b)))])
    if kind == "bit_flips":
        for pos in rng.integers(0, len(b), int(rng.integers(1, 20))):
            b[pos] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if kind == "wrong_manufacturer":
        b[1] = 0x41
        return bytes(b)
    if kind == "bad_checksum":
        b[-2] = (b[-2] + 1) & 0x7F
        return bytes(b)
    if kind == "concatenate":
        return bytes(b) + other
    if kind == "empty":
        return b""
    if kind == "not_sysex":
        return rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
    if kind == "drop_end":
        return bytes(b[:-1])
    pos = int(rng.integers(0, len(b)))  # insert_garbage
    return bytes(b[:pos]) + rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes() + bytes(b[pos:])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.integers(0, 31), st.sampled_from(MUTATIONS), st.integers(0, 2**32 - 1)), min_size=1, max_size=6
    )
)
def test_mutated_banks_never_crash_and_every_voice_is_accounted(banks, tmp_path_factory, files):
    folder = tmp_path_factory.mktemp("fuzz")
    for n, (bank, kind, seed) in enumerate(files):
        rng = np.random.default_rng(seed)
        (folder / f"{n}_{kind}.syx").write_bytes(mutate(banks[bank], banks[(bank + 1) % 32], kind, rng))
    result = ingest([str(folder)], progress=False)
    v = result.report["voices"]
    assert v["in"] == v["accepted"] + v["rejected"] == sum(f["voices"] for f in result.files)
    assert len(result.files) == len(files)
    for f in result.files:
        assert f["status"] in ("read", "read, with rejections", "not DX7")
        assert f["voices"] == f["accepted"] + f["rejected"]
        if f["status"] == "not DX7" or (f["voices"] == 0):
            assert f["detail"], f  # a reason for every file that gave no voice
    assert all(r["reason"] for r in result.rejected)
    assert len(result.table["params"]) == v["accepted"]
    assert check_ranges(result.table["params"]).all()
