import math
import shutil
from dataclasses import replace

import mlflow
import numpy as np
import pytest
import torch
from torch.nn.functional import cross_entropy
from lightning.pytorch.callbacks import Callback

from deepdx.corpus.table import read_table, write_table
from deepdx.config import ModelConfig
from deepdx.dx7.params import BLOCK, INDEX, MAX
from deepdx.errors import DeepDXError
from deepdx.models import precision
from deepdx.models.diagnostics import CollapseProbe
from deepdx.models.cgan import CGAN
from deepdx.models.probed import without_lightning
from deepdx.models.losses import d_loss
from deepdx.models.codec import Grid, Heads, dequantize, spikes_of
from deepdx.models.data import load_group
from deepdx.models.nets import Architecture, Discriminator, Generator, OperatorGenerator, load_generator
from deepdx.models.train import EpochCheckpoint, epochs_for, train_group
from deepdx.config import compose
from tests.conftest import cgan, random_voices, split_dir


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"kernel_size": 3},
        {"kernel_size": 4, "layers": 2},
        {"kernel_size": 5, "d_first_kernel": 3, "layers": 4},
        {"kernel_size": 1, "layers": 1},
        {"conditional": "projection", "minibatch_std": True, "d_norm": "spectral"},
        {"g_kernels": [2, 3, 4], "d_kernels": [3, 3, 2], "g_channels": [32, 16, 8], "d_channels": [8, 16, 32]},
        {"algorithm_embed": 0},
    ],
)
def test_conv_forward_shapes(kw):
    cfg = Architecture.of(ModelConfig(arch="conv", **kw), n_classes=8, layout="operator_blocks")
    z, c, a = torch.randn(6, cfg.latent), torch.randint(0, 8, (6,)), torch.randint(0, 32, (6,))
    grid = Grid("operator_blocks").finish(Generator(cfg)(z, c, a))
    assert grid.shape == (6, 16, 16) and grid.abs().max() <= 1
    assert Discriminator(cfg)(grid, c, a).shape == (6,)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"layers": 0},
        {"max_choices": 2},
        {"max_choices": 100, "hidden": 32},
        {"algorithm_embed": 0, "minibatch_std": False, "conditional": "none"},
        {"g_norm": "batch"},
    ],
)
def test_mlp_forward_shapes(kw):
    cfg = Architecture.of(ModelConfig(arch="mlp", **kw), n_classes=8, layout="operator_blocks")
    heads = cfg.codec()
    z, c, a = torch.randn(6, cfg.latent), torch.randint(0, 8, (6,)), torch.randint(0, 32, (6,))
    x = heads.finish(Generator(cfg)(z, c, a))
    assert x.shape == (6, heads.width) and Discriminator(cfg)(x, c, a).shape == (6,)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"layers": 0},
        {"token_width": 16, "attention_heads": 2, "max_choices": 2},
        {"algorithm_embed": 0, "level_margin": 0.0},
    ],
)
def test_operator_tokens_write_their_own_parameters_heads(kw):
    spikes = ((INDEX["op1_output_level"], 99), (INDEX["pitch_eg_level1"], 50))
    cfg = Architecture.of(ModelConfig(arch="operators", **kw), n_classes=8, layout="operator_blocks", spikes=spikes)
    heads, G = cfg.codec(), Generator(cfg)
    assert isinstance(G, OperatorGenerator) and heads.spiked.size == 2 and G.tokens == 7
    z, c, a = torch.randn(6, cfg.latent), torch.randint(0, 8, (6,)), torch.randint(0, 32, (6,))
    raw = G(z, c, a)
    assert raw.shape == (6, heads.width) and Discriminator(cfg)(heads.finish(raw), c, a).shape == (6,)
    # each codec column comes from its own operator's token: op1's level and gate from op1's head
    blocks = heads.blocks()
    for column in (int(np.flatnonzero(heads.continuous == INDEX["op1_output_level"])[0]), heads.width - 1):
        raw[:, column].sum().backward(retain_graph=True)
        grads = [head.weight.grad is not None and head.weight.grad.abs().sum() > 0 for head in G.heads]
        assert grads == [t == blocks[column] for t in range(7)]
        G.zero_grad(set_to_none=True)
    assert blocks[heads.width - 1] == BLOCK[INDEX["pitch_eg_level1"]] == 6  # the last gate: a global level's
    levels = np.bincount(blocks[: len(heads.continuous)])
    assert len(set(levels[:6].tolist())) == 1 and levels[6] > 0  # the six operators alike; the globals their own


def test_an_operator_generator_file_loads_and_samples_as_it_was_trained(tmp_path):
    module = cgan("model.arch=operators", "model.token_width=16")
    torch.save(module.export(), tmp_path / "generator.pt")
    loaded = load_generator(tmp_path / "generator.pt")
    assert loaded.cfg.arch == "operators" and loaded.cfg.token_width == 16
    category, algorithm = torch.arange(16) % 8, torch.arange(16) % 32
    assert np.array_equal(
        loaded.sample(category, algorithm, torch.Generator().manual_seed(3)),
        module.voice_generator().sample(category, algorithm, torch.Generator().manual_seed(3)),
    )


