"""DVC stage `encode_latents@<method>`: the tensors training reads, so it needs no text encoder or
VAE of its own, made by the method's step (videodpo.methods.<method>.encode_latents) from
data/pairs/<method>. Writes data/latents/<method>."""

import sys
from pathlib import Path

from videodpo import distributed, integrity, methods


def main(method: str) -> None:
    step = methods.load(method)
    pairs_dir = Path("data/pairs") / method
    if not pairs_dir.is_dir():
        raise SystemExit(f"encode_latents: {pairs_dir} is missing; it is made by make_pairs@{method}")
    step.encode_latents(method, methods.read_stage_settings(f"data/settings/{method}", method, "latents"), distributed.processes())


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with integrity.stage_errors(f"encode_latents@{method}"):
        main(method)
