import torch

from videodpo.core.checkpoints import load_checkpoint, save_checkpoint


def model_and_optimiser(seed: int):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    model[0].requires_grad_(False)  # frozen weights are not checkpointed
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(torch.randn(5, 4)).sum().backward()
    optimiser.step()
    return model, optimiser


def test_checkpoint_restores_trainable_weights_optimiser_moments_and_step(tmp_path):
    model, optimiser = model_and_optimiser(0)
    save_checkpoint(tmp_path, model, optimiser, 7, {"beta": 1})
    other, other_optimiser = model_and_optimiser(1)
    assert load_checkpoint(tmp_path, other, other_optimiser, {"beta": 1}) == 7
    assert torch.equal(other[1].weight, model[1].weight)
    assert not torch.equal(other[0].weight, model[0].weight)  # frozen layer untouched
    for a, b in zip(other_optimiser.state.values(), optimiser.state.values()):
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_only_the_newest_tensors_are_kept(tmp_path):
    model, optimiser = model_and_optimiser(0)
    save_checkpoint(tmp_path, model, optimiser, 1, {"beta": 1})
    save_checkpoint(tmp_path, model, optimiser, 2, {"beta": 1})
    assert [p.name for p in tmp_path.glob("tensors-*")] == ["tensors-00000002.safetensors"]


def test_a_checkpoint_of_other_settings_or_none_starts_over(tmp_path):
    model, optimiser = model_and_optimiser(0)
    save_checkpoint(tmp_path, model, optimiser, 2, {"beta": 1})
    assert load_checkpoint(tmp_path, model, optimiser, {"beta": 1}) == 2
    assert load_checkpoint(tmp_path, model, optimiser, {"beta": 2}) == 0
    assert load_checkpoint(tmp_path / "none", model, optimiser, {"beta": 1}) == 0
