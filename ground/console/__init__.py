"""``qz console``: a web ground console for one running flight software, over its ground link.

The console is a client of the link like ``qz tlm listen`` and ``qz cmd``: it never imports or calls the
flight software. Modules, from the wire up:

- :mod:`ground.console.link`: the link client thread (connect, read, reconnect, report a lost link);
- :mod:`ground.console.state`: decoded packets, histories, events and the overview's derived values;
- :mod:`ground.console.limits` and :mod:`ground.console.config`: yellow/red limits from the flight configuration;
- :mod:`ground.console.commands`: the command desk (checks, ARM + hazardous command, acknowledgements);
- :mod:`ground.console.server`: the aiohttp server, its WebSocket and its security;
- :mod:`ground.console.cli`: the ``qz console`` options; ``static/``: the page (plots by Plotly's bundled JS).
"""
