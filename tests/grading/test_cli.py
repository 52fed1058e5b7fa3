"""The command line: documentation-like help, and one-line errors with exit code 2."""

from __future__ import annotations

import pytest

from grading.cli import build_parser
from tests.grading.conftest import FIXTURE_COURSE, run_cli

COMMANDS = ["release", "collect", "autograde", "feedback", "watch", "export", "report", "check", "selfcheck",
            "feedback-local"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        run_cli(command, "--help")
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"python -m grading {command}" in text
    assert len(text.split()) > 40


def test_top_level_help_lists_the_shared_options(capsys) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for option in ("--notebooks", "--course-dir", "--course-id", "--exchange", "--data-dir"):
        assert option in text
    for command in COMMANDS:
        assert command in text


def _one_line_error(capsys, *args: str, expect: str) -> None:
    code = None
    try:
        code = run_cli(*args)
    except SystemExit as done:
        code = done.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert expect in err[0]


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys) -> None:
    _one_line_error(capsys, "--notebooks", tmp_path / "nowhere", "check", expect="does not exist")
    _one_line_error(capsys, "--notebooks", FIXTURE_COURSE, "check", "nope_01_x", expect="unknown assignment")
    _one_line_error(capsys, "--course-dir", tmp_path / "c", "autograde",
                    expect="run `python -m grading release`")
    _one_line_error(capsys, "--course-dir", tmp_path / "c", "report", expect="no gradebook")
    _one_line_error(capsys, "frobnicate", expect="invalid choice")
    _one_line_error(capsys, "autograde", "--workers", "many", expect="invalid int value")
    _one_line_error(capsys, "--course-dir", tmp_path / "c", "autograde", "--sandbox-user",
                    "no-such-account-x", expect="no-such-account-x")


def test_a_broken_module_yaml_is_a_one_line_error(tmp_path, capsys) -> None:
    (tmp_path / "orientation").mkdir()
    (tmp_path / "orientation" / "module.yaml").write_text("title: [unclosed\n")
    _one_line_error(capsys, "--notebooks", tmp_path, "check", expect="not valid YAML")


# (command and its valid arguments, the mistyped option)
# None is a prefix of a real option: argparse takes a prefix as the option it abbreviates.
MISTYPED = [(("release",), "--book-dri"), (("collect",), "--al"), (("autograde",), "--forse"),
            (("feedback",), "--model-answrs"), (("watch",), "--onse"), (("export",), "--too"),
            (("report",), "--output"), (("check",), "--wrkers"), (("selfcheck", "nb.ipynb"), "--tiemout"),
            (("feedback-local", "nb.ipynb"), "--timeouts")]


def test_every_command_is_checked_for_mistyped_options() -> None:
    assert sorted(c[0] for c, _ in MISTYPED) == sorted(COMMANDS)
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for (command, *_), typo in MISTYPED:
        options = [o for action in commands[command]._actions for o in action.option_strings]
        assert not [o for o in options if o.startswith(typo)], f"{typo} abbreviates an option of {command}"


@pytest.mark.parametrize(("command", "typo"), MISTYPED, ids=[c[0] for c, _ in MISTYPED])
def test_a_mistyped_option_names_its_command(tmp_path, capsys, command, typo) -> None:
    # Before anything runs: the course folder given is never created.
    _one_line_error(capsys, "--course-dir", tmp_path / "course", *command, typo,
                    expect=f"python -m grading {command[0]}: error: unrecognized arguments: {typo} "
                           f"(see python -m grading {command[0]} --help)")
    assert list(tmp_path.iterdir()) == []


def test_version(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        run_cli("--version")
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"python -m grading {version('family-justice-data-training')}"
