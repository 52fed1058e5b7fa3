"""``python -m hub_config.course_home.launch jupyterhub.singleuser [ARGS]``: a course server,
started as ``python -m jupyterhub.singleuser`` would be, without a second of imports it never uses.

jupyter_server checks its events with jsonschema, whose format checkers import
``rfc3987_syntax`` when it is installed (it is, through ``jsonschema[format-nongpl]``). That
module builds about forty Lark parsers as it is imported: a second of CPU, a third of a course
server's start, for the ``iri`` formats that no Jupyter schema uses (reported upstream as
jupyter-server/jupyter_server#1559 and python-jsonschema/jsonschema#1428). A hub starting fifty
servers at once on two cores pays it fifty times. Marked absent before anything imports
jsonschema, it is skipped as it is wherever it is not installed; nothing else changes. Kernels
are processes of their own and are not affected.
"""

from __future__ import annotations

import runpy
import sys

# Modules a course server never needs and that cost more to import than they are worth.
NEVER_IMPORTED = ("rfc3987_syntax",)


def main(argv: list[str] | None = None) -> None:
    """Run the module named first in `argv` as ``python -m`` would, with the rest as its arguments."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        sys.exit("usage: python -m hub_config.course_home.launch MODULE [ARGS...]")
    for name in NEVER_IMPORTED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  (None: "not importable")
    module, *arguments = argv
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
