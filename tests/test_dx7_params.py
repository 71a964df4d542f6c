import numpy as np

from deepdx.dx7 import params as P


def test_table_has_155_parameters_with_unique_names():
    assert P.N_PARAMS == 155 and P.N_SOUND_PARAMS == 145
    assert len(set(P.NAMES)) == 155


def test_fields_tile_the_packed_voice_without_overlap():
    used = np.zeros(P.PACKED_SIZE, dtype=int)
    for p in P.PARAMS:
        bits = ((1 << p.bits) - 1) << p.shift
        assert bits < 128, f"{p.name} reaches bit 7"
        assert not used[p.byte] & bits, f"{p.name} overlaps another field"
        used[p.byte] |= bits
        assert p.max < (1 << p.bits), f"{p.name}: range does not fit its bits"
    assert (used > 0).all(), "some packed byte holds no parameter"


def test_layout_matches_the_sysex_documentation():
    # spot checks against shared/reference/dx7-sysex-format.txt
    assert P.NAMES[0] == "op6_eg_rate1" and P.NAMES[21] == "op5_eg_rate1" and P.NAMES[105] == "op1_eg_rate1"
    assert P.INDEX["op6_detune"] == 20 and P.PARAMS[20].byte == 12 and P.PARAMS[20].shift == 3
    assert P.INDEX["algorithm"] == 134 and P.PARAMS[134].byte == 110
    assert P.INDEX["transpose"] == 144 and P.MAX[144] == 48
    assert P.INDEX["lfo_waveform"] == 142 and (P.PARAMS[142].byte, P.PARAMS[142].shift, P.MAX[142]) == (116, 1, 5)
    assert P.PARAMS[P.op_index(1, "freq_coarse")].byte == 5 * 17 + 15
    assert [P.op_index(1, f) for f in P.OPERATOR_FIELDS] == list(range(105, 126))


def test_raw_masks_cover_the_unused_high_bits():
    # the algorithm byte has two unused bits above the field; the raw mask sees them
    assert P.MASK[134] == 0x1F and P.RAW_MASK[134] == 0xFF
    # op6 left curve shares its byte with right curve: only the top field owns the spare bits
    assert P.RAW_MASK[11] == P.MASK[11] == 0x03 and P.RAW_MASK[12] == 0xFF >> 2
