"""The warning before XLA's CPU compiler runs out of memory maps (`paratime._maps`): the
crash it prevents is reproduced by `benchmarks/xla_map_limit.py`."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import paratime
from paratime import _maps

ROOT = Path(__file__).resolve().parents[1]
LINUX = Path("/proc/self/maps").exists() and Path("/proc/sys/vm/max_map_count").exists()


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setitem(_maps._state, "warned", False)


def test_check_warns_once_above_the_threshold(monkeypatch, fresh):
    monkeypatch.setattr(_maps, "map_limit", lambda: 1000)
    monkeypatch.setattr(_maps, "map_count", lambda: 899)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert not _maps.check()
        monkeypatch.setattr(_maps, "map_count", lambda: 950)
        assert _maps.check() and _maps.check()
    assert [w.category for w in seen] == [paratime.MemoryMapWarning]
    assert "vm.max_map_count = 1000" in str(seen[0].message)
    assert "jax.clear_caches()" in str(seen[0].message)


def test_no_warning_where_the_counts_are_unknown(monkeypatch, fresh):
    monkeypatch.setattr(_maps, "map_count", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not _maps.check()


@pytest.mark.skipif(not LINUX, reason="needs /proc (Linux)")
def test_counts_are_read_from_proc():
    count, limit = _maps.map_count(), _maps.map_limit()
    assert count is not None and limit is not None and 0 < count < limit


@pytest.mark.skipif(not LINUX, reason="needs /proc (Linux)")
def test_importing_paratime_warns_before_the_maps_run_out():
    # In a fresh process: fill the map table to 300 maps above the warning's threshold...
    # below it, then compile programs; the warning must come after a few compilations, well
    # before the maps run out (where XLA's CPU compiler would crash the process).
    script = textwrap.dedent(
        f"""
        import sys, warnings
        sys.path.insert(0, {str(ROOT / "benchmarks")!r})
        from xla_map_limit import fill_maps, map_count
        import jax, jax.numpy as jnp, paratime
        from paratime import _maps
        x = jnp.ones(4)
        jax.block_until_ready(jnp.sin(x))
        limit = _maps.map_limit()
        fill_maps(limit - int(_maps.THRESHOLD * limit) + 300)
        kept = []
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for i in range(400):
                f = jax.jit(lambda v, i=i: jnp.cumsum(v) * i + jnp.sin(v))
                f(x).block_until_ready()
                kept.append(f)
                if seen:
                    break
        left = limit - map_count()
        names = [w.category.__name__ for w in seen]
        print(names, i + 1, left)
        assert names == ["MemoryMapWarning"] and left > 5000, (names, i, left)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
