"""Pretraining the embedded default AnimateDiff on toy-world clips, AnimateDiff's way.

Three phases, each cheap on a CPU: (1) the VAE on single frames; (2) the image UNet and the text
encoder on single frames' latents; (3) the UNet joined with a motion adapter on whole clips, with
the spatial layers frozen or slowed. Latents are encoded once and cached between phases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel, UNetMotionModel
from tqdm.auto import tqdm
from transformers import CLIPTextModel

from videodpo import toyworld
from videodpo.core.clips import clips_to_tensor
from videodpo.core.noise import correlated_noise
from videodpo.families.animatediff import toy
from videodpo.families.animatediff.model import AnimateDiff, caption_ids, encode_frames
from videodpo.families.animatediff.settings import PretrainSettings
from videodpo.families.pretraining import PhaseClock, StepLogger, drop_captions, optimise, optimiser_step


def train_vae(
    vae: AutoencoderKL,
    frames: torch.Tensor,
    schedule: PretrainSettings,
    generator: torch.Generator,
    log: StepLogger | None = None,
    clock: PhaseClock | None = None,
) -> None:
    """frames: float (N, 3, H, W) in [-1, 1]. Reconstruction loss plus a light KL term."""
    clock = clock or PhaseClock()
    vae.train()
    optimiser, lr = optimise([{"params": vae.parameters(), "lr": schedule.vae_lr}], schedule.vae_steps)
    for step in tqdm(range(schedule.vae_steps), desc="base: VAE", unit="step"):
        with clock.part("vae", "data"):
            batch = frames[torch.randint(len(frames), (schedule.vae_batch_frames,), generator=generator)]
        with clock.part("vae", "forward"):
            posterior = vae.encode(batch).latent_dist
            reconstruction = vae.decode(posterior.sample(generator)).sample
            mse = F.mse_loss(reconstruction, batch)
            loss = mse + 1e-6 * posterior.kl().mean()
        with clock.part("vae", "backward"):
            loss.backward()
        with clock.part("vae", "optimiser"):
            optimiser_step(optimiser, lr)
        with clock.part("vae", "logging"):
            if log:
                log("vae_psnr_db", float(10 * torch.log10(4.0 / mse.detach())), step)
        clock.steps["vae"] += 1
    vae.eval().requires_grad_(False)


def skewed_timesteps(n: int, power: float, generator: torch.Generator) -> torch.Tensor:
    """Timesteps 1000·u^power, u uniform: power 1 is uniform, power < 1 draws more of the noisiest.

    A frame's shape is decided at high noise: a model undertrained there commits to no shape and
    draws the average of them, a square with rounded corners that reads as a circle.
    """
    if power == 1.0:  # the recipe before this setting drew exactly these: its runs and benchmark stay reproducible
        return torch.randint(0, 1000, (n,), generator=generator)
    return (1000 * torch.rand(n, generator=generator) ** power).long().clamp(max=999)


def sample_timesteps(n: int, layout_share: float, layout_from: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform timesteps, except that a share of them is drawn from the layout range [layout_from, 999].

    Only there, where the clip is still pure noise, does the caption decide where the shape starts
    and which way it goes; below it the noisy frames show the trajectory already. Drawn uniformly,
    that range gets a tenth of the updates and the direction word is never learned.
    """
    uniform = torch.randint(0, 1000, (n,), generator=generator)
    layout = torch.randint(layout_from, 1000, (n,), generator=generator)
    return torch.where(torch.rand(n, generator=generator) < layout_share, layout, uniform)


def v_prediction_loss(
    unet: torch.nn.Module,
    scheduler: DDIMScheduler,
    latents: torch.Tensor,
    text_embeddings: torch.Tensor,
    noise: torch.Tensor,
    timesteps: torch.Tensor,
) -> torch.Tensor:
    """Mean-squared error of the UNet's v-prediction. latents/noise: (B, C, H, W) or (B, C, F, H, W)."""
    noisy = scheduler.add_noise(latents, noise, timesteps)
    target = scheduler.get_velocity(latents, noise, timesteps)
    prediction = unet(noisy, timesteps, encoder_hidden_states=text_embeddings).sample
    return F.mse_loss(prediction, target)


