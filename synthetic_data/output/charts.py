"""Vega-Lite charts (Splink's) that every reader of a notebook can see, with no internet.

Splink 5 draws its charts as Vega-Lite specifications. JupyterLab renders them itself, but
nothing else does: nbconvert's HTML (the feedback learners get back, the formgrader), a copy
opened in another viewer, or a notebook rendered by the course book. :func:`show_chart` therefore
displays one bundle that holds both the specification, which JupyterLab ranks first and draws
interactively, and a static PNG of it, which every other viewer shows. PNG rather than SVG: the
grader's HTML sanitiser keeps inline images but drops SVG, and a PNG cannot clash with another
figure's element ids on the same page.

The PNG is drawn offline by ``vl-convert-python``, which bundles Vega, Vega-Lite and a
JavaScript engine (V8). It runs in a child process: V8 reserves a large address range when it
starts, and under an address-space limit (as a grader without cgroups sets) it aborts the
process instead of raising. In a child, such a crash, a timeout or a missing package costs
only the static copy; the bundle then says in its text why there is none, and JupyterLab still
draws the chart. The child is this file run as a script (``python -I charts.py``), so it
imports nothing but the renderer and Pillow.

A chart with a slider (Splink's waterfall chart steps through its record pairs with one) would
show only its first position as an image; the static copy draws every position, one below the
other, so that a reader of the HTML sees each pair's waterfall.
"""

from __future__ import annotations

import copy
import json
import os
import struct
import subprocess
import sys
from base64 import b64encode
from collections.abc import Sequence
from typing import Any

VEGALITE_MIMETYPE = "application/vnd.vegalite.v5+json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Drawn at twice the chart's size and shown at its size (the image's width in the output's
# metadata), so text stays sharp on high-density screens; reduced to a 256-colour palette,
# which a chart of flat colours and anti-aliased text survives unchanged, at a tenth the bytes.
SCALE = 2
COLOURS = 256
# One static image per position of a slider, up to this many (Splink's waterfall chart has one
# position per record pair; the course shows a handful).
MAX_FRAMES = 10
RENDER_TIMEOUT = 120  # seconds; the first chart also starts the JavaScript engine
# Hints that only make sense in an interactive chart, dropped from the static copy's subtitle.
INTERACTIVE_HINTS = ("mousewheel", "mouse wheel", "click", "hover", "drag")


class RenderError(RuntimeError):
    """The static image could not be drawn; the message says why, for the reader."""


# --------------------------------------------------------------------------- what notebooks call

def show_chart(chart: Any) -> None:
    """Display a Splink chart (or anything with a ``chart_dict``, or a Vega-Lite dict): the
    interactive chart in JupyterLab, its static image everywhere else."""
    from IPython.display import display

    spec = chart if isinstance(chart, dict) else chart.chart_dict
    name = "Vega-Lite chart" if isinstance(chart, dict) else type(chart).__name__
    data, metadata = chart_bundle(spec, name)
    display(data, metadata=metadata, raw=True)


