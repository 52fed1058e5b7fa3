"""The cohort report a trainer looks at mid-workshop: CSV files plus one self-contained HTML page.

- ``scores.csv``: one row per learner and assignment (score, status, message);
- ``questions.csv``: one row per learner, assignment and graded cell;
- ``index.html``: the score distribution per assignment, how hard each question was (mean share
  of its points earned), who is behind (a learner-by-assignment grid, blanks not submitted),
  and a table of the submissions that need attention.
"""

from __future__ import annotations

import base64
import html
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from grading.autograde import STATUSES, read_statuses
from grading.errors import GradingError
from grading.settings import Settings

BEHIND_PERCENT = 50.0


def gather(settings: Settings, order: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scores per learner and assignment, and per graded cell, from the gradebook and the
    grading status file. ``order`` is the course order of assignment ids."""
    if not settings.gradebook.is_file():
        raise GradingError(f"no gradebook at {settings.gradebook}: run release and autograde first")
    from nbgrader.api import Gradebook, MissingEntry

    statuses = read_statuses(settings)
    rows, questions = [], []
    with Gradebook(settings.db_url, settings.course_id) as gb:
        assignments = sorted(gb.assignments, key=lambda a: (
            order.index(a.name) if order and a.name in order else len(order or []), a.name))
        learners = sorted({s.id for s in gb.students})
        for assignment in assignments:
            for learner in learners:
                entry = statuses.get(f"{learner}/{assignment.name}", {})
                try:
                    submission = gb.find_submission(assignment.name, learner)
                except MissingEntry:
                    rows.append({"learner": learner, "assignment": assignment.name,
                                 "status": "not_submitted", "message": "", "score": None,
                                 "max_score": assignment.max_score, "percent": None,
                                 "needs_manual_grade": False, "flagged": False, "seconds": None})
                    continue
                flagged = any(nb.flagged for nb in submission.notebooks)
                rows.append({
                    "learner": learner, "assignment": assignment.name,
                    "status": entry.get("status", "graded"), "message": entry.get("message", ""),
                    "score": float(submission.score), "max_score": float(submission.max_score),
                    "percent": 100.0 * submission.score / submission.max_score
                    if submission.max_score else None,
                    "needs_manual_grade": bool(submission.needs_manual_grade), "flagged": flagged,
                    "seconds": entry.get("seconds")})
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        questions.append({
                            "learner": learner, "assignment": assignment.name,
                            "notebook": notebook.name, "question": grade.name,
                            "kind": "auto" if grade.auto_score is not None else "manual",
                            "score": float(grade.score or 0), "max_score": float(grade.max_score),
                            "needs_manual_grade": bool(grade.needs_manual_grade)})
    columns = ["learner", "assignment", "status", "message", "score", "max_score", "percent",
               "needs_manual_grade", "flagged", "seconds"]
    qcolumns = ["learner", "assignment", "notebook", "question", "kind", "score", "max_score",
                "needs_manual_grade"]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(questions, columns=qcolumns)


# --------------------------------------------------------------------------- the live report
# What hub_config/live_report.py (the page trainers keep open during a workshop) adds to gather():
# submissions collected but not graded yet, and how many learners pass each question.

SUBMITTED = "submitted"
RESUBMITTED = "resubmitted"
PENDING_STATUSES = {
    SUBMITTED: "collected, not graded yet",
    RESUBMITTED: "submitted again since it was graded, not graded yet; the score is the earlier one's",
}
SCORE_COLUMNS = ["learner", "assignment", "status", "message", "score", "max_score", "percent",
                 "needs_manual_grade", "flagged", "seconds"]
QUESTION_COLUMNS = ["learner", "assignment", "notebook", "question", "kind", "score", "max_score",
                    "needs_manual_grade"]


def submissions_on_disk(settings: Settings) -> dict[tuple[str, str], float | None]:
    """Every submission collected under COURSE_DIR/submitted, keyed (learner, assignment), with
    when it was submitted (the time in its timestamp.txt, as a POSIX timestamp; None when that
    is missing or unreadable). Folders this process may not read, links and hidden names are
    left out."""
    from nbgrader.utils import parse_utc

    found: dict[tuple[str, str], float | None] = {}
    try:
        learners = [p for p in settings.submitted().iterdir()
                    if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    except OSError:
        return found
    for learner in learners:
        try:
            folders = [p for p in learner.iterdir()
                       if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
        except OSError:
            continue
        for folder in folders:
            try:
                with open(folder / "timestamp.txt", encoding="utf-8") as file:
                    when = parse_utc(file.read(200).strip()).replace(tzinfo=UTC).timestamp()
            except (OSError, ValueError, OverflowError, TypeError, AttributeError):
                when = None
            found[(learner.name, folder.name)] = when
    return found


def _graded_at(entry: dict) -> float | None:
    try:
        return datetime.fromisoformat(entry["graded_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def live_scores(settings: Settings, order: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """gather()'s two tables, for a report refreshed while submissions arrive.

    Unlike gather() it works before there is a gradebook, and it covers every learner and
    assignment found in the gradebook, the status file or COURSE_DIR/submitted. A submission
    with a grading status keeps it (even one nbgrader never scored, such as ``error``); one
    collected without a status is ``submitted``; one whose timestamp.txt is later than its grading
    (submitted again and collected since) is ``resubmitted`` (its score is the earlier one's)."""
    if settings.gradebook.is_file():
        scores, questions = gather(settings, order)
    else:
        scores, questions = pd.DataFrame(columns=SCORE_COLUMNS), pd.DataFrame(columns=QUESTION_COLUMNS)
    statuses = read_statuses(settings)
    on_disk = submissions_on_disk(settings)
    rows = {(r["learner"], r["assignment"]): r for r in scores.to_dict("records")}
    max_scores = {r["assignment"]: r["max_score"] for r in rows.values()}
    learners = {learner for learner, _ in rows} | {learner for learner, _ in on_disk}
    assignments = {assignment for _, assignment in rows} | {assignment for _, assignment in on_disk}
    for key in statuses:
        learner, _, assignment = key.partition("/")
        if learner and assignment:
            learners.add(learner)
            assignments.add(assignment)
    rank = {a: i for i, a in enumerate(order or [])}
    ordered = sorted(assignments, key=lambda a: (rank.get(a, len(rank)), a))
    out = []
    for assignment in ordered:
        for learner in sorted(learners):
            row = rows.get((learner, assignment)) or {
                "learner": learner, "assignment": assignment, "status": "not_submitted", "message": "",
                "score": None, "max_score": max_scores.get(assignment), "percent": None,
                "needs_manual_grade": False, "flagged": False, "seconds": None}
            entry = statuses.get(f"{learner}/{assignment}")
            collected = (learner, assignment) in on_disk
            if row["status"] == "not_submitted":  # nothing scored in the gradebook
                if entry:
                    row.update(status=entry.get("status", "error"), message=entry.get("message", ""),
                               seconds=entry.get("seconds"))
                elif collected:
                    row.update(status=SUBMITTED, message="")
            elif entry and collected:
                submitted_at, graded_at = on_disk[(learner, assignment)], _graded_at(entry)
                if submitted_at is not None and graded_at is not None and submitted_at > graded_at:
                    row.update(status=RESUBMITTED)
            out.append(row)
    return pd.DataFrame(out, columns=SCORE_COLUMNS), questions


def pass_rates(questions: pd.DataFrame) -> pd.DataFrame:
    """Per graded cell: how many graded submissions earned all its points (``passed``) of how
    many were graded (``graded``: written answers still waiting for a trainer's grade are left
    out and counted in ``awaiting``), and the share that passed (None before any is graded)."""
    columns = ["assignment", "notebook", "question", "kind", "max_score", "graded", "passed",
               "awaiting", "share"]
    rows = []
    for (assignment, notebook, question), group in questions.groupby(
            ["assignment", "notebook", "question"], sort=False):
        awaiting = group.needs_manual_grade.astype(bool)
        graded = group[~awaiting]
        passed = int(((graded.score >= graded.max_score) & (graded.max_score > 0)).sum())
        rows.append({"assignment": assignment, "notebook": notebook, "question": question,
                     "kind": "manual" if (group.kind == "manual").any() else "auto",
                     "max_score": float(group.max_score.max()), "graded": len(graded), "passed": passed,
                     "awaiting": int(awaiting.sum()),
                     "share": passed / len(graded) if len(graded) else None})
    return pd.DataFrame(rows, columns=columns)


def attention(scores: pd.DataFrame) -> pd.DataFrame:
    """Learners who are behind: missing submissions, low scores or a problem status."""
    if scores.empty:
        return pd.DataFrame(columns=["learner", "not_submitted", "below_half", "problems"])
    rows = []
    for learner, group in scores.groupby("learner", sort=True):
        missing = group.loc[group.status == "not_submitted", "assignment"].tolist()
        low = group.loc[group.percent.notna() & (group.percent < BEHIND_PERCENT), "assignment"].tolist()
        problems = [f"{a}: {s}" for a, s in zip(group.assignment, group.status, strict=True)
                    if s not in ("graded", "not_submitted")]
        if missing or low or problems:
            rows.append({"learner": learner, "not_submitted": ", ".join(missing),
                         "below_half": ", ".join(low), "problems": "; ".join(problems)})
    table = pd.DataFrame(rows, columns=["learner", "not_submitted", "below_half", "problems"])
    if not table.empty:
        table["_n"] = table.not_submitted.str.count(",") + (table.not_submitted != "")
        table = table.sort_values(["_n", "learner"], ascending=[False, True]).drop(columns="_n")
    return table


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def plots(scores: pd.DataFrame, questions: pd.DataFrame) -> dict[str, str]:
    """The three figures, as base64 PNG, keyed by title (a figure is left out without data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    figures: dict[str, str] = {}
    graded = scores[scores.percent.notna()]
    if not graded.empty:
        height = 1.2 + 0.5 * graded.assignment.nunique()
        fig, ax = plt.subplots(figsize=(8, height))
        sns.boxplot(data=graded, x="percent", y="assignment", color="#cfe2f3", fliersize=0, ax=ax)
        sns.stripplot(data=graded, x="percent", y="assignment", color="#1f4e79", size=4, alpha=0.6, ax=ax)
        ax.set(xlabel="score (% of points)", ylabel="", xlim=(-2, 102),
               title="Score distribution per assignment")
        figures["Score distribution per assignment"] = _png(fig)
    auto = questions[questions.kind == "auto"]
    if not auto.empty:
        share = (auto.assign(share=auto.score / auto.max_score.where(auto.max_score > 0))
                 .groupby(["assignment", "question"], as_index=False).share.mean()
                 .sort_values("share"))
        share["label"] = share.assignment + " / " + share.question
        fig, ax = plt.subplots(figsize=(8, 1.2 + 0.35 * len(share)))
        sns.barplot(data=share, x="share", y="label", hue="assignment", dodge=False, ax=ax)
        ax.set(xlabel="mean share of points earned (lower is harder)", ylabel="", xlim=(0, 1),
               title="Difficulty per question")
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        figures["Difficulty per question"] = _png(fig)
    if not scores.empty:
        grid = scores.pivot_table(index="learner", columns="assignment", values="percent",
                                  aggfunc="first", dropna=False)
        grid = grid.reindex(columns=list(dict.fromkeys(scores.assignment)))
        grid = grid.loc[grid.fillna(-1).mean(axis=1).sort_values().index]
        fig, ax = plt.subplots(figsize=(2 + 1.1 * grid.shape[1], 1.2 + 0.22 * grid.shape[0]))
        sns.heatmap(grid, vmin=0, vmax=100, cmap="RdYlGn", linewidths=0.5, linecolor="white",
                    cbar_kws={"label": "score (%)"}, ax=ax)
        ax.set(xlabel="", ylabel="", title="Who is behind (blank: not submitted; lowest first)")
        figures["Who is behind"] = _png(fig)
    return figures


def write_report(settings: Settings, out: Path, order: list[str] | None = None) -> Path:
    """Write scores.csv, questions.csv and index.html into ``out``; returns the page."""
    scores, questions = gather(settings, order)
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "scores.csv", index=False)
    questions.to_csv(out / "questions.csv", index=False)
    behind = attention(scores)
    problems = scores[~scores.status.isin(["graded", "not_submitted"])]
    figures = plots(scores, questions)
    submitted = scores[scores.status != "not_submitted"]
    counts = submitted.status.value_counts()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Cohort report: {html.escape(settings.course_id)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:3px 6px;"
        "text-align:left;vertical-align:top}img{max-width:100%}</style></head><body>",
        f"<h1>Cohort report: {html.escape(settings.course_id)}</h1>",
        f"<p>Generated {datetime.now():%Y-%m-%d %H:%M}. {scores.learner.nunique()} learners, "
        f"{len(submitted)} submissions, {len(problems)} with a problem status. "
        "Data: <a href='scores.csv'>scores.csv</a>, <a href='questions.csv'>questions.csv</a>.</p>",
    ]
    if len(submitted):
        parts.append("<p>Statuses: " + ", ".join(
            f"<span title='{html.escape(STATUSES.get(s, ''))}'>{html.escape(s)}: {n}</span>"
            for s, n in counts.items()) + ".</p>")
    for title, image in figures.items():
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
                     f"src='data:image/png;base64,{image}'>")
    parts.append("<h2>Needs attention</h2>")
    parts.append(behind.to_html(index=False, escape=True) if not behind.empty
                 else "<p>Nobody is behind.</p>")
    if not problems.empty:
        parts.append("<h2>Submissions with a problem status</h2>")
        parts.append(problems[["learner", "assignment", "status", "message"]]
                     .to_html(index=False, escape=True))
    parts.append("<h2>Statuses</h2><dl>" + "".join(
        f"<dt><code>{html.escape(s)}</code></dt><dd>{html.escape(d)}</dd>" for s, d in STATUSES.items())
        + "</dl></body></html>")
    page = out / "index.html"
    page.write_text("\n".join(parts), encoding="utf-8")
    return page
