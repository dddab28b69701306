"""dvc.yaml spells each family's paths with ${item.family} and ${item.method}; videodpo.core.layout is where
the stages write them. The two must agree, or DVC would track paths no stage writes."""

from pathlib import Path

import yaml

from videodpo.core import layout

ROOT = Path(__file__).parents[2]
FAMILY, METHOD, SPLIT = "${item.family}", "${item.method}", "${item.split}"


def stage(name: str) -> dict:
    body = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][name]
    return body.get("do", body)


def listed(body: dict, kind: str) -> set[str]:
    return {next(iter(entry)) if isinstance(entry, dict) else entry for entry in body.get(kind, [])}


def test_the_stages_outputs_are_where_the_layout_puts_them():
    branch = layout.branch(FAMILY, METHOD)
    tree = branch.family
    assert listed(stage("train"), "outs") == {str(branch.lora)}
    assert {str(branch.train_metrics), str(branch.train_plots / "metrics.json")} == listed(stage("train"), "metrics")
    assert listed(stage("make_pairs"), "outs") == {str(branch.pairs)} and listed(stage("make_pairs"), "metrics") == {str(branch.pairs_metrics)}
    assert listed(stage("encode_latents"), "outs") == {str(branch.latents)}
    assert str(branch.labels.parent.parent) in listed(stage("encode_latents"), "deps")  # people's labels, all families'
    assert branch.labels == Path("labels") / FAMILY / f"{METHOD}.jsonl"
    assert listed(stage("settings"), "outs") == {str(branch.settings / f"{step}.json") for step in ("pairs", "latents", "train")}
    assert listed(stage("sample"), "outs") == {str(tree.samples(SPLIT, METHOD))}
    assert listed(stage("sample_base"), "outs") == {str(tree.samples(SPLIT, "base"))}
    assert listed(stage("evaluate"), "metrics") == {str(tree.metrics / f"eval_{SPLIT}.json")}

    family = layout.Family("${item}")
    assert listed(stage("base"), "outs") == {str(family.base)}
    assert listed(stage("vjepa"), "outs") == {str(family.vjepa)} and listed(stage("vjepa"), "metrics") == {str(family.metrics / "vjepa.json")}
    assert listed(stage("preview_base"), "metrics") == {str(family.metrics / "base.json")}
    assert listed(stage("preview_base"), "plots") == {str(family.plots("base") / "contact_sheet.png")}


def test_a_folder_names_the_stage_that_writes_it():
    assert layout.lora_stage(Path("models/wan/lora/dpo")) == "train@wan-dpo"
    assert layout.base_stage(Path("models/animatediff/base")) == "base@animatediff"
    assert layout.branch("wan", "vader").stage("encode_latents") == "encode_latents@wan-vader"
    assert layout.Family("wan").stage("sample", "dpo", "test") == "sample@wan-dpo-test"


FAMILY_KEYS = ("hub", "toy", "pretrain", "overrides.toyworld", "overrides.tiers")


def test_a_familys_model_stages_depend_on_its_model_and_clips_not_on_its_overrides_of_a_methods_section():
    # wan.overrides.dense_dpo reruns wan's dense_dpo branch from its settings stage, never base@wan
    for name, item in (("base", "${item}"), ("preview_base", "${item}"), ("vjepa", "${item}"), ("sample_base", FAMILY), ("sample", FAMILY)):
        params = set(stage(name)["params"])
        assert {f"{item}.{key}" for key in FAMILY_KEYS} <= params, name
        assert item not in params and f"{item}.overrides" not in params, name


def test_every_family_has_the_override_keys_its_stages_depend_on():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for family in params["families"]:
        for key in FAMILY_KEYS:
            section = params[family]
            for part in key.split("."):
                assert part in section, f"{family}.{key}: DVC reads it by name (give {{}} for none)"
                section = section[part]
