"""How a LoRA is trained: the one loop every method runs in (lora_loop), each algorithm's step (dpo,
vader, grpo), the pure losses (objectives), and validation during training."""
