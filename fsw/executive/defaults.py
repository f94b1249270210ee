"""Default numbers of the cyclic executive, in one place.

Every value here is a default that a schedule table file (``[executive]`` table, see
:func:`fsw.executive.schedule.load_schedule_table`) or a constructor argument can override.
Sources: docs/reference.md "Flight-software timing"; ``[est]`` marks an engineering estimate.
"""

#: [ns] minor frame, 10 ms = 100 Hz, as cFS SCH (docs/reference.md).
MINOR_FRAME_NS = 10_000_000
#: [ns] major frame, 1 s = 100 slots, as cFS SCH (docs/reference.md).
MAJOR_FRAME_NS = 1_000_000_000
#: [-] budgets due in one slot may use at most this fraction of the minor frame
#: (GSFC Table 3.07-1: <= 50 % at design reviews, <= 30 % at flight).
CPU_FRACTION = 0.5
#: [slots] most slots processed in one late wake-up before skipping ahead (cFS SCH_MAX_SLOTS_PER_WAKEUP).
MAX_CATCH_UP_SLOTS = 5
#: [ns] WallClock sleeps until this long before a boundary, then spins [est]: Linux sleep overshoot
#: is typically 50-100 us, so 0.5 ms of spin makes the boundary without burning a core.
SPIN_NS = 500_000

#: [ns] on a simulated clock (software in the loop, faster than real time), a task whose call overran on the wall
#: clock has its calls timed on the thread's CPU clock too for this long of mission time after its last wall-clock
#: overrun, and only CPU time over the budget counts [est]: long beside a storm's 3 s, short beside a mission.
OVERRUN_VERIFY_NS = 10_000_000_000

#: [bits] log-linear histogram resolution: 2**HIST_SUB_BITS sub-bins per power of two, so a reported
#: percentile is within 2**-(HIST_SUB_BITS + 1) = 3.1 % of the true sample value.
HIST_SUB_BITS = 4

#: [frames] frames kept by the worst-frame timeline recorder [est].
TIMELINE_WORST_FRAMES = 20

#: Event throttling [est]: per (event id, source), the first EVENT_THROTTLE_AFTER events of a window
#: pass, then only every EVENT_THROTTLE_EVERY-th; the window restarts EVENT_THROTTLE_WINDOW_NS after it began.
EVENT_THROTTLE_AFTER = 5
EVENT_THROTTLE_EVERY = 100
EVENT_THROTTLE_WINDOW_NS = 60_000_000_000