def test_bad_architectures_are_refused():
    with pytest.raises(DeepDXError, match="whole cells"):
        Architecture.of(ModelConfig(arch="conv", layers=5), 8, "operator_blocks")
    with pytest.raises(DeepDXError, match="as long"):
        Architecture.of(ModelConfig(arch="conv", g_kernels=[2, 2], g_channels=[8, 8, 8]), 8, "operator_blocks")
    with pytest.raises(DeepDXError, match="model.loss"):
        ModelConfig(loss="mse")
    with pytest.raises(DeepDXError, match="model.arch"):
        ModelConfig(arch="transformer")
    with pytest.raises(DeepDXError, match="attention_heads"):
        ModelConfig(arch="operators", token_width=100, attention_heads=3)
    with pytest.raises(DeepDXError, match="attention_heads"):  # a generator file's word is checked too
        Architecture.from_dict(
            {**Architecture.of(ModelConfig(arch="operators"), 8, "operator_blocks").to_dict(), "token_width": 10**6}
        )


@pytest.mark.parametrize("max_choices", [0, 8, 32, 100])
def test_heads_round_trip_every_voice_and_put_choices_in_one_hot_blocks(max_choices, voices):
    heads = Heads(max_choices)
    x = heads.encode(voices)
    assert x.shape == (len(x), heads.width) and np.array_equal(heads.decode(x), voices[:, :145])
    blocks = x[:, len(heads.continuous) :]
    assert set(np.unique(blocks)) <= {0.0, 1.0} and blocks.sum(1).tolist() == [len(heads.categorical)] * len(x)
    assert len(heads.continuous) + len(heads.categorical) == 145
    assert all(MAX[i] + 1 <= max_choices for i in heads.categorical)


def test_named_parameters_get_a_softmax_head_whatever_their_value_count(voices):
    heads = Heads(8, ("transpose", "freq_coarse"))
    named = {INDEX["transpose"]} | {INDEX[f"op{op}_freq_coarse"] for op in range(1, 7)}
    assert named <= set(heads.categorical.tolist()) and not named & set(heads.continuous.tolist())
    assert heads.width == Heads(8).width - 7 + 49 + 6 * 32
    assert np.array_equal(heads.decode(heads.encode(voices)), voices[:, :145])
    with pytest.raises(DeepDXError, match="no DX7 sound parameter is called 'transpos'"):
        Heads(8, ("transpos",))


@pytest.mark.parametrize("choices", [(), ("transpose",)])
def test_training_samples_are_hard_one_hots_with_soft_gradients(choices):
    heads = Heads(8, choices)
    raw = torch.randn(5, heads.width, requires_grad=True)
    x = heads.finish(raw)
    blocks = x[:, len(heads.continuous) :]
    assert set(blocks.detach().unique().tolist()) <= {0.0, 1.0}
    assert (blocks.sum(1) == len(heads.categorical)).all()
    (x[:, len(heads.continuous) :] * torch.randn_like(blocks)).sum().backward()
    assert raw.grad[:, len(heads.continuous) :].abs().sum() > 0  # straight-through: logits learn


def test_sampling_gives_only_valid_values_the_requested_algorithm_and_is_seeded():
    for overrides in ((), ("model.arch=operators", "model.token_width=16"), ("model.arch=conv",), ("model=seed",)):
        generator = cgan("model.channels=16", "model.hidden=32", *overrides).voice_generator()
        category, algorithm = torch.arange(64) % 8, torch.arange(64) % 32

        def draw(seed, generator=generator, category=category, algorithm=algorithm, **kw):
            return generator.sample(category, algorithm, torch.Generator().manual_seed(seed), **kw)

        a = draw(1)
        assert a.shape == (64, 145) and a.dtype == np.uint8 and (a <= MAX[:145]).all()
        assert (a[:, INDEX["algorithm"]] == algorithm.numpy()).all()
        assert np.array_equal(a, draw(1)) and not np.array_equal(a, draw(2))
    still = draw(1, temperature=0, truncation=0)  # no noise: one voice per request (rows i and i + 32 ask alike)
    assert np.array_equal(still[:32], still[32:]) and not np.array_equal(still, draw(1))


def test_grid_output_is_masked_and_carries_the_algorithm():
    module = cgan("model.arch=conv", "model.channels=16")
    grid = module(torch.randn(4, 100), torch.zeros(4, dtype=torch.long), torch.tensor([0, 5, 17, 31]))
    assert (grid[:, ~module.codec.mask.bool()] == 0).all()
    assert module.codec.decode(grid.detach().numpy())[:, INDEX["algorithm"]].tolist() == [0, 5, 17, 31]


@pytest.mark.parametrize("choices", [(), ("transpose",)])
def test_temperature_zero_takes_the_most_likely_choice(choices):
    heads = Heads(8, choices)
    raw = torch.randn(3, heads.width)
    x = heads.sample(raw, temperature=0)
    likely = heads.decode(heads.finish(raw * 1e5))  # logits so sharp that Gumbel noise cannot move them
    assert np.array_equal(heads.decode(x.numpy())[:, heads.categorical], likely[:, heads.categorical])


