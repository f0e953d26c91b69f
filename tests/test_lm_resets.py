"""`paratime.lm` packs files: windows know where a file begins, and `file_resets` uses it."""

import numpy as np
import pytest

from paratime.lm import LMConfig, load_corpus
from paratime.lm._corpus import (
    evaluation_windows,
    evaluation_windows_and_resets,
    sample_windows,
    sample_windows_and_resets,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for i in range(30):
        (root / f"f{i:02d}.py").write_text(f"# file {i}\n" + "x = 1\n" * (i % 5 + 1))
    return load_corpus(root)


def test_file_starts_are_where_each_file_begins(corpus):
    for data, starts, files in (
        (corpus.train, corpus.train_starts, corpus.train_files),
        (corpus.test, corpus.test_starts, corpus.test_files),
    ):
        assert len(starts) == files - 1
        assert all(bytes(data[s : s + 7]) == b"# file " for s in starts)


def test_windows_and_resets(corpus):
    length = 40
    windows, resets = sample_windows_and_resets(
        corpus.train, corpus.train_starts, 16, length, np.random.default_rng(3)
    )
    # the same windows as without resets, for the same generator
    assert np.array_equal(
        windows, sample_windows(corpus.train, 16, length, np.random.default_rng(3))
    )
    assert resets.shape == windows.shape and resets.dtype == bool
    assert not resets[:, 0].any() and resets.any()
    # a reset marks exactly the bytes that begin a file (the only "#" in these files)
    for w, r in zip(windows, resets):
        text = bytes(w.astype(np.uint8))
        assert np.flatnonzero(r).tolist() == [j for j in range(1, length) if text[j] == ord("#")]
    test_windows, test_resets = evaluation_windows_and_resets(
        corpus.test, corpus.test_starts, 4, length
    )
    assert np.array_equal(test_windows, evaluation_windows(corpus.test, 4, length))
    assert test_resets.shape == test_windows.shape


def test_a_single_file_has_no_boundaries(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("abc\n" * 100)
    single = load_corpus(path)
    assert len(single.train_starts) == len(single.test_starts) == 0


def test_file_resets_is_on_by_default():
    assert LMConfig().file_resets is True
    assert LMConfig(file_resets=False).file_resets is False
