"""Nothing a learner writes or displays runs in the browser of whoever opens a graded notebook
(the trainer's formgrader, the learner's feedback page); tables and formatting still show."""

from __future__ import annotations

import copy
import json
import os
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.filters.markdown import markdown2html
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from grading import sanitize
from grading.errors import GradingError
from grading.feedback import CONTENT_SECURITY_POLICY, harden_page, read_secret
from grading.preprocessors import escape_markdown
from grading.settings import REPO, Settings

ACTIVE_TAGS = {"script", "iframe", "frame", "object", "embed", "applet", "form", "input", "button",
               "textarea", "select", "base", "meta", "link", "style", "svg", "math", "template"}


class Markup(HTMLParser):
    """What a browser would build from the HTML: its tags and attributes."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def active_parts(text: str, *, rendered_tags: set[str] = frozenset()) -> list[str]:
    """Everything in HTML that could run code or send the reader somewhere dangerous."""
    found = []
    for tag, attrs in Markup(text).tags:
        if tag in ACTIVE_TAGS - rendered_tags:
            found.append(f"<{tag}>")
        for name, value in attrs.items():
            if name.startswith("on") or name in ("srcdoc", "formaction", "action"):
                found.append(f"<{tag} {name}>")
            if name in ("href", "src", "data", "xlink:href"):
                squeezed = "".join(value.split()).lower()
                if squeezed.startswith(("javascript:", "vbscript:", "data:text", "data:image/svg")) \
                        or "%2f" in squeezed or "%2e" in squeezed:
                    found.append(f"<{tag} {name}={value}>")
    return found


ATTACKS = {
    "script": "<script>window.fjPwned=1</script>",
    "script_mixed_case": "<ScRiPt>window.fjPwned=1</sCrIpT>",
    "img_onerror": '<img src=x onerror="window.fjPwned=2">',
    "svg_onload": '<svg onload="window.fjPwned=3"><circle r="4"/></svg>',
    "svg_script": "<svg><script>window.fjPwned=4</script></svg>",
    "iframe": '<iframe src="javascript:window.fjPwned=5"></iframe>',
    "iframe_srcdoc": "<iframe srcdoc=\"<script>window.fjPwned=6</script>\"></iframe>",
    "form": '<form action="/hub/logout"><input name=a><button formaction="javascript:x">go</button></form>',
    "object": '<object data="data:text/html,<script>x</script>"></object>',
    "embed": '<embed src="javascript:window.fjPwned=7">',
    "javascript_link": '<a href="javascript:window.fjPwned=8">click</a>',
    "javascript_entities": '<a href="jav&#x09;ascript&#58;window.fjPwned=9">click</a>',
    "data_html_link": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
    "style_breakout": "<style>body{background:url(javascript:x)}</style>",
    "meta_refresh": '<meta http-equiv="refresh" content="0;url=javascript:window.fjPwned=10">',
    "base": '<base href="javascript:x//">',
    "details_ontoggle": '<details open ontoggle="window.fjPwned=11"><summary>s</summary></details>',
    "math_href": '<math><mtext><a href="javascript:x">m</a></mtext></math>',
    "comment_breakout": "<!--><img src=x onerror=window.fjPwned=12>-->",
    "unclosed_attribute": "<a title='x>' href=javascript:window.fjPwned=13>y</a>",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_html_outputs_lose_everything_that_could_run(name: str) -> None:
    clean = sanitize.sanitize_html(f"<p>before</p>{ATTACKS[name]}<p>after</p>")
    assert active_parts(clean) == [], clean
    assert "fjPwned" not in clean or "<" not in clean.split("fjPwned")[0][-40:], clean
    assert "before" in clean and "after" in clean


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_markdown_answers_render_without_anything_that_could_run(name: str) -> None:
    source = f"My answer: siblings share a case.\n\n{ATTACKS[name]}\n\nThe end."
    rendered = markdown2html(sanitize.sanitize_markdown(source))
    assert active_parts(rendered, rendered_tags={"input"}) == [], rendered
    assert "siblings share a case" in rendered


MARKDOWN_LINKS = [
    "[click](javascript:window.fjPwned=1)",
    "[click](JaVaScRiPt:window.fjPwned=1)",
    "[click](java&#115;cript:window.fjPwned=1)",
    "[click](<javascript:window.fjPwned=1>)",
    "[click][r]\n\n[r]: javascript:window.fjPwned=1",
    "<javascript:window.fjPwned=1>",
    "[click](data:text/html;base64,PHNjcmlwdD4=)",
    "![img](javascript:window.fjPwned=1)",
    "[click](vbscript:msgbox)",
    # nbgrader serves any course file below a submission's URL: no way out of it in a link.
    "[chart](..%2F..%2F..%2Fsubmitted%2Fmallory%2Fa1%2Fchart.html)",
    "[chart](https://hub.example/user/trainer/formgrader/submissions/1/%2e%2e%2f%2e%2e%2fx.html)",
]


@pytest.mark.parametrize("source", MARKDOWN_LINKS)
def test_markdown_links_cannot_run_script(source: str) -> None:
    sanitized = sanitize.sanitize_markdown(f"An answer.\n\n{source}")
    rendered = markdown2html(sanitized)
    assert active_parts(rendered) == [], rendered
    assert "An answer." in rendered


BENIGN_MARKDOWN = [
    "plain text, *emphasis*, **bold**, `code < 3` and a < b > c",
    "# Cases/children per court\n\n- a list\n- [x] a task\n\n1. numbered\n\n> quoted",
    "| a | b |\n|---|:-:|\n| 1 | 2 |",
    "A [link](https://www.gov.uk/) and <https://example.org>, an ![image](attachment:plot.png)",
    "<b>bold</b>, <sub>2</sub>, <span style=\"color: red\">red</span> and <br> a break",
    "<div class=\"alert alert-info\">\n\n**Note** inside a div\n\n</div>",
    "$$\\frac{a}{b} < 1$$ and $x_i$",
    "```python\nprint('<not html>')\n```",
    "Inline `<script>` code and ``a `<b>` b``, then <!-- a comment --> text",
    "~~~\n<div onclick=x>\n\n</div>\n~~~\n\nafter",
]


@pytest.mark.parametrize("source", BENIGN_MARKDOWN)
def test_safe_markdown_is_left_exactly_as_written(source: str) -> None:
    attachments = {"plot.png": {"image/png": "iVBORw0KGgo="}}
    assert sanitize.sanitize_markdown(source, attachments) == source


def test_an_image_of_a_missing_attachment_cannot_break_the_page() -> None:
    source = "Answer text.\n\n![x](attachment:page.html)"
    sanitized = sanitize.sanitize_markdown(source, {})
    assert "Answer text." in markdown2html(sanitized)


def test_escaped_markup_still_reads_as_written() -> None:
    source = 'Siblings share cases. <img src=x onerror="window.fjPwned=2"> <script>x()</script>'
    rendered = markdown2html(sanitize.sanitize_markdown(source))
    text = "".join(Markup(rendered).text)
    assert "Siblings share cases." in text
    assert '<img src=x onerror="window.fjPwned=2">' in text  # shown to the trainer as text


def test_sanitising_is_idempotent() -> None:
    for source in [*ATTACKS.values(), *MARKDOWN_LINKS, *BENIGN_MARKDOWN]:
        once = sanitize.sanitize_markdown(source)
        assert sanitize.sanitize_markdown(once) == once
        html_once = sanitize.sanitize_html(source)
        assert sanitize.sanitize_html(html_once) == html_once


def test_a_dataframe_still_displays_as_a_table() -> None:
    import pandas as pd

    frame = pd.DataFrame({"law_type": ["public", "private"], "cases": [12, 30]})
    clean = sanitize.sanitize_html(frame._repr_html_())
    tags = {tag for tag, _ in Markup(clean).tags}
    assert {"table", "thead", "tbody", "tr", "th", "td"} <= tags
    assert 'class="dataframe"' in clean and "private" in clean and "30" in clean
    assert ".dataframe tbody tr th" not in clean  # the <style> went, and its text with it
    assert 'style="text-align: right;"' in clean


def _display(data: dict, metadata: dict | None = None) -> nbformat.NotebookNode:
    return new_output("display_data", data=data, metadata=metadata or {})


def test_script_and_widget_outputs_are_dropped_and_say_so() -> None:
    cell = new_code_cell("x", outputs=[
        _display({"application/javascript": "window.fjPwned=1"}),
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "m"},
                  "text/plain": "IntSlider(value=1)"}),
        _display({"application/vnd.vegalite.v5+json": {}, "application/vnd.plotly.v1+json": {},
                  "image/svg+xml": "<svg onload='x'><script>x</script></svg>"}),
        new_output("stream", name="stdout", text="<script>printed</script>"),
        new_output("error", ename="AssertionError", evalue="wrong", traceback=["wrong"]),
    ])
    sanitize.sanitize_cell(cell)
    kinds = [list(o.get("data", {})) for o in cell.outputs]
    assert kinds == [["text/plain"], ["text/plain"], ["text/plain"], [], []]
    assert "removed" in cell.outputs[0].data["text/plain"]
    assert cell.outputs[1].data["text/plain"] == "IntSlider(value=1)"
    # Streams and errors are escaped by every renderer and are what nbgrader scores.
    assert cell.outputs[3].text == "<script>printed</script>"
    assert cell.outputs[4].ename == "AssertionError"


def test_output_metadata_written_unquoted_by_templates_is_checked() -> None:
    cell = new_code_cell("x", outputs=[
        _display({"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                 {"image/png": {"width": "1 onerror=window.fjPwned=1", "height": 200},
                  "filenames": {"image/png": "javascript:x"}}),
        _display({"text/html": "<b>x</b>"}, {"text/html": {"isolated": True}}),
        _display({"image/png": '" onerror="x', "text/plain": "bad image"}),
    ])
    sanitize.sanitize_cell(cell)
    first, second, third = cell.outputs
    assert first.metadata == {"image/png": {"height": 200}}
    assert second.metadata == {}
    assert "image/png" not in third.data


def test_cell_metadata_and_attachments_are_checked() -> None:
    answer = new_markdown_cell("![plot](attachment:plot.png)", attachments={
        "plot.png": {"image/png": "iVBORw0KGgo="},
        "page.html": {"text/html": "<script>x</script>"}})
    answer.metadata["nbgrader"] = {"grade_id": 'x"><script>x</script>', "grade": True}
    answer.metadata["tags"] = ["ok", '"><script>']
    sanitize.sanitize_cell(answer)
    assert answer.attachments == {"plot.png": {"image/png": "iVBORw0KGgo="}}
    assert "nbgrader" not in answer.metadata
    assert answer.metadata["tags"] == ["ok"]


def test_notebook_widget_state_and_raw_html_cells_are_removed() -> None:
    nb = new_notebook(cells=[new_raw_cell("<script>window.fjPwned=1</script><b>kept</b>"),
                             new_code_cell("1")])
    nb.cells[1]["execution_count"] = "<script>"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    sanitize.sanitize_notebook(nb)
    assert "widgets" not in nb.metadata
    assert nb.cells[0].source == "<b>kept</b>"
    assert nb.cells[1].execution_count is None
    again = copy.deepcopy(nb)
    assert sanitize.sanitize_notebook(again) == nb


def _course_notebooks() -> list[Path]:
    roots = [REPO / "notebooks", Path(__file__).parent / "fixtures" / "course",
             REPO / "tests" / "hub_config" / "fixtures"]
    return sorted(p for root in roots for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_the_authors_notebooks_are_left_unchanged_so_checksums_hold() -> None:
    """Locked cells keep nbgrader's checksum only if sanitising leaves them byte for byte."""
    from nbgrader.utils import compute_checksum

    notebooks = _course_notebooks()
    assert notebooks
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        before = copy.deepcopy(nb)
        sanitize.sanitize_notebook(nb)
        for old, new in zip(before.cells, nb.cells, strict=True):
            assert old.source == new.source, f"{path}: {old.source[:80]!r} changed"
            assert old.metadata == new.metadata, f"{path}: metadata of {old.source[:40]!r} changed"
            if "nbgrader" in old.metadata:
                assert compute_checksum(old) == compute_checksum(new)