def test_a_high_temperature_flattens_the_small_choices_but_not_transpose():
    heads = Heads(8, ("transpose",))
    raw = torch.randn(1, heads.width).repeat(4000, 1) * 3
    t = INDEX["transpose"]
    small = np.flatnonzero(np.isin(heads.categorical, np.flatnonzero(MAX[:t] < 8)))  # 2-8 values each

    def draw(temperature):
        x = heads.decode(heads.sample(raw, temperature, torch.Generator().manual_seed(0)).numpy())
        distinct = [len(np.unique(x[:, heads.categorical[b]])) for b in small]
        return x[:, t], np.mean(distinct)

    (transpose, spread), (hot_transpose, hot_spread) = draw(1.0), draw(4.0)
    assert np.array_equal(transpose, hot_transpose)  # drawn as trained
    assert hot_spread > spread  # the small choices reach more of their values


def spiked_voices(n: int = 400) -> np.ndarray:
    """Random voices, but op1's level 4 at 0 in 70 %, the first pitch level at 50 in 40 %,
    and the algorithm 5 in 90 % of them."""
    voices = random_voices(n, seed=3)
    rows = np.arange(n)
    voices[rows % 10 < 7, INDEX["op1_eg_level4"]] = 0
    voices[rows % 10 < 4, INDEX["pitch_eg_level1"]] = 50
    voices[rows % 10 < 9, INDEX["algorithm"]] = 5
    return voices


def test_spikes_are_the_common_values_of_levels_held_by_enough_voices():
    voices = spiked_voices()
    level4, pitch = INDEX["op1_eg_level4"], INDEX["pitch_eg_level1"]
    assert set(spikes_of(voices, 8, (), 0.5)) == {(level4, 0)}  # the algorithm is asked for, never gated
    assert {(level4, 0), (pitch, 50)} <= set(spikes_of(voices, 8, (), 0.3))
    assert spikes_of(voices, 8, (), 0.0) == () and spikes_of(voices, 8, (), 0.8) == ()
    with pytest.raises(DeepDXError, match="spikes"):
        Heads(8, (), ((INDEX["op1_osc_mode"], 0),))  # a choice, not a level
    with pytest.raises(DeepDXError, match="spikes"):
        Heads(8, (), ((INDEX["algorithm"], 5),))
    with pytest.raises(DeepDXError, match="a level twice"):
        Heads(8, (), ((INDEX["op1_eg_level4"], 0), (INDEX["op1_eg_level4"], 3)))
    assert spikes_of(voices[:0], 8, (), 0.5) == ()


@pytest.mark.parametrize("max_choices, share", [(8, 0.0), (0, 0.0), (0, 0.3)])
def test_heads_with_or_without_choices_and_gates_make_voices(max_choices, share):
    """No softmax block at all (max_choices 0), no gate at all (share 0): still a codec."""
    heads = Heads(max_choices, (), spikes_of(spiked_voices(), max_choices, (), share))
    raw = torch.randn(20, heads.width)
    for x in (heads.finish(raw), heads.sample(raw, 1.0, torch.Generator().manual_seed(0))):
        assert x.shape == (20, heads.width) and heads.decode(x.numpy()).shape == (20, 145)


def test_gates_round_trip_and_put_gated_levels_exactly_on_their_spike():
    voices = spiked_voices()
    spikes = spikes_of(voices, 8, ("transpose",), 0.3)
    heads = Heads(8, ("transpose",), spikes)
    assert heads.width == Heads(8, ("transpose",)).width + 2 * len(spikes)
    x = heads.encode(voices)
    assert np.array_equal(heads.decode(x), voices[:, :145])
    level4 = list(heads.continuous).index(INDEX["op1_eg_level4"])
    gate = heads.starts[len(heads.categorical) + [p for p, _ in spikes].index(INDEX["op1_eg_level4"])]
    assert np.array_equal(x[:, gate] == 1, voices[:, INDEX["op1_eg_level4"]] == 0)  # "at the spike" column
    raw = torch.randn(300, heads.width, requires_grad=True)
    out = heads.finish(raw)
    at = out[:, gate].detach().bool()
    assert at.any() and (~at).any()
    assert (out[at, level4] == -1).all() and (out[~at, level4] > -1).all()  # level 0 exactly; the tanh elsewhere
    out[:, level4].sum().backward()
    assert raw.grad[:, gate].abs().sum() > 0 and raw.grad[~at, level4].abs().sum() > 0  # both sides learn
    module = CGAN.from_config(compose("model.hidden=32"), 8, 0, spikes)
    real = torch.from_numpy(module.codec.encode(voices))
    # real levels at their spike stay exact, as generated ones are
    noisy = dequantize(real, module.codec.spread(real, module.widths))
    assert torch.equal(noisy[at_spike := real[:, gate].bool(), level4], real[at_spike, level4])
    assert not torch.equal(noisy[~at_spike, level4], real[~at_spike, level4])


