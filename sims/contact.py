"""The docking contact record: quantities at the instant the docking planes meet, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

# contact quantity -> (limit key in [docking.limits], comparison); "abs" compares |value| <= limit
ENVELOPE = (
    ("axial_rate_mps", ("axial_rate_min_mps", "axial_rate_max_mps"), "range"),
    ("lateral_rate_mps", "lateral_rate_max_mps", "max"),
    ("lateral_misalignment_m", "lateral_misalignment_max_m", "max"),
    ("pitch_deg", "pitch_max_deg", "abs"),
    ("yaw_deg", "yaw_max_deg", "abs"),
    ("roll_deg", "roll_max_deg", "abs"),
    ("rates_deg_s", "angular_rate_max_deg_s", "abs_each"),
)


@dataclass(frozen=True)
class DockingContact:
    """Port-to-port state at contact (interpolated inside the minor frame) and the capture verdict.

    Rates are of the chaser port w.r.t. the station port: axial = closing speed along the docking
    axis (+ closing), lateral = speed across it; angles are the 3-2-1 misalignment of the chaser
    w.r.t. the docking attitude; rates_deg_s = body rate w.r.t. the station (LVLH), B axes.
    """

    captured: bool
    time_s: float
    axial_rate_mps: float
    lateral_rate_mps: float
    lateral_misalignment_m: float
    pitch_deg: float
    yaw_deg: float
    roll_deg: float
    rates_deg_s: tuple[float, float, float]
    limits: dict = field(repr=False)
    failed_limits: list[str] = field(default_factory=list)

    @classmethod
    def from_quantities(cls, q, limits) -> DockingContact:
        """Build from the kernel's ``CONTACT`` record ``q`` (``sims.core.contact``) and [docking.limits]."""
        values = {name: float(q[name]) for name, _, _ in ENVELOPE if name != "rates_deg_s"}
        values["rates_deg_s"] = tuple(float(w) for w in q["rates_deg_s"])
        lim = {k: float(limits[k]) for k in limits}
        failed = [name for name, key, how in ENVELOPE if not _ok(values[name], key, how, lim)]
        return cls(captured=not failed, time_s=float(q["time_s"]), limits=lim, failed_limits=failed, **values)

    def as_dict(self) -> dict:
        """Each quantity with its value, its limit and whether it is within it; plus the verdict."""
        out: dict = {"captured": self.captured, "time_s": self.time_s, "failed_limits": list(self.failed_limits)}
        for name, key, how in ENVELOPE:
            value = getattr(self, name)
            limit = [self.limits[k] for k in key] if isinstance(key, tuple) else self.limits[key]
            out[name] = {"value": list(value) if isinstance(value, tuple) else value, "limit": limit,
                         "ok": _ok(value, key, how, self.limits)}
        return out


def _ok(value, key, how, lim) -> bool:
    if how == "range":
        return lim[key[0]] <= value <= lim[key[1]]
    if how == "max":
        return value <= lim[key]
    if how == "abs":
        return abs(value) <= lim[key]
    return all(abs(v) <= lim[key] for v in value)
