"""Write the per-role Jupyter configuration baked into the Kubernetes single-user image.

The image carries both roles' folders under /etc/fj-training/{learner,trainer}; the hub points
each pod's JUPYTER_CONFIG_PATH at one of them (see values.yaml). They are generated from the same
course configuration as the demo and workshop hubs, with the course home switched on
(hub_config/course_home/); tests check the committed copies are current.
"""

from __future__ import annotations

from pathlib import Path

from hub_config.course import LEARNER, TRAINER, Course, load, write_role_config

HERE = Path(__file__).resolve().parent


def k8s_course() -> Course:
    """course.yaml with the image's paths."""
    return load(path=HERE / "settings.yaml")


def render(dest: Path = HERE / "jupyter") -> dict[str, Path]:
    """Write both roles' folders under `dest`."""
    course = k8s_course()
    # The course home, as on the other hubs; the image installs the project (Dockerfile).
    return {role: write_role_config(course, role, dest / role, course_home=True)
            for role in (LEARNER, TRAINER)}


if __name__ == "__main__":
    for role, path in render().items():
        print(f"{role}: {path}")
