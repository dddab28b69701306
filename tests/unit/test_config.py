import copy

import pytest
import yaml

from videodpo.config import ConfigError, config_from_params, load_config
from committed import committed_params, committed_text

PARAMS = committed_params()


def params_with(change) -> dict:
    params = copy.deepcopy(PARAMS)
    change(params)
    return params


def test_committed_params_are_valid_and_use_the_cpu_preset():
    config = config_from_params(committed_params())
    assert config.tier == "cpu"
    assert config.model.source == "toy"
    assert (config.data.frames, config.data.resolution) == (config.toyworld.frames, config.toyworld.frame_size)


@pytest.mark.parametrize(
    "tier, pairs, frames, resolution, rank, steps, precision",
    [("t4", 10, 8, 256, 4, 50, "fp16"), ("l4", 50, 16, 512, 16, 200, "bf16"), ("a100", 200, 16, 512, 32, 500, "bf16")],
)
def test_gpu_tier_presets_compose_the_seed_table(tier, pairs, frames, resolution, rank, steps, precision):
    # what `dvc exp run -S tier=… -S 'families=[animatediff]'` changes (wan needs bf16: not on t4)
    config = config_from_params(params_with(lambda p: p.update(tier=tier, families=["animatediff"])), family="animatediff")
    assert config.model.source == "hub" and config.training.gradient_checkpointing
    assert (config.data.num_pairs, config.data.frames, config.data.resolution) == (pairs, frames, resolution)
    assert (config.model.lora_rank, config.training.max_steps, config.training.mixed_precision) == (rank, steps, precision)
    # keys the preset does not own keep their section's value
    assert config.training.beta == PARAMS["training"]["beta"]
    assert config.training.memory_optimized == PARAMS["training"]["memory_optimized"]


@pytest.mark.parametrize("tier, frames, resolution", [("l4", 17, 480), ("a100", 33, 480)])
def test_wan_reads_its_own_clip_length_and_size_from_its_overrides_and_animatediff_the_tiers(tier, frames, resolution):
    params = params_with(lambda p: p.update(tier=tier))
    wan = config_from_params(params, family="wan")
    assert (wan.data.frames, wan.data.resolution, wan.training.mixed_precision) == (frames, resolution, "bf16")
    assert wan.family == "wan" and wan.family_section().hub.base == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    animatediff = config_from_params(params, family="animatediff")
    assert (animatediff.data.frames, animatediff.data.resolution) == (PARAMS["tiers"][tier]["data"]["frames"], PARAMS["tiers"][tier]["data"]["resolution"])
    cpu = config_from_params(committed_params(), family="wan")
    assert cpu.data.frames == cpu.toyworld.frames == 9 and config_from_params(committed_params(), family="animatediff").toyworld.frames == 8


