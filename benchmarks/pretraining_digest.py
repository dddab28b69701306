"""Check: does a code change leave base pretraining bit-identical? Pretrains each family's toy base at a
short recipe (20 steps a phase, 2 clips a caption) through families.make_base, exactly as base@<family>
does, and prints an md5 over every weight. Run it from two checkouts on the same machine and compare:

    PYTHONPATH=src python benchmarks/pretraining_digest.py            # both families, about 25 s on 2 cores
    PYTHONPATH=src python benchmarks/pretraining_digest.py --family wan

Equal digests say the change keeps the pretraining's floating point; a full `dvc repro` takes an hour.
Digests from different CPU kinds differ (their floating point does).
"""

from __future__ import annotations

import argparse
import hashlib

SHORT = {
    "animatediff": {"clips_per_caption": 2, "vae_steps": 20, "image_steps": 20, "motion_steps": 20},
    "wan": {"clips_per_caption": 2, "vae_clip_steps": 20, "steps": 20},
}


def weights_digest(model) -> str:
    """md5 over the name and bytes of every weight of the pipeline's VAE, text encoder and denoiser."""
    digest = hashlib.md5()
    for part in ("vae", "text_encoder", "unet", "transformer"):
        module = getattr(model.pipe, part, None)
        for name, tensor in sorted(module.state_dict().items()) if module is not None else ():
            digest.update(f"{part}.{name}".encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    import torch
    from base_seeds import pretrained_base

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=sorted(SHORT), help="default: both")
    args = parser.parse_args()
    torch.set_num_threads(2)
    for family in [args.family] if args.family else sorted(SHORT):
        _, model, _ = pretrained_base(family, SHORT[family])  # from params.yaml in the working directory, as the stage reads it
        print(f"{family} {weights_digest(model)}", flush=True)


if __name__ == "__main__":
    main()
