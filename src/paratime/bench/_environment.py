"""The one record of where a measurement was taken: device, versions, date, host."""

import datetime
import os
import platform
import re
from pathlib import Path
from typing import Any

import jax


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, Any]:
    """Device, versions, date and host information recorded with every result."""
    dev = jax.devices()[0]
    backend = jax.default_backend()
    name = cpu_model() if backend == "cpu" else dev.device_kind
    return {
        "device": f"{backend}-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}",
        "device_kind": dev.device_kind,
        "backend": backend,
        "jax_version": jax.__version__,
        "paratime_version": _version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }


def _version() -> str:
    from .. import __version__

    return __version__
