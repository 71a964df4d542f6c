"""The config notes the keys a stage reads, and a stage fails on one dvc.yaml does not list."""

import json
import pickle
from dataclasses import replace

import pytest
import yaml

from deepdx import config_reads
from deepdx.config import compose
from deepdx.errors import DeepDXError
from deepdx.stage import check_params_read
from tests.imports import ROOT


def use_critic(critic) -> float:  # library code handed a section, as load_models is
    return critic.realism + critic.category


def test_reads_are_noted_by_dotted_key_however_deep_the_section_was_handed():
    cfg = compose()
    config_reads.start()
    use_critic(cfg.generate.critic)
    _ = cfg.seed, cfg.train.betas
    assert config_reads.read() == {"generate.critic.realism", "generate.critic.category", "seed", "train.betas"}


def test_sections_are_not_leaves_and_an_unkeyed_copy_notes_nothing():
    cfg = compose()
    unkeyed = replace(cfg.train, jobs=1)  # replace reads every field of cfg.train
    config_reads.start()
    _ = cfg.generate.critic
    _ = unkeyed.steps
    assert config_reads.read() == set()
    _ = config_reads.key(unkeyed, "train.").steps
    assert config_reads.read() == {"train.steps"}


def test_a_pickled_config_still_notes_its_reads():
    """Training workers get the config pickled (deepdx.models.parallel) and send back their reads."""
    cfg = pickle.loads(pickle.dumps(compose()))
    config_reads.start()
    _ = cfg.model.hidden
    assert config_reads.read() == {"model.hidden"}


def write_dvc_yaml(tmp_path, params):
    path = tmp_path / "dvc.yaml"
    path.write_text(yaml.safe_dump({"stages": {"evaluate": {"cmd": "x", "params": params}}}))
    return path


def test_unlisted_finds_a_key_the_stage_read_but_does_not_list(tmp_path):
    read = {
        "seed",
        "generate.critic.realism",
        "generate.critic.candidates",
        "data.models",
        "mlflow.experiment",
        "train.jobs",
    }
    narrow = write_dvc_yaml(tmp_path, ["seed", "generate.critic.candidates"])
    assert config_reads.unlisted("evaluate", read, narrow) == ["generate.critic.realism"]
    section = write_dvc_yaml(tmp_path, ["seed", "generate.critic"])
    assert config_reads.unlisted("evaluate", read, section) == []
    # a prefix must end at a dot: generate.crit does not cover generate.critic.realism
    assert config_reads.unlisted("evaluate", read, write_dvc_yaml(tmp_path, ["seed", "generate.crit"])) == [
        "generate.critic.candidates",
        "generate.critic.realism",
    ]
    # params from another file: {file: [keys]}
    assert (
        config_reads.unlisted("evaluate", read, write_dvc_yaml(tmp_path, [{"params.yaml": ["seed", "generate"]}])) == []
    )
    assert config_reads.unlisted("other", read, narrow) == []  # a stage dvc.yaml does not know: nothing to check


def test_today_s_evaluate_entry_lists_what_its_sampling_reads():
    """load_models reads critic.realism and critic.category: the evaluate stage must list them."""
    listed = config_reads.stage_params("evaluate", ROOT / "dvc.yaml")
    for k in ("generate.critic.realism", "generate.critic.category", "generate.critic.candidates", "seed"):
        assert config_reads.covered(k, listed), k


def test_a_stage_that_read_an_unlisted_key_fails_naming_it(tmp_path, monkeypatch):
    cfg = compose()
    config_reads.start()
    _ = cfg.browse.nearest, cfg.generate.critic.realism  # browse lists browse, not generate
    monkeypatch.setenv("DEEPDX_PARAMS_READ", str(tmp_path))
    with pytest.raises(DeepDXError, match=r"stage browse read config keys .*: generate\.critic\.realism"):
        check_params_read("browse")
    assert json.loads((tmp_path / "browse.json").read_text()) == ["browse.nearest", "generate.critic.realism"]
    config_reads.start()
    _ = cfg.browse.nearest
    check_params_read("browse")
