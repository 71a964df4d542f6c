import dexed
import numpy as np
import pytest

from deepdx.dx7 import bank_bytes, checksum, pack, scan
from deepdx.dx7.sysex import write_bank
from tests.conftest import random_voices


def single_dump(params_row: np.ndarray, channel: int = 0) -> bytes:
    payload = bytes(params_row)
    return bytes([0xF0, 0x43, channel, 0x00, 0x01, 0x1B]) + payload + bytes([checksum(payload), 0xF7])


def test_bank_has_header_checksum_and_end():
    data = bank_bytes(random_voices(32))
    assert len(data) == 4104 and data[:6] == bytes([0xF0, 0x43, 0, 9, 0x20, 0]) and data[-1] == 0xF7
    assert (sum(data[6:4102]) + data[4102]) % 128 == 0


def test_bank_write_refuses_out_of_range_values():
    params = random_voices(32)
    params[3, 0] = 120
    with pytest.raises(ValueError, match="out-of-range"):
        bank_bytes(params)
    with pytest.raises(ValueError, match="32 voices"):
        bank_bytes(params[:31])


def test_any_midi_channel_and_several_messages_in_one_file():
    params = random_voices(33, seed=1)
    bank = bytearray(bank_bytes(params[:32]))
    bank[2] = 0x05  # MIDI channel 6
    roland = bytes([0xF0, 0x41, 0x10, 0x42, 0x12, 0x00, 0xF7])
    s = scan(roland + bytes(bank) + single_dump(params[32], channel=15))
    assert [b.form for b in s.blocks] == ["bulk32", "single"]
    assert all(b.checksum_ok for b in s.blocks)
    assert np.array_equal(s.blocks[0].decoded.params, params[:32])
    assert np.array_equal(s.blocks[1].decoded.params[0], params[32])
    assert len(s.notes) == 1 and "not a DX7 voice dump" in s.notes[0]


def test_headerless_bank_and_packed_stream():
    params = random_voices(40, seed=2)
    for n in (32, 40):
        s = scan(pack(params[:n]).tobytes())
        assert s.blocks[0].form == "headerless" and s.voice_slots == n
        assert np.array_equal(s.blocks[0].decoded.params, params[:n])


def test_corrupt_status_bytes_inside_a_bank_do_not_split_it():
    data = bytearray(bank_bytes(random_voices(32)))
    data[6 + 128 * 5 + 3] = 0xF7
    data[6 + 128 * 9 + 3] = 0xF0
    s = scan(bytes(data))
    assert len(s.blocks) == 1 and s.voice_slots == 32
    assert s.blocks[0].decoded.eight_bit.sum() == 2 and s.blocks[0].checksum_ok is False


def test_truncated_bad_checksum_and_garbage_are_reported():
    good = bank_bytes(random_voices(32))
    s = scan(good[:2000])
    assert s.voice_slots == 32 and s.blocks[0].decoded is None and "malformed" in s.blocks[0].problem
    bad = bytearray(good)
    bad[4102] ^= 1
    assert scan(bytes(bad)).blocks[0].checksum_ok is False
    assert scan(b"").error == "empty file"
    assert "not DX7 data" in scan(b"hello, this is text").error
    assert "no DX7 voice message" in scan(bytes([0xF0, 0x41, 1, 2, 0xF7])).error
    assert "stray bytes" in scan(b"xx" + good + b"yy").notes[0]


def test_factory_banks_round_trip_byte_for_byte(factory_banks, tmp_path):
    assert len(factory_banks) == 32
    valid = 0
    for path in factory_banks:
        data = path.read_bytes()
        block = scan(data).blocks[0]
        assert block.checksum_ok, path.name
        d = block.decoded
        # every voice keeps its bytes through unpack + pack, unless it set bits the DX7 ignores
        original = np.frombuffer(data[6:4102], np.uint8).reshape(32, 128)
        clean = ~d.ignored_bits
        assert np.array_equal(pack(d.params)[clean], original[clean]), path.name
        if clean.all() and not d.out_of_range.any():  # a fully valid bank: the writer reproduces it
            assert bank_bytes(d.params) == data, path.name
            write_bank(tmp_path / "b.syx", d.params)
            assert (tmp_path / "b.syx").read_bytes() == data
            valid += 1
    assert valid >= 10  # 12 of the 32 banks hold no out-of-range "watermark" value


def test_written_banks_load_in_dexed(tmp_path):
    params = random_voices(32, seed=5)
    write_bank(tmp_path / "bank.syx", params)
    patches = dexed.Patch.load_bank(str(tmp_path / "bank.syx"))
    assert len(patches) == 32
    assert np.array_equal(np.stack([p.to_raw() for p in patches]), params)


def test_banks_decode_like_dexed_load_bank(banks, tmp_path):
    """Factory banks ([factory]) and built ones ([built]), read by us and by Dexed."""
    compared = 0
    for n, data in enumerate(banks):
        path = tmp_path / f"{n}.syx"
        path.write_bytes(data)
        d = scan(data).blocks[0].decoded
        assert d is not None, n
        theirs = np.stack([p.to_raw() for p in dexed.Patch.load_bank(str(path))])
        valid = ~d.out_of_range.any(axis=1)  # dexed clamps what is out of range; compare the rest
        assert np.array_equal(theirs[valid], d.params[valid]), path.name
        compared += valid.sum()
    assert compared >= 0.9 * 32 * len(banks)  # the voices Dexed does not clamp (962 of the 1,024 factory voices)
