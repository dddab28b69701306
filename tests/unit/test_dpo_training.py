import copy
import dataclasses
import json

import pytest
import torch

from algorithms import dpo_loop

from videodpo.families.animatediff import add_lora
from videodpo.training.dpo import DPOBatch, batch_for_step, dpo_step, paired_errors


@pytest.fixture()
def lora_unet(toy_model):
    unet = copy.deepcopy(toy_model.denoiser)
    add_lora(unet, rank=4, alpha=4)
    return unet


def make_batch(size: int = 3, seed: int = 0) -> DPOBatch:
    g = torch.Generator().manual_seed(seed)
    shape = (size, 4, 8, 8, 8)
    winners = torch.randn(shape, generator=g)
    return DPOBatch(
        winners=winners,
        losers=winners + 0.5 * torch.randn(shape, generator=g),
        text=torch.randn(size, 16, 32, generator=g),
        noise=torch.randn(shape, generator=g),
        timesteps=torch.randint(0, 1000, (size,), generator=g),
    )


def test_batched_winner_and_loser_forward_equals_separate_forwards(lora_unet, toy_model):
    scheduler, batch = toy_model.scheduler, make_batch()
    with torch.no_grad():
        winner, loser = paired_errors(toy_model, lora_unet, batch)
        for latents, batched in ((batch.winners, winner), (batch.losers, loser)):
            noisy = scheduler.add_noise(latents, batch.noise, batch.timesteps)
            prediction = lora_unet(noisy, batch.timesteps, encoder_hidden_states=batch.text.repeat_interleave(8, 0)).sample
            target = scheduler.get_velocity(latents, batch.noise, batch.timesteps)  # the toy model predicts v
            separate = (prediction - target).pow(2).flatten(1).mean(1)
            torch.testing.assert_close(batched, separate, rtol=1e-4, atol=1e-6)


def test_adapter_toggling_and_frozen_copy_give_the_same_reference(lora_unet, toy_model):
    batch = make_batch()
    with torch.no_grad():  # a non-zero LoRA, so the policy differs from the reference
        for name, param in lora_unet.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    toggled = dpo_step(toy_model, lora_unet, None, batch, beta=100)
    frozen = dpo_step(toy_model, lora_unet, toy_model.denoiser, batch, beta=100)
    torch.testing.assert_close(toggled.reference_winner, frozen.reference_winner)
    torch.testing.assert_close(toggled.reference_loser, frozen.reference_loser)
    assert not torch.allclose(toggled.policy_winner, toggled.reference_winner)


def test_at_initialisation_the_policy_equals_the_reference(lora_unet, toy_model):
    step = dpo_step(toy_model, lora_unet, None, make_batch(), beta=2500)
    torch.testing.assert_close(step.policy_winner, step.reference_winner)


def test_at_initialisation_the_dpo_loss_is_log_two(lora_unet, toy_model):
    step = dpo_step(toy_model, lora_unet, None, make_batch(), beta=2500)
    assert abs(step.terms.loss.item() - torch.log(torch.tensor(2.0)).item()) < 1e-4


def test_a_few_dpo_steps_on_one_batch_make_the_policy_prefer_its_winners(lora_unet, toy_model):
    batch = make_batch(seed=3)
    params = [p for p in lora_unet.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=1e-3)
    losses = []
    for _ in range(15):
        step = dpo_step(toy_model, lora_unet, None, batch, beta=500)
        optimiser.zero_grad()
        step.terms.loss.backward()
        optimiser.step()
        losses.append(step.terms.loss.item())
    assert losses[-1] < losses[0] - 0.05
    assert step.terms.implicit_accuracy.item() == 1.0
    # only the LoRA trained: with it off the model is still the base model
    with torch.no_grad(), toy_model.adapters_disabled(lora_unet):
        base_errors = paired_errors(toy_model, toy_model.denoiser, batch)
        toggled_errors = paired_errors(toy_model, lora_unet, batch)
    for a, b in zip(base_errors, toggled_errors):
        torch.testing.assert_close(a, b)


def tiny_data(n: int = 6) -> dict:
    batch = make_batch(size=n, seed=7)
    return {"winners": batch.winners, "losers": batch.losers, "text": batch.text}


def lora_weights(model) -> dict:
    return {n: p.detach().clone() for n, p in model.denoiser.named_parameters() if p.requires_grad}


def fresh_lora_model(toy_model):
    """The toy model with a LoRA of fixed initial weights, as a new process would build it."""
    model = copy.deepcopy(toy_model)
    torch.manual_seed(0)
    model.add_lora(rank=4, alpha=4)
    return model


