"""Make a learner's notebook safe to show in a browser.

The formgrader (served inside the trainer's own Jupyter server, next to its API) and the learners'
feedback pages render a graded notebook as HTML: rich outputs go in verbatim (``text/html``,
``application/javascript``, SVG, widget state) and written answers are markdown, which passes raw
HTML through. A learner who displays ``<script>`` or writes ``<img onerror=...>`` in an answer
would run code as the trainer. :func:`sanitize_notebook` removes everything that can run:

- ``text/html`` outputs go through bleach with an allowlist of formatting and table markup (so a
  pandas DataFrame still reads as a table); scripts, styles, event handlers, iframes, forms,
  objects and ``javascript:``/``data:`` links are removed (HTML too large or too deeply nested
  to clean quickly is dropped for its ``text/plain``);
- ``application/javascript``, SVG, widget, Vega, Plotly, Bokeh and any other mimetype outside a
  short allowlist are dropped (with a ``text/plain`` note when nothing else is left to show);
- markdown (written answers, added cells, ``text/markdown`` outputs): every ``<`` that does not
  open an allowed, well-formed tag with safe attributes is escaped, so the markup reads as text;
  if the rendered result still holds anything unsafe (a ``javascript:`` link in markdown syntax),
  the cell is shown as preformatted text instead;
- no link or image address may hold an encoded ``/``, ``\\`` or ``.``: nbgrader serves every file
  of the course below a submission's URL in the formgrader, a learner's own ``.html`` included;
- output and cell metadata that the HTML templates write unescaped or unquoted (image sizes,
  ``isolated`` iframes, grade ids) and the notebook's widget state are checked or dropped.

A cell the sanitiser cannot check (it raised) is reduced to its text and to the outputs nbgrader
scores, so one odd notebook never stops autograde.

Markdown that is already safe is left byte for byte as it was, so the checksums nbgrader keeps
for the author's locked cells still match, and an unanswered written answer still reads as
unanswered.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from nbformat import NotebookNode

# Markup that formats text and tables: nothing here can run code or submit anything.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var",
})
GLOBAL_ATTRIBUTES = frozenset({"class", "title", "style", "align", "lang", "dir"})
TAG_ATTRIBUTES = {
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "table": {"border", "cellpadding", "cellspacing"},
    "ol": {"start", "type"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "details": {"open"},
}
URL_ATTRIBUTES = frozenset({"href", "src"})
# Elements removed with everything inside them (bleach alone would keep their text).
DROPPED_WITH_CONTENT = ("script", "style", "template", "noscript", "iframe", "frame", "frameset",
                        "noframes", "object", "embed", "applet", "textarea", "select", "title",
                        "head", "svg", "math", "xmp", "plaintext", "noembed")
# What markdown rendering itself adds beside ALLOWED_TAGS: heading anchors, task-list boxes.
RENDERED_EXTRA = {"h1": {"id"}, "h2": {"id"}, "h3": {"id"}, "h4": {"id"}, "h5": {"id"},
                  "h6": {"id"}, "input": {"type", "checked", "disabled", "class"}}

SAFE_IMAGE_MIMETYPES = ("image/png", "image/jpeg", "image/gif")
KEPT_MIMETYPES = ("text/plain", "text/html", "text/markdown", "text/latex", *SAFE_IMAGE_MIMETYPES)
BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[a-z0-9+/=]*$")
SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
ENCODED_PATH = re.compile(r"%2e|%2f|%5c|\\")
# Larger HTML is dropped (its text/plain kept): unreadable anyway, and cleaning it would take
# the single writer of autograde many seconds per output.
MAX_HTML_CHARS = 100_000
MAX_HTML_DEPTH = 100  # bleach's parser slows quadratically with nesting; tables nest about 6
REMOVED = "[{} output removed: it could run code in a browser]"
TOO_LARGE = "[text/html output removed: too large or too deeply nested to check]"


class TooComplex(ValueError):
    """HTML too large or too deeply nested to clean in reasonable time."""
SHOWN_AS_TEXT = "[shown as plain text: as written, it could not be shown safely]"


# --------------------------------------------------------------------------- URLs and attributes

def safe_url(value: str, *, image: bool = False) -> bool:
    """Whether a link or image address is harmless: relative, http(s), mailto (links), an
    ``attachment:`` (markdown images), or an inline PNG/JPEG/GIF/WebP (images only).

    Images load by themselves when a trainer opens a submission, with the trainer's cookies on
    the hub's own origin, so an image may only be inline or an attachment of the notebook:
    never a request to the hub or anywhere else."""
    url = CONTROL.sub("", html.unescape(value)).lower()
    if image:
        scheme = SCHEME.match(url)
        return scheme is not None and (
            scheme.group(1) == "attachment"
            or scheme.group(1) == "data" and DATA_IMAGE.match(url) is not None)
    if url.startswith("#"):
        return True  # a place on the same page (heading anchors encode their text)
    if ENCODED_PATH.search(url):
        # An encoded / or .. survives the browser and lets nbgrader's submission-files route
        # (inside the trainer's server) reach any file of the course, a learner's .html too.
        return False
    match = SCHEME.match(url)
    if match is None:
        return True
    scheme = match.group(1)
    if scheme in ("http", "https", "attachment"):
        return True
    if scheme == "mailto":
        return not image
    return image and scheme == "data" and DATA_IMAGE.match(url) is not None


def _css_sanitizer():
    from bleach.css_sanitizer import CSSSanitizer

    return CSSSanitizer()


def allowed_attribute(tag: str, name: str, value: str) -> bool:
    """The attribute allowlist (no event handlers, ids or names), with URLs checked."""
    name = name.lower()
    if name not in GLOBAL_ATTRIBUTES and name not in TAG_ATTRIBUTES.get(tag, ()):
        return False
    if name in URL_ATTRIBUTES:
        return safe_url(value, image=tag == "img")
    return True


# --------------------------------------------------------------------------- HTML

_cleaner = None


def sanitize_html(text: str) -> str:
    """HTML with only formatting and tables left, cleaned by bleach (the library nbconvert's own
    sanitiser uses); scripts, styles and other active elements go with their content."""
    global _cleaner
    if _cleaner is None:
        import bleach

        _cleaner = bleach.sanitizer.Cleaner(
            tags=ALLOWED_TAGS, attributes=allowed_attribute,
            protocols={"http", "https", "mailto", "data", "attachment"}, strip=True,
            strip_comments=True, css_sanitizer=_css_sanitizer())
    if "<" not in text and "&" not in text:
        return text
    return _cleaner.clean(_drop_active_elements(text))


def _drop_active_elements(text: str) -> str:
    """Remove script, style and similar elements with their content, so that no code is left
    behind as visible text (bleach, run afterwards, is what makes the HTML safe), and refuse HTML
    too large or too deeply nested for bleach to clean in reasonable time (``TooComplex``)."""
    from bs4 import BeautifulSoup
    from bs4.element import Tag

    if len(text) > MAX_HTML_CHARS:
        raise TooComplex(f"{len(text)} characters")
    soup = BeautifulSoup(text, "html.parser")
    stack = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_HTML_DEPTH:
            raise TooComplex(f"nested more than {MAX_HTML_DEPTH} deep")
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tag))
    for element in soup.find_all(list(DROPPED_WITH_CONTENT)):
        element.decompose()
    return str(soup)


# --------------------------------------------------------------------------- markdown

# One tag as every parser reads it the same way: quoted values hold no < > or backquote, so
# the first > after the name ends the tag for mistune and for a browser alike.
_TAG = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z_:][A-Za-z0-9_.:-]*"""
                  r"""(?:\s*=\s*(?:"[^"<>`]*"|'[^'<>`]*'|[^\s"'=<>`]+))?)*)\s*(/?)>""")
