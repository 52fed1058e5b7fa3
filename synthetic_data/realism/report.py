"""The realism report: every calibrated figure of a dataset beside its published target.

A trainer deciding whether a dataset is fit for a class, or someone changing a parameter,
needs to see at a glance which figures the data reproduces and which it misses, and by how
much. The report is written as Markdown (to read in a repository), as one self-contained HTML
page (to open anywhere, offline: plots are embedded, nothing is fetched), and as ``checks.csv``
(to compare two runs). It is written in full or not at all.
"""

from __future__ import annotations

import base64
import html
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from synthetic_data.api import manifest
from synthetic_data.core.errors import InputError
from synthetic_data.output.writers import staged_output
from synthetic_data.realism.registry import compute_checks, is_skipped, year_of

REPORT_FILES = ("checks.csv", "report.md", "report.html")
MIN_POINTS_FOR_LINE = 3  # fewer years than this read better as bars
TRAILING_YEAR = re.compile(r",\s*\d{4}(/\d{2})?$")  # "..., 2013/14" in a figure's wording

INTRO = """\
This report compares each calibrated figure of the generated dataset with the published figure
it is meant to reproduce. Every generated value is counted from the dataset's own tables, as an
analyst would count it. Targets cite the `calibration` bullets of the parameter files
(`synthetic_data/params/*.yaml`, for example A2 for volumes or A7 for orders); published figures
that are not parameters are listed, with their bullet and source, in
`synthetic_data/realism/targets.yaml`. Volumes are scaled by the dataset's scale and
restricted to the countries it covers. A figure passes when the generated value lies within the
tolerance (relative to the target, 10 % unless noted) of the target."""


