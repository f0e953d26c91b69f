"""The shipped GTF recipes: package data, valid configs, and `--recipe` on the command line."""

import importlib.resources

import numpy as np
import pytest

from paratime.dsr import TrainConfig
from paratime.dsr.recipes import recipe, recipe_names, recipe_values

typer_testing = pytest.importorskip("typer.testing")
from paratime.dsr._cli import app  # noqa: E402


def test_the_gtf_recipes_are_shipped():
    assert {"gtf-lorenz63", "gtf-ecg", "gtf-eeg"} <= set(recipe_names())
    files = importlib.resources.files("paratime.dsr.recipes")
    assert (files / "gtf-lorenz63.toml").is_file()


@pytest.mark.parametrize("name", ["gtf-lorenz63", "gtf-ecg", "gtf-eeg"])
def test_each_recipe_is_a_valid_config(name):
    cfg = recipe(name, data="x.npy") if "data" not in recipe_values(name) else recipe(name)
    assert isinstance(cfg, TrainConfig)
    assert cfg.steps == 250_000 and cfg.lr_final == 1e-6 and cfg.grad_clip == 0.0
    assert cfg.model == "clipped-shplrnn" and cfg.validation == 0.0
    assert cfg.partial_forcing is False  # every script sets partial_forcing = false


def test_the_lorenz63_recipe_is_the_gtf_codes_defaults():
    cfg = recipe("gtf-lorenz63")
    assert (cfg.latent, cfg.hidden, cfg.seq_len, cfg.batch_size) == (3, 100, 201, 16)
    assert cfg.gtf == "adaptive" and cfg.alpha0 == 1.0 and cfg.latent_regularization == 1e-5


def test_an_unknown_recipe_is_named(tmp_path):
    with pytest.raises(ValueError, match="gtf-lorenz63"):
        recipe_values("gtf-nope")
    result = typer_testing.CliRunner().invoke(
        app, ["train", "--recipe", "gtf-nope", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0 and "--recipe" in result.output
    assert "Traceback" not in result.output


def test_flags_override_the_recipe(tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "run"
    result = typer_testing.CliRunner().invoke(
        app,
        ["train", "--recipe", "gtf-ecg", "--data", str(tmp_path / "x.npy"), "--steps", "2",
         "--hidden", "6", "--solver", "sequential", "--no-progress", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cfg = TrainConfig.from_toml(out / "config.toml")
    assert cfg.hidden == 6 and cfg.steps == 2  # the flags
    assert cfg.observation == "affine" and cfg.gtf == "0.3" and cfg.seq_len == 201  # the recipe
