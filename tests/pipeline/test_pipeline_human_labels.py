"""People in the loop, through the real `dvc repro`: a branch set to `dense_dpo.labeller: human` stops
before training until its segments are labelled, is labelled on the page in the browser (30 segments,
given the toy world's oracle answers), and then trains on exactly those labels: the same latents and
the same LoRA as the oracle-labelled run."""

import subprocess
from pathlib import Path

import pytest
import yaml
from labelling_browser import LabellingServer, keep_screenshot, wait_for_count
from micro_project import dvc_env, run

from videodpo.core import layout
from videodpo.labelling import labels_file
from videodpo.labelling.pair_view import BranchPairs
from videodpo.pairs import labellers, store

BRANCH = "train@animatediff-dense_dpo"
KEYS = {"a": ["1", "ArrowLeft"], "b": ["2", "ArrowRight"], "tie": ["0", "ArrowDown"]}
NAMES = {1: "a", -1: "b", 0: "tie"}


def set_labeller(project: Path, labeller: str) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["dense_dpo"].update(labeller=labeller, segment_frames=4)  # two segments of each 8-frame clip
    params["tiers"]["cpu"]["data"]["num_pairs"] = 15                 # 30 segments
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


def oracle_answers(tie_margin: float) -> list[tuple[int, int, str]]:
    """What the toy world's oracle says of each asked segment of the branch's pairs."""
    pairs = BranchPairs(layout.branch("animatediff", "dense_dpo"))
    parts = [range(start, stop) for start, stop in pairs.pairs[0].segments]
    answers = []
    for view in pairs.pairs:
        oracle = labellers.resolve("oracle", tie_margin, view.caption)
        values = labellers.label_pair(oracle, pairs.clip(view.pair, "a"), pairs.clip(view.pair, "b"), parts)
        answers += [(view.pair, segment, NAMES[values[segment]]) for segment in view.asked]
    return answers


@pytest.mark.slow
def test_people_label_thirty_segments_in_the_browser_and_the_branch_trains_on_exactly_them(micro_project, browser, monkeypatch):
    set_labeller(micro_project, "human")
    stopped = subprocess.run(["dvc", "repro", BRANCH], cwd=micro_project, env=dvc_env(), capture_output=True, text=True, timeout=600)
    assert stopped.returncode != 0
    assert ("encode_latents@animatediff-dense_dpo: 30 of the 30 segments asked for a label have none in labels/animatediff/dense_dpo.jsonl"
            in stopped.stderr + stopped.stdout), stopped.stderr
    assert "python -m videodpo.label animatediff dense_dpo --annotator NAME" in stopped.stderr + stopped.stdout

    monkeypatch.chdir(micro_project)
    tie_margin = yaml.safe_load((micro_project / "params.yaml").read_text())["dense_dpo"]["tie_margin"]
    answers = oracle_answers(tie_margin)
    assert len(answers) == 30 and {label for _, _, label in answers} - {"tie"}, answers

    server = LabellingServer(micro_project, "animatediff", "dense_dpo", "oracle-by-hand")
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 720})
        page.goto(server.url)
        page.wait_for_selector("body[data-ready=true]")
        for given, (pair, segment, label) in enumerate(answers):
            assert f"Pair {pair} " in page.inner_text("#caption")  # the page walks the pairs in order
            if given < 4:  # the first two pairs by mouse
                page.click(f"#segment-{segment}")
                page.click(f"#label-{label}")
            else:          # the rest by keyboard, numbers and arrows in turn
                page.keyboard.press(KEYS[label][given % 2])
            wait_for_count(page, given + 1)
        keep_screenshot(page)
    finally:
        server.kill()
    given = {(label.pair, label.segment): label.label for label in labels_file.read_labels(micro_project / "labels/animatediff/dense_dpo.jsonl").values()}
    assert given == {(pair, segment): label for pair, segment, label in answers}

    out = run(["dvc", "repro", BRANCH], micro_project)
    assert "Running stage 'encode_latents@animatediff-dense_dpo'" in out and f"Running stage '{BRANCH}'" in out
    latents, lora = micro_project / "data/animatediff/latents/dense_dpo", micro_project / "models/animatediff/lora/dense_dpo"
    by_people = folder_bytes(latents), folder_bytes(lora)
    trained_on = store.load_latents(latents)
    kept = sorted({pair for pair, _, label in answers if label != "tie"})
    assert len(trained_on["labels"]) == len(kept)  # every pair with a preference, and no other
    assert trained_on["labels"].tolist() == [[{"a": 1, "b": -1, "tie": 0}[label] for p, _, label in answers if p == pair] for pair in kept]

    set_labeller(micro_project, "oracle")  # the oracle labelling the same segments itself
    out = run(["dvc", "repro", BRANCH], micro_project)
    assert "Running stage 'make_pairs@animatediff-dense_dpo'" in out and "Running stage 'encode_latents@animatediff-dense_dpo'" in out
    assert folder_bytes(latents) == by_people[0]  # the same pairs, clips and labels, byte for byte ...
    assert f"Stage '{BRANCH}' didn't change" in out and folder_bytes(lora) == by_people[1]  # ... so the same LoRA: DVC keeps it
