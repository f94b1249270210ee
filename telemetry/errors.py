"""The one error type for bad input from outside the program.

A person gives the tools files (scenarios, bench files, archives, keys), options, ports, folders and
addresses. When one of them is wrong, the package that finds out raises a subclass of
:class:`InputError` whose message names the file, key or option and the reason; the ``qz`` command
line reports it as one line on stderr and exits 2 (``ground.cli``), with no traceback.

It lives in ``telemetry`` because that is the one project package every other imports and which
imports none of them.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input from outside (file, key, option, port, folder): the message says which and why."""