def train_image_unet(
    unet: UNet2DConditionModel,
    text_encoder: CLIPTextModel,
    scheduler: DDIMScheduler,
    latents: torch.Tensor,
    ids: torch.Tensor,
    empty_ids: torch.Tensor,
    schedule: PretrainSettings,
    generator: torch.Generator,
    log: StepLogger | None = None,
    clock: PhaseClock | None = None,
) -> None:
    """latents: (N, F, 4, h, w) scaled clip latents; trains on single frames drawn from them."""
    clock = clock or PhaseClock()
    frames = latents.flatten(0, 1)
    frame_ids = ids.repeat_interleave(latents.shape[1], dim=0)
    unet.train()
    # Single frames show no direction: a text encoder trained on them learns to collapse the
    # direction words (measured: 36× closer than colour words), which no later phase undoes.
    text_encoder.train(schedule.image_trains_text_encoder).requires_grad_(schedule.image_trains_text_encoder)
    params = [*unet.parameters(), *(text_encoder.parameters() if schedule.image_trains_text_encoder else [])]
    optimiser, lr = optimise([{"params": params, "lr": schedule.image_lr}], schedule.image_steps)
    for step in tqdm(range(schedule.image_steps), desc="base: image UNet", unit="step"):
        with clock.part("image", "data"):
            pick = torch.randint(len(frames), (schedule.image_batch_frames,), generator=generator)
            batch_ids = drop_captions(frame_ids[pick], empty_ids, schedule.caption_dropout, generator)
            noise = torch.randn(frames[pick].shape, generator=generator)
            timesteps = skewed_timesteps(len(pick), schedule.image_timestep_power, generator)
        with clock.part("image", "forward"):
            loss = v_prediction_loss(unet, scheduler, frames[pick], text_encoder(batch_ids)[0], noise, timesteps)
        with clock.part("image", "backward"):
            loss.backward()
        with clock.part("image", "optimiser"):
            optimiser_step(optimiser, lr, params)
        with clock.part("image", "logging"):
            if log:
                log("image_loss", loss.item(), step)
        clock.steps["image"] += 1


def _motion_parameter_groups(unet: UNetMotionModel, text_encoder: CLIPTextModel, schedule: PretrainSettings):
    motion, spatial = [], []
    for name, param in unet.named_parameters():
        (motion if "motion_modules" in name else spatial).append(param)
    unet.requires_grad_(False)
    for param in motion:
        param.requires_grad_(True)
    groups = [{"params": motion, "lr": schedule.motion_lr}]
    spatial_lr = schedule.motion_lr * schedule.spatial_lr_scale
    if schedule.motion_trains == "motion_and_spatial":
        for param in spatial:
            param.requires_grad_(True)
        groups.append({"params": spatial + list(text_encoder.parameters()), "lr": spatial_lr})
        text_encoder.requires_grad_(True)
    elif schedule.motion_trains == "motion_and_text":
        groups.append({"params": list(text_encoder.parameters()), "lr": spatial_lr})
        text_encoder.requires_grad_(True)
    else:
        text_encoder.requires_grad_(False)
    return groups


