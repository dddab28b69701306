import shutil
import subprocess
import sys
from pathlib import Path

from committed import committed_params, committed_text, export_committed

ROOT = Path(__file__).parents[2]


def test_readme_and_docs_results_are_generated_from_the_committed_metrics(tmp_path):
    """The committed README and docs against the committed metrics, by the workspace's generator: an
    experiment in the workspace (its own metrics) does not make the committed pages stale."""
    export_committed(["README.md", "params.yaml", "dvc.lock", "metrics", "plots", "docs", "benchmarks/results"], tmp_path)
    for name in ("scripts", "src"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "scripts/readme_results.py", "--check"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_generator_finds_a_stale_page_and_names_it(tmp_path):
    export_committed(["README.md", "params.yaml", "dvc.lock", "metrics", "plots", "docs", "benchmarks/results"], tmp_path)
    for name in ("scripts", "src"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    results = tmp_path / "docs/results.md"
    results.write_text(results.read_text().replace("| `dpo` | animatediff | -", "| `dpo` | animatediff | +", 1))
    done = subprocess.run([sys.executable, "scripts/readme_results.py", "--check"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "docs/results.md" in done.stderr and "README.md" not in done.stderr


def test_the_readme_is_a_front_door_of_at_most_300_lines():
    readme = committed_text("README.md")
    assert len(readme.splitlines()) <= 300
    for page in ("docs/results.md", "docs/methods.md", "docs/pipeline.md", "docs/tiers.md", "docs/extending.md", "docs/benchmarks.md"):
        assert f"`{page}`" in readme or page in readme, f"the README does not point to {page}"


def test_readme_names_the_test_command_that_ci_runs():
    assert "pytest" in (ROOT / ".ci/run").read_text()
    assert "\npytest\n" in (ROOT / "README.md").read_text()


def test_the_readme_lists_exactly_the_methods_that_run_and_the_committed_metrics_evaluate_them():
    import json
    import re


    from videodpo import methods

    readme = committed_text("README.md")
    table = readme.split("| method | learns from |", 1)[1].split("\n\n", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert sorted(listed) == sorted(methods.known())
    params_methods = committed_params()["methods"]
    evaluated = json.loads(committed_text("metrics/animatediff/eval_test.json"))["methods"]
    assert list(evaluated) == params_methods
    assert list(json.loads(committed_text("metrics/animatediff/eval_dev.json"))["methods"]) == params_methods
    for method in evaluated:  # each evaluated method has its row in the generated comparison table
        assert re.search(rf"^\| `{method}` \| [+-]\d", readme, flags=re.MULTILINE), method


def test_a_sweep_run_on_another_base_says_so_and_its_dev_figures_are_not_set_against_this_bases_test():
    sys.path.insert(0, str(ROOT / "scripts"))
    from experiments import locked_base
    from readme_results import sweep_section

    change = {"relative": -0.05, "ci95": [-0.08, -0.02]}
    run = {"overrides": ["training.beta=2500"], "change": {"warping_error": change}, "adherence_points": 0.0, "guards": {"motion": True},
           "labels": None, "motion_bias": None}
    sweep = {"method": "dpo", "n_samples": 72, "rule": "a rule", "commit": "abcdef1234", "base": "old.dir", "runs": {"training.beta=2500": run},
             "chosen": "training.beta=2500"}
    test = {"methods": {"dpo": {"change": {"warping_error": {"relative": 0.03, "ci95": [0.01, 0.05]}}}}}
    on_its_base = sweep_section("dpo", sweep, test, "wan", base="old.dir")
    on_another = sweep_section("dpo", sweep, test, "wan", base="new.dir")
    assert "Chosen: `training.beta=2500`" in on_its_base and "earlier base" not in on_its_base
    assert "Chosen:" not in on_another and "**Swept on an earlier base** (the base@wan of commit abcdef1" in on_another
    assert "python scripts/dev_sweep.py dpo --family wan" in on_another
    lock = "stages:\n  base@wan:\n    outs:\n    - path: models/wan/base\n      md5: new.dir\n"
    assert locked_base(lock, "wan") == "new.dir" and locked_base(lock, "animatediff") is None
    assert locked_base("stages:\n  base:\n    outs:\n    - path: models/base\n      md5: one.dir\n", "animatediff") == "one.dir"  # a lock of one family


def test_seeds_and_replication_measured_on_another_base_say_so():
    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_results import replication_section, training_seeds_section

    change = {"relative": -0.05, "ci95": [-0.08, -0.02]}
    seeds = {"split": "test", "n_samples": 72, "measures": ["warping_error"], "seeds": [0, 1], "commit": "abcdef1234", "base": "old.dir",
             "methods": {"dpo": {"seed_param": "training.seed", "runs": {"0": {"warping_error": change}, "1": {"warping_error": change}}}}}
    assert "earlier base" not in training_seeds_section(seeds, "wan", base="old.dir")
    assert "**Measured on an earlier base** (the base of commit abcdef1" in training_seeds_section(seeds, "wan", base="new.dir")
    # replication's `base` holds the base's figures: the hash is `base_model`
    replication = {"n_samples": 72, "first_seed": 1, "measures": ["warping_error"], "base": {"warping_error": 3.0}, "base_model": "old.dir",
                   "methods": {"dpo": {"test": {"warping_error": change}, "replication": {"warping_error": change}}}}
    assert "earlier base" not in replication_section(replication, "wan", base="old.dir")
    assert "**Measured on an earlier base** (the base, hash old.dir" in replication_section(replication, "wan", base="new.dir")
    assert "earlier base" not in replication_section({**replication, "base_model": None}, "wan", base="new.dir")  # nothing recorded: no claim


def test_a_budget_grid_still_running_shows_its_points_but_no_verdict(monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    verdict = {"claim": "dpo pays as pairs grow", "rule": "a rule", "supported": False, "budgets": [], "where": "holds at", "detail": "figures"}
    finished = {"grid": "grids/budgets.yaml", "records": [], "points": 2, "missing": [], "failed": {"budget-x": "the labeller tied every pair"},
                "committed_pretrain_seed": 0, "verdicts": {"0": {"more_pairs": verdict}}, "bases": {"0": {"points": 2, "not_run": 0, "training_seeds": [0, 1]}}}
    running = {**finished, "missing": ["budget-y"], "bases": {"0": {"points": 2, "not_run": 1, "training_seeds": [0, 1]}}}
    monkeypatch.setattr(readme_results, "budget_families", lambda: ["wan"])
    for report, shown, hidden in ((finished, "wan: **no**", "not finished"), (running, "wan: grid not finished (1 of its 2 points not run yet)", "**no**")):
        monkeypatch.setattr(readme_results, "budget_report", lambda family, report=report: report)
        line, section = readme_results.budget_lines(), readme_results.budget_family_section("wan")
        assert shown in line and hidden not in line
        assert "`budget-x`: the labeller tied every pair" in section
        assert ("The figures each verdict reads" in section) is (report is finished)


def test_a_second_base_still_running_leaves_the_committed_bases_verdict_and_holds_its_own(monkeypatch):
    sys.path.insert(0, str(ROOT / "scripts"))
    import readme_results

    verdict = {"claim": "dpo pays as pairs grow", "rule": "a rule", "supported": False, "budgets": [], "where": "holds at", "detail": "figures"}
    report = {"grid": "grids/budgets.yaml", "records": [], "points": 4, "missing": ["budget-y-b1"], "failed": {},
              "committed_pretrain_seed": 0, "verdicts": {"0": {"more_pairs": verdict}, "1": {"more_pairs": {**verdict, "supported": True}}},
              "bases": {"0": {"points": 2, "not_run": 0, "training_seeds": [0, 1]}, "1": {"points": 2, "not_run": 1, "training_seeds": [0]}}}
    monkeypatch.setattr(readme_results, "budget_families", lambda: ["wan"])
    monkeypatch.setattr(readme_results, "budget_report", lambda family: report)
    line, section = readme_results.budget_lines(), readme_results.budget_family_section("wan")
    assert "wan: **no**, base seed 1: grid not finished (1 of its 2 points not run yet), no verdict yet" in line
    assert "not the same" not in line and "**yes**" not in line  # the unfinished base's verdict is not read
    assert "| dpo pays as pairs grow | **no**" in section and "grid not finished (1 of its 2 points not run yet)" in section
    assert "The figures each verdict reads" in section
    assert "| claim | base seed 0 (committed, 2 training seeds) | base seed 1 (1 training seed) |" in section  # a single run's spread is told
    done = {**report, "missing": [], "bases": {**report["bases"], "1": {"points": 2, "not_run": 0, "training_seeds": [0]}}}
    monkeypatch.setattr(readme_results, "budget_report", lambda family: done)
    assert "wan: **no**, not the same on base seed 1." in readme_results.budget_lines()
