"""The base stage's Wan model for the tier (`make_base`): the toy model pretrained on the toy world
(pretraining), or the published weights from the hub (hub), with the model card every stage samples it by."""

from __future__ import annotations

from videodpo.families.wan.model import NAME


def make_base(config, log, clock):
    """The base stage's model for config.tier: the toy Wan pretrained on the toy world, or the hub Wan.
    Returns (model, model card, summary for the stage's metrics)."""
    from videodpo.core import model_card
    from videodpo.core.hub import warn_unpinned
    from videodpo.families.wan import pretraining, toy

    section = config.family_section(NAME)
    if config.model.source == "hub":
        from videodpo.families.wan import hub

        model, commits = hub.load_hub_model(section.hub)
        warn_unpinned("wan.hub", [(section.hub.base, section.hub.revision)], commits)
        return model, model_card.ModelCard("hub", config.data.frames, config.data.resolution, shared_noise=0.0, commits=commits), {}
    world = config.toyworld
    arch = toy.ToyWanArchitecture(frame_size=world.frame_size, frames=world.frames, **section.toy.model_dump())
    schedule = section.pretrain
    model = pretraining.pretrain_toy_wan(arch, schedule, log, clock)
    return model, model_card.ModelCard("toy", world.frames, world.frame_size, 0.0), {}