def train_motion(
    unet: UNetMotionModel,
    text_encoder: CLIPTextModel,
    scheduler: DDIMScheduler,
    latents: torch.Tensor,
    ids: torch.Tensor,
    empty_ids: torch.Tensor,
    schedule: PretrainSettings,
    generator: torch.Generator,
    log: StepLogger | None = None,
    clock: PhaseClock | None = None,
) -> None:
    """latents: (N, F, 4, h, w) scaled clip latents; trains the motion modules on whole clips."""
    clock = clock or PhaseClock()
    groups = _motion_parameter_groups(unet, text_encoder, schedule)
    unet.train()
    text_encoder.train()
    params = [p for group in groups for p in group["params"]]
    optimiser, lr = optimise(groups, schedule.motion_steps)
    for step in tqdm(range(schedule.motion_steps), desc="base: motion adapter", unit="step"):
        with clock.part("motion", "data"):
            pick = torch.randint(len(latents), (schedule.motion_batch_clips,), generator=generator)
            clips = latents[pick].transpose(1, 2)  # (B, C, F, h, w), as UNetMotionModel wants
            batch_ids = drop_captions(ids[pick], empty_ids, schedule.caption_dropout, generator)
            noise = correlated_noise(clips.shape, schedule.shared_noise, generator)
            timesteps = sample_timesteps(len(pick), schedule.layout_share, schedule.layout_timesteps_from, generator)
        with clock.part("motion", "forward"):
            embeddings = text_encoder(batch_ids)[0].repeat_interleave(clips.shape[2], dim=0)
            loss = v_prediction_loss(unet, scheduler, clips, embeddings, noise, timesteps)
        with clock.part("motion", "backward"):
            loss.backward()
        with clock.part("motion", "optimiser"):
            optimiser_step(optimiser, lr, params)
        with clock.part("motion", "logging"):
            if log:
                log("motion_loss", loss.item(), step)
        clock.steps["motion"] += 1
    unet.eval().requires_grad_(False)
    text_encoder.eval().requires_grad_(False)


def training_pixels(arch: toy.ToyArchitecture, schedule: PretrainSettings) -> tuple[torch.Tensor, list[str]]:
    """The toy world's training clips as the base trains on them, (N, F, 3, H, W) in [−1, 1], and their captions."""
    clips, texts = toyworld.render_dataset(
        toyworld.train_captions(), schedule.clips_per_caption, schedule.seed, size=arch.frame_size, frames=arch.frames
    )
    return clips_to_tensor(clips), texts


def fresh_text_side(arch: toy.ToyArchitecture, texts: list[str]):
    """A new tokenizer and text encoder, the captions' token ids and the empty caption's (for dropout)."""
    tokenizer = toy.build_toy_tokenizer()
    text_encoder = toy.build_toy_text_encoder(tokenizer, arch)
    return tokenizer, text_encoder, caption_ids(tokenizer, texts), caption_ids(tokenizer, [""])[0]


def pretrain_toy_model(
    arch: toy.ToyArchitecture,
    schedule: PretrainSettings,
    log: StepLogger | None = None,
    clock: PhaseClock | None = None,
):
    """Render the toy world, train all three phases, and return the assembled model."""
    clock = clock or PhaseClock()
    torch.manual_seed(schedule.seed)
    generator = torch.Generator().manual_seed(schedule.seed)
    with clock.part("data", "render"):
        pixels, texts = training_pixels(arch, schedule)

    vae = toy.build_toy_vae(arch)
    train_vae(vae, pixels.flatten(0, 1), schedule, generator, log, clock)
    with clock.part("data", "encode"):
        raw = encode_frames(vae, pixels.flatten(0, 1))
    scaling = 1.0 / raw.std().item()
    vae.register_to_config(scaling_factor=scaling)
    latents = (raw * scaling).unflatten(0, pixels.shape[:2])

    tokenizer, text_encoder, ids, empty_ids = fresh_text_side(arch, texts)
    scheduler = toy.build_toy_scheduler()

    unet2d = toy.build_toy_unet2d(arch)
    train_image_unet(unet2d, text_encoder, scheduler, latents, ids, empty_ids, schedule, generator, log, clock)
    unet = UNetMotionModel.from_unet2d(unet2d, toy.build_toy_motion_adapter(arch))
    train_motion(unet, text_encoder, scheduler, latents, ids, empty_ids, schedule, generator, log, clock)
    return AnimateDiff(toy.assemble_pipeline(vae, text_encoder, tokenizer, unet, scheduler))