def chart_bundle(spec: dict, name: str = "Vega-Lite chart", *,
                 command: Sequence[str] | None = None,
                 timeout: float = RENDER_TIMEOUT) -> tuple[dict, dict]:
    """The display bundle (data, metadata) of a Vega-Lite chart: the specification, a static
    PNG of it when one can be drawn, and a text that says what the reader is missing.

    ``command`` replaces the child process that draws the image (tests use it to make it fail).
    """
    data: dict[str, Any] = {VEGALITE_MIMETYPE: spec}
    metadata: dict[str, Any] = {}
    try:
        png = render_png(spec, command=command, timeout=timeout)
    except RenderError as err:
        data["text/plain"] = (f"{name}: an interactive chart that JupyterLab draws; a static "
                              f"copy could not be made here ({err}).")
        return data, metadata
    width, _ = png_size(png)
    data["image/png"] = b64encode(png).decode("ascii")
    data["text/plain"] = f"{name} (interactive in JupyterLab; a static image elsewhere)"
    # Only the width: a viewer narrower than the chart scales it down, keeping its proportions.
    metadata["image/png"] = {"width": max(1, width // SCALE)}
    return data, metadata


# --------------------------------------------------------------------------- the static image

def static_frames(spec: dict) -> list[dict]:
    """The specifications to draw as the static image: the chart itself, or one copy for each
    position of its first slider (a parameter bound to a range input), labelled in its
    subtitle. Interactive hints are dropped from the subtitle.

    The positions are the values of the slider's field that the chart's inline data holds,
    when it holds any: Splink's waterfall chart sets its slider's maximum to the number of
    data rows (several per record pair), so its range runs far past the last pair.
    """
    base = copy.deepcopy(spec)
    _drop_interactive_hints(base)
    params = base.get("params") or []
    slider = next((p for p in params if isinstance(p, dict) and isinstance(p.get("bind"), dict)
                   and p["bind"].get("input") == "range" and p.get("name")), None)
    if slider is None:
        return [base]
    positions = _slider_positions(base, slider)
    if not positions:
        return [base]
    frames = []
    for value in positions[:MAX_FRAMES]:
        frame = copy.deepcopy(base)
        for p in frame["params"]:
            if p.get("name") == slider["name"]:
                p["value"] = value
        # As the interactive chart's slider is labelled: the parameter's name and value.
        label = f"{slider['name']} = {_number(value)}"
        if len(positions) > 1:
            label += f" ({_number(positions[0])} to {_number(positions[-1])})"
        if len(positions) > MAX_FRAMES:
            label += f"; the first {MAX_FRAMES} of {len(positions)} are drawn here"
        _add_subtitle(frame, label)
        frames.append(frame)
    return frames


def _slider_positions(spec: dict, slider: dict) -> list[float | int]:
    """The slider's positions: the distinct values of its field in the inline data, within its
    range, or else every step of its range."""
    bind = slider["bind"]
    try:
        low, high = float(bind.get("min", 0)), float(bind.get("max", 0))
        step = abs(float(bind.get("step", 1))) or 1.0
    except (TypeError, ValueError):
        return []
    rows = []
    data = spec.get("data")
    if isinstance(data, dict) and isinstance(data.get("values"), list):
        rows += data["values"]
    for values in (spec.get("datasets") or {}).values():
        if isinstance(values, list):
            rows += values
    found = {row[slider["name"]] for row in rows
             if isinstance(row, dict) and isinstance(row.get(slider["name"]), int | float)
             and not isinstance(row.get(slider["name"]), bool)}
    if found:
        return sorted(v for v in found if low <= v <= high)
    if high < low:
        return []
    count = min(int((high - low) / step) + 1, 1000)  # enough to say how many are left out
    return [_whole(low + i * step) for i in range(count)]


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def render_png(spec: dict, *, command: Sequence[str] | None = None,
               timeout: float = RENDER_TIMEOUT) -> bytes:
    """A PNG of the chart (every slider position, one below the other), drawn in a child
    process; :class:`RenderError` if none could be drawn, whatever the reason."""
    request = json.dumps({"frames": static_frames(spec), "scale": SCALE, "colours": COLOURS},
                         default=str).encode("utf-8")
    argv = list(command) if command is not None else [sys.executable, "-I", os.path.abspath(__file__)]
    try:
        done = subprocess.run(argv, input=request, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"drawing took more than {timeout:g} s") from None
    except OSError as err:
        raise RenderError(f"the renderer could not start: {err}") from None
    if done.returncode != 0:
        raise RenderError(_failure(done.returncode, done.stderr))
    png = done.stdout
    if not png.startswith(PNG_SIGNATURE):
        raise RenderError("the renderer returned something other than a PNG")
    return png


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels, read from the PNG's header (IHDR, which comes first)."""
    if not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def _failure(returncode: int, stderr: bytes) -> str:
    """A one-line reason for the reader, from the child's exit and the end of its stderr."""
    lines = [line.strip().lstrip("#").strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line and not line.startswith(("/", "File ", "="))]
    if any("ModuleNotFoundError" in line and "vl_convert" in line for line in lines):
        return "the vl-convert-python package is not installed"
    reason = "the renderer was stopped by signal " + str(-returncode) if returncode < 0 else (
        f"the renderer failed (exit {returncode})")
    fatal = next((line for line in lines if "Fatal" in line or "out of memory" in line), "")
    last = fatal or (lines[-1] if lines else "")
    return f"{reason}: {last[:200]}" if last else reason


def _drop_interactive_hints(spec: dict) -> None:
    title = spec.get("title")
    if isinstance(title, dict) and isinstance(title.get("subtitle"), str) and any(
            hint in title["subtitle"].lower() for hint in INTERACTIVE_HINTS):
        del title["subtitle"]


def _add_subtitle(spec: dict, text: str) -> None:
    title = spec.get("title")
    if isinstance(title, str):
        spec["title"] = {"text": title, "subtitle": text}
    elif isinstance(title, dict):
        subtitle = title.get("subtitle")
        title["subtitle"] = f"{subtitle}: {text}" if isinstance(subtitle, str) else text
    else:
        spec["title"] = {"text": "", "subtitle": text}


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------------- the child process

def _vegalite_version(spec: dict, available: Sequence[str]) -> str | None:
    """The newest Vega-Lite the renderer has with the major version of the spec's ``$schema``
    (minor versions of Vega-Lite only add features), or None for the renderer's default."""
    schema = str(spec.get("$schema", ""))
    marker = schema.rsplit("/v", 1)[-1] if "/v" in schema else ""
    major = marker.split(".", 1)[0]
    same = [v for v in available if v.split(".", 1)[0] == major]
    return max(same, key=lambda v: tuple(int(x) for x in v.split("."))) if same else None


def _draw(frames: list[dict], scale: float, colours: int) -> bytes:
    """Draw each frame with vl-convert, stack them, reduce to a palette; the PNG's bytes."""
    import io

    import vl_convert
    from PIL import Image

    versions = vl_convert.get_vegalite_versions()
    images = []
    for frame in frames:
        png = vl_convert.vegalite_to_png(frame, scale=scale,
                                         vl_version=_vegalite_version(frame, versions))
        with Image.open(io.BytesIO(png)) as image:
            rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        images.append(flat)
    gap = int(16 * scale) if len(images) > 1 else 0
    width = max(i.width for i in images)
    height = sum(i.height for i in images) + gap * (len(images) - 1)
    sheet = Image.new("RGB", (width, height), "white")
    top = 0
    for image in images:
        sheet.paste(image, (0, top))
        top += image.height + gap
    out = io.BytesIO()
    sheet.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, format="PNG",
                                                                        optimize=True)
    return out.getvalue()


def _main() -> int:
    """Read ``{"frames": [...], "scale": S, "colours": N}`` on stdin, write the PNG on stdout."""
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    png = _draw(request["frames"], float(request.get("scale", SCALE)),
                int(request.get("colours", COLOURS)))
    sys.stdout.buffer.write(png)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main())
