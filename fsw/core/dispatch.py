"""Calling a kernel with bound arguments without numba's per-call dispatch.

An app calls its step kernel with the same arrays and records every step. numba's dispatcher
types every argument on every call (``typeof``, ~0.05-0.1 us per array, more for record
arrays) and looks up the overload; for a 20-argument kernel that is about half of the call.
:func:`compiled_entry` compiles (or loads from the cache) the overload for the types of one
sample call and returns its compiled entry point, which unboxes the arguments and runs the
machine code without either step. (sims/core/frame.py has the same helper for the truth: the
package boundaries keep sims/core and fsw/core apart.)
"""

from __future__ import annotations

from numba import typeof


def compiled_entry(kernel, *args):
    """The compiled entry point of numba ``kernel`` for the types of ``args``, else ``kernel`` itself.

    The entry point checks no argument type: call it only with arguments of exactly the types of
    ``args`` (the same arrays, and scalars of the same kind: Python int for an int, float for a
    float). Falls back to the dispatcher when numba lacks these internals.
    """
    sig = tuple(typeof(a) for a in args)
    try:
        kernel.compile(sig)  # loads the cached machine code, or compiles
        return kernel.overloads[sig].entry_point
    except (AttributeError, KeyError, TypeError):
        return kernel