def test_gates_take_their_more_likely_side_at_any_temperature():
    spikes = spikes_of(spiked_voices(), 8, ("transpose",), 0.3)
    heads = Heads(8, ("transpose",), spikes)
    raw = torch.randn(500, heads.width)
    gate_cols = heads.starts[len(heads.categorical) :]
    likely = (raw[:, gate_cols] > raw[:, gate_cols + 1]).numpy()  # "at the spike" the more likely side
    for temperature, seed in ((1.0, 0), (4.0, 1), (0.0, 2)):
        x = heads.sample(raw, temperature, torch.Generator().manual_seed(seed)).numpy()
        assert np.array_equal(x[:, gate_cols] == 1, likely)
        assert np.array_equal(x[:, heads.spiked][likely], np.broadcast_to(heads.spike_at.numpy(), likely.shape)[likely])


def test_a_generator_file_keeps_its_spikes_and_conv_has_none(tmp_path):
    spikes = spikes_of(spiked_voices(), 8, ("transpose",), 0.3)
    torch.save(CGAN.from_config(compose("model.hidden=32"), 8, 0, spikes).export(), tmp_path / "generator.pt")
    generator = load_generator(tmp_path / "generator.pt")
    assert generator.cfg.spikes == spikes and generator.codec.width == Heads(8, ("transpose",), spikes).width
    hash(generator.cfg.spikes)  # a tuple of tuples again: the codec cache keys on it
    with pytest.raises(DeepDXError, match="conv has none"):
        CGAN.from_config(compose("model=seed"), 8, 0, spikes)