_ATTR = re.compile(r"""\s+([A-Za-z_:][A-Za-z0-9_.:-]*)(?:\s*=\s*("[^"<>`]*"|'[^'<>`]*'|[^\s"'=<>`]+))?""")
_MAY_OPEN_MARKUP = re.compile(r"<(?=[A-Za-z/!?])")
# An HTML comment every parser ends at the same place: no < > or -- inside.
_COMMENT = re.compile(r"<!--(?!-?>)(?:(?!--)[^<>])*-->")
# Code, where markdown shows < as it is: fenced blocks and inline spans. A wrong guess here is
# caught when the result is rendered and inspected (see sanitize_markdown).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(?:.*?\n)?? {0,3}\1[`~]*[ \t]*(?:\n|$)",
                    re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# Markdown autolinks to web pages and e-mail addresses (no < or > inside, so never a tag).
_AUTOLINK = re.compile(r"<(?:https?://[^\s<>]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>", re.IGNORECASE)


def _allowed_tag(match: re.Match) -> bool:
    closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
    if name not in ALLOWED_TAGS:
        return False
    if closing:
        return not attributes.strip()
    css = None
    for attribute in _ATTR.finditer(attributes):
        key, raw = attribute.group(1).lower(), attribute.group(2) or ""
        value = raw[1:-1] if raw[:1] in "\"'" and len(raw) >= 2 else raw
        if not allowed_attribute(name, key, value):
            return False
        if key == "style":
            css = css or _css_sanitizer()
            wanted = html.unescape(value)
            if _squeeze(css.sanitize_css(wanted)) != _squeeze(wanted):
                return False
    return True


