"""DVC stage `train@<method>`: a LoRA trained by the method's step (videodpo.methods.<method>.train)
in the one LoRA loop (videodpo.lora_loop), which scores a small validation set every `val_every`
steps, logged against training time and data consumed.

Reads data/settings/<method>/train.json and data/latents/<method>; writes models/lora/<method>
(diffusers format, loadable with pipe.load_lora_weights), the training curves under
plots/train/<method> and what training cost in metrics/train_<method>.json. An interrupted run
resumes from models/checkpoints/train_<method> when its settings, code and data are unchanged; the
checkpoint is removed once the LoRA is saved. Under `accelerate launch` every process trains on its
own shard of the data; the main process alone logs and saves the LoRA.
"""

import sys

from videodpo import distributed, integrity, methods


def main(method: str, state) -> None:
    step = methods.load(method)
    step.train(method, methods.read_stage_settings(f"data/settings/{method}", method, "train"), state)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with distributed.process_group() as processes, integrity.stage_errors(f"train@{method}"):
        main(method, processes)
