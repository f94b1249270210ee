"""Calling a kernel with bound arguments without numba's per-call dispatch.

An app calls its step kernel with the same records and arrays every step. numba's dispatcher
types every argument on every call (``typeof``, ~0.05-0.1 us per array, more for record
arrays) and looks up the overload; for a kernel of many arguments that is about half of the call.
:func:`bind` compiles (or loads from the cache) the overload for the types of the app's own
records and arrays, checked once there, and returns the compiled entry point with those records
bound in front: each step then passes only its scalars (the mission time, a flag). The records
cannot be swapped or passed in the wrong order later, because the app never passes them again.

The entry point is a numba internal (``Dispatcher.overloads[sig].entry_point``; numba is pinned to
the range it was tested with in pyproject.toml). When it is missing, :func:`compiled_entry` falls
back to the dispatcher, which computes the same results more slowly, and records the kernel in
:data:`FAST_PATH_LOST`; a test fails on any entry there. (sims/core has the same helper
for the truth: the package boundaries keep sims/core and fsw/core apart.)
"""

from __future__ import annotations

import functools
import warnings

from numba import typeof

#: Kernels for which numba's compiled entry point could not be had (name: reason); empty when all is well.
FAST_PATH_LOST: dict[str, str] = {}


def compiled_entry(kernel, *args):
    """The compiled entry point of numba ``kernel`` for the types of ``args``, else ``kernel`` itself.

    The entry point checks no argument type: call it only with arguments of exactly the types of
    ``args`` (the same arrays, and scalars of the same kind: Python int for an int, float for a
    float); :func:`bind` makes that hold by construction. Falls back to the dispatcher, with a
    warning and an entry in :data:`FAST_PATH_LOST`, when numba lacks these internals.
    """
    sig = tuple(typeof(a) for a in args)
    try:
        kernel.compile(sig)  # loads the cached machine code, or compiles
        return kernel.overloads[sig].entry_point
    except (AttributeError, KeyError, TypeError) as err:
        name = getattr(kernel, "__name__", repr(kernel))
        FAST_PATH_LOST[name] = f"{type(err).__name__}: {err}"
        warnings.warn(f"{name}: numba's compiled entry point is not available ({err}); using the dispatcher",
                      RuntimeWarning, stacklevel=2)
        return kernel


def bind(kernel, *bound, sample=()):
    """``kernel``'s compiled entry point with its records and arrays ``bound`` in front.

    ``sample`` are example values of the trailing per-call arguments (``(0,)`` for a mission time in
    ns): the types of ``bound`` and ``sample`` pick the overload, once, here. The result is called
    with the trailing arguments only, of the same kinds as ``sample``.
    """
    return functools.partial(compiled_entry(kernel, *bound, *sample), *bound)
