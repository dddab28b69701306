"""Rewards on decoded clips, for the methods that score their own samples (vader back-propagates the
differentiable ones, grpo takes any): `registry` names and computes them, `settings` holds what params
may name and the `reward_models` section, light enough for every stage's params check; `vjepa` and
`clip_text` are the scorer models some rewards read."""
