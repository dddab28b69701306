"""DVC stages `sample_base` and `sample@<method>`: clips for the evaluation prompts (params
`prompts.eval`, videodpo.prompts) and seeds.

base: the base model; <method>: the base model with that method's LoRA (models/lora/<method>).
Every variant uses identical prompts, seeds and initial noise, and every sample has a seed of its
own. Clips are stored losslessly (every metric is computed from them), with a few GIFs for eyes.
Under `accelerate launch` each process samples its own block of (prompt, seed) pairs and the main
process writes them all.
"""

import json
import sys
from pathlib import Path

from safetensors.numpy import save_file

from videodpo import distributed, integrity, models, outputs, precision, prompts, seeds, visuals
from videodpo.config import load_config
from videodpo.sampling import generate_clips

GIFS = 4


def evaluation_prompts(settings, source: str) -> list[str]:
    """The evaluation prompt set, checked before a model loads: none of its prompts is a training
    prompt, and each fits the base model's text encoder whole."""
    evaluation = prompts.read_prompt_set(settings.eval, source, "prompts.eval")
    prompts.require_disjoint(prompts.read_prompt_set(settings.train, source, "prompts.train"), evaluation)
    prompts.require_untruncated(evaluation, prompts.model_tokenizer("models/base"))
    return evaluation.prompts


def evaluation_samples(prompt_texts: list[str], seeds_per_prompt: int) -> list[tuple[str, int]]:
    """Every evaluation prompt `seeds_per_prompt` times, every sample with its own seed."""
    repeated = [p for p in prompt_texts for _ in range(seeds_per_prompt)]
    return list(zip(repeated, seeds.evaluation_seeds(len(repeated))))


def main(variant: str, state) -> None:
    config = load_config()
    lora = Path("models/lora") / variant
    if variant != "base" and not lora.is_dir():
        raise SystemExit(f"sample: no LoRA at {lora}: give `base` or a method whose train@<method> stage has run")
    card = models.ModelCard.load("models/base")
    samples = evaluation_samples(evaluation_prompts(config.prompts, card.source), config.sample.seeds_per_prompt)
    pipe = models.load_pipeline("models/base", precision.weight_dtype(config.training.mixed_precision)).to(state.device)
    if variant != "base":
        models.load_motion_lora(pipe, lora)
    shard = distributed.my_shard(len(samples))
    mine = samples[shard.start : shard.stop]
    clips = generate_clips(
        pipe, [p for p, _ in mine], [s for _, s in mine], card.frames,
        config.sample.num_inference_steps, config.sample.guidance_scale, card.shared_noise, desc=f"sample: {variant}",
        resolution=card.frame_size,
    )
    clips = distributed.gather_rows(clips, len(samples))
    with distributed.main_process_writes() as writes:
        if writes:
            write_samples(f"results/samples/{variant}", clips, samples, config.sample.seeds_per_prompt)


def write_samples(folder: str, clips, samples, seeds_per_prompt: int) -> None:
    with outputs.atomic_directory(folder) as staging:
        save_file({"clips": clips}, str(Path(staging) / "clips.safetensors"))
        (Path(staging) / "samples.json").write_text(json.dumps([{"prompt": p, "seed": s} for p, s in samples], indent=1))
        for i in range(min(GIFS, len(clips))):
            visuals.write_gif(clips[i * seeds_per_prompt], Path(staging) / f"sample_{i}.gif")


if __name__ == "__main__":
    variant = sys.argv[1] if len(sys.argv) > 1 else ""
    with distributed.process_group() as processes, integrity.stage_errors("sample_base" if variant == "base" else f"sample@{variant}"):
        main(variant, processes)
