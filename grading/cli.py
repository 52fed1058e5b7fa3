"""``python -m grading``: one function per command, each listing its steps in order.

Defaults are relative to the repository (notebooks/, build/course, book/released,
data/classroom), so the commands work from any folder. Bad input (an unknown assignment, a
missing folder, an unreadable notebook) ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from pathlib import Path

from grading.errors import GradingError
from grading.settings import (
    DEFAULT_BOOK_DIR,
    DEFAULT_COURSE_DIR,
    DEFAULT_COURSE_ID,
    DEFAULT_NOTEBOOKS,
    Settings,
    default_data_dir,
)

DISTRIBUTION = "family-justice-data-training"
SCRIPT = "fj-grading"
# What the user typed: the installed command, or the module.
PROG = SCRIPT if Path(sys.argv[0]).stem == SCRIPT else "python -m grading"


def version() -> str:
    """The installed distribution's version; in a clone that was never installed, the version
    the distribution is built with (``synthetic_data.__version__``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        from synthetic_data import __version__

        return __version__


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and exit code 2), like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class CommandParser(Parser):
    """A command's parser: it reports the options it does not know itself, naming the command;
    argparse would hand them back to the top-level parser, whose message names no command."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def _doc(text: str) -> str:
    return textwrap.dedent(text).strip()


# --------------------------------------------------------------------------- commands

def cmd_release(args: argparse.Namespace, settings: Settings) -> int:
    from grading import release
    from grading.course import load_course

    course = load_course(settings.notebooks)
    assignments = course.select(args.assignments)
    if not assignments:
        print(f"No assignments found in {settings.notebooks}: nothing to release.")
    book = Path(args.book_dir).absolute()
    release.prepare_course_dir(settings)
    release.copy_sources(settings, assignments)
    release.generate_learner_versions(settings, assignments)
    written = release.publish_to_book(settings, assignments, book)
    course_json = release.write_course_json(course, book, settings.course_id)
    release.publish_to_exchange(settings, assignments)
    for path in written:
        print(f"released {path}")
    print(f"wrote {course_json}")
    if settings.exchange is not None and assignments:
        print(f"published {len(assignments)} assignment(s) to the exchange {settings.exchange} "
              f"(course {settings.course_id})")
    return 0


def _released_ids(settings: Settings, ids: list[str]) -> list[str]:
    from grading.autograde import released_assignments

    released = released_assignments(settings)
    for assignment_id in ids:
        if assignment_id not in released:
            raise GradingError(f"assignment {assignment_id!r} has not been released (released: "
                               f"{', '.join(sorted(released)) or 'none'})")
    return ids or sorted(released)


def cmd_collect(args: argparse.Namespace, settings: Settings) -> int:
    from grading.cohort import collect
    from grading.collect import LOG_NAME, print_refusals

    ids = _released_ids(settings, args.assignments)
    result = collect(settings, ids)
    if settings.exchange is None:
        print(f"No exchange (local only): submissions are read from {settings.submitted()}"
              "/<learner>/<assignment>/.")
    for assignment_id, count in result.counts.items():
        new = len(result.collected.get(assignment_id, []))
        print(f"{assignment_id}: {count} submission(s)" + (f", {new} new" if new else ""))
    if result.refused:
        print_refusals(result.refused)
        print(f"{len(result.refused)} folder(s) in the exchange were not collected; see "
              f"{settings.course_dir / LOG_NAME}", file=sys.stderr)
    return 0


def _contain_grader() -> None:
    """Before anything is graded: refuse to run learners' code as the trainer's own hub account,
    and, when run as a command, start again without secret-looking variables (so that
    /proc/<grader>/environ holds none) and become non-dumpable (so that a kernel of the same
    account cannot read this process's memory or /proc files)."""
    from grading import containment

    refusal = containment.same_account_refusal(os.environ, os.geteuid())
    if refusal:
        raise GradingError(refusal)
    main_module = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_module is not None and main_module.name == "grading.__main__":
        containment.reexec_without_secrets()
        containment.scrub_environment()
        containment.set_dumpable(False)


def _grader(args: argparse.Namespace, settings: Settings, **limits):  # -> autograde.Grader
    """The grading set-up autograde and watch share: the dataset, the sandbox
    accounts and the kernel's interpreter, checked before any submission is looked at."""
    from grading import autograde

    _require_data(settings)
    return autograde.Grader(settings, sandbox_user=getattr(args, "sandbox_user", ""),
                            kernel_python=getattr(args, "kernel_python", ""),
                            workers=getattr(args, "workers", 0),
                            limits=autograde.Limits(timeout=args.timeout, **limits))


def cmd_autograde(args: argparse.Namespace, settings: Settings) -> int:
    _contain_grader()  # first: starting again is cheap before the heavy imports
    from grading import autograde

    grader = _grader(args, settings, notebook_timeout=args.notebook_timeout, memory_mb=args.memory_mb,
                     max_processes=args.max_processes, output_mb=args.output_mb,
                     notebook_output_mb=args.notebook_output_mb)
    tasks = autograde.find_submissions(settings, args.assignments)
    todo = autograde.pending(settings, tasks, args.force)
    if not todo:
        print(f"Nothing to grade: {len(tasks)} submission(s) found, none new or changed"
              f"{'' if tasks else f' (submissions go in {settings.submitted()}/<learner>/<assignment>/)'}.")
        return 0
    try:
        outcomes = grader.grade(todo, progress=not args.quiet, handle_signals=True)
    except autograde.Interrupted as stop:
        print(f"{PROG} autograde: {stop}", file=sys.stderr)
        return 128 + stop.signum
    problems = [o for o in outcomes if o.status != "graded"]
    print(f"Graded {len(outcomes)} submission(s) with {grader.workers} worker(s); "
          f"{len(problems)} with a problem status:")
    for outcome in problems:
        print(f"  {outcome.student}/{outcome.assignment}: {outcome.status}: {outcome.message}")
    print(f"Statuses: {settings.status_file}")
    return 0


def cmd_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from grading import feedback

    ids = _released_ids(settings, args.assignments)
    feedback.generate_feedback(settings, ids, model_answers=args.model_answers)
    feedback.release_feedback(settings, ids)
    pages = sorted(settings.feedback().glob("*/*/*.html")) if settings.feedback().is_dir() else []
    print(f"{len(pages)} feedback page(s) in {settings.feedback()}")
    if settings.exchange is not None:
        print(f"released feedback to the exchange {settings.exchange}")
    return 0


def cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    _contain_grader()  # as autograde: learners' code is about to run
    from grading import watch

    if settings.exchange is None:
        raise GradingError("watch needs --exchange: it collects submissions from the exchange and "
                           "releases feedback there")
    for name in ("max_attempts", "wait_minutes", "interval"):
        if getattr(args, name) < 0:
            raise GradingError(f"--{name.replace('_', '-')} cannot be negative")
    grader = _grader(args, settings)
    policy = watch.Policy(max_attempts=args.max_attempts, wait_minutes=args.wait_minutes,
                          model_answers=args.self_paced)
    return watch.watch(settings, grader, policy, interval=args.interval, once=args.once,
                       prog=f"{PROG} watch")


def cmd_feedback_local(args: argparse.Namespace, settings: Settings) -> int:
    from grading import local_feedback

    notebook = Path(args.notebook)
    local_feedback.read_learner_notebook(notebook)  # a clear error before anything is set up
    _contain_grader()
    _require_data(settings)
    return local_feedback.feedback_local(notebook, settings, timeout=args.timeout)


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from grading.cohort import export

    to = Path(args.to).absolute() if args.to else settings.course_dir / "grades.csv"
    print(f"wrote {export(settings, to)}")
    return 0


def _course_order(settings: Settings) -> list[str]:
    from grading.course import load_course

    try:
        return [a.id for a in load_course(settings.notebooks).assignments]
    except GradingError:
        return []


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from grading.report import write_report

    out = Path(args.out).absolute() if args.out else settings.course_dir / "reports"
    page = write_report(settings, out, _course_order(settings))
    print(f"wrote {out / 'scores.csv'}, {out / 'questions.csv'} and {page}")
    return 0


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from grading import autograde
    from grading.check import check_course
    from grading.course import load_course

    course = load_course(settings.notebooks)
    assignments = course.select(args.assignments) if args.assignments else \
        [a for a in course.assignments if a.notebook.is_file()]
    if assignments:
        _require_data(settings)
    # Each check worker grades through one submission pipeline at a time, which leaves a core idle
    # while kernels start and answer each other: a worker per core plus one, as autograde.
    workers = args.workers or autograde.default_grading_workers()
    ok = check_course(course, assignments, settings.data_dir, args.timeout, workers)
    return 0 if ok else 1


def cmd_selfcheck(args: argparse.Namespace, settings: Settings) -> int:
    from grading.cells import read_notebook
    from grading.selfcheck import selfcheck

    read_notebook(Path(args.notebook))  # a clear error before any kernel starts
    text, ok = selfcheck(Path(args.notebook), settings.data_dir, args.timeout)
    print(text)
    return 0 if ok else 1


def _require_data(settings: Settings) -> None:
    if not (settings.data_dir / "manifest.json").is_file():
        raise GradingError(f"no dataset at {settings.data_dir} (no manifest.json): pass --data-dir, "
                           "set FJ_DATA_DIR or run `make data`")


# --------------------------------------------------------------------------- parser

def _grading_options(sub: argparse.ArgumentParser) -> None:
    """The options autograde and watch share: how many workers, and the sandbox they run in."""
    sub.add_argument("--workers", type=int, default=0, metavar="N",
                     help="parallel workers (default: one per core plus one, at most one per sandbox "
                          "account)")
    sub.add_argument("--timeout", type=int, default=60, metavar="SECONDS",
                     help="time limit per cell (default: 60)")
    sub.add_argument("--sandbox-user", default="", metavar="USER[,USER...]",
                     help="run kernels as these unprivileged accounts, a pool (needs root)")
    sub.add_argument("--kernel-python", default="", metavar="PATH",
                     help="the interpreter kernels run; a sandbox account must be able to run it "
                          "(default: this one)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
                    description=_doc("""
        Release, collect, autograde, give feedback on and report on the course's nbgrader
        assignments, and check the course itself.

        A trainer's workshop, in order:
          release      learner versions into the nbgrader course, the book and the exchange
          collect      learners' submissions from the exchange
          autograde    every submission, in parallel and sandboxed
          feedback     HTML feedback without hidden tests (released to the exchange)
          report       the cohort report: CSV and an HTML page with plots
          export       nbgrader's CSV of grades
        Self-paced:          watch       collect, grade and release feedback as learners submit
        For authors and CI:  check       the quality gate over every assignment
        For learners:        selfcheck   run my notebook's visible checks
                             feedback-local   grade my notebook here and write its feedback page
        """),
        epilog=_doc("""
        Relative defaults are resolved against the repository, so the commands work from any
        folder. Errors in what you asked for end with one line and exit code 2.
        Run `python -m grading COMMAND --help` for each command's options.
        """))
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--notebooks", type=Path, default=DEFAULT_NOTEBOOKS, metavar="DIR",
                        help="the course's source notebooks, a folder per module (default: notebooks/)")
    parser.add_argument("--course-dir", type=Path, default=DEFAULT_COURSE_DIR, metavar="DIR",
                        help="the nbgrader course folder: source/, release/, submitted/, "
                             "autograded/, feedback/, gradebook.db (default: build/course)")
    parser.add_argument("--course-id", default=DEFAULT_COURSE_ID, metavar="ID",
                        help=f"the nbgrader course id, used in the exchange (default: {DEFAULT_COURSE_ID})")
    parser.add_argument("--exchange", type=Path, default=None, metavar="DIR",
                        help="an nbgrader exchange root to publish to and collect from "
                             "(default: none, local only)")
    parser.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                        help="the dataset kernels read, exported to them as FJ_DATA_DIR "
                             "(default: $FJ_DATA_DIR, else data/classroom)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=CommandParser)

    def command(name: str, func, summary: str, doc: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=summary, description=_doc(doc),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.set_defaults(func=func)
        return sub

    sub = command("release", cmd_release, "generate learner versions (nbgrader, book, exchange)", """
        Generate the learner version of every assignment (or the ones named): solutions
        replaced by stubs, hidden tests removed, by nbgrader's generate_assignment.

        Writes COURSE_DIR/source/<id>/ (copied from notebooks/<module>/<id>/, without
        wrong.yaml), COURSE_DIR/release/<id>/, COURSE_DIR/nbgrader_config.py and the gradebook;
        the learner versions again as BOOK_DIR/<module>/<id>/<id>.ipynb with BOOK_DIR/course.json
        (modules in order, their assignments, each released notebook's relative path) for the
        course book; and, with --exchange, publishes them so learners can `nbgrader fetch_assignment`.
        """)
    sub.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    sub.add_argument("--book-dir", default=str(DEFAULT_BOOK_DIR), metavar="DIR",
                     help="where the book reads learner versions (default: book/released)")

    sub = command("collect", cmd_collect, "collect submissions from the exchange", """
        With --exchange, take each learner's latest submission of every released assignment (or
        the ones named) into COURSE_DIR/submitted/<learner>/<id>/. Nothing in the exchange is
        trusted: a folder is taken only if its unix owner is the learner its name gives, and only
        its regular files are copied; a folder holding links, devices, hard links, more than 500
        files or 200 MB, or no submission secret is refused, named on stderr and in
        COURSE_DIR/collect_log.json, and the others are collected all the same.
        Without an exchange, submissions are placed in that folder directly; collect then only
        counts them.
        """)
    sub.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                     help="assignment ids (default: all released)")

    sub = command("autograde", cmd_autograde, "grade every submission, in parallel and sandboxed", """
        Grade the cohort's submissions of every released assignment (or the ones named): new or
        changed submissions only, unless --force. Each submission runs in a scratch folder of
        its own holding only its files, a worker per core plus one, with a progress bar; results go into
        COURSE_DIR/autograded/ and the gradebook exactly as nbgrader autograde would put them.

        A bad submission never stops the batch: each gets a status and a message (graded,
        cells_restored, touched_files, truncated_output, needs_review, timeout, kernel_died,
        missing_notebook, invalid_metadata, invalid_notebook, error) in
        COURSE_DIR/grading_status.json, which report and feedback show. Submissions whose own
        code names the answer key or the grader's files are flagged needs_review.

        Run as root with --sandbox-user so that kernels run as unprivileged accounts and the
        operating system keeps them out of other learners' work. The accounts (comma-separated)
        are a pool: a submission holds one for itself while it runs, every process of it is
        killed when the submission ends, and there are never more workers than accounts. Each
        submission runs in a cgroup (memory of its whole process tree, processes, CPU) where
        the machine allows. SIGTERM or Ctrl-C stops every worker and kernel; what was recorded
        stays, and the next run grades the rest.
        """)
    sub.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                     help="assignment ids (default: all released)")
    _grading_options(sub)
    sub.add_argument("--notebook-timeout", type=int, default=None, metavar="SECONDS",
                     help="time limit per notebook, 0 for none (default: 10 x --timeout)")
    sub.add_argument("--memory-mb", type=int, default=8192, metavar="MB",
                     help="memory per submission, its whole process tree (a cgroup), or without "
                          "cgroups the address space of its kernel; 0 for none (default: 8192)")
    sub.add_argument("--max-processes", type=int, default=512, metavar="N",
                     help="processes and threads per submission (default: 512)")
    sub.add_argument("--output-mb", type=int, default=2, metavar="MB",
                     help="output kept per cell; the rest is dropped (default: 2)")
    sub.add_argument("--notebook-output-mb", type=float, default=5, metavar="MB",
                     help="output kept per notebook, all cells together (default: 5)")
    sub.add_argument("--force", action="store_true", help="regrade submissions already graded")
    sub.add_argument("--quiet", action="store_true", help="no progress bar")

    sub = command("feedback", cmd_feedback, "HTML feedback without hidden tests", """
        Generate HTML feedback for every graded submission of every released assignment (or
        the ones named) into COURSE_DIR/feedback/<learner>/<id>/. Hidden tests never appear:
        each failed check shows only its message. Submissions that could not be graded get a
        page saying why. With --exchange, also releases the feedback for learners to
        `nbgrader fetch_feedback`. With --model-answers (for self-paced learners), each
        written answer is followed by the model answer and rubric from the source notebook,
        clearly labelled; code cells' solutions and hidden tests never appear.
        """)
    sub.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                     help="assignment ids (default: all released)")
    sub.add_argument("--model-answers", action="store_true",
                     help="after each written answer, show the model answer and rubric from the "
                          "source notebook (for self-paced learners; code solutions never appear)")

    sub = command("watch", cmd_watch, "self-paced feedback: grade each submission as it arrives", """
        The self-paced feedback loop. Every --interval seconds: collect new submissions from
        the exchange (trusting nothing in it, as collect does), autograde those not yet graded
        exactly as autograde does (sandboxed, hidden tests in the trusted replay), then generate
        feedback for just those and release it, so that a learner's Fetch Feedback returns it
        within seconds. Prints one line per graded submission: learner, assignment, score, and
        seconds from the submission's timestamp to its feedback being released.

        An attempt is a submission that was graded; if a learner submits several times between
        two passes, only the newest is graded. With --max-attempts N, submissions after a
        learner's Nth graded one of an assignment are not graded: each gets a feedback page
        saying the cap is reached and what counts. With --wait-minutes M, a submission is
        graded no sooner than M minutes after the learner's previous graded one (meanwhile
        nothing happens; the newest is graded when the wait is over). What has been counted is
        kept in COURSE_DIR/watch_state.json, so a restart forgets nothing.

        A submission that fails never stops the others, and a failed pass never stops the
        loop. SIGTERM or Ctrl-C stops it cleanly: during grading every worker and kernel is
        stopped at once (work already graded gets its feedback on the next start). Needs
        --exchange; one watcher per course folder.
        """)
    sub.add_argument("--once", action="store_true", help="one pass, then exit (for cron and tests)")
    sub.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                     help="seconds between passes (default: 5)")
    sub.add_argument("--self-paced", action="store_true",
                     help="feedback for self-paced learners: written answers are followed by the "
                          "model answer and rubric (as feedback --model-answers)")
    sub.add_argument("--max-attempts", type=int, default=0, metavar="N",
                     help="graded attempts per learner and assignment, 0 for no cap (default: 0)")
    sub.add_argument("--wait-minutes", type=int, default=0, metavar="M",
                     help="minutes between a learner's graded attempts at one assignment "
                          "(default: 0)")
    _grading_options(sub)

    sub = command("export", cmd_export, "nbgrader's CSV export of the gradebook", """
        Write nbgrader's own CSV export of the gradebook: one row per learner and assignment,
        with the score, the maximum score and the submission time, for spreadsheets and for
        any system that already reads nbgrader's export. The cohort report (report) adds each
        submission's grading status and the per-question scores.
        """)
    sub.add_argument("--to", default=None, metavar="FILE",
                     help="output file (default: COURSE_DIR/grades.csv)")

    sub = command("report", cmd_report, "the cohort report: CSV and an HTML page with plots", """
        Write the cohort report: scores.csv (per learner and assignment, with status and
        message), questions.csv (per graded cell) and index.html, a self-contained page with the
        score distribution per assignment, the difficulty of each question and who is behind.
        """)
    sub.add_argument("--out", default=None, metavar="DIR", help="output folder (default: COURSE_DIR/reports)")

    sub = command("check", cmd_check, "the course's quality gate (CI)", """
        Check every assignment (or the ones named), a worker per core: the source follows
        notebooks/README.md; the learner version contains no solution or hidden-test text; the
        solution earns full marks; the released notebook, unchanged, runs without crashing and
        earns zero; the wrong answers of wrong.yaml earn partial marks. Prints each notebook's
        run time. Exit code 0 when everything passes, 1 otherwise.
        """)
    sub.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    sub.add_argument("--workers", type=int, default=0, metavar="N",
                     help="parallel workers (default: one per core plus one)")
    sub.add_argument("--timeout", type=int, default=120, metavar="SECONDS",
                     help="time limit per cell (default: 120)")

    sub = command("selfcheck", cmd_selfcheck, "run my notebook's visible checks (learners)", """
        For a learner without a hub: run NOTEBOOK in its own folder (the file is not changed)
        and print, per question, whether its visible checks pass, with their messages. Hidden
        checks, used when work is graded, are not in a learner's notebook. Exit code 0 when
        every visible check passes, 1 otherwise.
        """)
    sub.add_argument("notebook", metavar="NOTEBOOK", help="the notebook to check")
    sub.add_argument("--timeout", type=int, default=120, metavar="SECONDS",
                     help="time limit per cell (default: 120)")

    sub = command("feedback-local", cmd_feedback_local, "grade my notebook here, as the course would "
                  "(learners)", """
        For a learner with a clone of the course: grade NOTEBOOK on this computer with the
        course's own pipeline and write the feedback page next to it as NAME.feedback.html.
        The assignment is found from the notebook's nbgrader cell ids (or its file name); it is
        released into a temporary nbgrader course, NOTEBOOK is placed there as your submission
        and autograded with the hidden tests (in the trusted replay, from the sources under
        --notebooks), and feedback is generated with the model answers of written questions.
        Prints each check's result and message and the total score. NOTEBOOK itself is never
        changed. Exit code 0 when every check passes, 1 otherwise, 2 on an error (not a
        notebook, a notebook of no assignment, no dataset: run `make data`).
        Also `make feedback NB=path/to/notebook.ipynb`.
        """)
    sub.add_argument("notebook", metavar="NOTEBOOK", help="the notebook to grade")
    sub.add_argument("--timeout", type=int, default=120, metavar="SECONDS",
                     help="time limit per cell (default: 120)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings(notebooks=args.notebooks, course_dir=args.course_dir, course_id=args.course_id,
                        exchange=args.exchange, data_dir=args.data_dir or default_data_dir())
    try:
        return args.func(args, settings)
    except GradingError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