def test_a_stopped_and_resumed_run_ends_exactly_where_an_uninterrupted_one_does(toy_model, tmp_path):
    from videodpo.training.dpo import train_dpo_lora

    settings = dpo_loop(max_steps=4, batch_size=2, learning_rate=1e-3, beta=500, shared_noise=0.5, checkpoint_every=1)

    def fresh_model():
        return fresh_lora_model(toy_model)

    straight = fresh_model()
    train_dpo_lora(straight, None, tiny_data(), settings, tmp_path / "a")

    class Stop(Exception):
        pass

    def stop_during_step_two(metrics, step):
        if step == 2:  # the checkpoint holds 2 finished steps; step 2's update is lost with the process
            raise Stop

    with pytest.raises(Stop):
        train_dpo_lora(fresh_model(), None, tiny_data(), settings, tmp_path / "b", stop_during_step_two)
    resumed = fresh_model()  # a new process: fresh model, same checkpoint folder
    logged = []
    train_dpo_lora(resumed, None, tiny_data(), settings, tmp_path / "b", lambda m, s: logged.append(s))
    assert logged == [2, 3]  # only the remaining steps ran
    for name, value in lora_weights(straight).items():
        torch.testing.assert_close(lora_weights(resumed)[name], value)


def test_sigterm_finishes_the_step_saves_a_checkpoint_and_the_rerun_resumes_from_it(toy_model, tmp_path):
    import os
    import signal

    from videodpo.training.dpo import train_dpo_lora

    settings = dpo_loop(max_steps=4, batch_size=2, learning_rate=1e-3, beta=500, shared_noise=0.5, checkpoint_every=10)

    def fresh_model():
        return fresh_lora_model(toy_model)

    straight = fresh_model()
    train_dpo_lora(straight, None, tiny_data(), settings, tmp_path / "a")

    def terminated_during_step_one(metrics, step):
        if step == 1:  # as a pre-empted machine does: the signal arrives mid-run
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(SystemExit, match="stopped by SIGTERM after step 2"):
        train_dpo_lora(fresh_model(), None, tiny_data(), settings, tmp_path / "b", terminated_during_step_one)
    assert json.loads((tmp_path / "b/state.json").read_text())["step"] == 2  # saved though checkpoint_every is 10
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone with the loop
    resumed, logged = fresh_model(), []
    train_dpo_lora(resumed, None, tiny_data(), settings, tmp_path / "b", lambda m, s: logged.append(s))
    assert logged == [2, 3]
    for name, value in lora_weights(straight).items():
        torch.testing.assert_close(lora_weights(resumed)[name], value)


def train_twice(toy_model, checkpoint_dir, first, second) -> list[int]:
    """Train a fresh LoRA with `first`, then again with `second` on the same checkpoint folder;
    return the steps the second run logged."""
    from videodpo.training.dpo import train_dpo_lora

    model = copy.deepcopy(toy_model)
    model.add_lora(rank=4, alpha=4)
    train_dpo_lora(model, None, tiny_data(), first, checkpoint_dir)
    logged = []
    train_dpo_lora(model, None, tiny_data(), second, checkpoint_dir, lambda m, s: logged.append(s))
    return logged


def test_a_checkpoint_from_other_settings_is_ignored(toy_model, tmp_path):
    logged = train_twice(toy_model, tmp_path, dpo_loop(max_steps=2, batch_size=2, learning_rate=1e-3, beta=500), dpo_loop(max_steps=2, batch_size=2, learning_rate=1e-3, beta=900))
    assert logged == [0, 1]  # β changed: started over


def test_raising_max_steps_continues_a_finished_run(toy_model, tmp_path):
    logged = train_twice(toy_model, tmp_path, dpo_loop(max_steps=2, batch_size=2, learning_rate=1e-3, beta=500), dpo_loop(max_steps=3, batch_size=2, learning_rate=1e-3, beta=500))
    assert logged == [2]


def test_batches_draw_timesteps_below_max_timestep_and_are_a_function_of_the_step():
    from videodpo.training.dpo import batch_for_step

    data = {"winners": torch.randn(5, 4, 8, 8, 8), "losers": torch.randn(5, 4, 8, 8, 8), "text": torch.randn(5, 16, 32)}
    settings = dpo_loop(max_steps=10, batch_size=64, learning_rate=1e-4, beta=100.0, max_timestep=300)
    batch = batch_for_step(data, step=3, micro=0, settings=settings)
    assert batch.timesteps.max() < 300 and batch.timesteps.min() >= 0 and len(set(batch.timesteps.tolist())) > 20
    again = batch_for_step(data, step=3, micro=0, settings=settings)
    assert torch.equal(batch.timesteps, again.timesteps) and torch.equal(batch.noise, again.noise)


def test_mixed_precision_keeps_frozen_weights_in_half_and_the_lora_in_fp32(toy_model):
    from videodpo.core import precision

    assert precision.weight_dtype("fp16") is torch.float16 and precision.accelerate_name("fp32") == "no"
    with pytest.raises(ValueError, match="training.mixed_precision"):
        precision.weight_dtype("fp8")
    unet = copy.deepcopy(toy_model.denoiser).to(torch.bfloat16)
    add_lora(unet, rank=4, alpha=4)
    trainable = [n for n, p in unet.named_parameters() if p.requires_grad]
    assert precision.trainable_in_fp32(unet) == len(trainable) > 0
    for name, parameter in unet.named_parameters():
        assert parameter.dtype == (torch.float32 if name in trainable else torch.bfloat16), name


