"""The XLA CPU compiler crash, reproduced in seconds: fill the process's memory-map table up to
a margin below the kernel's limit (vm.max_map_count), then compile XLA programs until it runs
out. With JAX 0.10.2 on x86-64 Linux the compiler logs "LLVM compilation error: Cannot
allocate memory" and the process dies with a segmentation fault (exit code 139 / -11)
instead of raising; `import paratime` first (`--paratime`) and a `paratime.MemoryMapWarning`
comes before that point.

    python -X faulthandler benchmarks/xla_map_limit.py [--margin 300] [--paratime]

A real process gets there by keeping thousands of compiled programs alive: each holds a few
maps (3 for `v * i + 1`, about 18 for a program with a QR, a sort and an FFT), and a jitted
function keeps one program per shape or static argument until `jax.clear_caches()`.
"""

import argparse
import ctypes
import ctypes.util

PAGE, PROT_NONE, PROT_READ, MAP_PRIVATE, MAP_ANONYMOUS = 4096, 0, 1, 2, 0x20


def map_count() -> int:
    with open("/proc/self/maps", "rb") as f:
        return f.read().count(b"\n")


def map_limit() -> int:
    with open("/proc/sys/vm/max_map_count") as f:
        return int(f.read())


def fill_maps(leave: int) -> None:
    """Split one anonymous mapping page by page (every other page PROT_NONE) until the
    process holds `vm.max_map_count - leave` maps."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    splits = max(0, (map_limit() - leave - map_count()) // 2)  # each split adds two maps
    base = libc.mmap(None, 2 * (splits + 1) * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    for k in range(splits):
        libc.mprotect(ctypes.c_void_p(base + 2 * k * PAGE), PAGE, PROT_NONE)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--margin", type=int, default=300, help="maps left free before compiling")
    p.add_argument("--paratime", action="store_true", help="import paratime (its warning)")
    args = p.parse_args()
    import jax
    import jax.numpy as jnp

    if args.paratime:
        import paratime  # noqa: F401

    x = jnp.ones((8, 8))
    jax.block_until_ready(jnp.sin(x))
    fill_maps(args.margin)
    print(f"jax {jax.__version__}: {map_count()} maps of vm.max_map_count = {map_limit()}",
          flush=True)  # fmt: skip

    def program(v, i):
        return jnp.sort(jnp.linalg.qr(v * i)[0] @ jnp.cumsum(v, 0)).max() + jnp.fft.fft(v).sum()

    kept = []
    for i in range(1, 1000):
        f = jax.jit(lambda v, i=i: program(v, i))
        f(x).block_until_ready()
        kept.append(f)  # keep the program alive, as a jit cache does
        print(f"program {i}: {map_count()} maps", flush=True)


if __name__ == "__main__":
    main()
