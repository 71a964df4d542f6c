"""The flow family (deepdx.models.flow): valid values from every head, determinism, guidance,
variations and completion, trained and exported behind the generator interface."""

import shutil

import mlflow
import numpy as np
import pytest
import torch

from deepdx.config import compose
from deepdx.distances import normalise
from deepdx.dx7.algorithms import carriers
from deepdx.dx7.params import INDEX, MAX, N_SOUND_PARAMS, NAMES, op_index
from deepdx.errors import DeepDXError
from deepdx.generate.variations import kept_params, voice_ref
from deepdx.models.flow import FlowArchitecture, FlowCodec, FlowGenerator
from deepdx.models.flow_matching import FlowMatching
from deepdx.models.nets import load_generator
from deepdx.models.train import train_group
from tests.conftest import random_voices, split_dir

CATS = [f"c{i}" for i in range(8)]


def flow(*overrides: str, seed: int = 0) -> FlowGenerator:
    """An untrained flow generator, seeded."""
    torch.manual_seed(seed)
    return FlowMatching.from_config(compose("model=flow", "model.hidden=64", *overrides), 8, seed).voice_generator()


def valid(voices: np.ndarray) -> bool:
    return voices.shape[1] == N_SOUND_PARAMS and bool((voices <= MAX[:N_SOUND_PARAMS]).all())


def test_the_codec_gives_back_every_voice_and_only_valid_values_from_any_point():
    codec = FlowCodec(8, ("transpose",))
    voices = random_voices(500, seed=3)[:, :N_SOUND_PARAMS]
    assert np.array_equal(codec.decode(codec.encode(voices)), voices)
    anywhere = torch.randn(2000, codec.width).numpy() * 3  # far outside [-1, 1] too
    decoded = codec.decode(anywhere)
    assert valid(decoded)
    for p in codec.categorical:  # every choice head: each of its values reachable, none beyond
        assert set(np.unique(decoded[:, p])) <= set(range(int(MAX[p]) + 1))
    assert len(np.unique(decoded[:, INDEX["transpose"]])) > 40


def test_sampling_is_valid_deterministic_and_writes_the_algorithm_asked_for():
    g = flow()
    category, algorithm = torch.arange(40) % 8, torch.arange(40) % 32
    a = g.sample(category, algorithm, torch.Generator().manual_seed(5))
    b = g.sample(category, algorithm, torch.Generator().manual_seed(5))
    assert np.array_equal(a, b) and valid(a)
    assert np.array_equal(a[:, INDEX["algorithm"]], algorithm.numpy())
    assert not np.array_equal(a, g.sample(category, algorithm, torch.Generator().manual_seed(6)))


def test_guidance_zero_is_the_unconditional_path_and_one_the_conditional():
    g = flow()
    algorithm, rng = torch.zeros(16, dtype=torch.long), lambda: torch.Generator().manual_seed(1)
    none = torch.full((16,), 8)  # the category embedding that training shows without a category
    unconditional = g.sample(none, algorithm, rng(), guidance=1.0)
    for c in (0, 5):
        category = torch.full((16,), c)
        assert np.array_equal(g.sample(category, algorithm, rng(), guidance=0.0), unconditional)
    conditional = g.sample(torch.full((16,), 5), algorithm, rng(), guidance=1.0)
    assert not np.array_equal(conditional, unconditional)
    assert not np.array_equal(g.sample(torch.full((16,), 5), algorithm, rng(), guidance=3.0), conditional)


def test_a_temperature_draws_the_few_valued_parameters_instead_of_taking_the_likeliest(trained):
    g = load_generator(trained["generator"])
    category, algorithm = torch.arange(400) % 8, torch.zeros(400, dtype=torch.long)

    def entropy(temperature):
        x = g.sample(category, algorithm, torch.Generator().manual_seed(3), temperature=temperature)
        h = []
        for p in g.codec.categorical:
            share = np.bincount(x[:, p], minlength=int(MAX[p]) + 1) / len(x)
            h.append(-(share[share > 0] * np.log2(share[share > 0])).sum())
        return np.mean(h), x

    (cold, a), (warm, b) = entropy(0.0), entropy(1.0)
    assert cold < warm and valid(b)
    levels = g.codec.continuous
    assert np.array_equal(a[:, levels], b[:, levels])  # the path is the same: only the blocks are read otherwise