def test_a_level_margin_reaches_the_end_values_short_of_tanhs_tails_and_keeps_their_gradient():
    plain, stretched = Heads(8, ("transpose",)), Heads(8, ("transpose",), (), 0.1)
    n = len(plain.continuous)
    raw = torch.zeros(3, plain.width)
    raw[:, :n] = torch.tensor([[1.6], [-1.6], [0.3]])  # tanh 0.92, -0.92 and 0.29
    raw.requires_grad_()
    out = stretched.finish(raw)
    assert (out[0, :n] == 1).all() and (out[1, :n] == -1).all()  # clipped: the end values exactly
    assert torch.allclose(out[2, :n], 1.1 * torch.tanh(torch.tensor(0.3)))  # inside: the stretched tanh
    top = stretched.decode(out.detach().numpy())[:, stretched.continuous]
    assert (top[0] == MAX[stretched.continuous]).all() and (top[1] == 0).all()
    assert (plain.decode(plain.finish(raw).detach().numpy())[0, plain.continuous] < MAX[plain.continuous]).all()
    out[:, :n].sum().backward()
    assert (raw.grad[:2, :n] > 0).all()  # straight through: a clipped level still learns which way to go
    sampled = stretched.sample(raw.detach(), 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(sampled[:, :n], out[:, :n].detach())  # training and sampling agree


def test_a_generator_file_keeps_its_level_margin_bad_margins_are_refused_and_conv_has_none(tmp_path):
    torch.save(CGAN.from_config(compose("model.hidden=32", "model.level_margin=0.1"), 8, 0).export(), tmp_path / "g.pt")
    generator = load_generator(tmp_path / "g.pt")
    assert generator.cfg.level_margin == 0.1 and generator.codec.margin == 0.1
    for arch in ("mlp", "conv"):  # refused at composition, whether or not the arch applies it
        with pytest.raises(DeepDXError, match="level_margin"):
            compose(f"model.arch={arch}", "model.level_margin=1.5")
    with pytest.raises(DeepDXError, match="level_margin"):  # a generator file bypasses the config
        replace(Architecture.of(ModelConfig(), 8, "operator_blocks"), level_margin=1.5).check()
    assert (
        Architecture.of(ModelConfig(arch="conv", level_margin=0.1), 8, "operator_blocks").level_margin == 0
    )  # no heads
    with pytest.raises(DeepDXError, match="conv has none"):  # a file that says otherwise
        replace(Architecture.of(ModelConfig(arch="conv"), 8, "operator_blocks"), level_margin=0.1).check()


def test_generated_voices_are_told_their_algorithm_in_training():
    module = cgan("model.hidden=32")
    x = module(torch.randn(4, 100), torch.zeros(4, dtype=torch.long), torch.tensor([0, 5, 17, 31]))
    assert module.codec.decode(x.detach().numpy())[:, INDEX["algorithm"]].tolist() == [0, 5, 17, 31]


@pytest.mark.parametrize("arch", ["conv", "mlp"])
def test_dequantization_stays_in_the_rounding_bin(arch):
    module = cgan(f"model.arch={arch}", "model.channels=8", "model.hidden=32", "model.dequantize=true")
    real = torch.from_numpy(module.codec.encode(random_voices(200)))
    noisy = dequantize(real, module.codec.spread(real, module.widths))
    assert noisy.abs().max() <= 1 and not torch.equal(noisy, real)
    assert np.array_equal(module.codec.decode(noisy.numpy()), module.codec.decode(real.numpy()))


def test_a_few_discriminator_steps_lower_its_loss_on_real_data(voices):
    torch.manual_seed(0)
    module = cgan("model=seed", "model.channels=32")
    real = torch.from_numpy(module.codec.encode(voices[:256]))
    c, a = torch.zeros(len(real), dtype=torch.long), torch.zeros(len(real), dtype=torch.long)
    opt = torch.optim.Adam(module.D.parameters(), lr=1e-3)
    fake = module(torch.randn(len(real), 100), c, a).detach()
    losses = []
    for _ in range(30):
        loss = d_loss("bce", module.D(real, c, a), module.D(fake, c, a))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def first_batch(voices: np.ndarray, module: CGAN) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``voices`` as a training batch: every category in turn, each voice's own algorithm."""
    c = torch.arange(len(voices)) % module.net_cfg.n_classes
    return (
        torch.from_numpy(module.codec.encode(voices)),
        c,
        torch.from_numpy(voices[:, INDEX["algorithm"]].astype(np.int64)),
    )


def small_cgan(*overrides: str) -> CGAN:
    """The small CGAN of ``first_losses``, its weights seeded 0."""
    torch.manual_seed(0)
    return cgan("model.hidden=32", "model.dequantize=false", *overrides)


def first_losses(
    *overrides: str, batches: int = 1, per_epoch: int = 100, frozen_d: bool = False
) -> dict[str, list[float]]:
    """The discriminator's and generator's losses on each of the first ``batches`` training
    steps of a small CGAN (epochs of ``per_epoch`` batches), its optimisers driven by hand (no
    Trainer); the same weights and noise for any overrides.  ``frozen_d``: the discriminator's
    steps change nothing (learning rate 0), so the generator's losses meet the same scores."""
    module = without_lightning(small_cgan(*overrides))
    if frozen_d:
        module.optimizers()[1].param_groups[0]["lr"] = 0.0
    voices = random_voices(64)
    real, c, a = first_batch(voices, module)
    for i in range(batches):
        torch.manual_seed(100 + i)
        module.training_step((real, c, a), i % per_epoch)
    return {name: [float(loss) for loss in values] for name, values in module.losses.items()}


def test_lazy_r1_penalises_every_kth_batch_weighted_by_k(monkeypatch):
    without = first_losses("model.r1=0")["d_loss"][0]
    every = first_losses("model.r1=1", "model.r1_every=1")["d_loss"][0]
    lazy = first_losses("model.r1=1", "model.r1_every=4")["d_loss"][0]
    assert every > without and lazy - without == pytest.approx(4 * (every - without), rel=1e-4)

    calls = []
    grad = torch.autograd.grad
    monkeypatch.setattr(torch.autograd, "grad", lambda *a, **kw: calls.append(1) or grad(*a, **kw))
    first_losses("model.r1=1", "model.r1_every=4", batches=8, per_epoch=3)
    assert len(calls) == 2  # batches 0 and 4, counted across epochs (batch_idx restarts each epoch)
    with pytest.raises(DeepDXError, match="r1_every"):
        ModelConfig(r1_every=0)


def test_spectral_once_runs_the_power_iteration_once_a_training_step(monkeypatch):
    from torch.nn.utils.parametrizations import _SpectralNorm

    calls, power = [], _SpectralNorm._power_method
    monkeypatch.setattr(_SpectralNorm, "_power_method", lambda self, *a, **kw: calls.append(1) or power(self, *a, **kw))
    layers = sum(isinstance(m, _SpectralNorm) for m in small_cgan().D.modules())
    assert layers > 0
    for once, per_step in ((False, 3), (True, 1)):  # D judges real and generated voices, then G's voices
        calls.clear()
        module = without_lightning(small_cgan(f"model.spectral_once={once}"))
        real, c, a = first_batch(random_voices(64), module)
        calls.clear()
        for i in range(2):
            module.training_step((real, c, a), i)
            assert module.D.training  # the next step iterates again
        assert len(calls) == 2 * per_step * layers


def test_mode_seeking_warmup_scales_the_term_by_the_steps_so_far():
    full, half, quarter = (first_losses(f"model.mode_seeking_warmup={w}")["g_loss"][0] for w in (0, 2, 4))
    assert full != half  # the first generator step: the term at 1/2 and 1/4 of its weight
    assert full - half == pytest.approx(2 * (half - quarter), rel=1e-4)
    module = cgan("model.mode_seeking_warmup=4")
    for steps, weight in ((1, 0.125), (2, 0.25), (4, 0.5), (9, 0.5)):  # generator steps, across epochs
        module.g_steps = steps
        assert module._mode_seeking_weight() == weight
    with pytest.raises(DeepDXError, match="mode_seeking_warmup"):
        ModelConfig(mode_seeking_warmup=-1)


def test_the_auxiliary_classifier_adds_its_cross_entropy_to_both_losses():
    # D's loss: the classifier's cross-entropy on real voices' categories, in proportion to the weight
    without, half, full = (first_losses(f"model.aux_class={w}")["d_loss"][0] for w in (0, 0.5, 1))
    assert half > without and full - without == pytest.approx(2 * (half - without), rel=1e-4)
    module = small_cgan("model.aux_class=1")  # first_losses' model: the classifier's loss on its batch, before any step
    real, c, a = first_batch(random_voices(64), module)
    with torch.no_grad():
        assert full - without == pytest.approx(
            float(cross_entropy(module.D(real, c, a, classify=True)[1], c)), rel=1e-4
        )
    # G's: on generated voices against the categories asked for (the same scores for every weight)
    without, half, full = (first_losses(f"model.aux_class={w}", frozen_d=True)["g_loss"][0] for w in (0, 0.5, 1))
    assert half > without and full - without == pytest.approx(2 * (half - without), rel=1e-4)
    assert cgan("model.aux_class=1").D.classify.out_features == 8
    assert cgan("model.aux_class=0").D.classify is None and cgan("model=seed").D.classify is None
    with pytest.raises(DeepDXError, match="no auxiliary classifier"):
        cgan("model.aux_class=0").D(real, c, a, classify=True)
    with pytest.raises(DeepDXError, match="aux_class"):
        ModelConfig(aux_class=-1)


def test_the_generator_step_computes_no_gradient_for_the_discriminator():
    module = without_lightning(small_cgan())
    real, c, a = first_batch(random_voices(64), module)
    opt_d = module.optimizers()[1]
    step, at_step = opt_d.step, {}

    def record(*args, **kwargs):  # D's gradients as its optimiser takes them
        at_step.update({n: p.grad.clone() for n, p in module.D.named_parameters()})
        return step(*args, **kwargs)

    opt_d.step = record
    module.training_step((real, c, a), 0)
    # the G step left D's gradients as its own step made them (the next D step drops them anyway) ...
    assert at_step and all(torch.equal(p.grad, at_step[n]) for n, p in module.D.named_parameters())
    assert all(p.requires_grad for p in module.D.parameters())  # ... and gave D its gradients back
    assert all(p.grad is not None for p in module.G.parameters())


def test_probe_scores_collapse_below_diversity():
    real, cat = random_voices(400, seed=1), np.arange(400) % 4
    probe = CollapseProbe(real[:200], cat[:200])
    diverse = probe(real[200:], cat[200:])
    # one voice per category, each jittered a little: the seed's per-category collapse
    modes = np.repeat(real[200:204], 50, axis=0)
    jitter = np.random.default_rng(0).integers(0, 3, modes.shape).astype(np.uint8) * (MAX == 99)
    collapsed = probe(np.minimum(modes + jitter, 99), np.repeat(np.arange(4), 50))
    assert collapsed["diversity"] < 0.2 < 0.8 < diverse["diversity"]
    assert collapsed["near_dup_rate"] > 0.9 and diverse["near_dup_rate"] < 0.2
    assert collapsed["coverage"] < diverse["coverage"]
    assert probe(modes, np.repeat(np.arange(4), 50))["distinct"] == 4 / 200 < diverse["distinct"]


@pytest.fixture
def split(tmp_path):
    """A split folder for one group (270 training, 30 validation voices) and no held-out
    voices at all: training and its probe must never need them."""
    split = split_dir(tmp_path, 1, per_group=300, held_out=0, validation=30)
    shutil.rmtree(split / "held_out")
    return split


def tiny_config(tmp_path, epochs=2, *more: str):
    return compose(
        "seed=1",
        "model.channels=16",
        f"train.epochs={epochs}",
        "train.steps=null",
        "train.batch_size=32",
        "train.progress_bar=false",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        *more,
    )


CATS = [f"c{i}" for i in range(8)]


def test_training_is_deterministic_and_tracked(split, tmp_path):
    a = train_group(0, str(split), str(tmp_path / "a"), tiny_config(tmp_path), CATS, [1, 2])
    train_group(0, str(split), str(tmp_path / "b"), tiny_config(tmp_path), CATS, [1, 2])
    assert (tmp_path / "a" / "generator.pt").read_bytes() == (tmp_path / "b" / "generator.pt").read_bytes()
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run = client.get_run(a["mlflow_run_id"])
    assert run.data.params["model.loss"] == "hinge" and "probe/coverage" in run.data.metrics
    assert "d_loss" in run.data.metrics and "g_loss" in run.data.metrics  # logged once an epoch
    assert run.info.status == "FINISHED"
    artifacts = {f.path for f in client.list_artifacts(a["mlflow_run_id"])}
    assert artifacts == {"group0_sample.syx", "group0_grids.png", "group0_probe.png"}
    probe = (tmp_path / "a" / "probe.csv").read_text().splitlines()
    assert probe[0].startswith("epoch,precision,recall,density,coverage,balanced") and len(probe) == 1 + a["epochs"]
    assert a["kept_epoch"] == max(range(a["epochs"]), key=lambda e: float(probe[1 + e].split(",")[5]))
    assert (tmp_path / "mlartifacts").is_dir()  # a SQLite store keeps its artifacts beside it


def test_training_gates_the_spikes_of_its_own_training_voices(split, tmp_path):
    cfg = compose(
        "seed=1",
        "model.hidden=32",
        "model.spike_share=0.04",
        "train.epochs=1",
        "train.steps=null",
        "train.batch_size=32",
        "train.progress_bar=false",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
    )
    train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2])
    expected = spikes_of(read_table(split / "train" / "group0.parquet")["params"], 8, ("transpose",), 0.04)
    assert expected and load_generator(tmp_path / "m" / "generator.pt").cfg.spikes == expected


