"""A mido backend with one loopback output port, for testing `deepdx send` where the platform
offers no MIDI system (no ALSA sequencer in containers).  Select it with
``MIDO_BACKEND=tests.midi_loopback``; every message sent to the port is appended, as raw
bytes, to the file named by ``DEEPDX_MIDI_LOOPBACK``."""

import os

from mido.ports import BaseOutput

PORT = "DeepDX loopback"


def get_devices(**kwargs):
    return [{"name": PORT, "is_input": False, "is_output": True}]


class Output(BaseOutput):
    def _open(self, virtual=False, **kwargs):
        if self.name != PORT:
            raise OSError(f"unknown port {self.name!r}")

    def _send(self, message):
        with open(os.environ["DEEPDX_MIDI_LOOPBACK"], "ab") as f:
            f.write(bytes(message.bin()))