def test_a_file_is_checked_before_anything_is_built(tmp_path):
    state = {**FlowMatching.from_config(compose("model=flow", "model.hidden=32"), 8, 0).export(), "sampling": {}}
    state["net"]["hidden"] = 10**7
    torch.save(state, tmp_path / "generator.pt")
    with pytest.raises(DeepDXError, match="out of bounds"):
        load_generator(tmp_path / "generator.pt")
    with pytest.raises(DeepDXError, match="flow_sampler"):
        FlowArchitecture.from_dict({**state["net"], "hidden": 32, "sampler": "rk4"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A flow trained (a few epochs, probed, calibrated) on one group of random voices."""
    tmp = tmp_path_factory.mktemp("flow")
    split = split_dir(tmp, 1, per_group=300, held_out=0, validation=30)
    shutil.rmtree(split / "held_out")
    cfg = compose(
        "model=flow",
        "seed=1",
        "model.hidden=64",
        "model.flow_steps=8",
        "train.epochs=6",
        "train.steps=null",
        "train.batch_size=32",
        "train.probe_every=2",
        "train.progress_bar=false",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{tmp / 'mlflow.db'}",
    )
    summary = train_group(0, str(split), str(tmp / "a"), cfg, CATS, [1, 2])
    return {"tmp": tmp, "split": split, "cfg": cfg, "summary": summary, "generator": tmp / "a" / "generator.pt"}


def test_training_is_deterministic_probed_every_few_epochs_calibrated_and_tracked(trained):
    tmp, summary = trained["tmp"], trained["summary"]
    train_group(0, str(trained["split"]), str(tmp / "b"), trained["cfg"], CATS, [1, 2])
    assert trained["generator"].read_bytes() == (tmp / "b" / "generator.pt").read_bytes()
    history = (tmp / "a" / "probe.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "3", "5"]  # epochs 2, 4, 6
    assert summary["kept_epoch"] in (1, 3, 5) and {"sampled/guidance", "sampled/truncation"} <= set(summary)
    g = load_generator(trained["generator"])
    assert isinstance(g, FlowGenerator)
    assert (g.truncation, g.guidance) == (summary["sampled/truncation"], summary["sampled/guidance"])
    run = mlflow.MlflowClient(f"sqlite:///{tmp / 'mlflow.db'}").get_run(summary["mlflow_run_id"])
    assert run.data.params["model.family"] == "flow" and "loss" in run.data.metrics


def test_variations_start_at_the_voice_and_move_away_as_strength_grows(trained):
    g = load_generator(trained["generator"])
    sources = random_voices(6, seed=9)
    assert np.array_equal(g.vary(sources[0], 2, 0.0, 4), np.repeat(sources[:1, :N_SOUND_PARAMS], 4, axis=0))
    distance = []
    for strength in (0.0, 0.25, 0.5, 1.0):
        d = [
            np.linalg.norm(
                normalise(g.vary(v, 2, strength, 32, torch.Generator().manual_seed(i))) - normalise(v[None]), axis=1
            ).mean()
            for i, v in enumerate(sources)
        ]
        distance.append(np.mean(d))
    assert distance[0] == 0 and all(a < b for a, b in zip(distance, distance[1:])), distance
    varied = g.vary(sources[1], 2, 0.5, 32, torch.Generator().manual_seed(0))
    assert valid(varied) and (varied[:, INDEX["algorithm"]] == sources[1, INDEX["algorithm"]]).all()
    with pytest.raises(DeepDXError, match="strength"):
        g.vary(sources[0], 2, 1.5, 4)


@pytest.mark.parametrize("spec", ["algorithm", "op1_eg", "carrier_levels,op3", "op6,op5,op4,pitch_eg,transpose"])
def test_completion_keeps_every_chosen_value_exactly_and_generates_the_rest(trained, spec):
    g = load_generator(trained["generator"])
    g.temperature = 0.5  # the blocks drawn, the kept ones too: they must still come out as kept
    voice = random_voices(1, seed=4)[0]
    keep = kept_params(spec, voice)
    algorithm = torch.full((64,), int(voice[INDEX["algorithm"]]))
    out = g.complete(voice, keep, torch.arange(64) % 8, algorithm, torch.Generator().manual_seed(2))
    assert valid(out) and (out[:, keep] == voice[keep]).all()
    rest = np.setdiff1d(np.arange(N_SOUND_PARAMS), [*keep, INDEX["algorithm"]])
    assert len(np.unique(out[:, rest], axis=0)) == 64  # the others generated, each voice its own


def test_kept_parameters_are_named_as_in_the_parameter_table():
    voice = random_voices(1, seed=4)[0]
    assert list(kept_params("algorithm", voice)) == [INDEX["algorithm"]]
    assert [NAMES[i] for i in kept_params("op2_eg", voice)] == [
        f"op2_eg_{k}{n}" for k in ("rate", "level") for n in range(1, 5)
    ]
    assert len(kept_params("op3", voice)) == 21
    levels = kept_params("carrier_levels", voice)
    assert sorted(levels) == sorted(op_index(op, "output_level") for op in carriers(int(voice[INDEX["algorithm"]]) + 1))
    for bad in ("op7", "", "eg", "name_char1x"):
        with pytest.raises(DeepDXError, match="--keep"):
            kept_params(bad, voice)
    assert voice_ref("banks/my bank.syx:12") == ("banks/my bank.syx", 11)
    for bad in ("bank.syx", "bank.syx:0", "bank.syx:x", ":3"):
        with pytest.raises(DeepDXError, match="FILE:N"):
            voice_ref(bad)


def test_minibatch_optimal_transport_pairs_noise_and_voices_at_least_cost():
    from deepdx.models.flow_matching import pairing

    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(64, 20, generator=g), torch.randn(64, 20, generator=g) + 1
    order = pairing(x0, x1)
    assert sorted(order.tolist()) == list(range(64))
    cost = lambda a: (x1 - a).pow(2).sum().item()
    assert cost(x0[order]) < cost(x0) and cost(x0[order]) <= cost(x0[torch.randperm(64, generator=g)])
