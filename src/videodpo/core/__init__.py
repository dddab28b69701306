"""Infrastructure every other folder stands on: where outputs live and how they are written whole,
checked inputs, checkpoints, processes and precision, seeds, prompt sets, the hub, LoRA files, the
model card, clips and noise. Nothing here knows a model family, a method or a measure."""