TRAIN_IN_A_FRESH_PROCESS = """
import sys
from deepdx.config import compose
from deepdx.models.train import train_group
cfg = compose("seed=1", "model.channels=16", "train.epochs=2", "train.steps=null", "train.batch_size=32",
              "train.progress_bar=false", "mlflow.experiment=test", f"mlflow.tracking_uri=sqlite:///{sys.argv[2]}/mlflow.db")
train_group(0, sys.argv[1], sys.argv[2], cfg, [f"c{i}" for i in range(8)], [1, 2])
"""


def test_training_twice_in_fresh_processes_saves_the_same_bytes(split, tmp_path):
    """Also with different thread settings in the environment: train.threads decides."""
    import os
    import subprocess
    import sys

    for run, threads in (("a", "1"), ("b", "3")):
        subprocess.run(
            [sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, str(split), str(tmp_path / run)],
            check=True,
            capture_output=True,
            env={**os.environ, "OMP_NUM_THREADS": threads},
        )
    assert (tmp_path / "a" / "generator.pt").read_bytes() == (tmp_path / "b" / "generator.pt").read_bytes()


class Interrupted(Exception):
    pass


class InterruptMidEpoch(Callback):
    """Stops training part-way through an epoch, as a crash or a kill would."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise Interrupted


def test_an_interrupted_run_resumes_to_the_same_weights(split, tmp_path):
    cfg = tiny_config(tmp_path, 3, "train.lr_decay=0.5")  # the rates' decay resumes where it was
    whole = train_group(0, str(split), str(tmp_path / "whole"), cfg, CATS, [1, 2])
    with pytest.raises(Interrupted):
        train_group(0, str(split), str(tmp_path / "cut"), cfg, CATS, [1, 2], callbacks=[InterruptMidEpoch(1, 2)])
    ckpt = tmp_path / "cut" / "ckpt"
    assert (ckpt / "last.ckpt").exists() and not (tmp_path / "cut" / "generator.pt").exists()
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = (ckpt / "mlflow_run_id").read_text()
    assert client.get_run(run_id).info.status == "FAILED"
    resumed = train_group(0, str(split), str(tmp_path / "cut"), cfg, CATS, [1, 2])
    assert resumed["epochs"] == whole["epochs"] == 3 and resumed["mlflow_run_id"] == run_id
    assert resumed["batches"] == whole["batches"] == 3 * (len(load_group(str(split), "train", 0)["params"]) // 32)
    assert client.get_run(run_id).data.params["max_epochs"] == "3"  # logged once, by the run that started
    assert client.get_run(run_id).info.status == "FINISHED"
    assert (tmp_path / "cut" / "generator.pt").read_bytes() == (tmp_path / "whole" / "generator.pt").read_bytes()
    assert resumed["d_loss"] == whole["d_loss"]


def test_checkpoints_keep_and_restore_the_cuda_generators_where_there_are_some(monkeypatch):
    """The plumbing, here without a GPU: torch.cuda's state calls stand in (the real run below)."""
    module, saved, restored = cgan("model.hidden=32"), [torch.tensor([1, 2], dtype=torch.uint8)], []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: saved)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint["cuda_rng_states"] is saved
    module.on_load_checkpoint(checkpoint)
    assert restored == [saved]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    module.on_save_checkpoint(checkpoint := {})
    assert "cuda_rng_states" not in checkpoint


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: a resumed GPU run is checked only on one")
def test_an_interrupted_gpu_run_resumes_to_the_same_weights(split, tmp_path):
    test_an_interrupted_run_resumes_to_the_same_weights(split, tmp_path)