def test_wan_on_a_tier_without_bf16_is_refused_at_once_with_the_reason_and_the_way_out():
    with pytest.raises(ConfigError, match=r"(?s)model family wan.*tiers\.t4\.training\.mixed_precision: fp16.*needs bf16.*families=\[animatediff\]"):
        config_from_params(params_with(lambda p: p.update(tier="t4")))


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda p: p.update(families=["animatediff", "sora"]), "unknown ['sora']; list one or more of the known model families: animatediff, wan"),
        (lambda p: p.update(families=[]), "families: Value error, an empty list"),
        (lambda p: p["wan"]["toy"].update(heads=0), "wan.toy.heads"),
        (lambda p: p["wan"]["toy"].update(head_width=16), "wan.toy.head_width: Input should be greater than or equal to 24"),
        (lambda p: p["wan"]["overrides"].update(sample={"guidance_scale": 7.0}), "wan.overrides.sample: every family is sampled and scored alike"),
        (lambda p: p["dense_dpo"].update(segment_frames=2), "dense_dpo.segment_frames: 2 does not fit Wan's latent grouping of 9 frames"),
        (lambda p: p.update(tier="l4") or p["wan"]["overrides"]["tiers"]["l4"]["data"].update(frames=16),
         "data.frames: 16 (tier l4), but Wan's VAE makes clips of 4k + 1 frames: set wan.overrides.tiers.l4.data.frames to 13 or 17"),
        (lambda p: p.update(tier="l4") or p["wan"]["overrides"]["tiers"]["l4"]["data"].update(resolution=500),
         "set wan.overrides.tiers.l4.data.resolution to 496"),
        (lambda p: p.update(tier="h100"), "tier: 'h100'"),
        (lambda p: p["training"].update(beta=-1), "training.beta"),
        (lambda p: p["model"].update(source="local"), "model.source"),
        (lambda p: p["data"].update(jitter_strenght=0.1), "data.jitter_strenght: unknown key"),
        (lambda p: p["animatediff"]["pretrain"].update(motion_trains="everything"), "animatediff.pretrain.motion_trains"),
        (lambda p: p["training"].update(max_steps=10), "tiers.cpu.training.max_steps"),
        (lambda p: p["tiers"].pop("l4"), "tiers.l4"),
        (lambda p: p["tiers"]["t4"]["model"].update(source="toy") or p.update(tier="t4"), "set tiers.t4.model.source to hub"),
        (lambda p: p["model"].update(source="hub"), "tiers.cpu.model.source"),
        (lambda p: p.update(launch="torchrun --nproc_per_node 2"), "launch: Value error, give `python`"),
        (lambda p: p["toyworld"].update(speed=5.0), "does not fit"),
        (lambda p: p.update(methods=["dpo", "ppo"]), "methods: Value error, unknown ['ppo']; list one or more of the known methods: dense_dpo, dense_dpo_third, dpo, grpo, vader, vanilla_dpo"),
        (lambda p: p.update(methods=[]), "methods: Value error, an empty list; list one or more of the known methods"),
        (lambda p: p.update(methods=["dpo", "dpo"]), "methods: Value error, a name listed twice"),
        (lambda p: p["data"].update(seed=5000), "data.seed"),
        (lambda p: p["vader"].update(rewards={"sharpness": 1.0}), "vader.rewards: Value error, unknown reward(s) sharpness: known rewards are temporal, brightness, vjepa, clip_text"),
        (lambda p: p["vader"].update(rewards={"flow_warping": 1.0}), "vader.rewards: Value error, reward(s) flow_warping have no gradient, and vader back-propagates its reward through the sampler; train grpo with them"),
        (lambda p: p["vader"].update(rewards={"brightness": 0.0}), "vader.rewards: Value error, no reward with a weight"),
        (lambda p: p["vader"].update(guard={"contrast": -1.0}), "vader.guard: Value error, a negative weight"),
        (lambda p: p["vader"].update(backprop="first"), "vader.backprop"),
        (lambda p: p["vader"].update(backprop="last", backprop_steps=30, num_inference_steps=20), "vader: Value error, backprop_steps 30 > num_inference_steps 20"),
        (lambda p: p["vader"].update(decode_frames=1), "vader: Value error, decode_frames 1"),
        (lambda p: p["vader"].update(decode_frames=3, rewards={"vjepa": 1.0}), "vader: Value error, decode_frames 3: the vjepa reward reads 2-frame tubelets"),
        (lambda p: p["reward_models"]["vjepa"].update(ema=1.0), "reward_models.vjepa.ema"),
        (lambda p: p["reward_models"]["clip"].update(revision=""), "reward_models.clip.revision"),
        (lambda p: p["reward_models"].update(dino={}), "reward_models.dino: unknown key"),
        (lambda p: p["dense_dpo"].update(eta=0.0), "dense_dpo.eta"),
        (lambda p: p["dense_dpo"].update(eta=1.2), "dense_dpo.eta"),
        (lambda p: p["dense_dpo"].update(segment_frames=3), "dense_dpo.segment_frames: 3 does not divide the clips' 8 frames: pick a divisor of 8"),
        (lambda p: p["dense_dpo"].update(labeller="gpt"), "dense_dpo.labeller: Value error, not a labeller; name one of warping_error, oracle, human, or your own as module:function"),
        (lambda p: p["dense_dpo"].update(tie_margin=-0.1), "dense_dpo.tie_margin"),
        (lambda p: p["dense_dpo"].update(labeller="oracle") or p.update(tier="t4"), "dense_dpo.labeller oracle reads toy-world clips only"),
        (lambda p: p["data"].update(gt_videos="no/such/folder") or p.update(tier="t4"), "data.gt_videos: 'no/such/folder' is not a folder"),
        (lambda p: p["training"].update(checkpoint_every=0), "training.checkpoint_every"),
        (lambda p: p["vader"].update(checkpoint_every=-5), "vader.checkpoint_every"),
        (lambda p: p["prompts"].update(eval=""), "prompts.eval"),
        (lambda p: p["prompts"].update(train=["a dog"]), "prompts.train"),
    ],
)
def test_a_bad_value_names_its_key_and_the_fix(change, named):
    with pytest.raises(ConfigError) as error:
        config_from_params(params_with(change))
    assert named in str(error.value)


@pytest.mark.parametrize(
    "launch", ["python", "accelerate launch --multi_gpu --num_processes 4", "ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2"]
)
def test_launch_takes_python_or_an_accelerate_command(launch):
    assert config_from_params(params_with(lambda p: p.update(launch=launch))).launch == launch


def test_a_missing_params_file_says_where_to_run(tmp_path):
    with pytest.raises(ConfigError, match="project root"):
        load_config(tmp_path / "params.yaml")