def test_grader_notes_show_file_names_as_text() -> None:
    note = escape_markdown('found: <img src=x onerror="window.fjPwned=1">.ipynb, [a](javascript:x)')
    rendered = markdown2html(note)
    assert active_parts(rendered) == [] and "<a" not in rendered
    assert '<img src=x onerror="window.fjPwned=1">.ipynb' in "".join(Markup(rendered).text)


def test_feedback_pages_get_the_policy_first_and_lose_scripts() -> None:
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><script>window.fjPwned=1</script>"
            "<title>t</title></head><body><a href='javascript:x' onclick='x'>a</a>"
            "<iframe src='x'></iframe><p>answer</p></body></html>")
    hardened = harden_page(page)
    assert active_parts(hardened, rendered_tags={"meta"}) == []
    markup = Markup(hardened)
    metas = [attrs for tag, attrs in markup.tags if tag == "meta" and "http-equiv" in attrs]
    assert metas == [{"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY}]
    assert [tag for tag, _ in markup.tags][:3] == ["html", "head", "meta"]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "script-src" not in CONTENT_SECURITY_POLICY
    assert "answer" in hardened
    assert harden_page(hardened) == hardened


def _secret_settings(tmp_path: Path, content: bytes | None, link: bool = False) -> Settings:
    settings = Settings(course_dir=tmp_path / "course")
    folder = settings.submitted("ann", "a1")
    folder.mkdir(parents=True)
    if link:
        (tmp_path / "elsewhere.txt").write_bytes(b"a" * 64)
        os.symlink(tmp_path / "elsewhere.txt", folder / "submission_secret.txt")
    elif content is not None:
        (folder / "submission_secret.txt").write_bytes(content)
    return settings


def test_a_secret_is_read_exactly_and_only_when_it_looks_like_one(tmp_path: Path) -> None:
    good = "3f" * 64
    assert read_secret(_secret_settings(tmp_path / "ok", good.encode()), "ann", "a1") == good
    for name, content, link in [("missing", None, False), ("link", None, True),
                                ("path", b"../../../etc/passwd", False), ("huge", b"a" * 5000, False),
                                ("binary", b"\xff\xfe" * 20, False)]:
        with pytest.raises(GradingError):
            read_secret(_secret_settings(tmp_path / name, content, link), "ann", "a1")


def test_preprocessor_is_in_the_feedback_pipeline_and_config_file() -> None:
    from grading.nbgrader_config import FEEDBACK_PREPROCESSORS, config_file_text

    names = [name for _, name in FEEDBACK_PREPROCESSORS]
    assert names.index("SanitizeNotebook") > names.index("GradingNotes")
    assert "SanitizeNotebook" in config_file_text(Settings())
    json.dumps(names)


def test_huge_html_is_dropped_for_its_text_rather_than_cleaned_for_minutes() -> None:
    table = "<table>" + "<tr><td>1</td></tr>" * 20_000 + "</table>"
    nested = "<div>" * 5_000 + "x"
    cell = new_code_cell("x", outputs=[_display({"text/html": table, "text/plain": "a table"}),
                                       _display({"text/html": table}),
                                       _display({"text/html": nested, "text/plain": "deep"})])
    started = time.perf_counter()
    sanitize.sanitize_cell(cell)
    assert time.perf_counter() - started < 10
    assert cell.outputs[0].data == {"text/plain": "a table"}
    assert "too large" in cell.outputs[1].data["text/plain"]
    assert cell.outputs[2].data == {"text/plain": "deep"}


def test_a_cell_the_sanitiser_chokes_on_is_shown_as_text_and_keeps_its_score(monkeypatch) -> None:
    def choke(text: str) -> str:
        raise RecursionError("too deep")

    monkeypatch.setattr(sanitize, "sanitize_html", choke)
    nb = new_notebook(cells=[new_code_cell("x", outputs=[
        _display({"text/html": "<div><script>x</script></div>"}),
        new_output("error", ename="AssertionError", evalue="wrong", traceback=["wrong"])])])
    sanitize.sanitize_notebook(nb)
    assert [o.output_type for o in nb.cells[0].outputs] == ["error"]


@pytest.mark.parametrize("src", ["/hub/authorize/squatter", "../../hub/discard/victim",
                                 "https://tracker.example/pixel.gif", "files/x.png", "//evil/x"])
def test_images_never_request_anything_when_a_trainer_opens_a_submission(src: str) -> None:
    """An image loads by itself, with the trainer's cookies on the hub's origin."""
    html_output = sanitize.sanitize_html(f'<p>see <img src="{src}" alt="chart"></p>')
    assert src not in html_output
    rendered = markdown2html(sanitize.sanitize_markdown(f"My answer ![chart]({src})"))
    assert f'src="{src}"' not in rendered
    inline = "data:image/png;base64,iVBORw0KGgo="
    assert inline in sanitize.sanitize_html(f'<img src="{inline}" alt="ok">')