def test_batches_come_only_from_the_given_shard_and_differ_by_rank():
    from videodpo.training.dpo import batch_for_step

    data = {"winners": torch.randn(8, 4, 2, 4, 4), "losers": torch.randn(8, 4, 2, 4, 4), "text": torch.randn(8, 16, 32)}
    settings = dpo_loop(max_steps=10, batch_size=16, learning_rate=1e-4, beta=100.0)
    first = batch_for_step(data, 0, 0, settings, rows=range(0, 4), rank=0)
    second = batch_for_step(data, 0, 0, settings, rows=range(4, 8), rank=1)
    assert set(first.rows.tolist()) <= {0, 1, 2, 3} and set(second.rows.tolist()) <= {4, 5, 6, 7}
    assert torch.equal(first.winners, data["winners"][first.rows])
    assert not torch.equal(first.noise, second.noise)
    # one process over all pairs draws exactly what it drew before shards existed
    assert torch.equal(batch_for_step(data, 2, 0, settings).rows, batch_for_step(data, 2, 0, settings, rows=range(8), rank=0).rows)


def test_a_segment_labelled_step_with_one_whole_clip_segment_is_the_clip_dpo_step(lora_unet, toy_model):
    """DenseDPO's step with every pair labelled +1 as one segment is Diffusion-DPO's step."""
    batch = make_batch(seed=5)
    labelled = dataclasses.replace(batch, labels=torch.ones(len(batch.winners), 1, dtype=torch.int8))
    clip = dpo_step(toy_model, lora_unet, None, batch, beta=500, sft_weight=2.0)
    dense = dpo_step(toy_model, lora_unet, None, labelled, beta=500, sft_weight=2.0)
    torch.testing.assert_close(dense.terms.loss, clip.terms.loss)
    torch.testing.assert_close(dense.policy_winner[:, 0], clip.policy_winner)


def test_segment_labels_train_each_segment_towards_its_own_preferred_clip(lora_unet, toy_model):
    """Clip a preferred in the first half of the frames and b in the second: a few DenseDPO steps
    lower the policy's error (against the reference) on a's first half and on b's second half."""
    batch = dataclasses.replace(make_batch(seed=11), labels=torch.tensor([[1, -1]] * 3, dtype=torch.int8))
    params = [p for p in lora_unet.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=1e-3)
    for _ in range(15):
        step = dpo_step(toy_model, lora_unet, None, batch, beta=500)
        optimiser.zero_grad()
        step.terms.loss.backward()
        optimiser.step()
    gain_a = (step.policy_winner - step.reference_winner).mean(dim=0)  # (2,): a's first, second half
    gain_b = (step.policy_loser - step.reference_loser).mean(dim=0)
    assert gain_a[0] < gain_b[0] and gain_b[1] < gain_a[1]
    assert step.terms.implicit_accuracy.item() == 1.0


def test_batches_carry_the_labels_of_the_pairs_they_draw():
    data = tiny_data()
    data["labels"] = torch.arange(6 * 4, dtype=torch.int8).reshape(6, 4) % 3 - 1
    batch = batch_for_step(data, step=2, micro=0, settings=dpo_loop(max_steps=3, batch_size=3, learning_rate=1e-3, beta=1.0))
    assert torch.equal(batch.labels, data["labels"][batch.rows])


def test_a_resumed_run_keeps_the_curves_up_to_its_checkpoint_and_drops_what_followed(tmp_path):
    """Rows a killed run logged after its last checkpoint are logged again on resume: they go, and
    validation at the checkpoint's own step (scored before the save) stays."""
    from videodpo.training import lora_loop as stage

    tables = tmp_path / "plots/metrics"
    tables.mkdir(parents=True)
    (tables / "loss.tsv").write_text("timestamp\tstep\tloss\n" + "".join(f"{t}\t{t}\t0.{t}\n" for t in range(6)))
    (tables / "val_warping_error.tsv").write_text("timestamp\tstep\tval_warping_error\n" + "".join(f"{t}\t{t}\t1\n" for t in (0, 2, 4)))
    stage.keep_rows_before(tables, 3)  # checkpoint at step 3: steps 0-2 trained, validation at 0 and 2 done
    assert [line.split("\t")[1] for line in (tables / "loss.tsv").read_text().splitlines()[1:]] == ["0", "1", "2"]
    assert [line.split("\t")[1] for line in (tables / "val_warping_error.tsv").read_text().splitlines()[1:]] == ["0", "2"]
    stage.keep_rows_before(tables, 0)  # a fresh start keeps nothing
    assert (tables / "loss.tsv").read_text() == "timestamp\tstep\tloss\n"
