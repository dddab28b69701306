"""DVC stages `sample_base@<family>-<split>` and `sample@<family>-<method>-<split>`: clips of one
evaluation split, `dev` (settings are chosen on it) or `test` (the README reports it), with the
split's prompts (params `prompts.dev` / `prompts.eval`, videodpo.core.prompts) and seeds (videodpo.core.seeds).

base: the family's base model; <method>: that base with the method's LoRA (models/<family>/lora/<method>).
Every variant of every family uses identical prompts and seeds, and every sample has a seed of its
own. Clips are stored losslessly (every metric is computed from them), with a few GIFs for eyes,
in results/<family>/samples/<split>/<variant>. Under `accelerate launch` each process samples its own block
of (prompt, seed) pairs and the main process writes them all.
"""

import json
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from videodpo import families
from videodpo.config import load_config
from videodpo.core import distributed, integrity, layout, model_card, outputs, phases, precision, prompts, seeds
from videodpo.evaluation import visuals

GIFS = 4  # the first sample of each of the first prompts


def main(family: str, variant: str, split: str, state) -> None:
    if split not in seeds.SPLITS:
        raise SystemExit(f"sample: {split!r} is not an evaluation split; give one of {', '.join(seeds.SPLITS)}")
    config = load_config(family=family)
    tree = layout.Family(family)
    lora = tree.branch(variant).lora
    if variant != "base" and not lora.is_dir():
        raise SystemExit(f"sample: no LoRA at {lora}: give `base` or a method whose {tree.stage('train', variant)} stage has run")
    card = model_card.ModelCard.load(tree.base)
    per_prompt = getattr(config.sample.seeds_per_prompt, split)
    samples = seeds.evaluation_samples(prompts.split_prompts(config.prompts, split, card.source, families.load_base_tokenizer(tree.base)), per_prompt, split)
    model = families.load_base(tree.base, precision.weight_dtype(config.training.mixed_precision)).to(state.device)
    if variant != "base":
        model.load_lora(lora)
    shard = distributed.my_shard(len(samples))
    mine = samples[shard.start : shard.stop]
    clips = model.generate(
        [p for p, _ in mine], [s for _, s in mine], card.frames,
        config.sample.num_inference_steps, config.sample.guidance_scale, card.shared_noise, desc=f"sample: {family} {variant} ({split})",
        resolution=card.frame_size,
    )
    clips = distributed.gather_rows(clips, len(samples))
    with distributed.main_process_writes() as writes:
        if writes:
            write_samples(layout.Family(family).samples(split, variant), clips, samples, per_prompt)


@phases.timed("write")
def write_samples(folder: Path, clips, samples, seeds_per_prompt: int) -> None:
    with outputs.atomic_directory(folder) as staging:
        save_file({"clips": np.ascontiguousarray(clips)}, str(Path(staging) / "clips.safetensors"))  # safetensors writes a strided view's memory as is
        (Path(staging) / "samples.json").write_text(json.dumps([{"prompt": p, "seed": s} for p, s in samples], indent=1))
        for i in range(min(GIFS, len(clips) // seeds_per_prompt)):
            visuals.write_gif(clips[i * seeds_per_prompt], Path(staging) / f"sample_{i}.gif")


if __name__ == "__main__":
    precision.flush_denormals()
    family, variant, split = (sys.argv[1:] + ["", "", ""])[:3]
    with distributed.process_group() as processes, integrity.stage_errors(layout.Family(family).sample_stage(variant, split)):
        main(family, variant, split, processes)
