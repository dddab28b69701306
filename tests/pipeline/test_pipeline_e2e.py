"""The real DVC pipeline, run with `dvc repro` on a micro config in a temporary copy of the project."""

import json
import subprocess

import pytest
import yaml
from micro_project import MICRO, copy_built, dvc_env, run


@pytest.mark.slow
def test_dvc_repro_builds_a_loadable_base_model_with_its_report(micro_project):
    from diffusers import AnimateDiffPipeline, UNetMotionModel

    pipe = AnimateDiffPipeline.from_pretrained(micro_project / "models/animatediff/base", local_files_only=True)
    assert isinstance(pipe.unet, UNetMotionModel)
    card = json.loads((micro_project / "models/animatediff/base/videodpo.json").read_text())
    assert card["source"] == "toy" and card["frames"] == 8

    metrics = json.loads((micro_project / "metrics/animatediff/base.json").read_text())
    assert metrics["train"]["n_samples"] == 36 and metrics["held_out"]["n_samples"] == 12
    for split in ("train", "held_out"):
        assert set(metrics[split]["oracle"]) == {"colour", "shape", "direction", "colour_and_direction"}
        assert metrics[split]["ground_truth"]["frame_difference"] > 0
        assert 5 < metrics[split]["vae_psnr_db"] < 60
    assert (micro_project / "plots/base/animatediff/contact_sheet.png").stat().st_size > 1000
    assert (micro_project / "plots/base/animatediff/training/plots/metrics/motion_loss.tsv").is_file()
    assert json.loads((micro_project / "plots/base/animatediff/training/metrics.json").read_text())["pretrain_minutes"] >= 0


@pytest.mark.slow
def test_dvc_status_is_clean_after_repro_and_the_lock_records_the_base_stage(micro_project):
    assert "up to date" in run(["dvc", "status"], micro_project).lower()
    lock = yaml.safe_load((micro_project / "dvc.lock").read_text())
    assert set(lock["stages"]) == {
        "base@animatediff", "preview_base@animatediff", "vjepa@animatediff", "validation_curves", "sample_base@animatediff-dev", "sample_base@animatediff-test", "evaluate@animatediff-dev", "evaluate@animatediff-test",
        *(f"{stage}@animatediff-{method}" for stage in ("settings", "make_pairs", "encode_latents", "train") for method in MICRO["methods"]),
        *(f"sample@animatediff-{method}-{split}" for method in MICRO["methods"] for split in ("dev", "test")),
    }
    assert "Stage 'base@animatediff' didn't change" in run(["dvc", "repro"], micro_project)