def _squeeze(css: str) -> str:
    return re.sub(r"\s+", "", css).rstrip(";").lower()


def escape_markup(source: str) -> str:
    """The markdown with every ``<`` that could open markup escaped (``&lt;``, which reads as
    ``<``), except allowed, well-formed tags with safe attributes, which stay as written."""
    if "<" not in source:
        return source
    code = _code_regions(source)
    parts: list[str] = []
    position = 0
    while True:
        found = _MAY_OPEN_MARKUP.search(source, position)
        if found is None:
            parts.append(source[position:])
            return "".join(parts)
        start = found.start()
        parts.append(source[position:start])
        region = next((end for begin, end in code if begin <= start < end), None)
        if region is not None:
            parts.append(source[start:region])
            position = region
            continue
        tag = _AUTOLINK.match(source, start) or _COMMENT.match(source, start) or _TAG.match(source, start)
        if tag is not None and (tag.re in (_AUTOLINK, _COMMENT) or _allowed_tag(tag)):
            parts.append(tag.group(0))
            position = tag.end()
        else:
            parts.append("&lt;")
            position = start + 1


def _code_regions(source: str) -> list[tuple[int, int]]:
    """Where fenced code blocks and code spans are (start, end), as far as a regex can tell."""
    regions = [(m.start(), m.end()) for m in _FENCE.finditer(source)]
    position = 0
    while (span := _CODE_SPAN.search(source, position)) is not None:
        inside = next((end for begin, end in regions if begin <= span.start() < end), None)
        if inside is not None:
            position = inside
            continue
        regions.append((span.start(), span.end()))
        position = span.end()
    return sorted(regions)


class _Inspector(HTMLParser):
    """Walks rendered markdown and notes anything outside the allowlist."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.unsafe: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        extra = RENDERED_EXTRA.get(tag, set())
        if tag not in ALLOWED_TAGS and tag not in RENDERED_EXTRA:
            self.unsafe.append(f"<{tag}>")
            return
        for name, value in attrs:
            if name in extra:
                continue
            if not allowed_attribute(tag, name, value or ""):
                self.unsafe.append(f"<{tag} {name}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        if re.search(r"[<>]|--", data):
            self.unsafe.append("<!--")

    def handle_decl(self, decl: str) -> None:
        self.unsafe.append("<!")

    def handle_pi(self, data: str) -> None:
        self.unsafe.append("<?")

    def unknown_decl(self, data: str) -> None:
        self.unsafe.append("<![")


def unsafe_in_rendered(source: str, attachments: dict | None = None) -> list[str]:
    """What is unsafe in the HTML that nbconvert (as the formgrader and feedback use it) makes of
    this markdown; empty when it is safe to show. Markdown nbconvert cannot render at all (an
    image of a missing attachment) is unsafe too: it would break the whole page."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    try:
        rendered = MarkdownWithMath(renderer=renderer).render(source)
    except Exception as err:  # noqa: BLE001 (whatever stops nbconvert stops the page)
        return [f"cannot be rendered ({type(err).__name__})"]
    inspector = _Inspector()
    inspector.feed(rendered)
    inspector.close()
    return inspector.unsafe


def as_preformatted(source: str) -> str:
    """The markdown shown as its own text, in a ``<pre>`` block: nothing in it is markup."""
    return f"<pre>{html.escape(source, quote=False)}</pre>\n\n{SHOWN_AS_TEXT}"