class Rates(Callback):
    """Both optimisers' learning rates, as each training batch used them."""

    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.seen.append(tuple(opt.param_groups[0]["lr"] for opt in module.optimizers()))


@pytest.mark.parametrize("decay", [0.0, 0.5])
def test_the_rates_fall_linearly_to_zero_over_the_last_share_of_the_steps(split, tmp_path, decay):
    rates = Rates()
    cfg = tiny_config(tmp_path, 3, f"train.lr_decay={decay}", "train.lr_g=0.0002", "train.lr_d=0.0004")
    train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2], callbacks=[rates])
    total = len(rates.seen)
    assert total >= 6
    for step, (lr_g, lr_d) in enumerate(rates.seen):
        factor = min(1.0, (1 - step / total) / decay) if decay else 1.0
        assert (lr_g, lr_d) == pytest.approx((0.0002 * factor, 0.0004 * factor))
    if decay:
        assert rates.seen[total // 2 - 1][0] == 0.0002 and rates.seen[-1][0] < 0.0002 * 2 / total
    with pytest.raises(DeepDXError, match="lr_decay"):
        compose("train.lr_decay=1.5")


def test_groups_larger_than_scale_steps_above_train_proportionally_more_batches(split, tmp_path):
    default = compose().train  # 64 voices a batch, 5,800 steps, scaled above 3,300 voices
    assert epochs_for(default, 2590) == math.ceil(5800 / 40)  # a small group: train.steps
    assert epochs_for(default, 4676) == math.ceil(round(5800 * 4676 / 3300) / 73)  # 8,218 steps: 113 epochs (8,249 run)
    assert epochs_for(compose("train.scale_steps_above=null").train, 4676) == math.ceil(5800 / 73)
    assert epochs_for(compose("train.steps=400").train, 4676) == math.ceil(round(400 * 4676 / 3300) / 73)
    assert epochs_for(compose("train.steps=null", "train.epochs=7").train, 4676) == 7  # epochs: no scaling
    # and training runs that many: 270 voices, 8 batches of 32 an epoch, 20 x 270 / 150 = 36 steps: 5 epochs
    rates = Rates()
    cfg = tiny_config(tmp_path, 1, "train.steps=20", "train.scale_steps_above=150")
    summary = train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2], callbacks=[rates])
    assert len(rates.seen) == 5 * 8 == summary["batches"]  # the summary records the scaled length
    params = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").get_run(summary["mlflow_run_id"]).data.params
    assert params["max_epochs"] == "5" and params["train.steps"] == "20"
    with pytest.raises(DeepDXError, match="scale_steps_above"):
        compose("train.scale_steps_above=0")


