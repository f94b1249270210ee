"""The compiled entry point of a truth kernel: numba's dispatch done once, when the truth binds its arrays.

numba's dispatcher types every argument on every call (``typeof``: ~0.1 us per array, more for a
record array or a StructRef) and then looks the overload up. The truth calls its kernels with the
same arrays for a whole run, so :func:`compiled_entry` does both once: it types the arrays, has
numba compile (or load from its cache) the overload for exactly those types, which fails there if
they are not what the kernel reads, and returns the overload's machine-code entry point. That
entry point checks nothing afterwards: call it only with the very objects it was made for (and
trailing scalars of the same kind), as ``sims.truth.Truth`` does.

The entry point is a numba internal (``Dispatcher.overloads[sig].entry_point``; numba is pinned in
pyproject.toml). Where it is missing, :func:`compiled_entry` falls back to the dispatcher (the
same results, slower) and records the kernel in :data:`FAST_PATH_LOST`, which a test requires to
stay empty. fsw/dispatch.py is the flight software's counterpart (the package boundaries
keep the two apart).
"""

from __future__ import annotations

from numba import typeof

#: Kernels whose compiled entry point could not be had (name: reason); empty when the fast path holds.
FAST_PATH_LOST: dict[str, str] = {}


def compiled_entry(kernel, *args):
    """The compiled entry point of numba ``kernel`` for the types of ``args``, else ``kernel`` itself."""
    sig = tuple(typeof(a) for a in args)
    try:
        kernel.compile(sig)  # types the kernel for these arguments: loads the cached machine code, or compiles
        return kernel.overloads[sig].entry_point
    except (AttributeError, KeyError) as err:  # a numba without these internals: dispatch as usual
        FAST_PATH_LOST[getattr(kernel, "__name__", repr(kernel))] = f"{type(err).__name__}: {err}"
        return kernel
