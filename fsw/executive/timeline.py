"""Worst-frame timeline recorder: the N frames that finished latest, with every task's start and duration.

A frame's badness is the time from its nominal boundary to the end of its last task (start lateness
plus busy time): the frames that came closest to, or went past, the next boundary. Memory is bounded
by ``n_worst`` frames whatever the run length. Times are relative to the frame's nominal boundary, so
one picture shows lateness and execution together.
"""

from __future__ import annotations

import csv
import heapq
import json
from pathlib import Path

from fsw.executive import defaults


class FrameTimeline:
    """Keeps the ``n_worst`` worst frames.

    Parameters
    ----------
    task_names : sequence of str
        Names by task index.
    n_worst : int
        Frames kept.
    """

    def __init__(self, task_names, n_worst: int = defaults.TIMELINE_WORST_FRAMES):
        if n_worst < 1:
            raise ValueError(f"FrameTimeline: n_worst must be >= 1, got {n_worst}")
        self.task_names = tuple(task_names)
        self.n_worst = int(n_worst)
        # Min-heap on (end_ns, frame): the least bad kept frame is on top, ready to be replaced.
        self._heap: list[tuple[int, int, dict]] = []

    def threshold_ns(self) -> int:
        """[ns] a frame must end later than this after its boundary to be kept (-1 while not full)."""
        return self._heap[0][0] if len(self._heap) >= self.n_worst else -1

    def offer(self, frame: int, t_ns: int, lateness_ns: int, end_ns: int, spans) -> None:
        """Consider one frame.

        Parameters
        ----------
        frame : int
            Frame index.
        t_ns : int
            [ns] nominal mission time of the frame.
        lateness_ns : int
            [ns] start lateness.
        end_ns : int
            [ns] end of the last task after the nominal boundary.
        spans : sequence of (task index, start ns after the boundary, duration ns)
        """
        if end_ns <= self.threshold_ns():
            return
        record = {"frame": frame, "t_ns": t_ns, "lateness_ns": lateness_ns, "end_ns": end_ns,
                  "tasks": [{"task": self.task_names[i], "start_ns": start, "duration_ns": dur}
                            for i, start, dur in spans]}
        item = (end_ns, frame, record)
        if len(self._heap) < self.n_worst:
            heapq.heappush(self._heap, item)
        else:
            heapq.heapreplace(self._heap, item)

    def frames(self) -> list[dict]:
        """Kept frames, worst first (JSON-serialisable)."""
        return [rec for _, _, rec in sorted(self._heap, key=lambda item: (-item[0], item[1]))]

    def write(self, path) -> Path:
        """Write the kept frames to ``path``: JSON if it ends in ``.json``, else CSV (a row per task span)."""
        path = Path(path)
        frames = self.frames()
        if path.suffix.lower() == ".json":
            path.write_text(json.dumps(frames, indent=1))
            return path
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["frame", "t_ns", "lateness_ns", "end_ns", "task", "start_ns", "duration_ns"])
            for rec in frames:
                head = [rec["frame"], rec["t_ns"], rec["lateness_ns"], rec["end_ns"]]
                if not rec["tasks"]:
                    w.writerow(head + ["", "", ""])
                for span in rec["tasks"]:
                    w.writerow(head + [span["task"], span["start_ns"], span["duration_ns"]])
        return path
