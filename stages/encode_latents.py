"""DVC stage `encode_latents@<method>`: the tensors training reads, so it needs no text encoder.

dpo, vanilla_dpo, dense_dpo(_third): VAE latents of every pair of data/pairs/<method>, text embeddings
of its caption and its segment labels if it has them (training loads neither the VAE nor the text
encoder). vader: the prompt embeddings (with and without the caption)
of every query and its reference clip as frames in [-1, 1]."""

import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from videodpo import distributed, families, integrity, latents, outputs, vader
from videodpo.clips import clips_to_tensor


def encode_queries(model) -> None:
    records, references = vader.read_query_clips(Path("data/pairs/vader"))
    unconditional, conditional = model.guidance_embeddings([record["caption"] for record in records])
    queries = vader.VaderQueries(
        [record["seed"] for record in records], [record["caption"] for record in records], unconditional.float().cpu(), conditional.float().cpu(), clips_to_tensor(references)
    )
    with outputs.atomic_directory(Path("data/latents/vader")) as staging:
        vader.write_query_tensors(Path(staging), queries)


def main(method: str) -> None:
    pairs_dir = Path("data/pairs") / method
    if not pairs_dir.is_dir():
        raise SystemExit(f"encode_latents: {pairs_dir} is missing; it is made by make_pairs@{method}")
    model = families.load_base("models/base").to(distributed.processes().device)  # fp32: SD1.5's VAE overflows in fp16
    if method == "vader":
        return encode_queries(model)
    made_by = f"make_pairs@{method}"
    manifest = latents.read_manifest(pairs_dir, made_by)
    with outputs.atomic_directory(Path("data/latents") / method) as staging:
        for shard, arrays in tqdm(list(latents.iter_pair_arrays(pairs_dir, made_by)), desc=f"encode_latents@{method}", unit="shard"):
            records = latents.shard_records(manifest, shard, len(arrays["winners"]), pairs_dir, made_by)
            captions = [record["caption"] for record in records]
            labels = arrays.get("labels")
            latents.write_latent_shard(
                Path(staging),
                shard.replace("pairs-", "latents-"),
                model.encode_clips(arrays["winners"]),
                model.encode_clips(arrays["losers"]),
                model.encode_prompts(captions),
                None if labels is None else torch.from_numpy(labels),
            )


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with integrity.stage_errors(f"encode_latents@{method}"):
        main(method)
