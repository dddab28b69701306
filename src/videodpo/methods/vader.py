"""vader: VADER, reward gradients back-propagated through the sampler on the policy's own clips
(section `vader`; the rewards' models: `reward_models`). Its pairs are training queries (caption,
seed) with the reference model's clip of each, which the appearance guard holds the policy near."""

from __future__ import annotations

from videodpo.config import ClipSettings, Config, Section, VaderSettings
from videodpo.methods import Empty, LoRAStepSettings, check_lora_targets, lora_step_settings

SUMMARY = (  # its row of the README's method table (scripts/readme_results.py)
    "VADER: the LoRA'd policy samples clips from recorded seeds and training captions, differentiable rewards score the decoded frames (temporal consistency), and the reward's gradient flows back through the denoising steps into a LoRA; an appearance guard keeps contrast, colour and layout near the LoRA-off model's clip from the same noise."
)



class VaderQuerySettings(Section):
    """make_pairs@vader: the training queries (caption, seed) and the reference model's clip of each."""

    queries: int
    seed: int
    train_prompts: str  # the training prompt set's file, taken in turn
    num_inference_steps: int
    guidance_scale: float
    mixed_precision: str


class VaderTrainSettings(LoRAStepSettings):
    """train@vader: the reward-gradient loop and its sampler, and the LoRA it trains."""

    vader: VaderSettings
    clip: ClipSettings  # the clip_text reward's model (the vjepa reward's is the vjepa stage's output)
    mixed_precision: str
    gradient_checkpointing: bool


SETTINGS = {"pairs": VaderQuerySettings, "latents": Empty, "train": VaderTrainSettings}


def settings(config: Config) -> dict[str, Section]:
    vader, training = config.vader, config.training
    family = config.family or config.families[0]
    check_lora_targets("vader", vader.lora_targets, family)
    return {
        "pairs": VaderQuerySettings(
            queries=vader.queries, seed=vader.seed, train_prompts=config.train_prompts_file(), num_inference_steps=vader.num_inference_steps,
            guidance_scale=config.sample.guidance_scale, mixed_precision=training.mixed_precision,
        ),
        "latents": Empty(),
        "train": VaderTrainSettings(
            vader=vader, clip=config.reward_models.clip, mixed_precision=training.mixed_precision,
            gradient_checkpointing=training.gradient_checkpointing, **lora_step_settings(config),
        ),
    }


def make_pairs(branch, settings: VaderQuerySettings, state) -> None:
    """The training queries and the reference model's clip of each, sampled as VADER's training
    samples are; writes the branch's pairs and pairs metrics (the references' flicker; videodpo.core.layout)."""
    from pathlib import Path

    import numpy as np
    from tqdm.auto import tqdm

    from videodpo import families
    from videodpo.core import clips, distributed, model_card, outputs, precision, prompts, seeds
    from videodpo.evaluation import temporal
    from videodpo.training import vader

    card = model_card.ModelCard.load(branch.family.base)
    captions = prompts.training_prompts(settings.train_prompts, card.source, branch.family.base).prompts
    model = families.load_base(branch.family.base, precision.weight_dtype(settings.mixed_precision)).to(state.device)
    texts = [captions[i % len(captions)] for i in range(settings.queries)]
    query_seeds = seeds.pair_seeds(settings.seed, settings.queries)
    sampling = vader.VaderSampling(card.frames, settings.num_inference_steps, settings.guidance_scale, card.shared_noise)
    shard = distributed.my_shard(settings.queries)
    mine = [(texts[i], query_seeds[i]) for i in shard]
    made = []
    for start in tqdm(range(0, len(mine), 8), desc=f"{branch.stage('make_pairs')}: reference clips", unit="batch"):
        batch = mine[start : start + 8]
        frames = vader.reference_clips(model, [p for p, _ in batch], [s for _, s in batch], sampling)
        made.append(clips.to_uint8_clips(frames))
    references = distributed.gather_rows(np.concatenate(made), settings.queries)
    with distributed.main_process_writes() as writes:
        if writes:
            errors = [temporal.warping_error(clip) for clip in tqdm(references, desc=f"{branch.stage('make_pairs')}: flicker", unit="clip")]
            outputs.write_json(
                branch.pairs_metrics,
                {"queries": settings.queries, "reference_warping_error": float(np.mean(errors)),
                 "reference_frame_difference": float(np.mean([temporal.frame_difference(c) for c in references]))},
            )
            with outputs.atomic_directory(branch.pairs) as staging:
                vader.write_query_clips(Path(staging), texts, query_seeds, references)


def encode_latents(branch, settings: Empty, state) -> None:
    """The prompt embeddings (with and without the caption) of every query and its reference clip as
    frames in [-1, 1]."""
    from pathlib import Path

    from videodpo import families
    from videodpo.core import outputs
    from videodpo.training import vader
    from videodpo.core.clips import clips_to_tensor

    model = families.load_base(branch.family.base).to(state.device)
    records, references = vader.read_query_clips(branch.pairs, branch.stage("make_pairs"))
    unconditional, conditional = model.guidance_embeddings([record["caption"] for record in records])
    queries = vader.VaderQueries(
        [record["seed"] for record in records], [record["caption"] for record in records], unconditional.float().cpu(),
        conditional.float().cpu(), clips_to_tensor(references),
    )
    with outputs.atomic_directory(branch.latents) as staging:
        vader.write_query_tensors(Path(staging), queries)


def train(branch, settings: VaderTrainSettings, state) -> None:
    """Reward gradients through the sampler, on the training queries of the branch's latents."""
    import time

    import torch

    from videodpo.training import lora_loop, vader
    from videodpo.methods import _reward_runs

    started = time.perf_counter()
    options = settings.vader
    # the reward's gradient runs back through the decoder too: it checkpoints as well
    card, model, lora, scorers = reward_runs.policy_and_scorers(branch, settings, options, state, decoder_checkpointing=True)
    queries = vader.load_query_tensors(branch.latents, branch.stage("encode_latents"))
    sampling = vader.VaderSampling(
        card.frames, options.num_inference_steps, settings.guidance_scale, card.shared_noise,
        options.backprop, options.backprop_steps, options.decode_frames,
    )
    objective = vader.VaderObjective(options.rewards, options.guard)
    loop = vader.VaderLoop(
        options.max_steps, options.clips_per_step, options.learning_rate, settings.mixed_precision, options.seed,
        val_every=options.val_every, lr_schedule=options.lr_schedule, checkpoint_every=options.checkpoint_every,
    )
    identity = reward_runs.run_identity(
        branch, settings, options, scorers, [torch.tensor(queries.seeds), queries.unconditional, queries.conditional, queries.references], queries.prompts,
    )
    validate = lora_loop.validation_scorer(model, settings, card)
    with lora_loop.dvclive_log(branch.checkpoint, state.is_main_process) as log:
        run = vader.train_vader_lora(model, queries, sampling, objective, loop, branch.checkpoint, log, identity, validate, scorers)
    reward_runs.publish(
        branch, model, lora, run, started, lambda curves, png: vader.plot_curves(curves, png, objective),
        {
            "queries": len(queries.seeds),
            "clips_sampled": run.steps * loop.clips_per_step * state.num_processes,  # one reward query each
            "optimised_rewards": sorted(name for name, weight in objective.rewards.items() if weight),
        },
    )
