"""Pretraining the embedded default's Wan on toy-world clips of 4k + 1 frames, Wan's way.

Two phases: (1) the causal 3-D VAE on whole clips, where it learns to fold four frames into one
latent frame (optionally after single frames, each encoded alone as a clip's first frame: they
never train the convolutions that fold time); its latents_mean and latents_std are then fitted to
the training clips, as Wan normalises its latents;
(2) the transformer and the UMT5 text encoder together by flow matching on whole clips, with a
share of single-frame "images" as Wan trains jointly on images and videos. Latents are encoded once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from videodpo import toyworld
from videodpo.core.clips import clips_to_tensor
from videodpo.families.pretraining import PhaseClock, StepLogger, optimise, optimiser_step
from videodpo.families.wan import toy
from videodpo.families.wan.model import NUM_TRAIN_TIMESTEPS, Wan
from videodpo.families.wan.settings import WanPretrainSettings
from videodpo.toyworld.tokenizer import build_toy_tokenizer


EDGE_THRESHOLD = 0.1  # summed |difference| to the four neighbours, over RGB in [−1, 1]: above it a pixel is beside an edge


def edge_weights(pixels: torch.Tensor, edge_weight: float) -> torch.Tensor:
    """(N, 1, F, H, W) weights of pixels (N, 3, F, H, W): edge_weight where a pixel differs from its
    right, left, lower or upper neighbour in the frame (summed over colour channels) by more than
    EDGE_THRESHOLD, 1 elsewhere."""
    across = (pixels[..., :, 1:] - pixels[..., :, :-1]).abs().sum(1, keepdim=True)
    down = (pixels[..., 1:, :] - pixels[..., :-1, :]).abs().sum(1, keepdim=True)
    contrast = torch.zeros_like(pixels[:, :1])
    contrast[..., :, 1:] += across
    contrast[..., :, :-1] += across
    contrast[..., 1:, :] += down
    contrast[..., :-1, :] += down
    return 1 + (edge_weight - 1) * (contrast > EDGE_THRESHOLD).to(pixels.dtype)


def edge_weighted_mse(reconstruction: torch.Tensor, pixels: torch.Tensor, edge_weight: float) -> torch.Tensor:
    """Squared error with each pixel beside an edge of `pixels` counted edge_weight times, normalised by
    the weights' mean (weight 1: the plain MSE). The toy world's shapes are told apart by one fine
    feature each (a square's corners, a triangle's apex) that a plain MSE spends few steps on."""
    if edge_weight == 1:
        return F.mse_loss(reconstruction, pixels)
    weights = edge_weights(pixels, edge_weight)
    return (weights * (reconstruction - pixels) ** 2).mean() / weights.mean()


def _vae_loss(vae, pixels: torch.Tensor, schedule: WanPretrainSettings, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    posterior = vae.encode(pixels).latent_dist
    latents = posterior.mode() if schedule.vae_decode_mean else posterior.sample(generator)
    reconstruction = vae.decode(latents).sample
    if schedule.vae_edge_weight == 1:
        fit = mse = F.mse_loss(reconstruction, pixels)
    else:
        fit = edge_weighted_mse(reconstruction, pixels, schedule.vae_edge_weight)
        with torch.no_grad():  # the PSNR logged beside it
            mse = F.mse_loss(reconstruction, pixels)
    return fit + 1e-6 * posterior.kl().mean(), mse.detach()


def train_vae(vae, clips: torch.Tensor, schedule: WanPretrainSettings, generator: torch.Generator,
              log: StepLogger | None = None, clock: PhaseClock | None = None) -> None:
    """clips: float (N, 3, F, H, W) in [−1, 1]. Reconstruction loss plus a light KL term, on single
    frames first (cheap: a frame is one latent frame) and then on whole clips."""
    clock = clock or PhaseClock()
    vae.train()
    total = schedule.vae_frame_steps + schedule.vae_clip_steps
    optimiser, lr = optimise([{"params": vae.parameters(), "lr": schedule.vae_lr}], total)
    frames = clips.transpose(1, 2).flatten(0, 1)  # (N·F, 3, H, W)
    for step in tqdm(range(total), desc="base (wan): VAE", unit="step"):
        with clock.part("vae", "data"):
            if step < schedule.vae_frame_steps:
                batch = frames[torch.randint(len(frames), (schedule.vae_batch_frames,), generator=generator)][:, :, None]
            else:
                batch = clips[torch.randint(len(clips), (schedule.vae_batch_clips,), generator=generator)]
        with clock.part("vae", "forward"):
            loss, mse = _vae_loss(vae, batch, schedule, generator)
        with clock.part("vae", "backward"):
            loss.backward()
        with clock.part("vae", "optimiser"):
            optimiser_step(optimiser, lr)
        if log:
            log("vae_psnr_db", float(10 * torch.log10(4.0 / mse.detach())), step)
        clock.steps["vae"] += 1
    vae.eval().requires_grad_(False)


@torch.no_grad()
def fit_latent_normalisation(vae, clips: torch.Tensor, batch: int = 32) -> torch.Tensor:
    """Encode the clips (posterior means), set the VAE's latents_mean/std to their per-channel
    statistics, and return the normalised latents (N, C, F', h, w)."""
    raw = torch.cat([vae.encode(clips[i : i + batch]).latent_dist.mode() for i in range(0, len(clips), batch)])
    mean, std = raw.mean(dim=(0, 2, 3, 4)), raw.std(dim=(0, 2, 3, 4))
    vae.register_to_config(latents_mean=[round(float(m), 6) for m in mean], latents_std=[round(float(s), 6) for s in std])
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    return (raw - mean) / std


def shifted_timesteps(n: int, shift: float, generator: torch.Generator) -> torch.Tensor:
    """Timesteps 1000·σ with σ = shift·u / (1 + (shift − 1)·u), u uniform: the noise levels the Euler
    sampler visits with that shift, so training spends its steps where sampling does (shift 1: uniform)."""
    u = torch.rand(n, generator=generator)
    return NUM_TRAIN_TIMESTEPS * shift * u / (1 + (shift - 1) * u)


def train_transformer(model: Wan, latents: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor, empty_ids: torch.Tensor, empty_mask: torch.Tensor,
                      schedule: WanPretrainSettings, generator: torch.Generator, log: StepLogger | None = None,
                      clock: PhaseClock | None = None) -> None:
    """latents: (N, C, F', h, w) normalised clip latents; ids/mask: the captions' tokens (empty_*: the
    empty caption's, which replaces a dropped one, as classifier-free guidance needs). Flow matching
    on the velocity, the text encoder training beside the transformer."""
    clock = clock or PhaseClock()
    transformer, text_encoder = model.pipe.transformer, model.pipe.text_encoder
    transformer.train().requires_grad_(True)
    text_encoder.train().requires_grad_(True)
    groups = [
        {"params": list(transformer.parameters()), "lr": schedule.learning_rate},
        {"params": list(text_encoder.parameters()), "lr": schedule.learning_rate * schedule.text_lr_scale},
    ]
    params = [p for group in groups for p in group["params"]]
    optimiser, lr = optimise(groups, schedule.steps)
    images = round(schedule.batch_clips * schedule.image_share)
    for step in tqdm(range(schedule.steps), desc="base (wan): transformer", unit="step"):
        with clock.part("transformer", "data"):
            pick = torch.randint(len(latents), (schedule.batch_clips,), generator=generator)
            dropped = torch.rand(len(pick), generator=generator) < schedule.caption_dropout
            batch_ids = torch.where(dropped[:, None], empty_ids[None], ids[pick])
            batch_mask = torch.where(dropped[:, None], empty_mask[None], mask[pick])
            clean = latents[pick]
            noise = torch.randn(clean.shape, generator=generator)
            timesteps = shifted_timesteps(len(pick), schedule.timestep_shift, generator)
        with clock.part("transformer", "forward"):
            hidden = text_encoder(batch_ids, attention_mask=batch_mask).last_hidden_state * batch_mask[..., None]
            noisy, target = model.training_draw(clean, noise, timesteps)
            loss = 0.0
            if images:  # the first latent frame alone is an image: Wan's joint image and video training
                first = slice(None, images)
                prediction = model.predict(transformer, noisy[first, :, :1], timesteps[first], hidden[first])
                loss = F.mse_loss(prediction, target[first, :, :1]) * images / len(pick)
            rest = slice(images, None)
            prediction = model.predict(transformer, noisy[rest], timesteps[rest], hidden[rest])
            loss = loss + F.mse_loss(prediction, target[rest]) * (len(pick) - images) / len(pick)
        with clock.part("transformer", "backward"):
            loss.backward()
        with clock.part("transformer", "optimiser"):
            optimiser_step(optimiser, lr, params)
        if log:
            log("velocity_loss", loss.item(), step)
        clock.steps["transformer"] += 1
    transformer.eval().requires_grad_(False)
    text_encoder.eval().requires_grad_(False)


def training_pixels(arch: toy.ToyWanArchitecture, schedule: WanPretrainSettings) -> tuple[torch.Tensor, list[str]]:
    """The toy world's training clips, (N, 3, F, H, W) in [−1, 1], and their captions."""
    clips, texts = toyworld.render_dataset(
        toyworld.train_captions(), schedule.clips_per_caption, schedule.seed, size=arch.frame_size, frames=arch.frames
    )
    return clips_to_tensor(clips).transpose(1, 2).contiguous(), texts


def pretrain_toy_wan(arch: toy.ToyWanArchitecture, schedule: WanPretrainSettings, log: StepLogger | None = None,
                     clock: PhaseClock | None = None) -> Wan:
    """Render the toy world, train both phases, and return the assembled model."""
    clock = clock or PhaseClock()
    torch.manual_seed(schedule.seed)
    generator = torch.Generator().manual_seed(schedule.seed)
    with clock.part("data", "render"):
        pixels, texts = training_pixels(arch, schedule)
    model = Wan(toy.build_toy_pipeline(build_toy_tokenizer(), arch), resolution=arch.frame_size)
    train_vae(model.pipe.vae, pixels, schedule, generator, log, clock)
    with clock.part("data", "encode"):
        latents = fit_latent_normalisation(model.pipe.vae, pixels)
    tokens = model.pipe.tokenizer(texts, padding="max_length", max_length=model.pipe.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt")
    empty = model.pipe.tokenizer([""], padding="max_length", max_length=model.pipe.tokenizer.model_max_length, return_tensors="pt")
    train_transformer(model, latents, tokens.input_ids, tokens.attention_mask, empty.input_ids[0], empty.attention_mask[0], schedule, generator, log, clock)
    return model
