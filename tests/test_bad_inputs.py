"""Bad inputs through the Python API: each gives the right error type, naming the argument.

One table of cases: data loaders, cells, the training loop, checkpoints, and the library
functions of dsr, elm, decomp and pararealnet. Each case is `(id, call, error type, pattern)`;
the pattern must occur in the message (it names the argument and, usually, what is allowed).
"""

import math
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings, strategies as st

from paratime import cells, data, decomp, dsr, elm, pararealnet, train
from paratime.train import CheckpointError, TrainState, make_step

KEY = jax.random.key(0)
SERIES = np.linspace(0.0, 1.0, 60, dtype=np.float64)[:, None] * np.ones((1, 2))


def _loss(model, key):
    return jnp.sum(model.weight**2)


def _model():
    return eqx.nn.Linear(2, 1, key=KEY)


def _state():
    opt = optax.sgd(0.1)
    model = _model()
    return TrainState(model, opt.init(eqx.filter(model, eqx.is_inexact_array)), KEY)


_STEP = make_step(_loss, optax.sgd(0.1))


def _train(**kwargs):
    kwargs = {"steps": 3, "progress": False, **kwargs}
    return train.train(_STEP, _state(), **kwargs)


def _fit(**kwargs):
    args = {
        "loss_fn": _loss,
        "model": _model(),
        "optimizer": optax.sgd(0.1),
        "steps": 2,
        "key": KEY,
        "progress": False,
    }
    args.update(kwargs)
    return train.fit(args.pop("loss_fn"), args.pop("model"), args.pop("optimizer"), **args)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Run directories and checkpoint files in several states of damage."""
    root = tmp_path_factory.mktemp("bad")
    good = root / "good.eqx"
    train.save_checkpoint(good, _state(), step=2)
    raw = good.read_bytes()
    (root / "truncated.eqx").write_bytes(raw[:-7])
    flipped = bytearray(raw)
    flipped[-20] ^= 0x01
    (root / "flipped.eqx").write_bytes(bytes(flipped))
    (root / "header.eqx").write_bytes(raw.replace(b'"step"', b'"stop"', 1))
    (root / "empty.eqx").write_bytes(b"")
    (root / "text.eqx").write_text("hello\n")
    (root / "emptyrun").mkdir()
    (root / "afile").write_text("x")
    (root / "nan.csv").write_text("a,b\n1,2\n3,\n")
    (root / "series.json").write_text("[1, 2]")
    return root


def _dsr_model():
    return dsr.build_model("shplrnn", 2, latent=3, hidden=4, key=KEY)


def _diverging_dsr_model():
    model = dsr.build_model("plrnn", 2, latent=3, hidden=4, key=KEY)
    return jax.tree_util.tree_map(lambda x: x * 50 if eqx.is_inexact_array(x) else x, model)


SMALL_FIT = dsr.FitSettings(steps=2, seq_len=10)


def _dsr_fit(out_dir=None, resume=False, **settings):
    # A bad setting raises when `FitSettings` is built (a ConfigError naming the field).
    s = dsr.FitSettings(**{"steps": 2, "seq_len": 10, "batch_size": 2, **settings})
    kw = {"key": KEY, "out_dir": out_dir, "resume": resume, "progress": False}
    return dsr.fit(_dsr_model(), jnp.asarray(SERIES), s, **kw)


def _elm_prepared():
    return elm.prepare(elm.autoregressive_task(np.sin(np.arange(80.0))[:, None]), 5)


def _decomp_model():
    return decomp.RNN.gru(2, 4, 1, key=KEY)


def _blocks(depth=4):
    return pararealnet.make_blocks(depth, 3, 4, key=KEY)


# (id, call taking the `files` folder, error type, regex the message must contain)
CASES = [
    # --- data: generators ---
    ("lorenz63 T=0", lambda f: data.lorenz63(0), ValueError, "T must be a positive int"),
    ("lorenz63 T=2.5", lambda f: data.lorenz63(2.5), (TypeError, ValueError), r"\bT\b"),
    ("lorenz63 T=True", lambda f: data.lorenz63(True), (TypeError, ValueError), r"\bT\b"),
    (
        "lorenz63 dt<0",
        lambda f: data.lorenz63(10, dt=-0.01),
        ValueError,
        "dt must be > 0 and finite",
    ),
    ("lorenz63 dt=nan", lambda f: data.lorenz63(10, dt=math.nan), ValueError, r"\bdt\b"),
    ("lorenz63 substeps=0", lambda f: data.lorenz63(10, substeps=0), ValueError, "substeps"),
    ("lorenz63 burn_in<0", lambda f: data.lorenz63(10, burn_in=-1), ValueError, "burn_in"),
    ("lorenz63 x0 shape", lambda f: data.lorenz63(10, x0=[1.0, 2.0]), ValueError, "x0"),
    ("lorenz63 noise<0", lambda f: data.lorenz63(10, noise=-1.0), ValueError, "noise"),
    ("lorenz96 n=3", lambda f: data.lorenz96(10, n=3), ValueError, r"\bn must be"),
    ("rossler T<0", lambda f: data.rossler(-5), ValueError, r"\bT\b"),
    ("mackey_glass tau/dt", lambda f: data.mackey_glass(10, tau=0.15), ValueError, "tau"),
    (
        "mackey_glass sample_every",
        lambda f: data.mackey_glass(10, sample_every=0),
        ValueError,
        "sample_every",
    ),
    ("narma10 T=0", lambda f: data.narma10(0), ValueError, r"\bT\b"),
    ("lorenz63 key", lambda f: data.lorenz63(10, noise=0.1, key="abc"), TypeError, "key"),
    # --- data: loaders and validation ---
    (
        "check_series 1-D",
        lambda f: data.check_series(np.zeros(5), name="xs"),
        ValueError,
        r"xs must have shape \(T, d\)",
    ),
    (
        "check_series NaN",
        lambda f: data.check_series(np.array([[1.0], [np.nan]]), name="xs"),
        ValueError,
        "xs contains NaN at row 1",
    ),
    (
        "check_series short",
        lambda f: data.check_series(SERIES, name="xs", min_length=100),
        ValueError,
        "xs is too short",
    ),
    (
        "check_series text",
        lambda f: data.check_series(np.array([["a"]]), name="xs"),
        ValueError,
        "xs must be numeric",
    ),
    ("check_series empty", lambda f: data.standardise(np.zeros((0, 3))), ValueError, "x is empty"),
    (
        "read_series missing",
        lambda f: data.read_series(f / "nope.npy"),
        FileNotFoundError,
        "nope.npy",
    ),
    (
        "read_series extension",
        lambda f: data.read_series(f / "series.json"),
        ValueError,
        r"series\.json.*use \.npy",
    ),
    (
        "read_series NaN cell",
        lambda f: data.read_series(f / "nan.csv"),
        ValueError,
        r"nan\.csv contains NaN at row 1",
    ),
    (
        "load_series unknown",
        lambda f: data.load_series("no-such-series"),
        (ValueError, FileNotFoundError),
        "no-such-series",
    ),
    (
        "split fraction",
        lambda f: data.train_test_split(SERIES, 1.5),
        ValueError,
        "test_fraction must be in",
    ),
    (
        "split empty part",
        lambda f: data.train_test_split(SERIES[:3], 0.01),
        ValueError,
        "test_fraction",
    ),
    # --- cells ---
    ("GRU hidden 0", lambda f: cells.GRU(3, 0, key=KEY), ValueError, "`hidden_size`.*>= 1"),
    ("Elman input -1", lambda f: cells.Elman(-1, 4, key=KEY), ValueError, "`input_size`"),
    ("LSTM input 0", lambda f: cells.LSTM(0, 4, key=KEY), ValueError, "`input_size`"),
    (
        "MinGRU hidden float",
        lambda f: cells.MinGRU(3, 4.0, key=KEY),
        TypeError,
        "`hidden_size` must be a positive int",
    ),
    ("GRU input bool", lambda f: cells.GRU(True, 4, key=KEY), TypeError, "`input_size`"),
    (
        "LRU r_max 1.5",
        lambda f: cells.LRU(3, 4, key=KEY, r_max=1.5),
        ValueError,
        r"`r_max` must be .*\[0.0, 1.0\)",
    ),
    (
        "LRU r_min > r_max",
        lambda f: cells.LRU(3, 4, key=KEY, r_min=0.9, r_max=0.5),
        ValueError,
        "`r_min` must be <= `r_max`",
    ),
    ("LRU r_min < 0", lambda f: cells.LRU(3, 4, key=KEY, r_min=-0.1), ValueError, "`r_min`"),
    (
        "LRU max_phase 0",
        lambda f: cells.LRU(3, 4, key=KEY, max_phase=0.0),
        ValueError,
        "`max_phase`",
    ),
    (
        "Elman weight_scale NaN",
        lambda f: cells.Elman(2, 4, key=KEY, weight_scale=math.nan),
        ValueError,
        "`weight_scale`",
    ),
    (
        "GRU int dtype",
        lambda f: cells.GRU(3, 4, key=KEY, dtype=jnp.int32),
        TypeError,
        "`dtype` must be a real floating",
    ),
    ("GRU bad dtype", lambda f: cells.GRU(3, 4, key=KEY, dtype="nonsense"), TypeError, "`dtype`"),
    ("GRU int key", lambda f: cells.GRU(3, 4, key=0), TypeError, "`key` must be one PRNG key"),
    (
        "LSTM batch of keys",
        lambda f: cells.LSTM(3, 4, key=jax.random.split(KEY, 3)),
        TypeError,
        "`key`",
    ),
    # --- training loop ---
    ("train steps=2.5", lambda f: _train(steps=2.5), TypeError, "`steps` must be a positive int"),
    ("train steps=0", lambda f: _train(steps=0), ValueError, "`steps` must be a positive int"),
    ("train steps=-1", lambda f: _train(steps=-1), ValueError, "`steps`"),
    ("train steps=True", lambda f: _train(steps=True), TypeError, "`steps`"),
    (
        "train checkpoint_every=0",
        lambda f: _train(checkpoint_every=0),
        ValueError,
        "`checkpoint_every`",
    ),
    ("train log_every=0", lambda f: _train(log_every=0), ValueError, "`log_every`"),
    ("train log_every=1.5", lambda f: _train(log_every=1.5), TypeError, "`log_every`"),
    ("train step_fn None", lambda f: train.train(None, _state(), steps=2), TypeError, "`step_fn`"),
    ("train resume no out_dir", lambda f: _train(resume=True), ValueError, "`out_dir`"),
    ("train description=3", lambda f: _train(description=3), TypeError, "`description`"),
    (
        "load_checkpoint like=None",
        lambda f: train.load_checkpoint(f / "truncated.eqx", None),
        ValueError,
        "`like` must be the template PyTree",
    ),
    (
        "train resume missing dir",
        lambda f: _train(out_dir=f / "missing", resume=True),
        FileNotFoundError,
        "missing.* does not exist.*resume=False",
    ),
    (
        "train resume no checkpoint",
        lambda f: _train(out_dir=f / "emptyrun", resume=True),
        FileNotFoundError,
        "emptyrun.* has no checkpoint",
    ),
    (
        "train resume 'yes'",
        lambda f: _train(out_dir=f / "emptyrun", resume="yes"),
        TypeError,
        "`resume`",
    ),
    (
        "train out_dir is a file",
        lambda f: _train(out_dir=f / "afile"),
        NotADirectoryError,
        "`out_dir`.*afile",
    ),
    ("train out_dir int", lambda f: _train(out_dir=3), TypeError, "`out_dir`"),
    ("train show str", lambda f: _train(show="loss"), TypeError, "`show`"),
    ("fit steps=2.5", lambda f: _fit(steps=2.5), TypeError, "`steps`"),
    (
        "fit optimizer None",
        lambda f: _fit(optimizer=None),
        TypeError,
        "`optimizer` must be an optax",
    ),
    ("fit optimizer str", lambda f: _fit(optimizer="adam"), TypeError, "`optimizer`"),
    ("fit key int", lambda f: _fit(key=0), TypeError, "`key`"),
    ("fit loss_fn None", lambda f: _fit(loss_fn=None), TypeError, "`loss_fn`"),
    ("fit model without arrays", lambda f: _fit(model={"a": 1}), ValueError, "`model`"),
    ("make_step optimizer None", lambda f: make_step(_loss, None), TypeError, "`optimizer`"),
    # --- checkpoints ---
    (
        "load missing",
        lambda f: train.load_checkpoint(f / "nope.eqx", _state()),
        FileNotFoundError,
        "nope.eqx",
    ),
    (
        "load truncated",
        lambda f: train.load_checkpoint(f / "truncated.eqx", _state()),
        CheckpointError,
        "truncated.eqx.* is truncated",
    ),
    (
        "load bit flip",
        lambda f: train.load_checkpoint(f / "flipped.eqx", _state()),
        CheckpointError,
        "flipped.eqx.* does not match the SHA-256",
    ),
    (
        "load bad header",
        lambda f: train.load_checkpoint(f / "header.eqx", _state()),
        CheckpointError,
        "header.eqx.* corrupt header",
    ),
    (
        "load empty",
        lambda f: train.load_checkpoint(f / "empty.eqx", _state()),
        CheckpointError,
        "empty.eqx.* is empty",
    ),
    (
        "load not a checkpoint",
        lambda f: train.verify_checkpoint(f / "text.eqx"),
        CheckpointError,
        "text.eqx.* not a paratime checkpoint",
    ),
    (
        "load other model",
        lambda f: train.load_checkpoint(f / "good.eqx", cells.GRU(2, 3, key=KEY)),
        ValueError,
        "does not fit the template `like`",
    ),
    (
        "save step -1",
        lambda f: train.save_checkpoint(f / "x.eqx", _state(), step=-1),
        ValueError,
        "`step`",
    ),
    (
        "save step 1.5",
        lambda f: train.save_checkpoint(f / "x.eqx", _state(), step=1.5),
        ValueError,
        "`step`",
    ),
    (
        "save extra not JSON",
        lambda f: train.save_checkpoint(f / "x.eqx", _state(), step=1, note=object()),
        TypeError,
        "`extra`",
    ),
    # --- dsr ---
    (
        "dsr generate steps=0",
        lambda f: dsr.generate(_dsr_model(), SERIES[:5], 0),
        ValueError,
        "`steps`",
    ),
    (
        "dsr generate steps=2.5",
        lambda f: dsr.generate(_dsr_model(), SERIES[:5], 2.5),
        TypeError,
        "`steps`",
    ),
    (
        "dsr generate context dims",
        lambda f: dsr.generate(_dsr_model(), SERIES[:5, :1], 5),
        ValueError,
        r"`context` must have shape \(W, 2\)",
    ),
    (
        "dsr generate context NaN",
        lambda f: dsr.generate(_dsr_model(), SERIES[:5] * np.nan, 5),
        ValueError,
        "`context` holds NaN",
    ),
    (
        "dsr generate diverges",
        lambda f: dsr.generate(_diverging_dsr_model(), SERIES[:5], 200),
        dsr.NonFiniteTrajectoryError,
        r"non-finite .* from step \d+ of 200",
    ),
    (
        "dsr build unknown",
        lambda f: dsr.build_model("rnn", 2, latent=3, hidden=4, key=KEY),
        ValueError,
        "`model` must be one of",
    ),
    ("dsr fit seq_len", lambda f: _dsr_fit(seq_len=1), ValueError, "`seq_len`"),
    ("dsr fit seq_len too long", lambda f: _dsr_fit(seq_len=1000), ValueError, "seq_len"),
    ("dsr fit batch_size", lambda f: _dsr_fit(batch_size=0), ValueError, "`batch_size`"),
    ("dsr fit gtf 1.5", lambda f: _dsr_fit(gtf=1.5), ValueError, "`gtf`"),
    ("dsr fit steps 0", lambda f: _dsr_fit(steps=0), ValueError, "`steps`"),
    (
        "dsr fit resume missing",
        lambda f: _dsr_fit(out_dir=f / "gone", resume=True),
        FileNotFoundError,
        "gone",
    ),
    # --- elm ---
    ("elm make_cell arch", lambda f: elm.make_cell("tcn", 1, 4, key=KEY), ValueError, "`arch`"),
    (
        "elm make_cell hidden 0",
        lambda f: elm.make_cell("gru", 1, 0, key=KEY),
        ValueError,
        "`hidden_size`",
    ),
    (
        "elm prepare window",
        lambda f: elm.prepare(elm.autoregressive_task(SERIES), 0),
        ValueError,
        "`window`",
    ),
    (
        "elm prepare window too long",
        lambda f: elm.prepare(elm.autoregressive_task(SERIES), 500),
        ValueError,
        "window",
    ),
    ("elm io_task lengths", lambda f: elm.io_task(SERIES, SERIES[:10]), ValueError, "same length"),
    (
        "elm fit lam<0",
        lambda f: elm.fit(_elm_prepared(), elm.FitSettings(hidden=4, lam=-1.0), key=KEY),
        ValueError,
        "`lam`",
    ),
    (
        "elm fit method",
        lambda f: elm.fit(
            _elm_prepared(), elm.FitSettings(hidden=4, lam=1e-3, method="magic"), key=KEY
        ),
        ValueError,
        "`method`",
    ),
    (
        "elm ridge shapes",
        lambda f: elm.ridge(np.ones((5, 2)), np.ones((4, 1)), 1.0),
        ValueError,
        "`Y` must have shape",
    ),
    (
        "elm forecast steps 0",
        lambda f: elm.forecast(
            elm.fit(_elm_prepared(), elm.FitSettings(hidden=4, lam=1e-3), key=KEY)[0],
            jnp.zeros((1, 5, 1)),
            0,
        ),
        ValueError,
        "`steps`",
    ),
    # --- decomp ---
    ("decomp Windows 0", lambda f: decomp.Windows(num_windows=0), ValueError, "`num_windows`"),
    (
        "decomp Windows overlap",
        lambda f: decomp.Windows(num_windows=2, overlap=-1),
        ValueError,
        "`overlap`",
    ),
    (
        "decomp Decomposition variant",
        lambda f: decomp.Decomposition(num_windows=2, variant="x"),
        ValueError,
        "`variant`",
    ),
    (
        "decomp Decomposition mu",
        lambda f: decomp.Decomposition(num_windows=2, mu=-1.0),
        ValueError,
        "`mu`",
    ),
    (
        "decomp fit_bptt shapes",
        lambda f: decomp.fit_bptt(
            _decomp_model(),
            jnp.zeros((2, 8, 2)),
            jnp.zeros((2, 7, 1)),
            optax.sgd(0.1),
            steps=1,
            progress=False,
        ),
        ValueError,
        "ys",
    ),
    (
        "decomp fit_bptt steps",
        lambda f: decomp.fit_bptt(
            _decomp_model(),
            jnp.zeros((2, 8, 2)),
            jnp.zeros((2, 8, 1)),
            optax.sgd(0.1),
            steps=0,
            progress=False,
        ),
        ValueError,
        "`steps`",
    ),
    # --- pararealnet ---
    (
        "pararealnet make_blocks depth",
        lambda f: pararealnet.make_blocks(0, 3, 4, key=KEY),
        ValueError,
        "`depth`",
    ),
    (
        "pararealnet make_blocks width",
        lambda f: pararealnet.make_blocks(2, -3, 4, key=KEY),
        ValueError,
        "`width`",
    ),
    (
        "pararealnet num_parallel",
        lambda f: pararealnet.ParaRealNet(_blocks(4), 0),
        ValueError,
        "`num_parallel`",
    ),
    (
        "pararealnet num_parallel > depth",
        lambda f: pararealnet.ParaRealNet(_blocks(4), 8, pararealnet.make_coarse(8, 3, 2, key=KEY)),
        ValueError,
        "`num_parallel`",
    ),
    (
        "pararealnet interface",
        lambda f: pararealnet.ParaRealNet(
            _blocks(4), 2, pararealnet.make_coarse(2, 3, 2, key=KEY), interface="x"
        ),
        ValueError,
        "`interface`",
    ),
    (
        "pararealnet dataset",
        lambda f: pararealnet.load_dataset("imagenet"),
        ValueError,
        "`data` must be one of",
    ),
    # --- found by further probes (were silent or cryptic) ---
    (
        "lorenz63 noise NaN",
        lambda f: data.lorenz63(10, noise=math.nan, key=0),
        ValueError,
        "noise must be >= 0 and finite",
    ),
    (
        "lorenz63 sigma NaN",
        lambda f: data.lorenz63(10, sigma=math.nan),
        ValueError,
        "sigma must be a finite number",
    ),
    (
        "lorenz63 x0 NaN",
        lambda f: data.lorenz63(10, x0=[math.nan, 1.0, 1.0]),
        ValueError,
        "x0 must be finite",
    ),
    (
        "lorenz63 burn_in 1.5",
        lambda f: data.lorenz63(10, burn_in=1.5),
        ValueError,
        "burn_in must be an int",
    ),
    (
        "lorenz63 substeps 1.5",
        lambda f: data.lorenz63(10, substeps=1.5),
        ValueError,
        "substeps must be an int",
    ),
    ("narma10 key str", lambda f: data.narma10(10, key="x"), TypeError, "`key` must be a PRNG"),
    (
        "split fraction str",
        lambda f: data.train_test_split(SERIES, "0.2"),
        TypeError,
        "test_fraction must be a number",
    ),
    (
        "elm spectral_radius NaN",
        lambda f: elm.make_cell("gru", 1, 4, key=KEY, spectral_radius=math.nan),
        ValueError,
        "`spectral_radius`",
    ),
    (
        "elm spectral_radius < 0",
        lambda f: elm.make_cell("elman", 1, 4, key=KEY, spectral_radius=-1.0),
        ValueError,
        "`spectral_radius`",
    ),
    (
        "dsr learning_rate < 0",
        lambda f: _dsr_fit(lr=-1.0),
        ValueError,
        "`lr`",
    ),
    ("dsr make_optimizer steps 0", lambda f: dsr.make_optimizer(1e-3, 0), ValueError, "`steps`"),
    (
        "dsr fit data 1-D",
        lambda f: dsr.fit(
            _dsr_model(), jnp.asarray(SERIES[:, 0]), SMALL_FIT, key=KEY, progress=False
        ),
        ValueError,
        r"`data` must have shape \(T, d\)",
    ),
    (
        "dsr fit data columns",
        lambda f: dsr.fit(_dsr_model(), jnp.ones((60, 3)), SMALL_FIT, key=KEY, progress=False),
        ValueError,
        "`data` has 3 dimensions",
    ),
    (
        "dsr fit data NaN",
        lambda f: dsr.fit(
            _dsr_model(), jnp.asarray(SERIES * np.nan), SMALL_FIT, key=KEY, progress=False
        ),
        ValueError,
        "`data` contains NaN at row 0",
    ),
    (
        "dsr build data_size 0",
        lambda f: dsr.build_model("shplrnn", 0, latent=3, hidden=4, key=KEY),
        ValueError,
        "`data_size`",
    ),
    (
        "dsr evaluate short test",
        lambda f: dsr.evaluate(_dsr_model(), SERIES[:20]),
        ValueError,
        "`test` has 20 time steps",
    ),
    (
        "decomp Decomposition num_windows 0",
        lambda f: decomp.Decomposition(num_windows=0),
        ValueError,
        "`num_windows`",
    ),
    (
        "pararealnet step NaN",
        lambda f: pararealnet.make_blocks(2, 3, 4, key=KEY, step=math.nan),
        ValueError,
        "`step`",
    ),
    (
        "train step_fn returns state only",
        lambda f: train.train(lambda s, i: s, _state(), steps=2, progress=False),
        TypeError,
        "`step_fn` must return `\\(state, metrics\\)`",
    ),
    (
        "train metrics not a dict",
        lambda f: train.train(lambda s, i: (s, 3.0), _state(), steps=2, progress=False),
        TypeError,
        "`step_fn`.*got \\(state, float\\)",
    ),
    (
        "fit loss_fn not scalar",
        lambda f: _fit(loss_fn=lambda m, k: m.weight),
        TypeError,
        "`loss_fn` must return a scalar",
    ),
    (
        "fit NaN parameters",
        lambda f: _fit(model=eqx.tree_at(lambda m: m.weight, _model(), jnp.full((1, 2), jnp.nan))),
        FloatingPointError,
        "step 0.*initial parameters",
    ),
    (
        "save checkpoint to a folder",
        lambda f: train.save_checkpoint(f, _state(), step=1),
        IsADirectoryError,
        "`path`.* is a folder",
    ),
    (
        "train resume with fewer steps",
        lambda f: (
            _train(out_dir=f / "r4", steps=4),
            _train(out_dir=f / "r4", steps=2, resume=True),
        ),
        ValueError,
        "`steps`=2.*already at step 4",
    ),
    # --- already clear before this round; kept so that they stay clear ---
    (
        "elm fit hidden 0",
        lambda f: elm.fit(_elm_prepared(), elm.FitSettings(hidden=0, lam=1e-3), key=KEY),
        ValueError,
        "`hidden`",
    ),
    (
        "elm prepare test_fraction",
        lambda f: elm.prepare(elm.autoregressive_task(SERIES), 5, test_fraction=1.5),
        ValueError,
        "`test_fraction`",
    ),
    (
        "elm autoregressive_task NaN",
        lambda f: elm.autoregressive_task(SERIES * np.nan),
        ValueError,
        "series contains NaN",
    ),
    (
        "elm autoregressive_task 1-D",
        lambda f: elm.autoregressive_task(np.arange(10.0)),
        ValueError,
        r"series must have shape \(T, d\)",
    ),
    (
        "elm fit lam NaN",
        lambda f: elm.fit(_elm_prepared(), elm.FitSettings(hidden=4, lam=math.nan), key=KEY),
        ValueError,
        "`lam`",
    ),
    (
        "elm fit lam str",
        lambda f: elm.fit(_elm_prepared(), elm.FitSettings(hidden=4, lam="best"), key=KEY),
        ValueError,
        "`lam`",
    ),
    (
        "elm make_cell lags 0",
        lambda f: elm.make_cell("narmax", 1, 4, key=KEY, lags=0),
        ValueError,
        "`lags`",
    ),
    (
        "elm load_model missing",
        lambda f: elm.load_model(f / "none.eqx"),
        FileNotFoundError,
        "none.eqx",
    ),
    (
        "dsr learning_rate NaN",
        lambda f: dsr.make_optimizer(math.nan, 10),
        ValueError,
        "`learning_rate`",
    ),
    ("dsr alpha0 2", lambda f: _dsr_fit(alpha0=2.0), ValueError, "`alpha0`"),
    ("dsr alpha_every 0", lambda f: _dsr_fit(alpha_every=0), ValueError, "`alpha_every`"),
    (
        "dsr build latent 0",
        lambda f: dsr.build_model("shplrnn", 2, latent=0, hidden=4, key=KEY),
        ValueError,
        "`latent`",
    ),
    (
        "dsr build observation",
        lambda f: dsr.build_model("shplrnn", 2, latent=3, hidden=4, observation="x", key=KEY),
        ValueError,
        "`observation`",
    ),
    (
        "decomp eval_every 0",
        lambda f: decomp.fit_problem(None, None, steps=2, eval_every=0),
        ValueError,
        "`eval_every`",
    ),
    (
        "decomp inner_steps 0",
        lambda f: decomp.Decomposition(num_windows=2, inner_steps=0),
        ValueError,
        "`inner_steps`",
    ),
    (
        "decomp RNN hidden 0",
        lambda f: decomp.RNN.gru(2, 0, 1, key=KEY),
        ValueError,
        "`hidden_size`",
    ),
    ("decomp Shooting mu", lambda f: decomp.Shooting(num_windows=2, mu=-1.0), ValueError, "`mu`"),
    (
        "decomp Windows too short",
        lambda f: decomp.Windows(num_windows=8, overlap=2).split(jnp.zeros(4)),
        ValueError,
        "`num_windows`",
    ),
    (
        "pararealnet depth not divisible",
        lambda f: pararealnet.make_classifiers(
            in_features=4,
            num_classes=3,
            depth=5,
            width=3,
            hidden=4,
            num_parallel=2,
            coarse_hidden=2,
            key=KEY,
        ),
        ValueError,
        "`num_parallel` must be a positive divisor",
    ),
    (
        "pararealnet make_coarse 0",
        lambda f: pararealnet.make_coarse(0, 3, 2, key=KEY),
        ValueError,
        "`num_parallel`",
    ),
    (
        "pararealnet TrainConfig steps",
        lambda f: pararealnet.TrainConfig(steps=0),
        ValueError,
        "`steps`",
    ),
    (
        "pararealnet TrainConfig data",
        lambda f: pararealnet.TrainConfig(data="x"),  # type: ignore[arg-type]
        ValueError,
        "`data`",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_a_clear_error(case, files):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern):
        call(files)


def test_there_are_enough_cases():
    assert len(CASES) >= 45
    assert len({c[0] for c in CASES}) == len(CASES)


def test_resume_of_a_missing_run_creates_nothing(files):
    with pytest.raises(FileNotFoundError):
        _train(out_dir=files / "never", resume=True)
    assert not Path(files / "never").exists()


NOT_POSITIVE_INT = st.one_of(
    st.integers(max_value=0),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=40, deadline=None)
@given(value=NOT_POSITIVE_INT, name=st.sampled_from(["steps", "checkpoint_every", "log_every"]))
def test_loop_counts_must_be_positive_ints(value, name):
    with pytest.raises((TypeError, ValueError), match=f"`{name}`"):
        _train(**{name: value})


@settings(max_examples=40, deadline=None)
@given(
    value=NOT_POSITIVE_INT,
    which=st.sampled_from(["input_size", "hidden_size"]),
    cell=st.sampled_from([cells.GRU, cells.LSTM, cells.Elman, cells.MinGRU, cells.LRU]),
)
def test_cell_sizes_must_be_positive_ints(value, which, cell):
    sizes = {"input_size": 2, "hidden_size": 3, which: value}
    with pytest.raises((TypeError, ValueError), match=f"`{which}`"):
        cell(sizes["input_size"], sizes["hidden_size"], key=KEY)


def test_dsr_generate_writes_nothing_when_the_free_run_diverges(tmp_path):
    out = tmp_path / "traj.npy"
    with pytest.raises(dsr.NonFiniteTrajectoryError, match="nothing was written") as info:
        dsr.generate(_diverging_dsr_model(), SERIES[:5], 200, out=out)
    assert 0 < info.value.step < 200 and info.value.steps == 200
    assert list(tmp_path.iterdir()) == []  # no file, no temporary
    traj = dsr.generate(_dsr_model(), SERIES[:5], 7, out=out)
    np.testing.assert_array_equal(np.load(out), traj.astype(np.float32))
    # Without `out`, a caller may ask for the raw trajectory (e.g. to measure how it diverged).
    raw = dsr.generate(_diverging_dsr_model(), SERIES[:5], 200, check_finite=False)
    assert not np.isfinite(raw).all()
