import dexed
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepdx.dx7 import pack, unpack
from deepdx.dx7.packing import decode_unpacked, encode_name, names
from deepdx.dx7.params import INDEX
from tests.conftest import random_voices


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_pack_unpack_round_trip(seed):
    params = random_voices(64, seed)
    decoded = unpack(pack(params))
    assert np.array_equal(decoded.params, params)
    assert not decoded.ignored_bits.any() and not decoded.eight_bit.any()


def test_ignored_bits_and_eight_bit_bytes_are_flagged():
    packed = pack(random_voices(3))
    packed[0, 110] = 0x60 | 4  # algorithm 5 with the two unused bits set
    packed[1, 20] = 0xC3  # a byte above 127
    d = unpack(packed)
    assert d.params[0, INDEX["algorithm"]] == 4 and d.ignored_bits.tolist() == [True, True, False]
    assert d.eight_bit.tolist() == [False, True, False]


def test_out_of_range_in_documented_bits():
    packed = pack(random_voices(1))
    packed[0, 0] = 127  # op6 EG rate 1: 7 documented bits, maximum 99
    assert unpack(packed).out_of_range[0, 0]


def test_unpacked_voices_decode_like_packed_ones():
    params = random_voices(5, seed=3)
    assert np.array_equal(decode_unpacked(params).params, unpack(pack(params)).params)


def test_names_round_trip_and_replace_unprintables():
    params = random_voices(1)
    params[0, -10:] = encode_name("E.PNO 1")
    assert names(params) == ["E.PNO 1   "]
    params[0, -1] = 7
    assert names(params)[0].endswith("?")


@pytest.mark.parametrize("seed", [0, 1])
def test_decoder_agrees_with_dexed_on_random_voices(seed):
    params = random_voices(50, seed)
    for row, packed in zip(params, pack(params)):
        assert np.array_equal(dexed.Patch.from_packed(packed.tobytes()).to_raw(), row)
