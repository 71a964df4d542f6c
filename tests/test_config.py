"""The typed configuration: one source of defaults, and bad keys, types or choices refused clearly."""

import shutil
import subprocess
import sys
from dataclasses import fields

import pytest
import yaml
from hydra.errors import ConfigCompositionException

from deepdx.config import Config, ModelConfig, as_dict, compose, load
from deepdx.config import main as config_main
from deepdx.errors import DeepDXError
from tests.conftest import ROOT


def test_the_composed_default_is_the_schema_plus_the_name_rules():
    cfg = compose()
    assert as_dict(cfg.model) == as_dict(ModelConfig())
    assert cfg.categorize.categories == ["keys", "bass", "brass", "strings", "organ", "bells", "lead", "perc"]
    assert len(cfg.categorize.strong["perc"]) > 10


def test_seed_yaml_holds_only_what_the_seed_does_differently():
    seed_file = yaml.safe_load((ROOT / "conf" / "model" / "seed.yaml").read_text())
    changed = seed_file["model"]
    assert changed and all(getattr(ModelConfig(), k) != v for k, v in changed.items())
    seed, default = as_dict(compose("model=seed").model), as_dict(ModelConfig())
    assert {k for k in seed if seed[k] != default[k]} == set(changed)
    assert set(seed_file) == {"defaults", "model", "train"}
    assert seed_file["train"] == {
        "scale_steps_above": None,
        "betas": [0.5, 0.999],
        "select": "last",
        "calibrate": {"temperatures": [1.0]},
    }
    seed_train, default_train = compose("model=seed").train, compose().train
    assert list(seed_train.betas) != list(default_train.betas)  # DCGAN's Adam, not the default's momentum-free one
    assert (seed["loss"], seed["conditional"], seed["kernel_size"], seed["d_first_kernel"], seed["embed"]) == (
        "bce",
        "none",
        2,
        4,
        50,
    )  # the seed's: 4x4 then 2x2, embedding of 50, unconditional D


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.kernal_size=3", "kernal_size"),  # a typo
        ("model.layers=three", "layers"),  # a wrong type
        ("train.epochs=1.5", "epochs"),
    ],
)
def test_unknown_keys_and_wrong_types_fail_at_composition(override, message):
    with pytest.raises(ConfigCompositionException, match=message):
        compose(override)


@pytest.mark.parametrize(
    "override, message",
    [
        ("ingest.policy=lenient", "ingest.policy must be one of strict, mask, clamp"),
        ("model.loss=mse", "model.loss must be one of bce, hinge, wgan"),
        ("encoding.layout=diagonal", "encoding.layout"),
        ("generate.routing=random", "generate.routing"),
        ("generate.temperature=11", "generate.temperature must be null"),
        ("generate.truncation=-0.5", "generate.truncation must be null"),
        ("train.calibrate.temperatures=[]", "train.calibrate"),
        ("train.calibrate.truncations=[1.0,-1.0]", "train.calibrate"),
        ("train.calibrate.draws=0", "train.calibrate"),
        ("model.spike_share=1.5", "model.spike_share"),
        ("generate.critic.realism=-1", "realism and category at least 0.*-1.0"),
        ("generate.critic.category=-1", "category at least 0.*-1.0 and 0.05"),
    ],
)
def test_invalid_choices_fail_with_the_key_and_the_choices(override, message):
    with pytest.raises(DeepDXError, match=message):
        compose(override)


def test_params_yaml_read_back_is_validated_too():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert isinstance(load(params), Config)
    params["model"]["kernal_size"] = 3
    with pytest.raises(DeepDXError, match="kernal_size"):
        load(params)


def test_every_section_has_a_default_for_every_key_but_the_class_list():
    cfg = Config()
    for section in fields(cfg):
        value = getattr(cfg, section.name)
        for f in fields(value) if hasattr(value, "__dataclass_fields__") else []:
            assert getattr(value, f.name) != "???" or (section.name, f.name) == ("categorize", "categories")


def test_a_stage_given_a_bad_choice_says_so_in_one_line_and_exits_2(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "pipeline/dedupe.py",
            f"hydra.run.dir={tmp_path}",
            "hydra.output_subdir=null",
            "encoding.layout=diagonal",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: encoding.layout must be one of operator_blocks, row_major; got 'diagonal'"
    ]


def test_a_smoke_synced_params_yaml_is_named_as_such_with_the_way_back(tmp_path, capsys):
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    assert config_main(["sync", "experiment=smoke"], repo=tmp_path) == 0
    assert config_main(["check"], repo=tmp_path) == 1
    err = capsys.readouterr().err
    assert "train.epochs (2, conf/ 100)" in err and "experiment=smoke" in err
    assert "run `python -m deepdx.config sync`" in err
    assert config_main(["sync"], repo=tmp_path) == 0 and config_main(["check"], repo=tmp_path) == 0


def test_the_required_value_marker_is_omegaconfs():
    import omegaconf

    from deepdx import config

    assert config.MISSING == omegaconf.MISSING  # kept without importing omegaconf on the command line's path
