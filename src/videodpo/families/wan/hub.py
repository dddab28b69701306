"""The hub Wan: Wan-AI/Wan2.1-T2V-1.3B-Diffusers (or a folder in its format) at a pinned revision.
The transformer and text encoder load in bf16 (Wan's own precision: fp16 gives invalid videos), the
VAE in fp32 as WanPipeline's authors run it; the scheduler is the flow-matching Euler sampler at
the pipeline's own flow shift (the published pipeline samples with UniPC; every method here steps
Euler, whose steps have the log-probabilities and gradients the methods need)."""

from __future__ import annotations

import torch

from videodpo.core.hub import failure_hint, hub_offline, resolved_commit
from videodpo.core.integrity import first_line
from videodpo.families.wan.model import Wan
from videodpo.families.wan.settings import FLOW_SHIFT


def load_hub_model(hub, dtype: torch.dtype = torch.bfloat16) -> tuple[Wan, dict[str, str | None]]:
    """(the model, {repository: commit it was loaded at}) for params `wan.hub` (base, revision).
    Honours HF_HUB_OFFLINE; a local folder is accepted (the tests build a tiny one)."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline

    offline = hub_offline()
    try:
        vae = AutoencoderKLWan.from_pretrained(
            hub.base, subfolder="vae", revision=hub.revision, torch_dtype=torch.float32, use_safetensors=True, local_files_only=offline,
        )
        pipe = WanPipeline.from_pretrained(
            hub.base, revision=hub.revision, vae=vae, torch_dtype=dtype, use_safetensors=True, local_files_only=offline,
        )
    except OSError as error:
        hint = failure_hint(error, [(hub.base, hub.revision)], offline, "wan.hub")
        raise RuntimeError(f"could not load the hub model ({first_line(error)}); {hint}") from error
    if not isinstance(pipe.scheduler, FlowMatchEulerDiscreteScheduler):  # the published one is UniPC over flow sigmas
        pipe.scheduler = FlowMatchEulerDiscreteScheduler(shift=pipe.scheduler.config.get("flow_shift") or FLOW_SHIFT)
    pipe.set_progress_bar_config(disable=True)
    return Wan(pipe), {hub.base: resolved_commit(hub.base, hub.revision, "model_index.json")}
