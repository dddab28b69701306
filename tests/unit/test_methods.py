"""The method registry: one module per method in src/videodpo/methods, and every list of methods in
the project (params, config, dvc.yaml's curves, the README's table) agrees with it."""

import json
from pathlib import Path

import pytest
import yaml
from committed import committed_params

from videodpo import methods
from videodpo.core import code_closure, layout
from videodpo.config import Config, ConfigError, config_from_params

ROOT = Path(__file__).parents[2]
TEST_METHODS = Path(__file__).parents[1] / "fixtures"  # methods that are not the project's


def relative(paths) -> set[str]:
    return {str(path.relative_to(ROOT / "src/videodpo")) for path in paths}


def test_the_committed_methods_are_the_modules_of_the_methods_folder_and_the_config_default():
    assert set(committed_params()["methods"]) == set(methods.known())
    assert set(Config().methods) == set(methods.known())


def test_dvc_plots_draw_every_committed_methods_validation_curve_in_every_family():
    """dvc.yaml's top-level plots name each branch's validation.csv (DVC cannot expand them from
    `families` and `methods`): a method listed in params.yaml must have its curve there, in each family."""
    plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    params = committed_params()
    branches = [layout.branch(f, m) for f in params["families"] for m in params["methods"]]
    charts = 0
    for plot in plots:
        (title, body), = plot.items()
        files = [path for path in body["y"] if path.endswith("validation.csv")]
        if files:
            charts += 1
            assert sorted(files) == sorted(str(b.train_plots / "validation.csv") for b in branches), title
    assert charts == 2


@pytest.mark.parametrize("name", methods.known())
def test_every_method_module_gives_the_settings_of_each_step_and_the_steps(name):
    module = methods.load(name)
    settings = methods.branch_settings(config_from_params(committed_params()), name)
    assert set(settings) == set(methods.STEPS)
    for stage, values in settings.items():
        assert isinstance(values, module.SETTINGS[stage])
        assert module.SETTINGS[stage].model_validate(json.loads(values.model_dump_json())) == values
    for step in methods.STEPS.values():
        assert callable(getattr(module, step))


def step_code(method: str, stage: str) -> set[str]:
    return relative(code_closure.function_closure(f"videodpo.methods.{method}", methods.STEPS[stage], frozenset(methods.STEPS.values())))


def test_a_steps_code_digest_covers_the_code_it_runs_and_not_the_other_steps():
    """Through steps taken from other method modules too (dense_dpo trains with dpo's step and makes
    pairs with vanilla_dpo's): a step's digest changes with its own code, not with another step's."""
    pairs, train = step_code("dpo", "pairs"), step_code("dpo", "train")
    assert {"methods/dpo.py", "pairs/synthetic.py", "pairs/jitter.py", "pairs/img2img.py"} <= pairs and "training/dpo.py" not in pairs
    assert {"methods/dpo.py", "training/dpo.py", "training/lora_loop.py", "training/objectives.py", "core/noise.py"} <= train and "pairs/synthetic.py" not in train
    for method in ("vanilla_dpo", "dense_dpo", "dense_dpo_third"):
        assert {"methods/dpo.py", "training/dpo.py", "training/objectives.py"} <= step_code(method, "train"), method
        assert {"pairs/labelled.py", "pairs/labellers.py"} <= step_code(method, "pairs") and "training/dpo.py" not in step_code(method, "pairs"), method
        assert "pairs/labelled.py" not in step_code(method, "train") | step_code(method, "latents"), method
    assert "pairs/guided.py" in step_code("dense_dpo_third", "pairs")
    vader_train = step_code("vader", "train")
    assert {"methods/vader.py", "training/vader.py", "rewards/__init__.py", "training/lora_loop.py"} <= vader_train and "training/dpo.py" not in vader_train


def test_an_unknown_method_or_a_module_without_its_steps_is_refused(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="'ppo' is not a method; the known methods: dense_dpo"):
        methods.load("ppo")
    (tmp_path / "half_method.py").write_text("SETTINGS = {}\n\ndef settings(config):\n    return {}\n")
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    with pytest.raises(TypeError, match="missing: make_pairs, encode_latents, train"):
        methods.load("half_method")


def test_a_new_methods_own_params_section_is_validated_by_it_naming_the_key(monkeypatch):
    """A section named after a method is that method's: accepted beside the project's sections,
    checked by the method's own Section class when the config loads."""
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(TEST_METHODS)])
    params = committed_params()
    params["methods"] = ["dpo", "winner_sft"]
    params["winner_sft"] = {"max_steps": 3}
    config = config_from_params(params)
    assert methods.branch_settings(config, "winner_sft")["train"].sft.max_steps == 3
    with pytest.raises(ConfigError, match=r"winner_sft\.batch_size: Input should be greater than 0 \(got 0\)"):
        config_from_params({**params, "winner_sft": {"batch_size": 0}})
    with pytest.raises(ConfigError, match=r"winner_sft\.batchsize: unknown key"):
        config_from_params({**params, "winner_sft": {"batchsize": 2}})
    with pytest.raises(ConfigError, match=r"winner_sfx: unknown key"):
        config_from_params({**params, "winner_sfx": {}})
