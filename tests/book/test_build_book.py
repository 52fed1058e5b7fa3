"""Unit tests of book/build_book.py: reading the released course, refusing solution text, and the
pages, table of contents and notes it generates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType, SimpleNamespace

import nbformat
import pytest
import yaml

BOOK = Path(__file__).resolve().parents[2] / "book"
FIXTURE_RELEASED = Path(__file__).resolve().parent / "fixtures" / "released"


def _released_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE_RELEASED, tmp_path / "released"))


def test_load_course_reads_modules_in_order(build_book: ModuleType, fixture_course: dict) -> None:
    modules = build_book.load_course(FIXTURE_RELEASED)
    assert [m.id for m in modules] == ["orientation", "linkage"]
    orientation = modules[0]
    assert [a.id for a in orientation.assignments] == [
        "orientation_01_family_justice_data", "orientation_02_five_safes"]
    assert orientation.minutes == 55
    assert orientation.assignments[0].docname == (
        "released/orientation/orientation_01_family_justice_data/"
        "orientation_01_family_justice_data")
    assert modules[1].prerequisites == ("orientation",)


def test_load_course_accepts_a_plain_list_and_sorts_by_order(build_book: ModuleType,
                                                            tmp_path: Path) -> None:
    released = _released_copy(tmp_path)
    course = json.loads((released / "course.json").read_text())
    (released / "course.json").write_text(json.dumps(list(reversed(course["modules"]))))
    assert [m.id for m in build_book.load_course(released)] == ["orientation", "linkage"]


def test_no_course_file_is_an_empty_course(build_book: ModuleType, tmp_path: Path) -> None:
    assert build_book.load_course(tmp_path / "released") == []


@pytest.mark.parametrize("breakage, message", [
    (lambda c: "{not json", "not valid JSON"),
    (lambda c: json.dumps({"modules": [{"id": "orientation"}]}), "lacks a field"),
    (lambda c: json.dumps({"modules": 3}), "expected a list of modules"),
])
def test_broken_course_file_says_what_to_do(build_book: ModuleType, tmp_path: Path,
                                            breakage: object, message: str) -> None:
    released = _released_copy(tmp_path)
    course = json.loads((released / "course.json").read_text())
    (released / "course.json").write_text(breakage(course))
    with pytest.raises(build_book.BuildError, match=message):
        build_book.load_course(released)


def test_a_listed_notebook_must_exist(build_book: ModuleType, tmp_path: Path) -> None:
    released = _released_copy(tmp_path)
    shutil.rmtree(released / "linkage")
    with pytest.raises(build_book.BuildError, match="grading release"):
        build_book.load_course(released)


def test_the_fixture_course_is_solution_free(build_book: ModuleType) -> None:
    assert build_book.find_forbidden(FIXTURE_RELEASED) == []


@pytest.mark.parametrize("marker", ["### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"])
def test_solution_or_hidden_tests_in_a_released_notebook_stop_the_build(
        build_book: ModuleType, tmp_path: Path, marker: str) -> None:
    book = tmp_path / "book"
    released = _released_copy(book)
    path = released / "linkage" / "linkage_01_why_link" / "linkage_01_why_link.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"{marker}\nx = 1"))
    nbformat.write(nb, path)
    assert build_book.find_forbidden(released) == [
        f"linkage/linkage_01_why_link/linkage_01_why_link.ipynb: {marker.strip('# ')}"]
    # generate() checks before it reads anything else: no dataset is needed to refuse.
    with pytest.raises(build_book.BuildError, match="will not publish"):
        build_book.generate(book, tmp_path / "no-data")


def test_module_notebook_list_links_hub_download_and_selfcheck(build_book: ModuleType) -> None:
    orientation = build_book.load_course(FIXTURE_RELEASED)[0]
    text = build_book.module_notebooks_md(orientation, "orientation")
    aid = "orientation_02_five_safes"
    # Where nbgrader's fetch puts the learner's copy (~/<id>/, as the course home's Open link).
    assert f'<a href="/hub/user-redirect/lab/tree/{aid}/{aid}.ipynb">' in text
    assert "fj-course/" not in text
    assert (f"{{download}}`Download {aid}.ipynb </released/orientation/{aid}/{aid}.ipynb>`"
            in text)
    assert f"{{doc}}`The Five Safes and how a TRE works </released/orientation/{aid}/{aid}>`" in text
    assert "python -m grading selfcheck orientation_01_family_justice_data.ipynb" in text
    assert "about 55 minutes" in text


def test_open_on_the_hub_goes_where_nbgrader_fetches(build_book: ModuleType) -> None:
    """nbgrader fetches into ~/<id>/ unless Exchange.path_includes_course is set, which neither
    its exchange, the course's exchange service client nor the hubs' nbgrader configs do."""
    from nbgrader.exchange.default.exchange import Exchange

    from hub_config import course
    from hub_config.exchange.client import ServiceExchange

    for exchange in (Exchange, ServiceExchange):
        assert exchange.class_traits()["path_includes_course"].default_value is False
    settings = course.load(path="/dev/null")
    for role in ("learner", "trainer"):
        assert "path_includes_course" not in course.nbgrader_config(settings, role)
    assert build_book.HUB_LINK.format(id="a_01_b") == "/hub/user-redirect/lab/tree/a_01_b/a_01_b.ipynb"


def test_module_without_notebooks_says_so(build_book: ModuleType) -> None:
    assert "No notebook of this module has been released yet" in (
        build_book.module_notebooks_md(None, "capstone"))


def test_toc_gives_each_module_its_notebooks(build_book: ModuleType) -> None:
    template = yaml.safe_load((BOOK / "_toc.yml").read_text())
    toc = build_book.make_toc(template, build_book.load_course(FIXTURE_RELEASED))
    chapters = {c["file"]: c for part in toc["parts"] for c in part["chapters"]}
    assert [s["file"] for s in chapters["modules/orientation"]["sections"]] == [
        "released/orientation/orientation_01_family_justice_data/"
        "orientation_01_family_justice_data",
        "released/orientation/orientation_02_five_safes/orientation_02_five_safes"]
    assert "sections" not in chapters["modules/capstone"]
    assert "sections" not in template["parts"][1]["chapters"][1]  # the template is not changed


def test_every_course_module_has_a_page(build_book: ModuleType) -> None:
    template = yaml.safe_load((BOOK / "_toc.yml").read_text())
    pages = {c["file"] for part in template["parts"] for c in part["chapters"]}
    for module in ["orientation", "data_quality", "linkage", "disclosure", "analysis", "capstone"]:
        assert f"modules/{module}" in pages
        assert (BOOK / "modules" / f"{module}.md").is_file()
    stray = build_book.Module(id="statistics", title="Statistics", order=7)
    with pytest.raises(build_book.BuildError, match="statistics"):
        build_book.make_toc(template, [stray])


def _table(name: str, view: str, description: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, view=view, description=description, unit="one row")


def test_tables_are_sorted_onto_the_real_dataset_pages(build_book: ModuleType) -> None:
    tables = [
        _table("cafcass_cases", "identifiable", "Cases as Cafcass records them."),
        _table("tre_cafcass_person", "tre", "De-identified people with an ALF."),
        _table("family_court_cases", "identifiable", "Cases as FamilyMan records them."),
        _table("hospital_admissions", "identifiable", "Hospital admissions, PEDW-like."),
        _table("tre_school_census", "tre", "School census records of pupils."),
        _table("lsoa", "reference", "Small areas with deprivation; census figures."),
        _table("world_people", "answer_key", "Everyone in the simulated world."),
    ]
    pages = build_book.classify_tables(tables)
    names = {page: [t.name for t in found] for page, found in pages.items()}
    assert names == {"cafcass": ["cafcass_cases"], "cafcass-cymru-sail": ["tre_cafcass_person"],
                     "data-first": ["family_court_cases"],
                     "linked-health-education": ["hospital_admissions", "tre_school_census"]}
    text = build_book.tables_md(pages["cafcass"], "none")
    assert "| `cafcass_cases` | `identifiable/` | one row | Cases as Cafcass records them. |" in text
    assert "{note}" in build_book.tables_md([], "Nothing yet.")


def test_runbook_is_included_with_headings_nested_and_repository_links_as_text(
        build_book: ModuleType, tmp_path: Path) -> None:
    assert "hub_config/workshop/RUNBOOK.md" in build_book.runbook_md(tmp_path)
    runbook = tmp_path / "hub_config" / "workshop" / "RUNBOOK.md"
    runbook.parent.mkdir(parents=True)
    runbook.write_text("# Workshop runbook\n\n## A week before\n\nSee [the config](config.yaml) "
                       "and [nbgrader](https://nbgrader.readthedocs.io).\n\n"
                       "![The hub's sign-up page](signup.png)\n")
    text = build_book.runbook_md(tmp_path)
    assert "# Workshop runbook" not in text
    assert "### A week before" in text
    assert "the config (`hub_config/workshop/config.yaml`)" in text
    assert "[nbgrader](https://nbgrader.readthedocs.io)" in text
    assert "The hub's sign-up page (`hub_config/workshop/signup.png`)" in text
    assert "](signup.png)" not in text


def test_strip_title_removes_only_the_first_top_level_heading(build_book: ModuleType) -> None:
    assert build_book.strip_title("# Report\n\nText\n\n# Other\n") == "\nText\n\n# Other\n"
    assert build_book.strip_title("No title\n# Later\n") == "No title\n# Later\n"


def test_grading_commands_note_without_the_grading_cli(build_book: ModuleType,
                                                       tmp_path: Path) -> None:
    assert "python -m grading --help" in build_book.grading_commands_md("python", tmp_path)


def test_missing_mathjax_says_how_to_install_it(build_book: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(build_book.BuildError, match="make install"):
        build_book.copy_mathjax(tmp_path / "node_modules" / "mathjax", tmp_path / "out")


def test_config_loads_nothing_from_other_hosts() -> None:
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    sphinx = config["sphinx"]["config"]
    assert not sphinx["mathjax_path"].startswith(("http", "//"))
    assert sphinx["nb_ipywidgets_js"] == {}
    assert config["execute"]["execute_notebooks"] == "off"
    assert not any(config["launch_buttons"][k] for k in
                   ("binderhub_url", "jupyterhub_url", "thebe", "colab_url", "deepnote_url"))


# --------------------------------------------------------------------------- times

@pytest.mark.parametrize("minutes, text", [
    (45, "45 minutes"), (60, "60 minutes (1 hour)"), (90, "90 minutes (1 hour 30 minutes)"),
    (410, "410 minutes (6 hours 50 minutes)"), (1, "1 minute")])
def test_durations_are_written_in_minutes_and_hours(build_book: ModuleType, minutes: int,
                                                    text: str) -> None:
    assert build_book.duration_text(minutes) == text


def test_module_time_is_the_sum_of_its_notebooks(build_book: ModuleType) -> None:
    modules = build_book.load_course(FIXTURE_RELEASED)
    orientation, linkage = modules
    text = build_book.module_time_md(orientation, modules)
    assert text.startswith("55 minutes: the times of its 2 notebooks below")
    assert "the longest module" in text  # 55 minutes against linkage's 40
    one = build_book.module_time_md(linkage, modules)
    assert one.startswith("40 minutes: the time of its one notebook below")
    assert "longest" not in one
    assert "once they are released" in build_book.module_time_md(None, modules)


def test_the_overview_gives_the_course_total(build_book: ModuleType) -> None:
    text = build_book._overview_md(build_book.load_course(FIXTURE_RELEASED))
    assert "| **In all** | **3** | **95 min** |" in text
    assert "95 minutes (1 hour 35 minutes)" in text


def test_the_book_states_no_duration_of_its_own(build_book: ModuleType) -> None:
    assert build_book.find_hand_written_durations(BOOK) == []
    for module in ["orientation", "data_quality", "linkage", "disclosure", "analysis", "capstone"]:
        page = (BOOK / "modules" / f"{module}.md").read_text()
        assert f"{{include}} ../_generated/modules/{module}-time.md" in page


@pytest.mark.parametrize("written", [
    "Estimated time\n: About two hours.\n", "It takes 45 minutes.\n", "about 1.5 hrs\n",
    "Allow half an hour for it.\n", "a three-hour session\n", "Two and a half hours.\n"])
def test_a_page_that_states_a_duration_stops_the_build(build_book: ModuleType, tmp_path: Path,
                                                       written: str) -> None:
    book = tmp_path / "book"
    (book / "modules").mkdir(parents=True)
    (book / "modules" / "capstone.md").write_text("# Capstone\n\n" + written)
    (book / "_generated").mkdir()
    (book / "_generated" / "old.md").write_text("45 minutes\n")  # generated: not checked
    found = build_book.find_hand_written_durations(book)
    assert len(found) == 1 and found[0].startswith("modules/capstone.md:")
    with pytest.raises(build_book.BuildError, match="module.yaml alone"):
        build_book.generate(book, tmp_path / "no-data")


def test_words_that_are_not_durations_pass(build_book: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "page.md").write_text("A 26-week limit; one day; a series of half days; "
                                      "minutes of a meeting; the hour of the hearing.\n")
    assert build_book.find_hand_written_durations(tmp_path) == []