def test_params_survive_the_rewrite_that_dvc_exp_run_set_param_does():
    """`dvc exp run -S` rewrites params.yaml with ruamel, unquoting strings; YAML 1.1 then reads
    words like no/yes/on/off as booleans. The committed params must still validate afterwards."""
    import io

    from ruamel.yaml import YAML

    source = committed_text("params.yaml")
    writer = YAML()
    document = writer.load(source)
    document["training"]["beta"] = 3000
    rewritten = io.StringIO()
    writer.dump(document, rewritten)
    config = config_from_params(yaml.safe_load(rewritten.getvalue()))
    assert config.training.beta == 3000
    assert config.training.mixed_precision == "fp32"


def test_each_method_branch_settings_change_only_with_what_its_stages_read():
    """settings@animatediff-dpo writes one file per stage: a DPO loop setting changes the training file only,
    a pair setting the pairs file only, and a setting neither reads changes neither."""
    from videodpo.methods import branch_settings

    def files(change) -> dict[str, str]:
        return {stage: s.model_dump_json() for stage, s in branch_settings(config_from_params(params_with(change)), "dpo").items()}

    committed = files(lambda p: None)
    beta = files(lambda p: p["training"].update(beta=3000))
    assert beta["train"] != committed["train"] and beta["pairs"] == committed["pairs"]
    strength = files(lambda p: p["data"].update(jitter_strength=0.3))
    assert strength["pairs"] != committed["pairs"] and strength["train"] == committed["train"]
    assert files(lambda p: p["evaluate"].update(bootstrap_samples=10)) == committed
    assert files(lambda p: p["prompts"].update(eval="my_eval.txt")) == committed  # evaluation prompts: sampling alone
    assert files(lambda p: p["prompts"].update(dev="my_dev.txt")) == committed
    assert files(lambda p: p["sample"]["seeds_per_prompt"].update(test=9)) == committed
    training = files(lambda p: p["prompts"].update(train="my_train.txt"))  # the pairs' prompts, and validation's
    assert training["train"] != committed["train"] and training["pairs"] != committed["pairs"]


def test_guided_pairs_train_only_on_timesteps_below_eta_and_a_lower_max_timestep_wins():
    from videodpo.methods import branch_settings

    def max_timesteps(change) -> dict[str, int]:
        config = config_from_params(params_with(change))
        return {m: branch_settings(config, m)["train"].training.max_timestep for m in ("dpo", "vanilla_dpo", "dense_dpo", "dense_dpo_third")}

    at_eta_75 = max_timesteps(lambda p: p["dense_dpo"].update(eta=0.75))
    assert at_eta_75 == {"dpo": 1000, "vanilla_dpo": 1000, "dense_dpo": 750, "dense_dpo_third": 750}
    lower = max_timesteps(lambda p: (p["dense_dpo"].update(eta=0.75), p["training"].update(max_timestep=400)))
    assert lower == {"dpo": 400, "vanilla_dpo": 400, "dense_dpo": 400, "dense_dpo_third": 400}


def test_training_validates_on_the_tiers_training_prompt_set():
    from videodpo.methods import branch_settings

    for method in ("dpo", "vader", "dense_dpo"):
        for tier, expected in (("cpu", "prompts/train/toy.txt"), ("t4", "prompts/train/hub.txt")):
            config = config_from_params(params_with(lambda p: p.update(tier=tier, families=["animatediff"])), family="animatediff")
            train = branch_settings(config, method)["train"]
            assert train.validation_prompts == expected, (method, tier)


def test_vader_branch_settings_change_with_vader_params_and_not_with_dpos():
    from videodpo.methods import branch_settings

    def files(change) -> dict[str, str]:
        return {stage: s.model_dump_json() for stage, s in branch_settings(config_from_params(params_with(change)), "vader").items()}

    committed = files(lambda p: None)
    assert files(lambda p: p["training"].update(beta=3000)) == committed
    learning_rate = files(lambda p: p["vader"].update(learning_rate=0.0123))
    assert learning_rate["train"] != committed["train"] and learning_rate["pairs"] == committed["pairs"]
    queries = files(lambda p: p["vader"].update(queries=32))
    assert queries["pairs"] != committed["pairs"]


def test_a_branch_settings_file_round_trips(tmp_path, monkeypatch):
    from stage_scripts import load_stage
    from videodpo.core import layout
    from videodpo.methods import branch_settings, read_stage_settings

    monkeypatch.chdir(tmp_path)
    settings = branch_settings(config_from_params(committed_params(), family="wan"), "dpo")
    branch = layout.branch("wan", "dpo")
    load_stage("settings").write_branch_settings(branch.settings, "dpo", settings)
    assert (tmp_path / "data/wan/settings/dpo/train.json").is_file()
    assert read_stage_settings(branch, "train") == settings["train"]


def test_a_missing_branch_settings_file_names_the_stage_that_writes_it(tmp_path, monkeypatch):
    from videodpo.core import layout
    from videodpo.methods import read_stage_settings

    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"settings@animatediff-dpo"):
        read_stage_settings(layout.branch("animatediff", "dpo"), "train")
