"""What the discriminator sees of a voice's sound (deepdx.dx7.tuning, deepdx.models.sound)."""

import math

import numpy as np
import pytest
import torch

from deepdx.config import ModelConfig
from deepdx.dx7 import tuning
from deepdx.dx7.params import OPS, op_index
from deepdx.errors import DeepDXError
from deepdx.models.codec import Heads, dequantize
from deepdx.models.nets import Architecture, Discriminator, load_generator
from deepdx.models.sound import SoundFeatures
from tests.conftest import cgan, random_voices


def test_tuning_follows_the_dx7():
    assert tuning.frequency_ratio(np.array([0, 1, 1, 3]), np.array([0, 0, 50, 99])).tolist() == pytest.approx(
        [0.5, 1.0, 1.5, 5.97]
    )
    assert float(tuning.level_gain(99)) == 1.0
    assert float(tuning.level_gain(91)) == pytest.approx(0.5, rel=0.01)  # eight steps: about 6 dB
    assert tuning.frequency_ratio(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 0.0])).tolist() == [0.5, 2.0]


def _features(voices: np.ndarray, heads: Heads = Heads(8), roles: bool = False) -> np.ndarray:
    return SoundFeatures(heads, roles)(torch.from_numpy(heads.encode(voices)))[:, heads.width :].numpy()


def test_features_say_each_operators_amplitude_and_frequency_ratio():
    voices = random_voices(3)
    first, last = OPS[0], OPS[-1]  # the first operator block's panel number, and the last's
    for v, (level, coarse, fine) in enumerate([(99, 2, 0), (91, 1, 25), (50, 0, 0)]):
        voices[v, op_index(first, "output_level")] = level
        voices[v, op_index(first, "freq_coarse")] = coarse
        voices[v, op_index(first, "freq_fine")] = fine
    voices[:, op_index(last, "output_level")] = 0
    f = _features(voices)
    n = len(OPS)
    gain, pitch = f[:, 0], f[:, n]
    assert gain[:2].tolist() == pytest.approx([1.0, 0.0], abs=0.02)  # full, and half amplitude
    assert f[:, n - 1].tolist() == pytest.approx([2 * 10 ** (-99 * 0.75 / 20) - 1] * 3)  # silent operator
    assert pitch.tolist() == pytest.approx([math.log2(r) / 3 - 1 for r in (2, 1.25, 0.5)], abs=1e-6)
    assert f.shape == (3, SoundFeatures.size()) and np.abs(f).max() <= 1.4


def test_with_roles_each_amplitude_is_a_carriers_or_a_modulators_by_the_algorithm():
    from deepdx.dx7.algorithms import carriers
    from deepdx.dx7.params import INDEX

    voices = random_voices(32)
    voices[:, INDEX["algorithm"]] = np.arange(32)  # stored 0-31: algorithms 1-32
    plain, f = _features(voices), _features(voices, roles=True)
    n = len(OPS)
    gain, as_carrier, as_modulator = plain[:, :n], f[:, :n], f[:, n : 2 * n]
    assert np.array_equal(f[:, 2 * n :], plain[:, n:])  # the ratios as without roles
    for alg in range(1, 33):
        is_carrier = np.isin(OPS, carriers(alg))  # OPS: panel numbers in the codec's order
        row = alg - 1
        assert np.allclose(as_carrier[row, is_carrier], gain[row, is_carrier])
        assert np.allclose(as_modulator[row, ~is_carrier], gain[row, ~is_carrier])
        assert np.all(as_carrier[row, ~is_carrier] == -1) and np.all(as_modulator[row, is_carrier] == -1)
    assert f.shape == (32, SoundFeatures.size(roles=True))


def test_features_read_values_as_played_and_pass_gradients_straight_through():
    module = cgan("model.hidden=32", "model.sound_features=true")
    real = torch.from_numpy(module.codec.encode(random_voices(64)))
    sound = SoundFeatures(module.codec)
    extra = slice(module.codec.width, None)
    noisy = dequantize(real, module.codec.spread(real, module.widths))
    assert torch.allclose(sound(noisy)[:, extra], sound(real)[:, extra], atol=1e-6)
    x = real.clone().requires_grad_(True)
    sound(x)[:, extra].sum().backward()
    touched = (x.grad != 0).any(0)
    assert int(touched.sum()) == 3 * len(OPS)  # output levels, coarse and fine frequencies


def test_a_discriminator_with_sound_features_judges_a_batch_and_trains():
    cfg = Architecture.of(ModelConfig(hidden=32, sound_features=True), n_classes=8, layout="operator_blocks")
    d = Discriminator(cfg)
    heads = cfg.codec()
    assert d.net[1].in_features == heads.width + SoundFeatures.size(roles=True)
    x = torch.from_numpy(heads.encode(random_voices(6)))
    assert d(x, torch.zeros(6, dtype=torch.long), torch.zeros(6, dtype=torch.long)).shape == (6,)


def test_sound_features_apply_where_levels_and_frequencies_are_tanh_outputs():
    def applied(**kw):
        return Architecture.of(ModelConfig(sound_features=True, **kw), 8, "operator_blocks").sound_features

    assert applied() and applied(max_choices=31)
    assert not applied(arch="conv") and not applied(max_choices=32)  # the grid; coarse as a softmax
    roles = Architecture.of(ModelConfig(sound_features=True, sound_roles=True), 8, "operator_blocks")
    assert (
        roles.sound_roles
        and not Architecture.of(ModelConfig(sound_roles=True, choices=["algorithm"]), 8, "operator_blocks").sound_roles
    )  # algorithm as a softmax
    assert not Architecture.of(ModelConfig(sound_features=False), 8, "operator_blocks").sound_roles
    net = Architecture.of(ModelConfig(max_choices=32), 8, "operator_blocks").to_dict()
    with pytest.raises(DeepDXError, match="sound_features"):  # a file that claims otherwise
        Architecture.from_dict({**net, "sound_features": True})


def test_generator_files_written_before_sound_features_still_load(tmp_path):
    state = cgan("model.hidden=32").export()
    del state["net"]["sound_features"], state["net"]["sound_roles"]
    torch.save(state, tmp_path / "generator.pt")
    assert load_generator(tmp_path / "generator.pt").cfg.sound_features is False
    del state["net"]["hidden"]
    torch.save(state, tmp_path / "generator.pt")
    with pytest.raises(DeepDXError, match="lacks"):
        load_generator(tmp_path / "generator.pt")
