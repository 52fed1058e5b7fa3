"""A Python every learner's unix account can run, with the project's pinned packages.

Learners' servers run as their own unix users. The project's virtualenv usually points at an
interpreter they cannot reach (pyenv under /root, whose home is 0700), even though its
site-packages are readable. Rather than loosen /root, this module copies that exact interpreter
(binary, libpython, standard library: about 130 MB) to a folder everyone can read and builds a
small "runtime" virtualenv on it whose site-packages chain-load the project's own. Console
scripts are copied with their first line pointing at the runtime, and share/ and etc/ link to
the project's (JupyterLab extensions, server extension switches), so the runtime behaves like
the project's virtualenv.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from hub_config.course import REPO

DEFAULT_VENV = REPO / ".venv"
# Bumped when what a runtime holds changes, so that runtimes built before are rebuilt once.
RUNTIME_LAYOUT = "2: standard library compiled"


def others_can_use(path: Path) -> bool:
    """True if a user other than the owner (and outside its group) can read `path`.

    Every ancestor must be searchable by others, and the path itself readable (and searchable for
    a folder, executable for a file that is executable at all).
    """
    path = Path(os.path.realpath(path))
    for parent in list(path.parents)[::-1]:
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    mode = os.stat(path).st_mode
    if not mode & stat.S_IROTH:
        return False
    if stat.S_ISDIR(mode):
        return bool(mode & stat.S_IXOTH)
    return bool(mode & stat.S_IXOTH) or not mode & (stat.S_IXUSR | stat.S_IXGRP)


def _venv_facts(venv: Path) -> tuple[str, Path, Path, str]:
    """The venv's Python version (major.minor), site-packages, base prefix and full version."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import sys, sysconfig; print('%d.%d' % sys.version_info[:2]); "
         "print(sysconfig.get_paths()['purelib']); print(sys.base_prefix); print(sys.version)"],
        check=True, capture_output=True, text=True).stdout.split("\n")
    return out[0], Path(out[1]), Path(out[2]), out[3]


def copy_interpreter(base_prefix: Path, version: str, dest: Path) -> Path:
    """Copy the venv's own interpreter (binary, libpython, standard library) to `dest`.

    The exact build matters: packages installed for 3.11.7 can fail on Debian's 3.11.2 (soupsieve
    does). The binary finds libpython through an absolute RUNPATH into the closed folder; it is
    rewritten in place to `$ORIGIN/../lib`, which is shorter, so the ELF layout is untouched.
    """
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    (dest / "lib").mkdir(exist_ok=True)
    binary = dest / "bin" / f"python{version}"
    data = (base_prefix / "bin" / f"python{version}").read_bytes()
    old = str(base_prefix / "lib").encode() + b"\0"
    new = b"$ORIGIN/../lib"
    if old in data and len(old) > len(new):
        data = data.replace(old, new + b"\0" * (len(old) - len(new)))
    binary.write_bytes(data)
    binary.chmod(0o755)
    for lib in (base_prefix / "lib").glob(f"libpython{version}*.so*"):
        shutil.copy2(lib, dest / "lib" / lib.name, follow_symlinks=True)
    shutil.copytree(base_prefix / "lib" / f"python{version}", dest / "lib" / f"python{version}",
                    ignore=shutil.ignore_patterns("site-packages", "test", "__pycache__", "idlelib"),
                    symlinks=True, dirs_exist_ok=True)
    (dest / "lib" / f"python{version}" / "site-packages").mkdir(exist_ok=True)
    compile_standard_library(binary, dest / "lib" / f"python{version}")
    return binary


def compile_standard_library(python: Path, stdlib: Path) -> None:
    """Write the standard library's bytecode now, with the copied interpreter itself.

    Learners cannot write into the runtime, so without it every server start compiles the
    standard library modules it imports from source again (about 0.4 CPU-seconds of a start,
    measured: jupyter_server, jupyterhub.singleuser and nbgrader's imports take 2.9 s of CPU
    without bytecode, 2.5 s with it). A module that does not compile is skipped, as at import.
    """
    subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", str(stdlib)],
                   check=False, capture_output=True)


def ensure_runtime(dest: Path, venv: Path = DEFAULT_VENV) -> Path:
    """Return a python executable any user can run with the venv's packages (idempotent).

    If the venv itself is usable by others, it is returned unchanged; otherwise a runtime
    virtualenv is (re)built at `dest` on a copy of the venv's own interpreter.
    """
    venv = Path(venv).absolute()
    version, site_packages, base_prefix, full_version = _venv_facts(venv)
    if others_can_use(venv / "bin" / "python") and others_can_use(site_packages):
        return venv / "bin" / "python"
    if not others_can_use(site_packages):
        raise RuntimeError(
            f"{site_packages} is not readable by other users: clone the project where every user "
            "can read it (for example under /opt or /srv), then run the installer again.")
    dest = Path(dest).absolute()
    python = dest / "bin" / "python"
    marker = dest / ".source"
    source = f"{venv}\n{base_prefix}\n{full_version}\n{RUNTIME_LAYOUT}\n"
    if not (python.exists() and marker.exists() and marker.read_text() == source):
        if dest.exists():
            shutil.rmtree(dest)
        base = copy_interpreter(base_prefix, version, dest / "interpreter")
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(dest)], check=True)
        _link_project(dest, venv, version, site_packages)
        marker.write_text(source)
    _open_up(dest)
    return python


def _link_project(dest: Path, venv: Path, version: str, site_packages: Path) -> None:
    own_site = dest / "lib" / f"python{version}" / "site-packages"
    # addsitedir (not a plain path line) so that the project's own .pth files, such as the
    # editable install of synthetic_data and grading, are processed too.
    (own_site / "fj_project_packages.pth").write_text(
        f"import site; site.addsitedir({str(site_packages)!r})\n")
    for name in ("share", "etc"):
        target = venv / name
        if target.exists() and not (dest / name).exists():
            (dest / name).symlink_to(target)
    python_line = f"#!{dest / 'bin' / 'python'}\n"
    for script in (venv / "bin").iterdir():
        if script.name.startswith(("python", "activate", "Activate")) or not script.is_file():
            continue
        try:
            first, rest = script.read_text().split("\n", 1)
        except (UnicodeDecodeError, ValueError):
            continue
        if first.startswith("#!") and "python" in first:
            out = dest / "bin" / script.name
            out.write_text(python_line + rest)
            out.chmod(0o755)


def _open_up(dest: Path) -> None:
    for root, _dirs, files in os.walk(dest):
        os.chmod(root, 0o755)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(0o755 if os.access(path, os.X_OK) else 0o644)
    parent = dest.parent
    while parent != parent.parent and not others_can_use(parent):
        # Only folders this runtime created under an install root are opened; refuse otherwise.
        raise RuntimeError(f"{parent} is not searchable by other users; choose another runtime folder")


def main() -> None:
    """`python -m hub_config.runtime DEST` prints the runtime's python."""
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/opt/fj-training/runtime")
    print(ensure_runtime(dest))


if __name__ == "__main__":
    main()