# ---------------------------------------------------------------- text
def fmt(value: float) -> str:
    """Counts without decimals, weeks and rates with one, shares and ratios with three."""
    if value is None or pd.isna(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def difference_pct(frame: pd.DataFrame) -> pd.Series:
    return (frame["generated"] - frame["target"]) / frame["target"].abs() * 100


def verdict(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.where(is_skipped(frame), "skipped",
                              np.where(frame["passed"], "pass", "FAIL")), index=frame.index)


def summary(frame: pd.DataFrame) -> str:
    """One paragraph: how many figures are within tolerance and which are not."""
    judged = frame[~is_skipped(frame)]
    failing = judged[~judged["passed"]]
    text = f"{int(judged['passed'].sum())} of {len(judged)} checks within tolerance"
    skipped = int(is_skipped(frame).sum())
    if skipped:
        text += f" ({skipped} skipped: no data in this dataset)"
    if failing.empty:
        return text + "; failing: none."
    items = [f"{r.check}{' ' + str(r.x) if r.x else ''} ({r.bullet}: generated "
             f"{fmt(r.generated)} vs target {fmt(r.target)})" for r in failing.itertuples()]
    return text + "; failing: " + "; ".join(items) + "."


def dataset_line(data_dir: Path) -> str:
    config = manifest(data_dir)["config"]
    return (f"Dataset: scale {config['scale']}, region {config['region']}, "
            f"{config['start']} to {config['end']}, seed {config['seed']}.")


def display_table(group: pd.DataFrame) -> pd.DataFrame:
    """The columns a reader compares, formatted."""
    return pd.DataFrame({
        "Figure": group["figure"],
        "x": group["x"].fillna(""),
        "Bullet": group["bullet"],
        "Target": group["target"].map(fmt),
        "Generated": group["generated"].map(fmt),
        "Difference": difference_pct(group).map(lambda v: "-" if pd.isna(v) else f"{v:+.1f} %"),
        "Tolerance": group["tolerance"].map(lambda v: f"{v:.0%}"),
        "Result": verdict(group),
    })


def group_notes(group: pd.DataFrame) -> list[str]:
    """Each distinct note once, with the checks it applies to."""
    notes: dict[str, list[str]] = {}
    for r in group.itertuples():
        if r.note:
            notes.setdefault(str(r.note), [])
            if r.check not in notes[r.note]:
                notes[r.note].append(r.check)
    return [f"{', '.join(checks)}: {note}" for note, checks in notes.items()]


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def markdown(frame: pd.DataFrame, data_dir: Path, plots: dict[str, str]) -> str:
    lines = ["# Realism report", "", INTRO, "", dataset_line(data_dir), "",
             f"**{summary(frame)}**", ""]
    for name, group in frame.groupby("group", sort=False):
        lines += [f"## {name.capitalize()}", ""]
        table = display_table(group)
        lines.append("| " + " | ".join(table.columns) + " |")
        lines.append("|" + "|".join("---" for _ in table.columns) + "|")
        for values in table.itertuples(index=False):
            lines.append("| " + " | ".join(str(v).replace("|", "/") for v in values) + " |")
        lines.append("")
        lines += [f"- {note}" for note in group_notes(group)]
        if name in plots:
            lines += ["", f"![{name}]({plots[name]})"]
        lines.append("")
    return "\n".join(lines)


CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.FAIL td { background: #fde2e1; }
tr.skipped td { color: #777; }
ul.notes { font-size: 0.85rem; color: #444; }
img { max-width: 100%; }
"""
NUMERIC = ("Target", "Generated", "Difference", "Tolerance")
NUM_CLASS = ' class="num"'


def html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = []
    for values in table.itertuples(index=False):
        cells = "".join(
            f"<td{NUM_CLASS if col in NUMERIC else ''}>{html.escape(str(v))}</td>"
            for col, v in zip(table.columns, values, strict=True))
        body.append(f"<tr class=\"{html.escape(values.Result)}\">{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_page(frame: pd.DataFrame, data_dir: Path, pngs: dict[str, bytes]) -> str:
    """One page with everything inline: it must open offline and leak no request."""
    intro = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(INTRO))
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>Realism report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>Realism report</h1>", f"<p>{intro}</p>",
             f"<p>{html.escape(dataset_line(data_dir))}</p>",
             f"<p><strong>{html.escape(summary(frame))}</strong></p>"]
    for name, group in frame.groupby("group", sort=False):
        parts.append(f"<h2>{html.escape(name.capitalize())}</h2>")
        parts.append(html_table(display_table(group)))
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in group_notes(group))
        if notes:
            parts.append(f"<ul class=\"notes\">{notes}</ul>")
        if name in pngs:
            data = base64.b64encode(pngs[name]).decode("ascii")
            parts.append(f"<img alt=\"{html.escape(name)}\" src=\"data:image/png;base64,{data}\">")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- plots
def is_series(rows: pd.DataFrame) -> bool:
    """Rows of one check form a series by year when every x is a year and there are enough."""
    years = rows["x"].map(year_of)
    return bool(years.notna().all()) and len(rows) >= MIN_POINTS_FOR_LINE


def panels(group: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str]]:
    """(title, rows, kind) per panel: a line per yearly series; bars for categories, with all
    shares of the group in one panel so that a group of single figures reads as one chart."""
    group = group[~is_skipped(group)]
    out: list[tuple[str, pd.DataFrame, str]] = []
    shares = []
    for _, rows in group.groupby("check", sort=False):
        if is_series(rows):
            out.append((TRAILING_YEAR.sub("", rows["figure"].iloc[0]), rows, "line"))
        elif (rows["target"].abs() <= 1).all() and (rows["generated"].abs() <= 1.5).all():
            shares.append(rows)
        else:
            out.append((rows["figure"].iloc[0], rows, "bar"))
    if shares:
        rows = pd.concat(shares)
        title = rows["figure"].iloc[0] if rows["check"].nunique() == 1 else "Shares"
        out.append((title, rows, "bar"))
    return out


def bar_labels(rows: pd.DataFrame) -> list[str]:
    """Each bar's category, with its check's name when several checks share a panel."""
    several = rows["check"].nunique() > 1
    return [f"{r.check.replace('_', ' ')}\n{r.x or ''}".strip() if several or not r.x
            else str(r.x) for r in rows.itertuples()]


def draw_line(ax, rows: pd.DataFrame, colours) -> None:
    years = rows["x"].map(year_of).to_numpy()
    ax.plot(years, rows["target"], linestyle="--", marker="o", color=colours[0], label="target")
    ax.plot(years, rows["generated"], linestyle="-", marker="o", color=colours[1],
            label="generated")
    failing = ~rows["passed"].to_numpy()
    if failing.any():
        ax.scatter(years[failing], rows["generated"].to_numpy()[failing], marker="x", s=80,
                   color=colours[3], zorder=3, label="outside tolerance")
    ax.set_ylim(bottom=0)


def draw_bars(ax, rows: pd.DataFrame, colours) -> None:
    pos = np.arange(len(rows))
    width = 0.4
    ax.bar(pos - width / 2, rows["target"], width, color=colours[0], label="target")
    edge = [colours[1] if ok else colours[3] for ok in rows["passed"]]
    ax.bar(pos + width / 2, rows["generated"], width, color=colours[1], edgecolor=edge,
           linewidth=2, label="generated (red edge: outside tolerance)")
    ax.set_xlim(-0.5 - width, len(rows) - 0.5 + width + (1.0 if len(rows) == 1 else 0.0))
    ax.set_xticks(pos)
    ax.set_xticklabels(bar_labels(rows), rotation=45 if len(rows) > 4 else 0,
                       ha="right" if len(rows) > 4 else "center", fontsize=8)


def plot_group(name: str, group: pd.DataFrame) -> bytes | None:
    """One PNG per group; None when the dataset has nothing to show for it."""
    layout = panels(group)
    if not layout:
        return None
    ncols = min(2, len(layout))
    nrows = int(np.ceil(len(layout) / ncols))
    with sns.axes_style("whitegrid"):
        fig = Figure(figsize=(7 * ncols, 4.2 * nrows), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    colours = sns.color_palette("deep")
    colours = [(0.55, 0.55, 0.55), colours[0], colours[1], colours[3]]
    for ax, (title, rows, kind) in zip(axes, layout, strict=False):
        (draw_line if kind == "line" else draw_bars)(ax, rows, colours)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    for ax in axes[len(layout):]:
        ax.set_visible(False)
    fig.suptitle(name.capitalize())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------- writing
def check_report_folder(out: Path) -> None:
    """Replace only an empty folder or an earlier report: never a folder of other files."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if out.is_dir():
        entries = {p.name for p in out.iterdir()}
        if entries and not {"report.md", "checks.csv"} <= entries:
            raise InputError(f"--out {out} already holds other files; choose an empty or new "
                             "folder, or an earlier report's folder")


def write_report(data_dir: str | Path, out_dir: str | Path) -> str:
    """Write checks.csv, report.md, report.html and one PNG per group; return the summary."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not (data_dir / "manifest.json").exists():
        raise InputError(f"{data_dir} is not a generated dataset (no manifest.json); run "
                         f"`python -m synthetic_data generate --out {data_dir}` first")
    check_report_folder(out_dir)
    frame = compute_checks(data_dir)
    pngs = {name: png for name, group in frame.groupby("group", sort=False)
            if (png := plot_group(name, group)) is not None}
    files = {name: f"{slug(name)}.png" for name in pngs}
    with staged_output(out_dir) as staging:
        frame.to_csv(staging / "checks.csv", index=False, lineterminator="\n")
        for name, png in pngs.items():
            (staging / files[name]).write_bytes(png)
        (staging / "report.md").write_text(markdown(frame, data_dir, files), encoding="utf-8")
        (staging / "report.html").write_text(html_page(frame, data_dir, pngs), encoding="utf-8")
    return summary(frame)
