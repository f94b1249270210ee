from __future__ import annotations

import pytest

from fsw.app import Bus
from fsw.apps.commanding import CommandDispatcher, CommandRejected
from telemetry.codec import tc_codec, tm_codec
from telemetry.dictionary import REJECT_REASONS

REASON = {name: code for code, name in REJECT_REASONS.items()}
ACCEPTED, REJECTED, COMPLETED = 1, 2, 3
CFG = {"arm_window_s": 10.0, "uplink_queue_max": 8, "time_tag_queue_max": 4}
S = 1_000_000_000


class CapturingDownlink:
    def __init__(self):
        self.acks = []

    def send_values(self, name, t_ns, values):
        assert name == "CMD_ACK"
        self.acks.append(tuple(values))


@pytest.fixture
def dispatcher(events):
    return CommandDispatcher("commanding", Bus(), events, CapturingDownlink(), CFG)


def statuses(d):
    return [(a[3], a[4]) for a in d.downlink.acks]


def test_valid_command_is_accepted_then_completed(dispatcher):
    dispatcher.uplink(tc_codec("NOOP").pack(7))
    dispatcher.step(0)
    assert statuses(dispatcher) == [(ACCEPTED, 0), (COMPLETED, 0)]
    assert dispatcher.downlink.acks[0][2] == 7  # the ack names the command's sequence count


def test_corrupted_checksum_is_rejected_and_counted(dispatcher):
    pkt = bytearray(tc_codec("NOOP").pack(1))
    pkt[-1] ^= 0x01
    dispatcher.uplink(bytes(pkt))
    dispatcher.step(0)
    assert statuses(dispatcher) == [(REJECTED, REASON["BAD_CHECKSUM"])]
    assert dispatcher.rejected == 1 and dispatcher.rejected_by_reason == {"BAD_CHECKSUM": 1}


def test_garbage_bytes_never_raise(dispatcher):
    for junk in (b"", b"\x00", b"\xff" * 3, bytes(range(40))):
        dispatcher.uplink(junk)
    dispatcher.step(0)
    assert dispatcher.rejected == 4
    assert all(a[3] == REJECTED for a in dispatcher.downlink.acks)


def test_hazardous_command_without_arm_is_rejected(dispatcher):
    fired = []
    dispatcher.register("ABORT", lambda args, t: fired.append(t))
    dispatcher.uplink(tc_codec("ABORT").pack(1))
    dispatcher.step(0)
    assert fired == [] and statuses(dispatcher) == [(REJECTED, REASON["NOT_ARMED"])]


def test_hazardous_command_after_arm_within_window_executes(dispatcher):
    fired = []
    dispatcher.register("ABORT", lambda args, t: fired.append(t))
    dispatcher.uplink(tc_codec("ARM").pack(1, target_fc=7))
    dispatcher.step(0)
    dispatcher.uplink(tc_codec("ABORT").pack(2))
    dispatcher.step(5 * S)
    assert fired == [5 * S]


def test_arm_expires_after_the_window(dispatcher):
    fired = []
    dispatcher.register("ABORT", lambda args, t: fired.append(t))
    dispatcher.uplink(tc_codec("ARM").pack(1, target_fc=7))
    dispatcher.step(0)
    dispatcher.uplink(tc_codec("ABORT").pack(2))
    dispatcher.step(11 * S)
    assert fired == [] and statuses(dispatcher)[-1] == (REJECTED, REASON["NOT_ARMED"])


def test_arm_of_a_non_hazardous_code_is_rejected(dispatcher):
    dispatcher.uplink(tc_codec("ARM").pack(1, target_fc=0))
    dispatcher.step(0)
    assert statuses(dispatcher)[-1] == (REJECTED, REASON["ARG_OUT_OF_RANGE"])
    assert dispatcher.armed_fc == 255


def test_time_tagged_command_waits_for_its_time(dispatcher):
    done = []
    dispatcher.register("APPROACH_HOLD", lambda args, t: done.append(t))
    inner = tc_codec("APPROACH_HOLD").pack(3)
    dispatcher.uplink(tc_codec("TIME_TAG").pack(
        4, exec_time_s=2.0, packet_len=len(inner), packet=list(inner) + [0] * (64 - len(inner))))
    dispatcher.step(0)
    assert done == [] and dispatcher.tt_queue_depth == 1
    dispatcher.step(2 * S)
    assert done == [2 * S] and dispatcher.tt_queue_depth == 0


