"""paratime.lm: corpus split, config, DEER = Sequential losses, exact resume, generation, CLI."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import paratime
from paratime.cli import app
from paratime.lm import LMConfig, generate, is_test_file, load_corpus, load_run, train_lm
from paratime.train import load_checkpoint

TINY = dict(dim=8, hidden_size=8, depth=1, context=32, batch=2, eval_windows=2, warmup=1)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    words = [b"def ", b"return ", b"x", b" = ", b"(self)", b":\n", b"    ", b"import os\n"]
    for i in range(40):
        sub = root / f"pkg{i % 3}"
        sub.mkdir(exist_ok=True)
        text = b"".join(words[j] for j in rng.integers(0, len(words), 60))
        (sub / f"mod{i}.py").write_bytes(text)
    (root / "blob.bin").write_bytes(b"\x00\x01" * 100)  # binary: skipped
    return root


def test_split_is_fixed_and_disjoint(corpus_dir):
    assert is_test_file("os.py") == is_test_file("os.py")
    names = [f"pkg/mod{i}.py" for i in range(2000)]
    share = np.mean([is_test_file(n) for n in names])
    assert 0.07 < share < 0.13
    corpus = load_corpus(corpus_dir)
    assert corpus.train_files + corpus.test_files == 40  # the binary file is skipped
    assert corpus.test_files > 0 and corpus.train_files > 0
    files = sorted(corpus_dir.rglob("*.py"))
    test_bytes = b"".join(
        f.read_bytes() for f in files if is_test_file(f.relative_to(corpus_dir).as_posix())
    )
    assert corpus.test.tobytes() == test_bytes
    single = load_corpus(files[0])
    assert single.train.tobytes() + single.test.tobytes() == files[0].read_bytes()


def test_stdlib_corpus():
    corpus = load_corpus("stdlib")
    assert corpus.train_files > 5 * corpus.test_files > 0
    assert len(corpus.train) > 1_000_000


def test_bad_corpus_and_config(tmp_path):
    with pytest.raises(ValueError, match="source"):
        load_corpus(tmp_path / "missing")
    with pytest.raises(ValueError, match="cell"):
        LMConfig(cell="transformer")
    with pytest.raises(ValueError, match="context"):
        LMConfig(context=0)
    with pytest.raises(ValueError, match="learning_rate"):
        LMConfig(learning_rate=-1.0)
    with pytest.raises(ValueError, match="dim"):
        LMConfig(dim=2.5)  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="batch_devices"):
        LMConfig(batch=3, batch_devices=2)
    with pytest.raises(ValueError, match="time_devices"):
        LMConfig(solver="sequential", time_devices=2)
    (tmp_path / "bad.toml").write_text("colour = 'red'\n")
    with pytest.raises(ValueError, match="colour"):
        LMConfig.from_toml(tmp_path / "bad.toml")


def test_config_toml_round_trip(tmp_path):
    config = LMConfig(cell="lstm", learning_rate=1e-3, warm_start=True, data="/x y/z")
    config.save(tmp_path / "c.toml")
    assert LMConfig.from_toml(tmp_path / "c.toml") == config
    assert config.differences(config.replace(steps=5)) == []  # `steps` may change on resume
    assert config.differences(config.replace(dim=16)) == ["dim: 64 -> 16"]


@pytest.mark.parametrize(("cell", "solver"), [("gru", "deer"), ("diagonal_gru", "quasi-deer")])
def test_loss_under_newton_equals_sequential(cell, solver, corpus_dir):
    corpus = load_corpus(corpus_dir)
    base = LMConfig(cell=cell, steps=3, dtype="float64", **TINY)
    _, newton = train_lm(base.replace(solver=solver), corpus=corpus)
    _, sequential = train_lm(base.replace(solver="sequential"), corpus=corpus)
    assert all(r["newton_iters"] > 0 for r in newton)
    for a, b in zip(newton, sequential, strict=True):
        assert abs(a["loss"] - b["loss"]) < 1e-9
    assert abs(newton[-1]["test_bpb"] - sequential[-1]["test_bpb"]) < 1e-9


def test_exact_resume_and_generate(corpus_dir, tmp_path):
    corpus = load_corpus(corpus_dir)
    config = LMConfig(steps=4, **TINY)
    _, full = train_lm(config, tmp_path / "full", corpus=corpus)
    train_lm(config.replace(steps=2), tmp_path / "part", corpus=corpus)
    _, resumed = train_lm(config, tmp_path / "part", resume=True, corpus=corpus)
    assert [r["loss"] for r in resumed] == [r["loss"] for r in full]
    _, model_full = load_run(tmp_path / "full")
    _, model_part = load_run(tmp_path / "part")
    leaves = zip(jax.tree.leaves(model_full), jax.tree.leaves(model_part))
    assert all(bool(jnp.array_equal(a, b)) for a, b in leaves)
    with pytest.raises(ValueError, match="dim"):
        train_lm(config.replace(dim=16), tmp_path / "part", resume=True, corpus=corpus)
    result = json.loads((tmp_path / "full" / "result.json").read_text())
    assert result["test_bpb"] == full[-1]["test_bpb"]
    text = generate(model_full, b"def ", 17, key=jax.random.key(0), temperature=0.5)
    assert isinstance(text, bytes) and len(text) == 17
    assert text == generate(model_full, b"def ", 17, key=jax.random.key(0), temperature=0.5)
    with pytest.raises(ValueError, match="temperature"):
        generate(model_full, b"", 3, key=jax.random.key(0), temperature=0.0)
    _ = load_checkpoint  # the run folder holds a paratime.train checkpoint


def test_cli_train_config_file_and_one_line_errors(corpus_dir, tmp_path):
    runner = CliRunner()
    (tmp_path / "run.toml").write_text(
        f'data = "{corpus_dir}"\ncell = "mingru"\nsteps = 2\ncontext = 32\nbatch = 2\n'
        "dim = 8\nhidden_size = 8\ndepth = 1\neval_windows = 2\n"
    )
    out = tmp_path / "run"
    args = ["lm", "train", "--config", str(tmp_path / "run.toml"), "--out", str(out)]
    result = runner.invoke(app, args + ["--steps", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert LMConfig.from_toml(out / "config.toml").steps == 3  # the flag overrides the file
    assert json.loads(result.output.strip().splitlines()[-1])["step"] == 2
    result = runner.invoke(app, ["lm", "generate", str(out), "--bytes", "5"])
    assert result.exit_code == 0 and result.output.startswith("def ")
    for bad in (
        ["lm", "train", "--out", str(out), "--cell", "nope"],
        ["lm", "train", "--out", str(out), "--config", str(tmp_path / "none.toml")],
        ["lm", "generate", str(tmp_path / "empty")],
    ):
        result = runner.invoke(app, bad)
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith("Error:")


def test_model_names_every_cell():
    for name in paratime.lm.CELLS:
        model = paratime.lm.make_model(LMConfig(cell=name, dim=8, hidden_size=8, depth=1))
        assert paratime.lm.num_parameters(model) > 0
