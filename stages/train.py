"""DVC stage `train@<family>-<method>`: a LoRA of the family's base trained by the method's step
(videodpo.methods.<method>.train) in the one LoRA loop (videodpo.training.lora_loop), which scores a small
validation set every `val_every` steps, logged against training time and data consumed.

Reads data/<family>/settings/<method>/train.json and data/<family>/latents/<method>; writes
models/<family>/lora/<method> (diffusers format, loadable with the family pipeline's
load_lora_weights), the training curves under plots/<family>/train/<method> and what training cost
in metrics/<family>/train_<method>.json (videodpo.core.layout). An interrupted run resumes from
models/<family>/checkpoints/train_<method> when its settings, code and data are unchanged; the
checkpoint is removed once the LoRA is saved. Under `accelerate launch` every process trains on its
own shard of the data; the main process alone logs and saves the LoRA.
"""

import sys

from videodpo import methods
from videodpo.core import distributed, integrity, layout, precision


def main(branch: layout.Branch, state) -> None:
    methods.load(branch.method).train(branch, methods.read_stage_settings(branch, "train"), state)


if __name__ == "__main__":
    precision.flush_denormals()
    family, method = (sys.argv[1:] + ["", ""])[:2]
    branch = layout.branch(family, method)
    with distributed.process_group() as processes, integrity.stage_errors(branch.stage("train")):
        main(branch, processes)