def test_handler_refusal_is_acknowledged_with_its_reason(dispatcher):
    def refuse(args, t):
        raise CommandRejected("ILLEGAL_IN_MODE", "not now")

    dispatcher.register("APPROACH_RESUME", refuse)
    dispatcher.uplink(tc_codec("APPROACH_RESUME").pack(1))
    dispatcher.step(0)
    assert statuses(dispatcher) == [(ACCEPTED, 0), (REJECTED, REASON["ILLEGAL_IN_MODE"])]


def test_handler_exception_does_not_escape(dispatcher):
    dispatcher.register("APPROACH_RESUME", lambda args, t: 1 / 0)
    dispatcher.uplink(tc_codec("APPROACH_RESUME").pack(1))
    dispatcher.step(0)
    assert statuses(dispatcher)[-1] == (REJECTED, REASON["EXECUTION_FAILED"])


def test_command_nobody_handles_is_rejected_as_unknown_function(dispatcher):
    dispatcher.uplink(tc_codec("FDIR_ENABLE").pack(1, actionpoint=0, enable=1))
    dispatcher.step(0)
    assert statuses(dispatcher) == [(REJECTED, REASON["UNKNOWN_FUNCTION"])]


def test_uplink_overflow_is_rejected_as_queue_full(dispatcher):
    for i in range(CFG["uplink_queue_max"] + 1):
        dispatcher.uplink(tc_codec("NOOP").pack(i))
    assert statuses(dispatcher) == [(REJECTED, REASON["QUEUE_FULL"])]


def test_ack_packets_encode_with_the_dictionary_codec(dispatcher):
    """What the dispatcher hands the downlink is a valid CMD_ACK payload."""
    dispatcher.uplink(tc_codec("NOOP").pack(1))
    dispatcher.step(0)
    codec = tm_codec("CMD_ACK")
    for ack in dispatcher.downlink.acks:
        assert codec.unpack(codec.pack(0, 0, ack))[2] == ack


def _ack_counts(d) -> tuple[int, int, int]:
    acks = [a[3] for a in d.downlink.acks]
    return acks.count(ACCEPTED), acks.count(REJECTED), acks.count(COMPLETED)


def test_counters_are_the_acknowledgements_sent(dispatcher):
    def refuse(args, t):
        raise CommandRejected("ILLEGAL_IN_MODE", "not now")

    def broken(args, t):
        raise ZeroDivisionError("bug")

    dispatcher.register("APPROACH_HOLD", refuse)       # ACCEPTED, then REJECTED by its handler
    dispatcher.register("APPROACH_RESUME", broken)     # ACCEPTED, then REJECTED (EXECUTION_FAILED)
    bad = bytearray(tc_codec("NOOP").pack(4))
    bad[-1] ^= 1
    for pkt in (tc_codec("NOOP").pack(1), tc_codec("APPROACH_HOLD").pack(2), tc_codec("APPROACH_RESUME").pack(3),
                bytes(bad), tc_codec("ABORT").pack(5)):
        dispatcher.uplink(pkt)
    dispatcher.step(0)
    assert (dispatcher.accepted, dispatcher.rejected, dispatcher.completed) == _ack_counts(dispatcher) == (3, 4, 1)
    assert sum(dispatcher.rejected_by_reason.values()) == dispatcher.rejected


def test_reset_counters_zeroes_them_after_its_own_acknowledgement(dispatcher):
    dispatcher.uplink(tc_codec("NOOP").pack(1))
    dispatcher.uplink(b"\x00")
    dispatcher.uplink(tc_codec("RESET_COUNTERS").pack(2))
    dispatcher.step(0)
    assert statuses(dispatcher)[-1] == (COMPLETED, 0)
    assert (dispatcher.accepted, dispatcher.rejected, dispatcher.completed) == (0, 0, 0)
    assert dispatcher.rejected_by_reason == {}
    dispatcher.uplink(tc_codec("NOOP").pack(3))
    dispatcher.step(1)
    assert (dispatcher.accepted, dispatcher.rejected, dispatcher.completed) == (1, 0, 1)


def test_rejection_event_keeps_its_whole_text(dispatcher):
    def refuse(args, t):
        raise CommandRejected("ILLEGAL_IN_MODE", "x" * 100)

    dispatcher.register("APPROACH_HOLD", refuse)
    dispatcher.uplink(tc_codec("APPROACH_HOLD").pack(1))
    dispatcher.step(0)
    text = dispatcher.events.emitted[-1][3]
    assert text.endswith("x" * 100)  # the EVENT packet cuts it (fsw.executive.events.packet_text), not the app
