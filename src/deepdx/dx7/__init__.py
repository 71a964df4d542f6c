"""The instrument: parameter table, packing, sysex I/O and validation policies."""

from .packing import Decoded, decode_unpacked, encode_name, names, pack, unpack
from .params import MAX, N_PARAMS, N_SOUND_PARAMS, NAMES, PARAMS
from .sysex import bank_bytes, checksum, scan, write_bank
from .validate import POLICIES, apply_policy, check_ranges

__all__ = [
    "Decoded",
    "decode_unpacked",
    "encode_name",
    "names",
    "pack",
    "unpack",
    "MAX",
    "N_PARAMS",
    "N_SOUND_PARAMS",
    "NAMES",
    "PARAMS",
    "bank_bytes",
    "checksum",
    "scan",
    "write_bank",
    "POLICIES",
    "apply_policy",
    "check_ranges",
]
