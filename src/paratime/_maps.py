"""A warning before XLA's CPU compiler runs out of memory maps and crashes the process.

Every compiled XLA program that is kept alive holds a few memory maps of the process (its code
and data sections; 3 to 20 per program on x86-64 Linux), and the kernel allows a process at
most `vm.max_map_count` of them (65 530 by default). JAX keeps the programs of a jitted function
for every new shape or static argument until `jax.clear_caches()`, so a long-lived process
that compiles thousands of programs (a test suite, a notebook, a sweep) reaches the limit; XLA's
CPU compiler (JAX 0.10.2) then logs "LLVM compilation error: Cannot allocate memory" and the
process dies with a segmentation fault instead of an exception (reproduced by
`benchmarks/xla_map_limit.py`; docs/troubleshooting.md).

`install()` (called when paratime is imported) registers a listener for JAX's
backend-compilation event: after each compilation it counts the process's maps (Linux only)
and, once they pass `THRESHOLD` of the limit, warns once with `MemoryMapWarning`, saying how
to free them. It costs one read of `/proc/self/maps` per compilation.
"""

import warnings

THRESHOLD = 0.9
# The event JAX records after each backend compilation (jax._src.dispatch).
_EVENT = "/jax/core/compile/backend_compile_duration"
_state = {"installed": False, "warned": False}


class MemoryMapWarning(RuntimeWarning):
    """The process holds nearly as many memory maps as the kernel allows
    (`vm.max_map_count`): compiling many more XLA programs would crash it."""


def map_count() -> int | None:
    """The number of memory maps this process holds (`None` where `/proc` has no maps)."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return None


def map_limit() -> int | None:
    """The kernel's limit on a process's memory maps, `vm.max_map_count` (`None` if unknown)."""
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def check(threshold: float = THRESHOLD) -> bool:
    """Warn (once per process) with `MemoryMapWarning` if this process holds more than
    `threshold` of `vm.max_map_count` memory maps; return whether it does."""
    count, limit = map_count(), map_limit()
    if count is None or not limit or count < threshold * limit:
        return False
    if not _state["warned"]:
        _state["warned"] = True
        warnings.warn(
            f"this process holds {count} memory maps, {100 * count / limit:.0f} % of the "
            f"kernel's limit (vm.max_map_count = {limit}). Each compiled XLA program kept "
            "alive holds some, and when none are left XLA's CPU compiler crashes the process "
            "(a segmentation fault). Free them with jax.clear_caches() between phases of a "
            "long-lived process, run independent workloads in separate processes, or raise "
            "the limit (sysctl -w vm.max_map_count=262144).",
            MemoryMapWarning,
            stacklevel=2,
        )
    return True


def _listener(event: str, duration_secs: float, **kwargs: str | int) -> None:
    del duration_secs, kwargs
    if event == _EVENT:
        check()


def install() -> None:
    """Register the check after every XLA compilation in this process (idempotent)."""
    if _state["installed"]:
        return
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_listener)
    _state["installed"] = True
