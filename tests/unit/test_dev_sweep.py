"""scripts/dev_sweep.py: every candidate applies to the committed params, through a family's own
overrides where it has them, and the committed params hold what each sweep chose (the rule it
chooses by is tests/unit/test_judgements.py's)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))  # dev_sweep, imported by the tests below


def committed_params(revision: str = "HEAD") -> dict:
    """params.yaml as `revision` holds it (not the workspace's, which an experiment may have changed)."""
    import subprocess

    import yaml

    shown = subprocess.run(["git", "show", f"{revision}:params.yaml"], cwd=Path(__file__).parents[2], capture_output=True, text=True, check=True)
    return yaml.safe_load(shown.stdout)


def setting(params: dict, key: str):
    """The value at a dotted key (a change's `+` prefix, which adds a key, dropped); None where it is absent."""
    for part in key.lstrip("+").split("."):
        params = params.get(part) if isinstance(params, dict) else None
    return params


def effective(params: dict, family: str, key: str):
    """The value the family's runs read at a key: its own override where it has one, else the shared value."""
    key = key.lstrip("+").removeprefix(f"{family}.overrides.")
    own = setting(params, f"{family}.overrides.{key}")
    return own if own is not None else setting(params, key)


def test_the_committed_params_hold_what_each_dev_sweep_chose():
    """Each sweep's chosen candidate is what params.yaml commits: its own changes, and for every other
    key the sweep tried, the value the sweep started from."""
    import json

    import yaml

    sweeps = sorted((Path(__file__).parents[2] / "docs/measured").glob("*/sweep_*.json"))  # docs/measured/<family>/
    assert sweeps, "no dev sweep recorded: run scripts/dev_sweep.py"
    params = committed_params()
    for path in sweeps:
        sweep = json.loads(path.read_text())
        chosen = dict(change.split("=", 1) for change in sweep["runs"][sweep["chosen"]]["overrides"]) if sweep["chosen"] else {}
        started_from = committed_params(sweep["commit"])
        family = path.parent.name  # docs/measured/<family>/sweep_<name>.json
        for key, value in chosen.items():
            assert effective(params, family, key) == yaml.safe_load(value), (path.name, key)
        for run in sweep["runs"].values():
            for key in (change.split("=", 1)[0] for change in run["overrides"]):
                if key not in chosen:
                    assert effective(params, family, key) == effective(started_from, family, key), (path.name, key)


def test_a_change_reaches_a_family_through_its_own_overrides_where_it_has_them():
    """A family that overrides a section would ignore the shared value, so its sweep must change its override:
    in place where the key exists, added (Hydra's `+`) where it does not."""
    from dev_sweep import for_family

    params = {"wan": {"overrides": {"dense_dpo": {"tie_margin": 0.2}, "vader": {"lora_targets": "self_attention"}}},
              "animatediff": {"overrides": {"toyworld": {}, "tiers": {}}}}
    assert for_family("dense_dpo.tie_margin=0.3", "wan", params) == "wan.overrides.dense_dpo.tie_margin=0.3"
    assert for_family("vader.max_steps=10", "wan", params) == "+wan.overrides.vader.max_steps=10"
    assert for_family("vader.guard.layout=5.0", "wan", params) == "+wan.overrides.vader.guard.layout=5.0"
    assert for_family("data.jitter_strength=2.0", "wan", params) == "data.jitter_strength=2.0"
    assert for_family("dense_dpo.tie_margin=0.3", "animatediff", params) == "dense_dpo.tie_margin=0.3"


def test_a_sweep_change_reaches_a_family_through_its_overrides_and_adds_a_key_it_lacks():
    from dev_sweep import for_family

    params = {"wan": {"overrides": {"grpo": {"eta": 0.7}}}}
    assert for_family("grpo.eta=1.0", "wan", params) == "wan.overrides.grpo.eta=1.0"
    assert for_family("grpo.guard={contrast:20.0}", "wan", params) == "+wan.overrides.grpo.guard={contrast:20.0}"
    assert for_family("grpo.eta=1.0", "animatediff", params) == "grpo.eta=1.0"
    # a shared key forced into an empty section reaches a family's overrides as that family's own key
    assert for_family("++grpo.guard={contrast:20.0}", "wan", params) == "+wan.overrides.grpo.guard={contrast:20.0}"
    assert for_family("++grpo.guard={contrast:20.0}", "animatediff", params) == "++grpo.guard={contrast:20.0}"


def test_every_sweep_candidate_applies_to_the_committed_params(tmp_path):
    """`dvc exp run -S` refuses a change Hydra cannot apply (a key added to an empty section without `+`):
    each candidate, as each family's run spells it, applies to a copy of params.yaml."""
    import shutil

    import yaml
    from dev_sweep import FAMILY_SWEEPS, SWEEPS, for_family
    from dvc.utils.hydra import apply_overrides

    committed = Path(__file__).parents[2] / "params.yaml"
    params = yaml.safe_load(committed.read_text())
    for family in params["families"]:
        for name in SWEEPS:
            _, candidates = FAMILY_SWEEPS.get((family, name), SWEEPS[name])
            for candidate, changes in candidates.items():
                copy = tmp_path / "params.yaml"
                shutil.copy(committed, copy)
                apply_overrides(str(copy), [for_family(change, family, params) for change in changes])


def test_grpos_budgets_are_whole_rounds_nearest_vaders_clips_and_seconds():
    from reward_budget import budget_steps

    grpo = {"prompts_per_round": 2, "group_size": 4, "updates_per_round": 2}
    vader = {"clips_sampled": 40, "train_seconds": 66.0}
    committed = {"train_seconds": 150.0, "optimizer_steps": 40}  # 3.75 s a step
    steps = budget_steps(vader, committed, grpo)
    assert steps == {"clips": 10, "seconds": 18}  # 5 rounds of 8 clips; 66 s / 3.75 s = 17.6 steps → 9 rounds of 2
    assert budget_steps({"clips_sampled": 2, "train_seconds": 0.1}, committed, grpo) == {"clips": 2, "seconds": 2}  # at least a round
