"""dvc.yaml against the code: a stage reruns whenever code it imports changes."""

import pytest
import yaml

from tests.imports import ROOT, closure

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def code_deps(stage: dict) -> list[str]:
    body = stage.get("do", stage)
    return [d for d in body["deps"] if isinstance(d, str) and d.startswith(("src/", "pipeline/"))]


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_depends_on_all_the_code_it_imports_and_no_more(name):
    deps = code_deps(STAGES[name])
    script = ROOT / "pipeline" / f"{name}.py"
    assert f"pipeline/{name}.py" in deps
    imported = closure(script)
    covered = lambda f: any(f == ROOT / d or (ROOT / d) in f.parents for d in deps)
    missing = sorted(str(f.relative_to(ROOT)) for f in imported if not covered(f))
    assert not missing, f"stage {name} imports code its deps do not list: {missing}"
    unused = [
        d for d in deps if d.startswith("src/") and not any(f == ROOT / d or (ROOT / d) in f.parents for f in imported)
    ]
    assert not unused, f"stage {name} depends on code it never imports: {unused}"


def test_every_stage_runs_a_script_of_its_own_name():
    for name, stage in STAGES.items():
        assert f"pipeline/{name}.py" in stage.get("do", stage)["cmd"]


def test_the_closure_follows_imports_inside_functions_and_packages(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("def f():\n    from deepdx.generate.banks import write_banks\n")
    found = {str(f.relative_to(ROOT / "src")) for f in closure(script)}
    assert {
        "deepdx/__init__.py",
        "deepdx/generate/__init__.py",
        "deepdx/generate/banks.py",
        "deepdx/generate/sample.py",
        "deepdx/audio/wav.py",
        "deepdx/dx7/params.py",
    } <= found


def test_inference_does_not_import_training_code():
    files = {str(f.relative_to(ROOT / "src")) for f in closure(ROOT / "pipeline" / "generate.py")}
    training = {"models/train.py", "models/cgan.py", "models/flow_matching.py", "models/probed.py", "tracking.py"}
    assert not {f"deepdx/{name}" for name in training} & files


def test_only_the_evaluate_stage_may_read_held_out_voices():
    """What DVC lets a stage depend on is what it may read: held-out voices are for the
    evaluate stage alone (the whole split folder, or its held_out/ part)."""
    for name, stage in STAGES.items():
        deps = [d for d in stage.get("do", stage)["deps"] if isinstance(d, str)]
        reads_held_out = any(d.rstrip("/") == "${data.split}" or "held_out" in d for d in deps)
        assert reads_held_out == (name == "evaluate"), name


def test_the_validation_plot_shows_every_trained_group():
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    groups = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["groups"]
    (plot,) = dvc["plots"]
    y = next(iter(plot.values()))["y"]
    assert list(y) == [f"${{data.models}}/group{g}/probe.csv" for g in groups]


def test_the_train_stage_declares_every_trained_group():
    """One stage trains train.groups: each group's generator, checkpoints, summary and probe are its outputs."""
    train = STAGES["train"]
    groups = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["groups"]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in train["outs"]]
    assert outs == [
        p for g in groups for p in (f"${{data.models}}/group{g}/generator.pt", f"${{data.models}}/group{g}/ckpt")
    ]
    assert all(o["${data.models}/group%d/ckpt" % g]["persist"] for g, o in zip(groups, train["outs"][1::2]))
    assert train["metrics"] == [f"${{data.models}}/group{g}/summary.json" for g in groups]
    assert train["plots"] == [f"${{data.models}}/group{g}/probe.csv" for g in groups]
