"""The ground link's logic, pure and free of I/O: per-client bounded queues and uplink authentication.

The transports (sockets, serial ports) live in ``hal.ground_link``; the app that serves them once per
cycle is ``fsw.apps.ground_link``.
"""
