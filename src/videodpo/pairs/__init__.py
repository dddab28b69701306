"""Preference data: jittered losers and DPO's synthetic pairs, labelled and guided pairs, labellers,
the users' own videos, and the on-disk pair store that make_pairs writes and encode_latents reads."""
