"""Keep the book self-contained: drop the Thebe loader that Jupyter Book 1 always adds.

Thebe runs notebook cells on a remote Binder; this book has it switched off (launch_buttons.thebe
is false), yet sphinx-thebe still adds, to every page, an inline script naming the CDN it would
load Thebe from, and a loader script that redeclares that constant (a script error on every
page). The book needs neither, so both go, with Thebe's stylesheet.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _is_thebe(asset: Any) -> bool:
    name = str(getattr(asset, "filename", "") or "")
    body = str(getattr(asset, "attributes", {}).get("body", ""))
    return "thebe" in name or "THEBE_JS_URL" in body


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree: object) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
