import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

SUPPORT = Path(__file__).parent / "support"  # the helpers every test folder imports by name
sys.path.insert(0, str(SUPPORT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may reach a model hub
# the stages the tests run share two cores with the workers and one another: one thread each, or their
# OpenMP threads spin against each other
os.environ.setdefault("OMP_NUM_THREADS", "1")
# under pytest-xdist two workers share the two cores: one thread each
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def toy_model():
    """An untrained embedded-default model (weights random but fixed); a test that changes it works on a copy."""
    from toy_models import build_toy_model

    return build_toy_model()


@pytest.fixture(scope="module")
def tiny_hub_models(tmp_path_factory):
    """A tiny SD1.5-format checkpoint and a matching motion adapter, saved as a hub would serve them."""
    from diffusers import AutoencoderKL, MotionAdapter, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from videodpo.families.animatediff import toy

    root = tmp_path_factory.mktemp("hub")
    torch.manual_seed(0)
    tokenizer = toy.build_toy_tokenizer()
    unet = UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        norm_num_groups=8,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                       num_attention_heads=2, max_position_embeddings=16)
    )
    # three blocks, so latents are a quarter of the frame's side: the UNet's 8 × 8 at 32 pixels
    vae = AutoencoderKL(block_out_channels=(16, 32, 32), down_block_types=("DownEncoderBlock2D",) * 3,
                        up_block_types=("UpDecoderBlock2D",) * 3, latent_channels=4, norm_num_groups=8)
    sd = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                 scheduler=toy.build_toy_scheduler(), safety_checker=None,
                                 feature_extractor=None, requires_safety_checker=False)
    sd.save_pretrained(root / "sd15")
    MotionAdapter(block_out_channels=(32, 64), motion_layers_per_block=1, motion_num_attention_heads=2,
                  motion_norm_num_groups=8, motion_max_seq_length=8).save_pretrained(root / "adapter")
    return root


# The micro project that the pipeline modules (tests/pipeline/test_pipeline_*.py) run the real `dvc repro` on
# takes minutes to build. Under pytest-xdist the controller starts building it in the background as
# the session starts, while both workers run the unit tests; the pipeline modules are collected last
# (with --no-loadscope-reorder, xdist hands out modules in that order) and wait for it if need be.
PIPELINE_MODULES = "test_pipeline_"
BUILD_ENV = "VIDEODPO_MICRO_BUILD"


def pipeline_tests_selected(config) -> bool:
    """Whether the session may run a pipeline module: a folder or one of those files is asked for,
    and the marker expression does not leave them out."""
    expression = config.getoption("markexpr", "") or ""
    asked = [Path(arg.split("::")[0]) for arg in config.args] or [Path(".")]
    return "not slow" not in expression and "not faults" not in expression and any(
        path.is_dir() or path.name.startswith(PIPELINE_MODULES) for path in asked
    )


def pytest_configure(config):
    import subprocess
    import tempfile

    under_xdist = config.getoption("numprocesses", None) not in (None, 0)
    if hasattr(config, "workerinput") or not under_xdist or not pipeline_tests_selected(config) or BUILD_ENV in os.environ:
        return
    folder = Path(tempfile.mkdtemp(prefix="videodpo-micro-")) / "project"
    log = open(folder.parent / "build.log", "w")
    script = "import sys; from micro_project import build_micro_project, mark_built; mark_built(build_micro_project(__import__('pathlib').Path(sys.argv[1])))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SUPPORT), os.environ.get("PYTHONPATH", "")])}
    config._micro_builder = subprocess.Popen([sys.executable, "-c", script, str(folder)], stdout=log, stderr=subprocess.STDOUT, env=env)
    os.environ[BUILD_ENV] = str(folder)  # the workers, started after this, inherit it


def pytest_unconfigure(config):
    builder = getattr(config, "_micro_builder", None)
    if builder is not None:
        if builder.poll() is None:
            builder.kill()
        builder.wait()
        shutil.rmtree(Path(os.environ.pop(BUILD_ENV)).parent, ignore_errors=True)


def pytest_collection_modifyitems(items):
    """The quick unit tests first, while the micro project builds; then the other slow modules (hub
    models, several processes), which do not wait for it; the modules that run on it last."""
    items.sort(key=lambda item: (item.path.name.startswith(PIPELINE_MODULES), item.path.parent.name == "pipeline"))


@pytest.fixture(scope="session")
def micro_build(tmp_path_factory) -> Path:
    """The micro project after `dvc repro`: the one the controller builds in the background, or,
    without xdist, built here. Never changed: each module works on a copy (`micro_project`)."""
    import time

    from micro_project import build_micro_project, is_built, mark_built

    if BUILD_ENV in os.environ:
        folder = Path(os.environ[BUILD_ENV])
        log = folder.parent / "build.log"
        deadline = time.monotonic() + 1800
        while not is_built(folder):
            builder_done = log.is_file() and ("Traceback" in log.read_text(errors="replace"))
            if builder_done or time.monotonic() > deadline:
                pytest.fail(f"building the micro project failed:\n{log.read_text(errors='replace')[-5000:]}")
            time.sleep(2)
        return folder
    return mark_built(build_micro_project(tmp_path_factory.mktemp("micro_build") / "project"))


@pytest.fixture(scope="module")
def micro_project(micro_build, tmp_path_factory):
    """This module's own copy of the built micro project, to change as its tests need."""
    from micro_project import copy_built

    return copy_built(micro_build, tmp_path_factory.mktemp("project") / "micro")


@pytest.fixture
def browser():
    """Headless Chromium through Playwright (tests/support/labelling_browser.py)."""
    from labelling_browser import chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()
