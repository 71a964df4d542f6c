"""Several groups trained at once (train.jobs): the same bytes as in turn, errors that reach the stage."""

from __future__ import annotations

import shutil

import pytest

from deepdx.config import compose
from deepdx.models.parallel import train_groups
from tests.conftest import GROUPS, split_dir

CATS = [f"c{i}" for i in range(8)]
ROUTING = {"categories": CATS, "groups": GROUPS}


@pytest.fixture
def split(tmp_path):
    split = split_dir(tmp_path, 2, per_group=160, held_out=0, validation=20)
    shutil.rmtree(split / "held_out")  # training never needs them
    return split


def config(tmp_path, *overrides):
    return compose(
        "seed=1",
        "model.hidden=32",
        "train.epochs=2",
        "train.steps=null",
        "train.batch_size=32",
        "train.progress_bar=false",
        "mlflow.experiment=test",
        f"mlflow.tracking_uri=sqlite:///{tmp_path / 'mlflow.db'}",
        *overrides,
    )


def test_two_groups_at_once_give_the_bytes_of_two_in_turn(split, tmp_path):
    import mlflow

    at_once = train_groups([1, 0], str(split), tmp_path / "at_once", config(tmp_path, "train.jobs=2"), ROUTING)
    in_turn = train_groups([1, 0], str(split), tmp_path / "in_turn", config(tmp_path, "train.jobs=1"), ROUTING)
    assert [s["group"] for s in at_once] == [s["group"] for s in in_turn] == [1, 0]  # in the order asked
    assert [s["algorithms"] for s in at_once] == [GROUPS[1], GROUPS[0]]
    for g in (0, 1):
        a, b = (tmp_path / run / f"group{g}" / "generator.pt" for run in ("at_once", "in_turn"))
        assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "at_once" / "group0" / "generator.pt").read_bytes() != (
        tmp_path / "at_once" / "group1" / "generator.pt"
    ).read_bytes()
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("test").experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["group0", "group0", "group1", "group1"]
    assert all(r.info.status == "FINISHED" for r in runs)


def test_a_group_that_fails_in_its_process_fails_the_call_with_its_error(split, tmp_path):
    (split / "train" / "group1.parquet").unlink()
    with pytest.raises(FileNotFoundError, match="group1.parquet"):  # the stage's one-line error, exit 2
        train_groups([0, 1], str(split), tmp_path / "m", config(tmp_path, "train.jobs=2"), ROUTING)
    assert (tmp_path / "m" / "group0" / "generator.pt").exists()  # the group already running was let finish


def test_jobs_and_threads_must_be_positive():
    from deepdx.errors import DeepDXError

    for override in ("train.jobs=0", "train.threads=0"):
        with pytest.raises(DeepDXError, match="at least 1"):
            compose(override)
