"""Monte Carlo campaigns on Dask: ``qz mc``, ``qz mc --rerun CASE`` and ``qz mc-bench``.

A campaign is a list of independent, seeded software-in-the-loop runs of one scenario. Case ``c`` of
a campaign with seed ``S``:

- flies with the truth-model seed ``case_seed(S, c)`` (sensor noise, gyro bias, each thruster's thrust
  error and misalignment are drawn by the truth model from it);
- has the scenario's ``[dispersions]`` drawn by :func:`draw_dispersions` into a ``load_scenario``
  overrides dict. Each dispersion has its own stream, ``SeedSequence([S, c, crc32(name)])``, so adding
  a dispersion to the table does not change the draws of the others. ``kind = "normal"``: nominal +
  sigma * N(0, 1) per element; ``kind = "uniform"``: a value drawn between ``lo`` and ``hi`` (bounds of
  the value itself, not offsets).

The cases run on Dask (a local cluster of K single-threaded worker processes, or an existing
scheduler). Each finished case is appended as one JSON line to ``OUT/cases.jsonl`` as it completes,
so an interrupted campaign resumes where it stopped; a worker that dies loses only the case it was
running, which the scheduler runs again elsewhere (``retries`` more attempts for a case that raises).
When the cases are done the campaign writes ``cases.csv`` (and ``cases.parquet`` with pyarrow),
``summary.json``, ``summary.md``, ``plots/*.png`` and ``index.html``. ``qz mc --rerun CASE`` flies one
case again as a normal run folder (archive, summary, report) and checks that it reproduces the case's row.

Nothing touches the disk before everything is checked: the options, the scenario, the campaign folder
(a folder that holds something else is refused; one that holds a campaign is resumed only with the
same scenario, seed, duration and dispersions, and never shrunk to fewer cases) and the Dask
scheduler (an address with nothing behind it fails after ``connect_timeout_s``). A scenario without
``[dispersions]`` flies identical cases (they differ only in the truth's noise seed): that takes
``undispersed=True`` (``--undispersed``).

The package is split by concern: ``common`` (file names, the design target, the contact columns, the
error), ``cases`` (a case's seed, draws, run and row), ``store`` (the campaign folder and its checks),
``run`` (Dask), ``summary`` (statistics), ``outputs`` (tables, plots, index.html), ``rerun``, ``bench``
(``qz mc-bench``) and ``cli``.
"""

from ground.campaign.bench import bench_markdown, mc_bench, throughput
from ground.campaign.cases import (
    case_seed,
    case_spec,
    draw_dispersions,
    error_row,
    row_from_summary,
    rows_equal,
    run_case,
)
from ground.campaign.cli import register
from ground.campaign.common import (
    CONTACT_COLUMNS,
    DESIGN_FRACTION,
    INDEX_FILE,
    META_FILE,
    ROWS_FILE,
    CampaignError,
)
from ground.campaign.outputs import (
    plot_campaign,
    summary_markdown,
    time_to_docking_figure,
    write_index,
    write_outputs,
    write_tables,
)
from ground.campaign.rerun import rerun_case
from ground.campaign.run import run_campaign
from ground.campaign.store import RowLog, campaign_meta, read_rows
from ground.campaign.summary import (
    case_outcome,
    contact_speed_design,
    percentiles,
    quantity_stats,
    summarise,
    wilson_interval,
)

__all__ = [
    "CONTACT_COLUMNS", "DESIGN_FRACTION", "INDEX_FILE", "META_FILE", "ROWS_FILE", "CampaignError", "RowLog",
    "bench_markdown", "campaign_meta", "case_outcome", "case_seed", "case_spec", "contact_speed_design",
    "draw_dispersions", "error_row", "mc_bench", "percentiles", "plot_campaign", "quantity_stats", "read_rows",
    "register", "rerun_case", "row_from_summary", "rows_equal", "run_campaign", "run_case", "summarise",
    "summary_markdown", "throughput", "time_to_docking_figure", "wilson_interval", "write_index", "write_outputs",
    "write_tables",
]