def test_checkpoints_are_written_first_last_and_once_so_many_seconds_have_passed(tmp_path, monkeypatch):
    from types import SimpleNamespace
    from deepdx.models import train as train_module

    clock, written = [0.0], []
    trainer = SimpleNamespace(should_stop=False, max_epochs=10, current_epoch=0)
    trainer.save_checkpoint = lambda path, weights_only: (
        path.write_text("ckpt"),
        written.append(trainer.current_epoch),
    )
    monkeypatch.setattr(train_module.time, "monotonic", lambda: clock[0])
    for every, expected in ((60, [0, 2, 4, 9]), (0, list(range(10)))):
        written.clear()
        callback = EpochCheckpoint(tmp_path / "last.ckpt", every)
        for epoch, seconds in enumerate([10, 40, 75, 100, 140, 150, 160, 170, 180, 190]):
            clock[0], trainer.current_epoch = seconds, epoch
            callback.on_train_epoch_end(trainer, None)
        assert written == expected  # the first epoch, 60 s or more after the last write, and the last epoch
    assert (tmp_path / "last.ckpt").read_text() == "ckpt" and not list(tmp_path.glob(".*partial"))
    written.clear()
    trainer.should_stop, trainer.current_epoch = True, 3  # early stopping: this epoch is the last
    callback.on_train_epoch_end(trainer, None)
    assert written == [3]


def test_a_finished_run_is_trained_again_not_resumed(split, tmp_path):
    """A train stage reruns because something it depends on changed (code, say): no resume."""
    first = train_group(0, str(split), str(tmp_path / "m"), tiny_config(tmp_path), CATS, [1, 2])
    again = train_group(0, str(split), str(tmp_path / "m"), tiny_config(tmp_path), CATS, [1, 2])
    assert again["epochs"] == 2 and again["mlflow_run_id"] != first["mlflow_run_id"]
    assert again["d_loss"] == first["d_loss"]  # trained, not an empty resumed run (which has no loss)


def test_changed_data_is_not_resumed_from_an_old_checkpoint(split, tmp_path):
    cfg = tiny_config(tmp_path, epochs=3)
    with pytest.raises(Interrupted):
        train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2], callbacks=[InterruptMidEpoch(1, 0)])
    first_run = (tmp_path / "m" / "ckpt" / "mlflow_run_id").read_text()
    train = split / "train" / "group0.parquet"
    table = read_table(train)
    table["params"] = random_voices(len(table["params"]), seed=4)
    write_table(train, table)
    second = train_group(0, str(split), str(tmp_path / "m"), cfg, CATS, [1, 2])
    assert second["mlflow_run_id"] != first_run and second["epochs"] == 3


def test_a_generator_file_with_an_unknown_normalisation_is_refused(tmp_path):
    state = cgan("model.channels=8").export()
    state["net"]["d_norm"] = "weird"
    torch.save(state, tmp_path / "generator.pt")
    with pytest.raises(DeepDXError, match="model.d_norm must be one of none, spectral"):
        load_generator(tmp_path / "generator.pt")


def test_bf16_asked_without_native_support_trains_in_float32(monkeypatch):
    monkeypatch.setattr(precision, "bf16_native", lambda: False)
    assert precision.used("bf16") == "32" and precision.lightning("bf16") == "32-true"
    monkeypatch.setattr(precision, "bf16_native", lambda: True)
    assert precision.used("bf16") == "bf16" and precision.lightning("bf16") == "bf16-mixed"
    assert precision.used("32") == "32"


@pytest.mark.skipif(not precision.bf16_native(), reason="this CPU multiplies bfloat16 only by emulation")
def test_bf16_training_moves_the_weights_and_still_exports_float32(split, tmp_path):
    runs = {}
    for asked in ("32", "bf16"):
        summary = train_group(
            0, str(split), str(tmp_path / asked), tiny_config(tmp_path, 1, f"train.precision={asked}"), CATS, [1, 2]
        )
        assert summary["precision"] == asked
        runs[asked] = torch.load(tmp_path / asked / "generator.pt", weights_only=True)["generator"]
    assert all(v.dtype == torch.float32 for v in runs["bf16"].values() if v.is_floating_point())
    assert any(not torch.equal(runs["32"][k], runs["bf16"][k]) for k in runs["32"])
