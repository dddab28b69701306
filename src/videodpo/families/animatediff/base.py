"""The base stage's AnimateDiff model for the tier (`make_base`): the toy model pretrained on the toy world
(pretraining), or the published weights from the hub (hub), with the model card every stage samples it by."""

from __future__ import annotations

from videodpo.families.animatediff.model import NAME


def make_base(config, log, clock):
    """The base stage's model for config.tier: the toy model pretrained on the toy world, or SD1.5 and
    the motion adapter from the hub. Returns (model, model card, summary for the stage's metrics)."""
    from videodpo.core import model_card
    from videodpo.core.hub import warn_unpinned
    from videodpo.families.animatediff import hub as animatediff_hub
    from videodpo.families.animatediff import pretraining, toy

    section = config.family_section(NAME)
    if config.model.source == "hub":
        hub = animatediff_hub.HubModel(**section.hub.model_dump())
        model = animatediff_hub.load_hub_model(hub)
        commits = animatediff_hub.hub_commits(hub)
        warn_unpinned("animatediff.hub", [(hub.base, hub.revision), (hub.motion_adapter, hub.motion_adapter_revision)], commits)
        return model, model_card.ModelCard("hub", config.data.frames, config.data.resolution, shared_noise=0.0, commits=commits), {}
    world = config.toyworld
    arch = toy.ToyArchitecture(frame_size=world.frame_size, frames=world.frames, **section.toy.model_dump())
    schedule = section.pretrain
    model = pretraining.pretrain_toy_model(arch, schedule, log, clock)
    return model, model_card.ModelCard("toy", world.frames, world.frame_size, schedule.shared_noise), {}
