"""scripts/budget_grid.py and scripts/budget_curves.py: a grid's points give each method exactly its
budget and seed and leave every family's base alone, and the curves written carry what the plots read."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(ROOT / "scripts"))  # budget_grid, budget_curves

import budget_curves  # noqa: E402
from budget_curves import base_counts, curve_rows, known_failures, last_words, record_failures, reward_gain, unfinished_budgets  # noqa: E402
from budget_grid import load_grid, points, reward_steps  # noqa: E402

from videodpo.config import family_overlay, merge_tier  # noqa: E402

BASE_KEYS = ("toyworld", "tier", "tiers")  # with <family>.pretrain/.toy/.hub/.overrides.{toyworld,tiers}: what base@<family> reads


def committed_params() -> dict:
    shown = subprocess.run(["git", "show", "HEAD:params.yaml"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return yaml.safe_load(shown)


def applied(params: dict, changes) -> dict:
    """params after `-S key=value` changes (a leading + adds a key), as Hydra applies them."""
    params = copy.deepcopy(params)
    for change in changes:
        key, value = change.split("=", 1)
        *parents, leaf = key.lstrip("+").split(".")
        node = params
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return params


def base_inputs(params: dict, family: str) -> dict:
    """What the family's base stage reads (dvc.yaml: base@<family>'s params), num_pairs aside (it reads frames, resolution, source)."""
    tiers = {name: {"model": {"source": preset["model"]["source"]}, "data": {k: preset["data"][k] for k in ("frames", "resolution")}}
             for name, preset in params["tiers"].items()}
    own = params[family]
    return {"tier": params["tier"], "tiers": tiers, "toyworld": params["toyworld"],
            **{key: own[key] for key in ("hub", "toy", "pretrain")}, "overrides": {k: own["overrides"].get(k) for k in ("toyworld", "tiers")}}


@pytest.mark.parametrize("family", ["animatediff", "wan"])
def test_each_point_gets_its_budget_and_seed_and_only_the_second_base_moves_the_base(family):
    params = committed_params()
    grid = load_grid(ROOT / "grids/budgets.yaml")
    chosen = points(grid, params, [family])
    assert len({point.name for point in chosen}) == len(chosen)
    for point in chosen:
        changed = applied(params, point.changes)
        seen = merge_tier(family_overlay(changed, family))  # the settings the branch's stages read
        if point.axis == "labels":
            assert seen["data"]["num_pairs"] == point.budget, point.name
            assert seen["training"]["seed"] == point.seed and seen["training"]["val_every"] == 0, point.name
        else:
            section = seen[point.method]
            assert section["seed"] == point.seed and section["val_every"] == 0, point.name
            if point.method == "vader":
                clips = section["max_steps"] * section["clips_per_step"]
            else:
                clips = section["max_steps"] // section["updates_per_round"] * section["prompts_per_round"] * section["group_size"]
            assert clips == point.budget, point.name
        for key, value in params[family]["overrides"].items():  # the family's own dev-chosen settings are kept
            if key not in ("toyworld", "tiers"):
                for inner, kept in (value or {}).items():
                    assert changed[family]["overrides"][key][inner] == kept, (point.name, key, inner)
        moved = base_inputs(changed, family) != base_inputs(params, family)
        assert moved == (point.pretrain_seed != params[family]["pretrain"]["seed"]), point.name
        if moved:
            assert seen[family]["pretrain"]["seed"] == grid["second_base"]["pretrain_seed"]


def test_reward_budgets_map_to_whole_steps_or_say_which_keys_do_not_divide():
    sections = {"vader": {"clips_per_step": 2}, "grpo": {"prompts_per_round": 2, "group_size": 4, "updates_per_round": 2}}
    assert reward_steps("vader", 640, sections) == 320
    assert reward_steps("grpo", 640, sections) == 160  # 80 rounds of 8 clips, 2 updates each
    with pytest.raises(ValueError, match="grpo.prompts_per_round"):
        reward_steps("grpo", 100, sections)
    with pytest.raises(ValueError, match="vader.clips_per_step"):
        reward_steps("vader", 41, sections)
    with pytest.raises(ValueError, match="scores no reward"):
        reward_steps("dpo", 40, sections)


def test_a_grid_file_with_an_unknown_or_missing_key_is_refused_by_name(tmp_path):
    grid = yaml.safe_load((ROOT / "grids/budgets_small.yaml").read_text())
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({**grid, "training_seed": [0]}))
    with pytest.raises(ValueError, match="typo.yaml: unknown key.*training_seed"):
        load_grid(tmp_path / "typo.yaml")
    (tmp_path / "empty.yaml").write_text(yaml.safe_dump({**grid, "labels": {"methods": ["dpo"]}}))
    with pytest.raises(ValueError, match="`labels` needs `methods` and `pairs`"):
        load_grid(tmp_path / "empty.yaml")


def test_the_small_grid_is_two_budgets_a_method_at_one_seed_on_one_family():
    params = committed_params()
    grid = load_grid(ROOT / "grids/budgets_small.yaml")
    chosen = points(grid, params)
    methods = {point.method for point in chosen}
    assert {len({p.budget for p in chosen if p.method == m}) for m in methods} == {2}
    assert {p.seed for p in chosen} == {0} and len(grid["families"]) == 1
    full = {p.name for p in points(load_grid(ROOT / "grids/budgets.yaml"), params)}
    assert {p.name for p in chosen} <= full  # its points are the full grid's: its curves are a subset of the full ones


def test_reward_gain_compares_the_last_tenth_with_the_first():
    rising = "step\treward\n" + "".join(f"{step}\t{step / 10}\n" for step in range(20))
    assert reward_gain(rising) == pytest.approx((1.8 + 1.9) / 2 - (0.0 + 0.1) / 2)
    assert reward_gain("step\treward\n0\t-1.0\n1\t-2.0\n") == pytest.approx(-1.0)


def test_the_curves_carry_every_column_the_budget_plots_read():
    """Each dvc.yaml plot on a budget template reads x, y, y_low and y_high, and the series, from the rows budget_curves writes."""
    record = {"method": "vader", "pretrain_seed": 1, "seed": 2, "budget": 80, "clips": 80, "train_seconds": 12.5, "reward_gain": 0.3,
              "change": {m: {"relative": -0.1, "ci95": [-0.2, 0.0]} for m in ("warping_error", "motion", "travel")}}
    [row] = curve_rows([record], committed_seed=0, x_key="clips")
    assert row["series"] == "vader (base seed 1)" and row["warping_error"] == -10.0 and row["warping_error_low"] == -20.0
    labelled = {**record, "method": "dense_dpo", "pretrain_seed": 0, "labels_asked": 96, "budget": 48}
    del labelled["clips"], labelled["reward_gain"]
    [label_row] = curve_rows([labelled], committed_seed=0, x_key="labels")
    assert label_row["series"] == "dense_dpo" and label_row["labels"] == 96 and label_row["budget"] == 48
    assert (row["base"], label_row["base"]) == ("base seed 1", "committed base")
    [pair_row] = curve_rows([labelled], committed_seed=0, x_key="pairs")
    assert pair_row["pairs"] == 48
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    budget_plots = [spec for entry in plots for spec in entry.values() if isinstance(spec, dict) and str(spec.get("template", "")).startswith("budget")]
    assert budget_plots
    for spec in budget_plots:
        [(file, y)] = spec["y"].items()
        rows = {"reward_queries.csv": row, "labels.csv": label_row, "pairs.csv": pair_row}[Path(file).name]
        assert {spec["x"], y, f"{y}_low", f"{y}_high", "method", "base"} <= set(rows), spec


def queue_watched(monkeypatch, worker_counts: list[int], poll_seconds: float = 15.0) -> list[list[str]]:
    """Run budget_grid.wait_for over a queue whose live workers follow `worker_counts`, one count a poll, with a
    point waiting throughout; the queue starts it asked for. Time is simulated: each poll is `poll_seconds` later."""
    import budget_grid

    clock, polls, starts = [0.0], iter(worker_counts), []

    def status():
        workers = next(polls, None)
        return ({} if workers is None else {"budget-x": "Queued"}), workers or 0

    monkeypatch.setattr(budget_grid, "queue_status", status)
    monkeypatch.setattr(budget_grid.subprocess, "run", lambda command, **_: starts.append(command))
    monkeypatch.setattr(budget_grid.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(budget_grid.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    budget_grid.wait_for({"budget-x"}, jobs=2, poll_seconds=poll_seconds, grace_seconds=90.0)
    return starts


def test_a_worker_slow_to_report_is_not_started_twice(monkeypatch):
    assert queue_watched(monkeypatch, [1, 1, 2, 2, 1, 2, 2]) == []


def test_a_worker_dead_past_the_grace_is_started_again_once(monkeypatch):
    starts = queue_watched(monkeypatch, [2, 1, 1, 1, 1, 1, 1, 1, 2, 2])
    assert starts == [["dvc", "queue", "start", "-j", "2"]]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_live_workers_are_counted_by_node_name_from_the_process_table():
    import budget_grid

    before, prefix = budget_grid.live_workers(), budget_grid.worker_node_prefix()
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", "queue-worker"]
    nodes = [f"{prefix}91@localhost", f"{prefix}91@localhost", f"{prefix}92@localhost", "dvc-exp-000000-93@localhost"]
    workers = [subprocess.Popen([*sleeper, node]) for node in nodes]
    try:
        assert budget_grid.live_workers() == before + 2  # one node twice counts once; another workspace's not at all
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert budget_grid.live_workers() == before


def test_a_failed_point_is_told_by_its_stages_last_words_and_leaves_its_budget_unfinished():
    log = ("make_pairs@wan-dense_dpo_third: label: 100%|██████████| 7/7 [00:00<00:00, 13.15pair/s]\n"
           "make_pairs@wan-dense_dpo_third: the labeller tied every pair (see metrics/wan/pairs.json): lower dense_dpo.tie_margin\n"
           "ERROR: failed to reproduce 'make_pairs@wan-dense_dpo_third': failed to run\n")
    assert last_words(log) == "make_pairs@wan-dense_dpo_third: the labeller tied every pair"
    grid = {"families": ["wan"], "labels": {"methods": ["dense_dpo_third"], "pairs": [24, 48]}, "training_seeds": [0, 1]}
    grid_points = points(grid, committed_params())
    finished = [{"pretrain_seed": p.pretrain_seed, "method": p.method, "budget": p.budget} for p in grid_points if p.budget == 48][:1]
    failed = {p.name: "the labeller tied every pair" for p in grid_points if p.budget == 24 and p.seed == 1}
    unfinished = unfinished_budgets(grid_points, finished, failed)
    seed = grid_points[0].pretrain_seed
    assert unfinished == {seed: {"dense_dpo_third": {24: "the labeller tied every pair"}}}  # 48 finished on one seed: enough
    assert unfinished_budgets(grid_points, finished, {}) == {seed: {"dense_dpo_third": {24: "not run"}}}


def test_resume_skips_points_finished_for_another_commit_and_only_then(monkeypatch):
    import budget_grid

    grid = {"families": ["wan"], "labels": {"methods": ["dpo"], "pairs": [24, 48]}, "training_seeds": [0]}
    grid_points = points(grid, committed_params())
    elsewhere = {grid_points[0].name: "refs/exps/ab/cdef/" + grid_points[0].name}  # finished for an older commit
    monkeypatch.setattr(budget_grid, "queued_names", lambda: set())
    monkeypatch.setattr(budget_grid, "experiment_ref", lambda name: None)  # nothing finished for this commit
    monkeypatch.setattr(budget_grid, "finished_refs", lambda: elsewhere)
    monkeypatch.setattr(budget_grid, "git", lambda *args: "")
    monkeypatch.setattr(budget_grid.subprocess, "run", lambda command, **_: None)
    assert [p.name for p in budget_grid.queue(grid_points)] == [p.name for p in grid_points]
    assert [p.name for p in budget_grid.queue(grid_points, resume=True)] == [grid_points[1].name]


def test_each_base_counts_its_own_points_not_run_and_training_seeds():
    grid = {"families": ["wan"], "labels": {"methods": ["dpo"], "pairs": [24, 48]}, "training_seeds": [0, 1, 2],
            "second_base": {"pretrain_seed": 7, "training_seeds": [0]}}
    grid_points = points(grid, committed_params())
    committed = str(committed_params()["wan"]["pretrain"]["seed"])
    not_run = [p.name for p in grid_points if p.pretrain_seed == 7 and p.budget == 48]
    assert base_counts(grid_points, not_run) == {committed: {"points": 6, "not_run": 0, "training_seeds": [0, 1, 2]},
                                                 "7": {"points": 2, "not_run": 1, "training_seeds": [0]}}


def test_a_failure_recorded_elsewhere_is_read_without_the_queue_that_lost_it(tmp_path, monkeypatch):
    """A teammate who pulled the experiments has no queue: the ledger tells them which points failed and why."""
    recorded = {"budget-a": "tied every pair", "budget-b": "out of memory", "budget-c": "tied every pair"}
    missing = {"budget-a", "budget-b", "budget-d"}  # budget-c finished since; budget-d was never run
    assert known_failures(recorded, {}, missing, set()) == {"budget-a": "tied every pair", "budget-b": "out of memory"}
    assert known_failures(recorded, {"budget-b": "nan loss"}, missing, {"budget-a"}) == {"budget-b": "nan loss"}  # a was queued again
    monkeypatch.setattr(budget_curves, "FAILURES", tmp_path / "failures.json")
    record_failures({}, recorded, {"budget-a", "budget-b", "budget-c"})
    record_failures(budget_curves.recorded_failures(), {"budget-a": "tied every pair"}, {"budget-a", "budget-b", "budget-c"})  # b, c finished
    record_failures(budget_curves.recorded_failures(), {"budget-x": "other grid"}, {"budget-x"})
    assert json.loads((tmp_path / "failures.json").read_text()) == {"budget-a": "tied every pair", "budget-x": "other grid"}