@pytest.mark.slow
def test_the_pipeline_writes_pairs_a_loadable_lora_samples_and_a_paired_evaluation(micro_project):
    from videodpo import families
    from videodpo.pairs import store

    manifest = store.read_manifest(micro_project / "data/animatediff/pairs/dpo")
    report = json.loads((micro_project / "metrics/animatediff/pairs_dpo.json").read_text())
    assert report["pairs"] == 4 and report["kept"] + report["dropped"] == 4 and len(manifest) == report["kept"] >= 1
    assert set(report["by_method"]) == {"amplify", "img2img"}
    assert {r["method"] for r in manifest} <= {"amplify", "img2img"} and all(r["seed"] % 100 in (0, 1) for r in manifest)
    assert not {r["caption"] for r in manifest} & {c.text for c in __import__("videodpo.toyworld").toyworld.held_out_captions()}
    data = store.load_latents(micro_project / "data/animatediff/latents/dpo")
    assert data["winners"].shape == (len(manifest), 4, 8, 8, 8) and data["text"].shape[0] == len(manifest)
    families.load_base(micro_project / "models/animatediff/base").load_lora(micro_project / "models/animatediff/lora/dpo")

    split_seeds = {}
    for split in ("dev", "test"):
        evaluation = json.loads((micro_project / f"metrics/animatediff/eval_{split}.json").read_text())
        assert evaluation["split"] == split and evaluation["n_samples"] == 12  # 12 held-out captions × 1 sample
        assert list(evaluation["methods"]) == MICRO["methods"]
        dpo = evaluation["methods"]["dpo"]
        for key in (
            "warping_error", "warping_error_seed", "frame_difference", "motion", "dynamic_degree", "contrast", "saturation", "adherence",
        ):
            assert key in evaluation["base"] and key in dpo["means"]
            low, high = dpo["change"][key]["ci95"]
            assert low <= dpo["change"][key]["relative"] <= high
        base_samples = json.loads((micro_project / f"results/animatediff/samples/{split}/base/samples.json").read_text())
        assert base_samples == json.loads((micro_project / f"results/animatediff/samples/{split}/dpo/samples.json").read_text())
        assert len({s["seed"] for s in base_samples}) == len(base_samples)  # every sample its own seed
        split_seeds[split] = {s["seed"] for s in base_samples}
        rows = (micro_project / f"plots/eval/animatediff/{split}/per_sample.csv").read_text().splitlines()
        assert len(rows) == 1 + len(MICRO["methods"]) * 12 and sum(",dpo," in row for row in rows) == sum(",vader," in row for row in rows) == 12
        assert (micro_project / f"plots/eval/animatediff/{split}/side_by_side/dpo.gif").is_file()
        assert (micro_project / f"plots/eval/animatediff/{split}/warping_error_per_sample.png").stat().st_size > 1000
    assert not split_seeds["dev"] & split_seeds["test"]  # the same prompts, other seeds
    assert (micro_project / "plots/train/animatediff/dpo/plots/metrics/implicit_accuracy.tsv").is_file()
    cost = json.loads((micro_project / "metrics/animatediff/train_dpo.json").read_text())
    assert cost["optimizer_steps"] == 3 and cost["preference_pairs"] == len(manifest) and cost["pair_draws"] == 3 * 2
    assert cost["wall_seconds"] > 0
    assert not (micro_project / "models/animatediff/checkpoints/train_dpo").exists()  # removed once the LoRA is saved


def test_the_vader_branch_samples_its_queries_trains_a_loadable_lora_and_validates_beside_dpo(micro_project):
    from videodpo import families, toyworld
    from videodpo.training import vader

    records, references = vader.read_query_clips(micro_project / "data/animatediff/pairs/vader", "make_pairs@animatediff-vader")
    assert len(records) == 3 and references.shape == (3, 8, 32, 32, 3)
    assert not {r["caption"] for r in records} & {c.text for c in toyworld.held_out_captions()}
    queries = vader.load_query_tensors(micro_project / "data/animatediff/latents/vader", "encode_latents@animatediff-vader")
    assert queries.seeds == [r["seed"] for r in records] and queries.references.shape == (3, 8, 3, 32, 32)
    report = json.loads((micro_project / "metrics/animatediff/pairs_vader.json").read_text())
    assert report["queries"] == 3 and report["reference_warping_error"] >= 0
    families.load_base(micro_project / "models/animatediff/base").load_lora(micro_project / "models/animatediff/lora/vader")
    cost = json.loads((micro_project / "metrics/animatediff/train_vader.json").read_text())
    weights = yaml.safe_load((micro_project / "params.yaml").read_text())["vader"]["rewards"]
    assert cost["optimizer_steps"] == 2 and cost["clips_sampled"] == 2
    assert cost["optimised_rewards"] == sorted(name for name, weight in weights.items() if weight)
    assert not (micro_project / "models/animatediff/checkpoints/train_vader").exists()
    scorer = json.loads((micro_project / "metrics/animatediff/vjepa.json").read_text())
    assert scorer["n"] == {"base": 12, "jittered": 12, "ground_truth": 12} and scorer["training"]["steps"] == 2
    assert set(scorer["loss"]) == {"base", "jittered", "ground_truth"} and 0 <= scorer["jittered_scored_worse_than_its_clip"] <= 1
    vader_rows = (micro_project / "plots/train/animatediff/vader/validation.csv").read_text().splitlines()
    dpo_rows = (micro_project / "plots/train/animatediff/dpo/validation.csv").read_text().splitlines()
    assert vader_rows[0] == dpo_rows[0] == "step,train_seconds,consumed,warping_error,motion"
    assert [row.split(",")[0] for row in vader_rows[1:]] == ["0", "1", "2"]
    assert [row.split(",")[0] for row in dpo_rows[1:]] == ["0", "2", "3"]
    assert [float(row.split(",")[2]) for row in dpo_rows[1:]] == [0, 4, 6]  # pairs drawn: 2 a step
    from PIL import Image

    assert Image.open(micro_project / "plots/eval/validation.png").size[0] > 600  # both methods' curves, two panels


