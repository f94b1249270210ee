"""HOST:PORT and loopback checks shared by the flight's ground link and the console."""

from __future__ import annotations

import pytest

from telemetry.addresses import host_port, is_loopback
from telemetry.errors import InputError


class OptionError(InputError):
    pass


def test_host_port_reads_an_ipv6_address_in_brackets():
    assert host_port("[::1]:7000", "--link") == ("::1", 7000)


def test_host_port_raises_the_callers_error_naming_the_option():
    with pytest.raises(OptionError, match="--http 'localhost:http': the port must be a number"):
        host_port("localhost:http", "--http", OptionError)


def test_host_port_refuses_a_missing_port():
    with pytest.raises(InputError, match="--link 'localhost': expected HOST:PORT"):
        host_port("localhost", "--link")


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
                                            ("10.0.0.5", False)])
def test_is_loopback_knows_loopback_addresses_including_ipv4_mapped(host, loopback):
    assert is_loopback(host) is loopback
