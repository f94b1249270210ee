"""Progress of numba's compilation on a first run, instead of a silent wait.

The project's kernels are compiled once and cached (``@njit(cache=True)``, ``NUMBA_CACHE_DIR``). On a
fresh machine the first run compiles them all (about 40 s on the 2-core development machine); later
runs load them from the cache in well under a second. :class:`CompileProgress` listens to numba's
``numba:compile`` event, which fires only for a real compilation (a cache hit fires nothing): at the
first one it says what is happening and shows a bar of the project's kernels that are ready (compiled
or loaded), with the name of the kernel being compiled.

The total is the number of numba functions defined in the project's imported modules. A few of them
serve paths a run takes later (a collision-avoidance manoeuvre, a docking-camera update); they are
compiled when first used, so the bar is closed at 100 % when the warm-up that uses it ends.
"""

from __future__ import annotations

import os
import sys
import time

from numba.core import event
from numba.core.dispatcher import Dispatcher
from tqdm import tqdm

PACKAGES = ("fsw", "hal", "sims", "telemetry")


def project_kernels() -> list[Dispatcher]:
    """numba functions defined in the project's imported modules (each once)."""
    seen: dict[int, Dispatcher] = {}
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and getattr(value.py_func, "__module__", "") == name:
                seen.setdefault(id(value), value)
    return list(seen.values())


class CompileProgress(event.Listener):
    """Context manager: while it is active, numba compilations are shown as a progress bar on stderr."""

    def __init__(self, enabled: bool = True, file=None):
        self.enabled = enabled
        self.file = file if file is not None else sys.stderr
        self.compiled = 0           # compilations seen (a kernel per signature, callees included)
        self.bar: tqdm | None = None
        self._kernels: list[Dispatcher] = []
        self._t0 = 0.0

    # numba's listener interface: called in the compiling thread, around each compilation
    def on_start(self, ev) -> None:
        if self.bar is None:
            self._open()
        disp = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
        if disp is not None and self.bar is not None:
            self.bar.set_postfix_str(getattr(disp.py_func, "__qualname__", "?"), refresh=False)
            self._update()

    def on_end(self, ev) -> None:
        self.compiled += 1
        self._update()

    def _open(self) -> None:
        self._kernels = project_kernels()
        cache = os.environ.get("NUMBA_CACHE_DIR") or "__pycache__ folders"
        print(f"compiling the numba kernels: first run only, about 40 s; they are cached in {cache}",
              file=self.file, flush=True)
        self.bar = tqdm(total=len(self._kernels), desc="numba kernels", unit="kernel", file=self.file,
                        mininterval=0.25, disable=not self.enabled)

    def _update(self) -> None:
        if self.bar is not None:
            ready = sum(1 for k in self._kernels if k.overloads)
            self.bar.update(ready - self.bar.n)

    def __enter__(self) -> CompileProgress:
        self._t0 = time.perf_counter()
        if self.enabled:
            event.register("numba:compile", self)
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled:
            event.unregister("numba:compile", self)
        if self.bar is not None:
            if exc[0] is None:
                self.bar.update(self.bar.total - self.bar.n)
                self.bar.set_postfix_str(f"{self.compiled} compiled in {time.perf_counter() - self._t0:.0f} s")
            self.bar.close()
