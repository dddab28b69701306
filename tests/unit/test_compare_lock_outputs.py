"""scripts/compare_lock_outputs.py: an output whose hash differs is a changed result, unless it is a
settings file (a code digest) or records time (a timing), read from both runs where they are given."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

from compare_lock_outputs import compare  # noqa: E402


def stage(*outs: tuple[str, str]) -> dict:
    return {"outs": [{"path": path, "md5": md5, "size": 1} for path, md5 in outs]}


def test_only_a_changed_result_counts_as_one():
    before = {"train@a-dpo": stage(("models/a/lora/dpo", "1"), ("metrics/a/train_dpo.json", "2")), "settings@a-dpo": stage(("data/a/settings/dpo", "3"))}
    after = {"train@a-dpo": stage(("models/a/lora/dpo", "1"), ("metrics/a/train_dpo.json", "9")), "settings@a-dpo": stage(("data/a/settings/dpo", "8"))}
    found = compare(before, after)
    assert found["same"] == ["models/a/lora/dpo"] and "differs (result)" not in found
    assert found["differs (timing)"] == ["train@a-dpo: metrics/a/train_dpo.json"] and found["differs (code digest)"] == ["settings@a-dpo: data/a/settings/dpo"]
    after["train@a-dpo"] = stage(("models/a/lora/dpo", "7"), ("metrics/a/train_dpo.json", "2"))
    assert compare(before, after)["differs (result)"] == ["train@a-dpo: models/a/lora/dpo"]


def test_a_json_that_differs_in_its_seconds_alone_is_a_timing_and_in_a_figure_a_result(tmp_path):
    runs = [tmp_path / "before", tmp_path / "after"]
    for run, seconds, loss in zip(runs, (25.9, 28.3), (0.45, 0.45)):
        (run / "metrics/a").mkdir(parents=True)
        (run / "metrics/a/vjepa.json").write_text(json.dumps({"loss": {"jittered": loss}, "wall_seconds": seconds}))
    before, after = {"vjepa@a": stage(("metrics/a/vjepa.json", "1"))}, {"vjepa@a": stage(("metrics/a/vjepa.json", "2"))}
    assert compare(before, after, workspaces=tuple(runs))["differs (timing)"] == ["vjepa@a: metrics/a/vjepa.json"]
    (runs[1] / "metrics/a/vjepa.json").write_text(json.dumps({"loss": {"jittered": 0.46}, "wall_seconds": 28.3}))
    assert compare(before, after, workspaces=tuple(runs))["differs (result)"] == ["vjepa@a: metrics/a/vjepa.json"]
    assert compare(before, after)["differs (result)"] == ["vjepa@a: metrics/a/vjepa.json"]  # unread, it counts as a result