def sanitize_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown whose rendering runs nothing (``attachments``: the cell's, which its images may
    show); safe markdown comes back unchanged."""
    escaped = escape_markup(source)
    if not unsafe_in_rendered(escaped, attachments):
        return escaped
    shown = as_preformatted(source)
    return shown if not unsafe_in_rendered(shown) else SHOWN_AS_TEXT


# --------------------------------------------------------------------------- outputs

def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize_output(output: NotebookNode) -> NotebookNode | None:
    """One output made safe (None: drop it). Errors and streams are escaped by every renderer
    and are what nbgrader scores, so they are kept as they are."""
    kind = output.get("output_type")
    if kind in ("stream", "error"):
        return output
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data")
    if not isinstance(data, dict):
        return None
    kept: dict[str, object] = {}
    removed = [m for m in data if m not in KEPT_MIMETYPES]
    for mimetype in KEPT_MIMETYPES:
        if mimetype not in data:
            continue
        value = _join(data[mimetype])
        if mimetype == "text/html":
            try:
                value = sanitize_html(value)
            except TooComplex:
                if "text/plain" not in data:
                    kept["text/plain"] = TOO_LARGE
                continue
        elif mimetype == "text/markdown":
            value = sanitize_markdown(value)
        elif mimetype in SAFE_IMAGE_MIMETYPES and not BASE64.match(value):
            removed.append(mimetype)
            continue
        kept[mimetype] = value
    if not kept:
        kept["text/plain"] = REMOVED.format(", ".join(sorted(removed)) or "an empty")
    output["data"] = kept
    output["metadata"] = _image_metadata(output.get("metadata") or {})
    return output


def _image_metadata(metadata: dict) -> dict:
    """Only the image sizes the templates use, as numbers (they are written unquoted)."""
    def clean(entry: dict) -> dict:
        kept: dict[str, object] = {}
        for key in ("width", "height"):
            value = entry.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 100_000:
                kept[key] = int(value)
        if isinstance(entry.get("unconfined"), bool):
            kept["unconfined"] = entry["unconfined"]
        if isinstance(entry.get("alt"), str):
            kept["alt"] = entry["alt"]
        return kept

    result = clean(metadata)
    for mimetype in SAFE_IMAGE_MIMETYPES:
        if isinstance(metadata.get(mimetype), dict) and (entry := clean(metadata[mimetype])):
            result[mimetype] = entry
    return result


# --------------------------------------------------------------------------- cells and notebook

def _sanitize_cell_metadata(cell: NotebookNode) -> None:
    metadata = cell.get("metadata") or {}
    tags = metadata.get("tags")
    if tags is not None:
        metadata["tags"] = [t for t in tags if isinstance(t, str) and SAFE_ID.match(t)] \
            if isinstance(tags, list) else []
    nbgrader = metadata.get("nbgrader")
    # The formgrader and feedback templates write the grade id unescaped.
    if isinstance(nbgrader, dict) and "grade_id" in nbgrader and \
            not SAFE_ID.match(str(nbgrader.get("grade_id"))):
        del metadata["nbgrader"]


def _sanitize_attachments(cell: NotebookNode) -> None:
    attachments = cell.get("attachments")
    if not attachments:
        return
    kept = {}
    for name, bundle in attachments.items() if isinstance(attachments, dict) else []:
        if not isinstance(bundle, dict) or not SAFE_ID.match(str(name)):
            continue
        images = {m: _join(v) for m, v in bundle.items()
                  if m in SAFE_IMAGE_MIMETYPES and BASE64.match(_join(v))}
        if images:
            kept[name] = images
    cell["attachments"] = kept


def sanitize_cell(cell: NotebookNode) -> NotebookNode:
    """One cell made safe to render (code sources are always shown escaped, so stay as they are)."""
    _sanitize_cell_metadata(cell)
    kind = cell.get("cell_type")
    if kind == "markdown":
        _sanitize_attachments(cell)
        cell["source"] = sanitize_markdown(_join(cell.get("source", "")), cell.get("attachments"))
    elif kind == "raw":
        source = _join(cell.get("source", ""))
        cell["source"] = sanitize_html(source) if "<" in source else source
        cell.pop("attachments", None)
    elif kind == "code":
        outputs = [sanitize_output(o) for o in cell.get("outputs", [])]
        cell["outputs"] = [o for o in outputs if o is not None]
        if not isinstance(cell.get("execution_count"), int | None) or \
                isinstance(cell.get("execution_count"), bool):
            cell["execution_count"] = None
    return cell


def sanitize_notebook(nb: NotebookNode) -> NotebookNode:
    """The notebook with nothing left that could run code when rendered (changed in place and
    returned). Idempotent: sanitising a sanitised notebook changes nothing."""
    # Saved widget state makes nbconvert load a widget manager that renders it as live HTML.
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        try:
            sanitize_cell(cell)
        except Exception:  # noqa: BLE001 (a cell that cannot be checked is shown as plain text)
            _neutralise(cell)
    return nb


def _neutralise(cell: NotebookNode) -> None:
    """What is left of a cell the sanitiser could not check: its text, shown as text, and the
    outputs nbgrader scores (errors, streams, the text of results), all escaped when rendered."""
    cell["metadata"] = {k: v for k, v in (cell.get("metadata") or {}).items() if k == "nbgrader"}
    cell.pop("attachments", None)
    if cell.get("cell_type") == "code":
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") in ("stream", "error"):
                kept.append(output)
            elif output.get("output_type") == "execute_result":
                plain = (output.get("data") or {}).get("text/plain", "")
                output["data"], output["metadata"] = {"text/plain": _join(plain)}, {}
                kept.append(output)
        cell["outputs"] = kept
    else:
        cell["source"] = as_preformatted(str(cell.get("source", "")))


def sanitize_notebook_text(text: str) -> str:
    """:func:`sanitize_notebook` on a notebook's JSON text (what autograde saves)."""
    import nbformat

    return nbformat.writes(sanitize_notebook(nbformat.reads(text, as_version=4)))
