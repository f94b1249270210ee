"""A campaign's files a person reads: cases.csv/parquet, summary.json/md, plots and index.html."""

from __future__ import annotations

import csv
import json
import logging
import shlex
from pathlib import Path

import numpy as np

from ground.campaign.common import CONTACT_COLUMNS, INDEX_FILE, META_FILE, PERCENTILES, SIGMA_K, is_timing
from ground.campaign.store import read_rows
from ground.campaign.summary import case_outcome, summarise

log = logging.getLogger(__name__)


def _columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    seen = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    # timing and dispersion draws last, so the outcome columns read first
    return sorted(cols, key=lambda c: (c.startswith("disp."), is_timing(c), cols.index(c)))


def write_tables(out: Path, rows: list[dict]) -> list[Path]:
    """``cases.csv`` (floats as repr, so they read back exactly) and ``cases.parquet`` when pyarrow is there."""
    cols = _columns(rows)
    written = [out / "cases.csv"]
    with open(written[0], "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for r in rows:
            w.writerow(["" if r.get(c) is None else repr(r[c]) if isinstance(r[c], float) else r[c] for c in cols])
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        log.info("pyarrow not installed: cases.parquet not written")
        return written
    table = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows])
    pq.write_table(table, out / "cases.parquet")
    written.append(out / "cases.parquet")
    return written


def fmt(v, spec=".4g") -> str:
    return "-" if v is None else format(v, spec)


def contact_rows(s: dict, no: str = "NO") -> list[tuple[str, ...]]:
    """One row of text per contact quantity: name, n, mean, 3 sigma, mean -/+ 3 sigma, min, max, limit, and
    whether 3 sigma is within the limit and within the design target (``no`` when not)."""
    yes = {True: "yes", False: no, None: "-"}
    out = []
    for name, q in s["contact_quantities"].items():
        lim = q["limit"]
        lim_s = f"{lim[0]:g} .. {lim[1]:g}" if isinstance(lim, list) else f"abs <= {lim:g}" \
            if CONTACT_COLUMNS[name][1] == "abs" else f"<= {lim:g}"
        std3 = None if q.get("std") is None else SIGMA_K * q["std"]
        out.append((name, str(q["n"]), fmt(q.get("mean")), fmt(std3), fmt(q.get("mean_minus_3sigma")),
                    fmt(q.get("mean_plus_3sigma")), fmt(q.get("min")), fmt(q.get("max")), lim_s,
                    yes[q.get("within_limit_3sigma")], yes[q.get("within_design_3sigma")]))
    return out


