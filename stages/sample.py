"""DVC stages `sample_base@<split>` and `sample@<method>-<split>`: clips of one evaluation split,
`dev` (settings are chosen on it) or `test` (the README reports it), with the split's prompts
(params `prompts.dev` / `prompts.eval`, videodpo.prompts) and seeds (videodpo.seeds).

base: the base model; <method>: the base model with that method's LoRA (models/lora/<method>).
Every variant uses identical prompts, seeds and initial noise, and every sample has a seed of its
own. Clips are stored losslessly (every metric is computed from them), with a few GIFs for eyes,
in results/samples/<split>/<variant>. Under `accelerate launch` each process samples its own block
of (prompt, seed) pairs and the main process writes them all.
"""

import json
import sys
from pathlib import Path

from safetensors.numpy import save_file

from videodpo import distributed, families, integrity, models, outputs, precision, prompts, seeds, visuals
from videodpo.config import load_config
from videodpo.sampling import sample_stage, samples_folder

GIFS = 4  # the first sample of each of the first prompts


def main(variant: str, split: str, state) -> None:
    if split not in seeds.SPLITS:
        raise SystemExit(f"sample: {split!r} is not an evaluation split; give one of {', '.join(seeds.SPLITS)}")
    config = load_config()
    lora = Path("models/lora") / variant
    if variant != "base" and not lora.is_dir():
        raise SystemExit(f"sample: no LoRA at {lora}: give `base` or a method whose train@<method> stage has run")
    card = models.ModelCard.load("models/base")
    per_prompt = getattr(config.sample.seeds_per_prompt, split)
    samples = seeds.evaluation_samples(prompts.split_prompts(config.prompts, split, card.source), per_prompt, split)
    model = families.load_base("models/base", precision.weight_dtype(config.training.mixed_precision)).to(state.device)
    if variant != "base":
        model.load_lora(lora)
    shard = distributed.my_shard(len(samples))
    mine = samples[shard.start : shard.stop]
    clips = model.generate(
        [p for p, _ in mine], [s for _, s in mine], card.frames,
        config.sample.num_inference_steps, config.sample.guidance_scale, card.shared_noise, desc=f"sample: {variant} ({split})",
        resolution=card.frame_size,
    )
    clips = distributed.gather_rows(clips, len(samples))
    with distributed.main_process_writes() as writes:
        if writes:
            write_samples(samples_folder(split, variant), clips, samples, per_prompt)


def write_samples(folder: Path, clips, samples, seeds_per_prompt: int) -> None:
    with outputs.atomic_directory(folder) as staging:
        save_file({"clips": clips}, str(Path(staging) / "clips.safetensors"))
        (Path(staging) / "samples.json").write_text(json.dumps([{"prompt": p, "seed": s} for p, s in samples], indent=1))
        for i in range(min(GIFS, len(clips) // seeds_per_prompt)):
            visuals.write_gif(clips[i * seeds_per_prompt], Path(staging) / f"sample_{i}.gif")


if __name__ == "__main__":
    variant, split = (sys.argv[1:] + ["", ""])[:2]
    with distributed.process_group() as processes, integrity.stage_errors(sample_stage(variant, split)):
        main(variant, split, processes)
