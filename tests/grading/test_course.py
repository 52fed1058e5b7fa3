"""Reading the course: modules in order, assignments as module.yaml lists them."""

from __future__ import annotations

from grading.course import load_course
from tests.grading.conftest import FIXTURE_COURSE


def test_modules_come_in_course_order_with_their_assignments() -> None:
    course = load_course(FIXTURE_COURSE)
    assert [m.name for m in course.modules] == ["orientation", "data_quality"]
    assert [a.id for a in course.assignments] == ["orientation_01_counting_cases",
                                                  "data_quality_01_missing_values"]
    first = course.assignments[0]
    assert first.minutes == 20 and first.module == "orientation" and first.notebook.is_file()
    assert course.modules[1].prerequisites == ("orientation",)


def test_an_empty_notebooks_folder_is_an_empty_course(tmp_path) -> None:
    course = load_course(tmp_path)
    assert course.modules == () and course.assignments == [] and course.problems == ()


def test_a_module_folder_without_module_yaml_is_a_problem(tmp_path) -> None:
    (tmp_path / "linkage" / "linkage_01_x").mkdir(parents=True)
    assert "has no module.yaml" in load_course(tmp_path).problems[0]