def summary_markdown(s: dict) -> str:
    lo, hi = s["capture_rate_wilson95"]
    rate = s["capture_rate"]
    lines = [f"# Monte Carlo campaign: {s['scenario']} (seed {s['campaign_seed']})", "",
             f"- cases: {s['cases']}, captured: {s['captured']} "
             f"({fmt(None if rate is None else 100 * rate, '.2f')} %, Wilson 95 %: {100 * lo:.2f} - {100 * hi:.2f} %)",
             f"- contacts: {s['contacts']}, aborted (CAM): {s['aborted']} (re-entered the keep-out sphere after "
             f"the CAM: {s['cam_reentered_kos']}), errors: {s['errors']}",
             f"- stop reasons: {s['stop_reasons']}",
             f"- CAM triggers: {s['cam_triggers']}",
             f"- failed limits: {s['failed_limits'] or 'none'}",
             f"- design target: {s['design_target']}", "",
             "| quantity | n | mean | 3-sigma | mean - 3 sigma | mean + 3 sigma | min | max | limit | 3-sigma within "
             "limit | within design |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
    for row in contact_rows(s, no="**NO**"):
        lines.append("| " + " | ".join(row) + " |")
    p = s["propellant_used_kg"]
    if p.get("n"):
        lines += ["", f"Propellant used: mean {p['mean']:.3f} kg, 3-sigma {SIGMA_K * p['std']:.3f} kg, "
                      f"max {p['max']:.3f} kg."]
    if s["mission_time_s"]:
        lines.append(f"Mission time: mean {s['mission_time_s']['mean']:.0f} s, max {s['mission_time_s']['max']:.0f} s.")
    ttd = s.get("time_to_docking_s") or {}
    if ttd.get("n"):
        lines.append(f"Time to docking (mission time at capture, {ttd['n']} cases): "
                     + ", ".join(f"{k} {ttd[k]:.0f} s" for k in ("min", *(f"p{q:g}" for q in PERCENTILES), "max"))
                     + ".")
    bad = s.get("not_docked") or []
    if bad:
        lines += ["", f"## The {len(bad)} case(s) that did not dock", "", "| case | seed | outcome | reason |",
                  "| ---: | ---: | --- | --- |"]
        lines += [f"| {b['case']} | {b['seed']} | {b['outcome']} | {b['reason']} |" for b in bad]
    return "\n".join(lines) + "\n"


def column_label(col: str) -> str:
    """Axis label of a row column: its name with the unit its suffix gives (``axial_rate_mps`` -> ``[m/s]``)."""
    for suffix, unit in (("_deg_s", "deg/s"), ("_mps", "m/s"), ("_deg", "deg"), ("_kg", "kg"), ("_m", "m"),
                         ("_s", "s")):
        if col.endswith(suffix):
            return f"{col.removesuffix(suffix).replace('_', ' ')} [{unit}]"
    return col.replace("_", " ")


def plot_campaign(out: Path, rows: list[dict], limits, summary: dict) -> list[Path]:
    """``plots/contact_scatter.png`` (contact pairs against the envelope), ``plots/histograms.png`` and
    ``plots/time_to_docking.png``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    contact = [r for r in rows if r.get("contact")]
    ok = [r for r in contact if r.get("captured")]
    bad = [r for r in contact if not r.get("captured")]

    def col(rs, c):
        return np.array([r[c] for r in rs], float)

    def max_rate(rs):
        return np.array([max(abs(r["rate_x_deg_s"]), abs(r["rate_y_deg_s"]), abs(r["rate_z_deg_s"])) for r in rs])

    L = {k: float(limits[k]) for k in limits}
    pairs = [  # (x column or fn, y column or fn, x label, y label, envelope box (x0, x1, y0, y1))
        ("axial_rate_mps", "lateral_rate_mps", "axial closing rate [m/s]", "lateral rate [m/s]",
         (L["axial_rate_min_mps"], L["axial_rate_max_mps"], 0.0, L["lateral_rate_max_mps"])),
        ("lateral_misalignment_m", "lateral_rate_mps", "lateral misalignment [m]", "lateral rate [m/s]",
         (0.0, L["lateral_misalignment_max_m"], 0.0, L["lateral_rate_max_mps"])),
        ("yaw_deg", "pitch_deg", "yaw [deg]", "pitch [deg]",
         (-L["yaw_max_deg"], L["yaw_max_deg"], -L["pitch_max_deg"], L["pitch_max_deg"])),
        ("roll_deg", max_rate, "roll [deg]", "largest body rate [deg/s]",
         (-L["roll_max_deg"], L["roll_max_deg"], 0.0, L["angular_rate_max_deg_s"])),
    ]
    fig = Figure(figsize=(11, 9), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, (cx, cy, lx, ly, box) in zip(axes.flat, pairs, strict=True):
        x0, x1, y0, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=True, color="C2", alpha=0.12, lw=0))
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="C2", lw=1.5, label="envelope"))
        for rs, style, label in ((ok, dict(marker="o", color="C0", s=10, alpha=0.6), "captured"),
                                 (bad, dict(marker="x", color="C3", s=30), "not captured")):
            if rs:
                xs = col(rs, cx) if isinstance(cx, str) else cx(rs)
                ys = col(rs, cy) if isinstance(cy, str) else cy(rs)
                ax.scatter(xs, ys, label=f"{label} ({len(rs)})", **style)
        ax.set_xlabel(lx)
        ax.set_ylabel(ly)
        pad_x, pad_y = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
        ax.set_xlim(x0 - pad_x, x1 + pad_x)
        ax.set_ylim(y0 - (pad_y if y0 < 0 else 0.03 * (y1 - y0)), y1 + pad_y)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    rate = summary["capture_rate"]
    lo, hi = summary["capture_rate_wilson95"]
    fig.suptitle(f"{summary['scenario']}: {summary['cases']} cases ({summary['contacts']} with contact), capture "
                 f"{'-' if rate is None else f'{100 * rate:.1f}'} % (95 % CI {100 * lo:.1f}-{100 * hi:.1f} %)")
    paths = [plots / "contact_scatter.png"]
    fig.savefig(paths[0], dpi=90)

    cols = list(CONTACT_COLUMNS) + ["propellant_used_kg", "mission_time_s"]
    fig = Figure(figsize=(13, 10), layout="constrained")
    axes = fig.subplots(4, 3)
    for ax, c in zip(axes.flat, cols, strict=False):
        vals = np.array([r[c] for r in (contact if c in CONTACT_COLUMNS else rows) if r.get(c) is not None], float)
        q = summary["contact_quantities"].get(c)
        if len(vals):
            span = [float(vals.min()), float(vals.max())]
            if q and q.get("n"):  # bins across the whole envelope, so the spread reads against the limits
                lim = np.atleast_1d(q["limit"]).astype(float)
                lim = np.concatenate((lim, -lim)) if CONTACT_COLUMNS[c][1] == "abs" else np.append(lim, 0.0)
                span = [min(span[0], float(lim.min())), max(span[1], float(lim.max()))]
            if span[1] <= span[0]:
                span = [span[0] - 0.5, span[1] + 0.5]
            ax.hist(vals, bins=60, range=tuple(span), color="C0", alpha=0.85)
        if q and q.get("n"):
            lim = q["limit"]
            for v in (lim if isinstance(lim, list) else
                      ([-lim, lim] if CONTACT_COLUMNS[c][1] == "abs" else [lim])):
                ax.axvline(v, color="C3", lw=1.5)
            ax.axvline(q["mean_minus_3sigma"], color="k", ls="--", lw=1)
            ax.axvline(q["mean_plus_3sigma"], color="k", ls="--", lw=1)
        ax.set_xlabel(column_label(c), fontsize=8)
        ax.set_ylabel("cases per bin", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(cols):]:
        ax.set_visible(False)
    fig.suptitle("contact quantities of the cases with contact (red: limits, dashed: mean +- 3 sigma), "
                 "propellant and mission time of every case", fontsize=10)
    paths.append(plots / "histograms.png")
    fig.savefig(paths[1], dpi=90)
    paths.append(plots / "time_to_docking.png")
    time_to_docking_figure(rows, summary).savefig(paths[2], dpi=90)
    return paths


def time_to_docking_figure(rows: list[dict], summary: dict):
    """Histogram of the mission time at capture of the docked cases, with its percentiles."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    t = np.array([r["contact_time_s"] for r in rows if r.get("captured") and r.get("contact_time_s") is not None])
    ttd = summary.get("time_to_docking_s") or {}
    if len(t):
        ax.hist(t, bins=min(60, max(10, len(t) // 10)), color="C0", alpha=0.85, label=f"docked cases ({len(t)})")
        for q, ls in zip(PERCENTILES, (":", "--", "-", "--", ":"), strict=False):
            v = ttd.get(f"p{q:g}")
            if v is not None:
                ax.axvline(v, color="C3", ls=ls, lw=1.2, label=f"p{q:g} {v:.0f} s", gid=f"p{q:g}")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.text(0.5, 0.5, "no case docked", ha="center", transform=ax.transAxes)
    ax.set_xlabel("time to docking: mission time at capture [s]")
    ax.set_ylabel("cases per bin")
    ax.grid(alpha=0.3)
    n = summary.get("cases", 0)
    ax.set_title(f"{summary.get('scenario')}: time to docking of the {len(t)} docked cases of {n}")
    return fig


def write_outputs(out: Path, sc, runs: int | None = None) -> dict:
    """Tables, summary (JSON and Markdown) and plots of the rows in ``OUT/cases.jsonl``."""
    meta = json.loads((out / META_FILE).read_text())
    stored = read_rows(out)
    rows = [stored[c] for c in sorted(stored) if runs is None or c < runs]
    summary = summarise(rows, sc.docking.limits, meta)
    if rows:
        write_tables(out, rows)
        plot_campaign(out, rows, sc.docking.limits, summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary))
    write_index(out, rows, summary)
    return summary


def rerun_command(out: Path, case: int) -> str:
    """The command that flies case ``case`` of the campaign in ``out`` again (from where the campaign was run)."""
    return f"qz mc --out {shlex.quote(str(out))} --rerun {int(case)}"


def write_index(out: Path, rows: list[dict] | None = None, summary: dict | None = None) -> Path:
    """``OUT/index.html``: capture rate, the cases that did not dock and why, time to docking, the contact
    statistics, the plots and the table of every case with the command that reruns it."""
    import html

    from ground.report import CSS

    out = Path(out)
    if rows is None:
        stored = read_rows(out)
        rows = [stored[c] for c in sorted(stored)]
    if summary is None:
        summary = json.loads((out / "summary.json").read_text())
    esc = html.escape

    def table(header, body, classes=None):
        head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
        trs = []
        for i, r in enumerate(body):
            cls = f" class='{classes[i]}'" if classes and classes[i] else ""
            trs.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table>"

    def rerun_cell(case):
        report = out / "rerun" / f"case-{case:05d}" / "report.html"
        link = f" (<a href='rerun/case-{case:05d}/report.html'>report</a>)" if report.is_file() else ""
        return f"<code>{esc(rerun_command(out, case))}</code>{link}"

    s = summary
    rate = s.get("capture_rate")
    lo, hi = s["capture_rate_wilson95"]
    title = f"Monte Carlo campaign: {s['scenario']} (campaign seed {s['campaign_seed']})"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{CSS}</style>"
             f"</head><body><h1>{esc(title)}</h1>",
             f"<p class='{'ok' if rate == 1.0 else 'bad'}'><b>Capture {s['captured']} of {s['cases']}"
             f" ({fmt(None if rate is None else 100 * rate, '.2f')} %), Wilson 95 % interval "
             f"{100 * lo:.2f} - {100 * hi:.2f} %</b>; contacts {s['contacts']}, CAM {s['aborted']} (re-entered the "
             f"keep-out sphere after the CAM: {s['cam_reentered_kos']}), errors {s['errors']}.</p>",
             "<p>Outcomes: " + esc(", ".join(f"{k} {v}" for k, v in (s.get("outcomes") or {}).items())) + ". "
             f"Files: <a href='summary.md'>summary.md</a>, <a href='summary.json'>summary.json</a>, "
             f"<a href='cases.csv'>cases.csv</a>. A rerun command flies one case again as a normal run folder "
             f"(archive, events, report) under <code>{esc(str(out))}/rerun/</code>"
             + (", from the folder the campaign was started in" if not out.is_absolute() else "") + ".</p>",
             "<nav><a href='#not-docked'>Cases that did not dock</a><a href='#time-to-docking'>Time to docking</a>"
             "<a href='#contact'>Contact statistics</a><a href='#plots'>Plots</a><a href='#cases'>Every case</a></nav>"]
    bad = s.get("not_docked") or []
    parts.append(f"<section id='not-docked'><h2>Cases that did not dock ({len(bad)})</h2>")
    if bad:
        parts.append(table(["case", "seed", "outcome", "why", "rerun"],
                           [(b["case"], b["seed"], esc(b["outcome"]), esc(b["reason"]), rerun_cell(b["case"]))
                            for b in bad], ["bad"] * len(bad)))
    else:
        parts.append("<p class='ok'>Every case docked.</p>")
    ttd = s.get("time_to_docking_s") or {}
    parts.append("</section><section id='time-to-docking'><h2>Time to docking</h2>")
    if ttd.get("n"):
        keys = ["min", *(f"p{q:g}" for q in PERCENTILES), "max", "mean"]
        parts.append("<p>Mission time at capture of the docked cases.</p>"
                     + table(["cases", *keys], [(ttd["n"], *(f"{ttd[k]:.0f} s" for k in keys))]))
    parts.append("<img alt='time to docking' src='plots/time_to_docking.png'></section>")
    parts.append(f"<section id='contact'><h2>Contact statistics</h2><p>{esc(s['design_target'])}</p>")
    quantities = contact_rows(s)
    parts.append(table(["quantity", "n", "mean", "3-sigma", "mean - 3 sigma", "mean + 3 sigma", "min", "max", "limit",
                        "3-sigma within limit", "within design"], [[esc(c) for c in r] for r in quantities],
                       ["bad" if "NO" in r[-2:] else "" for r in quantities]))
    parts.append("</section><section id='plots'><h2>Plots</h2>")
    for name, caption in (("contact_scatter", "contact quantities in pairs against the envelope"),
                          ("histograms", "contact quantities, propellant and mission time")):
        if (out / "plots" / f"{name}.png").is_file():
            parts.append(f"<figure><img alt='{esc(caption)}' src='plots/{name}.png'>"
                         f"<figcaption>{esc(caption)}</figcaption></figure>")
    parts.append(f"</section><section id='cases'><h2>Every case ({len(rows)})</h2>")
    body, classes = [], []
    for r in rows:
        outcome, reason = case_outcome(r)
        body.append((r["case"], r.get("seed"), esc(outcome), fmt(r.get("contact_time_s"), ".0f"),
                     fmt(r.get("axial_rate_mps"), ".3f"), fmt(r.get("lateral_misalignment_m"), ".3f"),
                     fmt(r.get("propellant_used_kg"), ".2f"), esc(reason), rerun_cell(r["case"])))
        classes.append("" if outcome == "docked" else "bad")
    parts.append(table(["case", "seed", "outcome", "docked at [s]", "axial rate [m/s]", "lateral misalignment [m]",
                        "propellant [kg]", "why not docked", "rerun"], body, classes))
    parts.append("</section></body></html>\n")
    path = out / INDEX_FILE
    path.write_text("\n".join(parts))
    return path
