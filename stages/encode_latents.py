"""DVC stage `encode_latents@<family>-<method>`: the tensors training reads, so it needs no text
encoder or VAE of its own, made by the method's step (videodpo.methods.<method>.encode_latents) from
the branch's pairs (data/<family>/pairs/<method>). Writes data/<family>/latents/<method>."""

import sys

from videodpo import methods
from videodpo.core import distributed, integrity, layout, precision


def main(branch: layout.Branch) -> None:
    if not branch.pairs.is_dir():
        raise SystemExit(f"{branch.stage('encode_latents')}: {branch.pairs} is missing; it is made by {branch.stage('make_pairs')}")
    methods.load(branch.method).encode_latents(branch, methods.read_stage_settings(branch, "latents"), distributed.processes())


if __name__ == "__main__":
    precision.flush_denormals()
    family, method = (sys.argv[1:] + ["", ""])[:2]
    branch = layout.branch(family, method)
    with integrity.stage_errors(branch.stage("encode_latents")):
        main(branch)