def test_the_grpo_branch_trains_on_its_prompts_with_a_reward_without_a_gradient_and_logs_its_rounds(micro_project):
    from videodpo import families, toyworld
    from videodpo.training import grpo

    prompts = grpo.load_embeddings(micro_project / "data/animatediff/latents/grpo", "encode_latents@animatediff-grpo")
    written = grpo.read_prompts(micro_project / "data/animatediff/pairs/grpo", "make_pairs@animatediff-grpo")
    assert prompts.prompts == written and len(written) == json.loads((micro_project / "metrics/animatediff/pairs_grpo.json").read_text())["prompts"]
    assert not set(written) & {c.text for c in toyworld.held_out_captions()}
    cost = json.loads((micro_project / "metrics/animatediff/train_grpo.json").read_text())
    assert cost["optimizer_steps"] == 2 and cost["clips_sampled"] == 2 * 1 * 2  # a round of 1 prompt × 2 clips per step
    assert cost["optimised_rewards"] == ["brightness", "flow_warping"]
    families.load_base(micro_project / "models/animatediff/base").load_lora(micro_project / "models/animatediff/lora/grpo")
    assert not (micro_project / "models/animatediff/checkpoints/train_grpo").exists()  # the rounds went with the checkpoint
    logged = micro_project / "plots/train/animatediff/grpo/plots/metrics"
    for name in ("reward_mean", "reward_std", "kl", "clipped_share", "flow_warping", "guard_contrast"):
        assert len((logged / f"{name}.tsv").read_text().splitlines()) == 1 + 2, name
    rows = (micro_project / "plots/train/animatediff/grpo/validation.csv").read_text().splitlines()
    assert [float(row.split(",")[2]) for row in rows[1:]] == [0, 4]  # clips sampled at steps 0 and 2
    assert (micro_project / "plots/train/animatediff/grpo/curves.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_dense_dpo_branch_trains_on_guided_pairs_with_segment_labels(micro_project):
    from videodpo import families
    from videodpo.pairs import store

    manifest = store.read_manifest(micro_project / "data/animatediff/pairs/dense_dpo")
    report = json.loads((micro_project / "metrics/animatediff/pairs_dense_dpo.json").read_text())
    assert report["pairs_made"] == 4 and report["segments_per_pair"] == 4 and report["labels_asked"] == 16
    assert len(manifest) == report["pairs_kept"] >= 1 and 0 <= report["tie_rate"] <= 1
    assert all(r["ground_truth"].startswith("toy render seed") and r["eta"] == 0.6 and len(r["labels"]) == 4 for r in manifest)
    data = store.load_latents(micro_project / "data/animatediff/latents/dense_dpo")
    assert data["labels"].shape == (len(manifest), 4)
    assert data["labels"].tolist() == [r["labels"] for r in manifest]
    cost = json.loads((micro_project / "metrics/animatediff/train_dense_dpo.json").read_text())
    assert cost["labels"] == report["labels"] and cost["optimizer_steps"] == 3
    families.load_base(micro_project / "models/animatediff/base").load_lora(micro_project / "models/animatediff/lora/dense_dpo")
    assert "dense_dpo" in json.loads((micro_project / "metrics/animatediff/eval_test.json").read_text())["methods"]


@pytest.mark.slow
def test_changing_beta_reruns_only_the_dpo_branches_from_training(micro_project):
    """After the settings stages rerun (they read every section), the stages whose inputs changed are
    the training stages of the methods that read `training` (dpo, dense_dpo) and nothing of vader's or
    grpo's; DVC reruns what follows a changed stage (sample@animatediff-<method>, evaluate)."""
    params = yaml.safe_load((micro_project / "params.yaml").read_text())
    params["training"]["beta"] = 3000
    (micro_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    settings = [f"settings@animatediff-{method}" for method in MICRO["methods"]]
    out = run(["dvc", "repro", "--single-item", *settings], micro_project)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    # the reward methods' settings stages read the training section too (its precision); they write the same files
    assert ran == set(settings), out
    changed = yaml.safe_load(run(["dvc", "status", "--json"], micro_project))
    assert set(changed) == {"train@animatediff-dpo", "train@animatediff-dense_dpo"}, changed


@pytest.mark.slow
def test_editing_an_evaluation_prompt_changes_only_the_sampling_stages(micro_project):
    """The evaluation prompt file is a dependency of sampling alone: pairs and training stand, and
    the evaluations follow the new samples."""
    prompt_file = micro_project / "prompts/eval/toy.txt"
    before_edit = set(yaml.safe_load(run(["dvc", "status", "--json"], micro_project)))
    original = prompt_file.read_text()
    try:
        prompt_file.write_text(original.replace("a red square moving left\n", "a red square moving left fast\n", 1))
        assert prompt_file.read_text() != original
        changed = set(yaml.safe_load(run(["dvc", "status", "--json"], micro_project))) - before_edit
    finally:
        prompt_file.write_text(original)
    assert changed == {f"{stage}-{split}" if "@" in stage else f"{stage}@{split}"
                       for stage in ("sample_base@animatediff", *(f"sample@animatediff-{m}" for m in MICRO["methods"])) for split in ("dev", "test")}, changed


@pytest.mark.slow
def test_an_unknown_method_fails_at_once_naming_the_known_ones(micro_project):
    params_file = micro_project / "params.yaml"
    committed = params_file.read_text()
    params = yaml.safe_load(committed)
    params["methods"] = ["dpo", "ppo"]
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        done = subprocess.run(["dvc", "repro"], cwd=micro_project, env=dvc_env(), capture_output=True, text=True, timeout=300)
    finally:
        params_file.write_text(committed)
    assert done.returncode != 0
    from videodpo import methods

    assert f"unknown ['ppo']; list one or more of the known methods: {', '.join(methods.known())}" in done.stdout + done.stderr
    ran = [line.split("'")[1] for line in done.stdout.splitlines() if line.startswith("Running stage")]
    assert len(ran) == 1, done.stdout  # the first stage to read the params stops the run


@pytest.mark.slow
def test_changing_lora_or_training_params_does_not_retrain_the_base(micro_project):
    params = yaml.safe_load((micro_project / "params.yaml").read_text())
    params["model"]["lora_alpha"] = 8
    params["training"]["beta"] = 1234
    (micro_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = run(["dvc", "status", "base@animatediff", "preview_base@animatediff"], micro_project)
    assert "up to date" in status.lower(), status


@pytest.mark.slow
def test_the_launch_switch_runs_the_stages_on_two_processes_with_the_same_results(micro_project):
    """`dvc exp run -S 'launch=...'` as a CPU user would set it: DVC runs make_pairs on two gloo
    processes, and they write what one process wrote. To keep the suite's time, make_pairs@animatediff-dpo only:
    every stage under `launch` shares its launch and sharding (distributed.my_shard, gather_rows),
    and test_distributed runs sharded sampling and training, and the LoRA's save, on two processes."""
    import numpy as np

    from videodpo.pairs import store

    def outputs_now():
        shard = next(store.iter_pair_shards(micro_project / "data/animatediff/pairs/dpo"))
        return store.read_manifest(micro_project / "data/animatediff/pairs/dpo"), shard[1]

    manifest, winners = outputs_now()
    params = yaml.safe_load((micro_project / "params.yaml").read_text())
    params["methods"] = ["dpo"]
    params["launch"] = "ACCELERATE_USE_CPU=true OMP_NUM_THREADS=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 --mixed_precision no --dynamo_backend no"
    (micro_project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = run(["dvc", "repro", "make_pairs@animatediff-dpo"], micro_project)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert "make_pairs@animatediff-dpo" in ran and "base" not in ran, out
    lock = yaml.safe_load((micro_project / "dvc.lock").read_text())
    assert "accelerate launch" in lock["stages"]["make_pairs@animatediff-dpo"]["cmd"]

    manifest_2, winners_2 = outputs_now()
    assert [(r["caption"], r["seed"], r["method"]) for r in manifest_2] == [(r["caption"], r["seed"], r["method"]) for r in manifest]
    # the same clips, up to float rounding from other batch groupings
    assert np.abs(winners_2.astype(int) - winners.astype(int)).mean() < 0.5


@pytest.mark.slow
def test_the_tier_switch_plans_a_hub_run_and_composes_the_tier_settings(micro_project):
    """What `-S tier=t4` would do, without doing it: `dvc repro --dry` names the stages whose own
    params it changes (the base too, since t4 means the hub model; a dry run does not follow a
    change into the stages downstream), the DPO branch's settings files change with it, and
    show_config prints the settings the stages would read."""
    params_file = micro_project / "params.yaml"
    committed = params_file.read_text()
    params = yaml.safe_load(committed)
    params["tier"] = "t4"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        out = run(["dvc", "repro", "--dry"], micro_project)
    finally:
        params_file.write_text(committed)
    planned = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert {"base@animatediff", "preview_base@animatediff", "settings@animatediff-dpo", "sample_base@animatediff-dev", "sample_base@animatediff-test", "sample@animatediff-dpo-dev", "sample@animatediff-dpo-test"} <= planned, out
    assert "up to date" in run(["dvc", "status", "base"], micro_project).lower()  # a dry run changes nothing

    from videodpo.config import config_from_params
    from videodpo.methods import branch_settings

    cpu, t4 = (branch_settings(config_from_params({**params, "tier": tier}), "dpo") for tier in ("cpu", "t4"))
    assert cpu["pairs"] != t4["pairs"] and cpu["train"] != t4["train"]  # so make_pairs@animatediff-dpo and train@animatediff-dpo rerun too

    shown = json.loads(run(["env", "PYTHONPATH=src", "python", "scripts/show_config.py", "-S", "tier=t4", "--json"], micro_project))
    assert shown["model"]["source"] == "hub"
    assert (shown["data"]["frames"], shown["data"]["resolution"], shown["model"]["lora_rank"]) == (8, 256, 4)
    assert (shown["training"]["mixed_precision"], shown["training"]["gradient_checkpointing"]) == ("fp16", True)
    assert shown["prompt_files"] == {"train": "prompts/train/hub.txt", "eval": "prompts/eval/hub.txt", "dev": "prompts/eval/hub.txt"}  # the hub tiers' built-in sets


@pytest.mark.slow
def test_a_teammate_pulls_the_outputs_and_an_experiment_from_a_shared_remote(micro_build, tmp_path):
    """README "Sharing outputs": one clone pushes its outputs to a folder remote and its code to a
    git remote; a fresh clone pulls them, has nothing to rerun, and gets the experiment pushed after."""
    first, store, origin, second = tmp_path / "first", tmp_path / "dvc-store", tmp_path / "origin.git", tmp_path / "second"
    copy_built(micro_build, first)
    commit = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm"]
    run(["git", "init", "-q", "--bare", str(origin)], tmp_path)
    run(["git", "remote", "add", "origin", str(origin)], first)
    run(["dvc", "remote", "add", "-d", "shared", str(store)], first)
    run(["git", "add", "-A"], first)
    run([*commit, "outputs on a shared remote"], first)
    run(["dvc", "push"], first)
    run(["git", "push", "-q", "origin", "HEAD:main"], first)

    run(["git", "clone", "-q", "--branch", "main", str(origin), str(second)], tmp_path)
    assert not (second / "models/animatediff/base").exists()
    run(["dvc", "pull"], second)
    assert (second / "models/animatediff/base/model_index.json").is_file()
    assert "up to date" in run(["dvc", "status"], second).lower()
    rerun = run(["dvc", "repro"], second)
    assert "Running stage" not in rerun, rerun

    run(["dvc", "exp", "run", "evaluate@animatediff-test", "-n", "shared-exp", "-S", "evaluate.bootstrap_samples=60"], first)
    pushed = (first / "metrics/animatediff/eval_test.json").read_bytes()
    run(["dvc", "exp", "push", "origin", "shared-exp"], first)
    assert "shared-exp" in run(["dvc", "exp", "list", "origin"], second)
    run(["dvc", "exp", "pull", "origin", "shared-exp"], second)
    run(["dvc", "exp", "apply", "shared-exp"], second)
    assert yaml.safe_load((second / "params.yaml").read_text())["evaluate"]["bootstrap_samples"] == 60
    assert (second / "metrics/animatediff/eval_test.json").read_bytes() == pushed
