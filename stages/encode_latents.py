"""DVC stage `encode_latents`: VAE latents of every pair and text embeddings of its caption, so that
training loads neither the VAE nor the text encoder."""

from pathlib import Path

from tqdm.auto import tqdm

from videodpo import distributed, latents, models, outputs


def main() -> None:
    pipe = models.load_pipeline("models/base").to(distributed.processes().device)  # fp32: SD1.5's VAE overflows in fp16
    manifest = latents.read_manifest("data/pairs")
    with outputs.atomic_directory("data/latents") as staging:
        for shard, winners, losers in tqdm(list(latents.iter_pair_shards("data/pairs")), desc="encode_latents", unit="shard"):
            captions = [record["caption"] for record in manifest if record["shard"] == shard]
            latents.write_latent_shard(
                Path(staging),
                shard.replace("pairs-", "latents-"),
                latents.encode_clips(pipe, winners),
                latents.encode_clips(pipe, losers),
                latents.encode_captions(pipe, captions),
            )


if __name__ == "__main__":
    main()
