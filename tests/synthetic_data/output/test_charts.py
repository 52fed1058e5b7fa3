"""synthetic_data.output.charts: a Vega-Lite chart's display bundle carries a real static image beside
the interactive specification, nbconvert's HTML shows that image, and a renderer that fails
(including V8 aborting under an address-space limit) costs only the image, never the notebook."""

from __future__ import annotations

import io
import json
import logging
import sys
from base64 import b64decode
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from synthetic_data.output import charts

REPO = Path(__file__).resolve().parents[3]
SPLINK_NOTEBOOK = REPO / "notebooks" / "linkage" / "linkage_07_splink" / "linkage_07_splink.ipynb"
BAR_COLOUR = (31, 119, 180)  # the bars' fill, #1f77b4
BAR_CHART = {
    "$schema": "https://vega.github.io/schema/vega-lite/v5.9.3.json",
    "title": {"text": "Bars", "subtitle": "Use mousewheel to zoom"},
    "data": {"values": [{"level": "exact", "weight": 8.0}, {"level": "fuzzy", "weight": 3.5},
                        {"level": "other", "weight": 1.0}]},
    "mark": {"type": "bar", "color": "#1f77b4"},
    "encoding": {"x": {"field": "level", "type": "nominal"},
                 "y": {"field": "weight", "type": "quantitative"}},
    "width": 300, "height": 200,
}
OLD_FALLBACK = "open the notebook in JupyterLab to see it"


def _image(bundle: dict) -> Image.Image:
    image = Image.open(io.BytesIO(b64decode(bundle["image/png"])))
    image.load()
    return image.convert("RGB")


def _share_of(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 12) -> float:
    counts = image.getcolors(maxcolors=image.width * image.height)
    close = sum(n for n, pixel in counts
                if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True)))
    return close / (image.width * image.height)


@pytest.fixture(scope="module")
def bar_bundle() -> tuple[dict, dict]:
    return charts.chart_bundle(BAR_CHART, "BarChart")


@pytest.fixture(scope="module")
def waterfall_chart() -> dict:
    """A real Splink 5 waterfall chart of three record pairs (its slider steps through them)."""
    import duckdb
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator

    left = pd.DataFrame({"unique_id": [1, 2, 3], "surname": ["smith", "jones", "brown"],
                         "sex": ["F", "M", "F"]})
    right = pd.DataFrame({"unique_id": [7, 8, 9], "surname": ["smith", "jones", "browne"],
                          "sex": ["F", "F", "F"]})
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.ExactMatch("surname").configure(m_probabilities=[0.9, 0.1],
                                               u_probabilities=[0.01, 0.99]),
            cl.ExactMatch("sex").configure(m_probabilities=[0.95, 0.05],
                                           u_probabilities=[0.5, 0.5])],
        blocking_rules_to_generate_predictions=["1=1"],
        retain_intermediate_calculation_columns=True,
        probability_two_random_records_match=0.1)
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    api = DuckDBAPI(connection=connection)
    linker = Linker([api.register(left, dataset_display_name="a"),
                     api.register(right, dataset_display_name="b")], settings,
                    log_level=logging.WARNING)
    records = linker.inference.predict().as_record_list()[:3]
    return linker.visualisations.waterfall_chart(records, filter_nulls=False).chart_dict


# --------------------------------------------------------------------------- the bundle

def test_the_renderer_is_installed() -> None:
    """vl-convert-python is pinned in requirements.txt; without it every chart falls back to
    text outside JupyterLab."""
    import importlib.util

    assert importlib.util.find_spec("vl_convert") is not None, (
        "vl-convert-python is missing: run `make install`")


def test_the_bundle_keeps_the_interactive_chart_and_adds_a_png(bar_bundle: tuple[dict, dict]) -> None:
    data, metadata = bar_bundle
    assert data[charts.VEGALITE_MIMETYPE] == BAR_CHART  # JupyterLab ranks this first
    assert "image/png" in data and "text/plain" in data
    assert OLD_FALLBACK not in data["text/plain"]
    image = _image(data)
    # Drawn at twice its size and shown at its size.
    assert metadata["image/png"] == {"width": image.width // charts.SCALE}
    assert image.width >= 300 * charts.SCALE and image.height >= 200 * charts.SCALE


def test_the_png_shows_the_chart_marks(bar_bundle: tuple[dict, dict]) -> None:
    image = _image(bar_bundle[0])
    # The bars: a large area of their colour (three bars of 300 x 200 px, heights 8, 3.5, 1).
    assert _share_of(image, BAR_COLOUR) > 0.05
    # Axes and text: dark pixels; background: mostly white; not one flat colour.
    assert _share_of(image, (0, 0, 0), tolerance=90) > 0.002
    assert _share_of(image, (255, 255, 255), tolerance=3) > 0.4
    assert len(image.getcolors(maxcolors=1 << 16) or []) > 10


def test_static_copy_drops_interactive_hints() -> None:
    frames = charts.static_frames(BAR_CHART)
    assert len(frames) == 1 and "subtitle" not in frames[0]["title"]
    assert BAR_CHART["title"]["subtitle"] == "Use mousewheel to zoom"  # the input is not changed


def test_a_splink_waterfall_draws_every_record_pair(waterfall_chart: dict) -> None:
    slider = waterfall_chart["params"][0]
    assert slider["bind"]["input"] == "range"
    frames = charts.static_frames(waterfall_chart)
    # One frame per pair the data holds, not per step of Splink's over-long slider.
    assert slider["bind"]["max"] > 2
    assert [f["params"][0]["value"] for f in frames] == [0, 1, 2]
    assert all("record_number = " in f["title"]["subtitle"] for f in frames)

    data, metadata = charts.chart_bundle(waterfall_chart, "WaterfallChart")
    image = _image(data)
    one_frame = charts.chart_bundle({**waterfall_chart, "params": [
        {**slider, "bind": {**slider["bind"], "min": 0, "max": 0}}]}, "WaterfallChart")
    single = _image(one_frame[0])
    # Three waterfalls, one below the other (their widths differ with their axis labels).
    assert image.width >= 0.9 * single.width
    assert image.height > 2.5 * single.height
    # Splink's waterfall bars: green for evidence for a match, red for evidence against.
    assert _share_of(image, (128, 192, 128), tolerance=40) > 0.005
    assert _share_of(image, (255, 128, 128), tolerance=40) > 0.005


def test_slider_without_data_steps_through_its_range() -> None:
    spec = {**BAR_CHART, "params": [{"name": "n", "value": 0,
                                     "bind": {"input": "range", "min": 0, "max": 40, "step": 2}}]}
    frames = charts.static_frames(spec)
    assert [f["params"][0]["value"] for f in frames] == list(range(0, 2 * charts.MAX_FRAMES, 2))
    assert f"the first {charts.MAX_FRAMES} of 21" in frames[0]["title"]["subtitle"]


# --------------------------------------------------------------------------- nbconvert

def test_nbconvert_html_shows_the_image(bar_bundle: tuple[dict, dict]) -> None:
    from nbconvert import HTMLExporter

    data, metadata = bar_bundle
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show(linker.visualisations.match_weights_chart())")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
    nb.cells.append(cell)
    html, _ = HTMLExporter().from_notebook_node(nb)
    images = BeautifulSoup(html, "html.parser").find_all("img")
    assert [img["src"] for img in images] == [f"data:image/png;base64,{data['image/png']}"]
    assert images[0]["width"] == str(metadata["image/png"]["width"])
    assert OLD_FALLBACK not in html and "could not be made" not in html


# --------------------------------------------------------------------------- failures

def test_a_renderer_that_crashes_leaves_the_chart_and_says_why() -> None:
    data, metadata = charts.chart_bundle(BAR_CHART, "BarChart",
                                         command=[sys.executable, "-c", "import os; os.abort()"])
    assert "image/png" not in data and metadata == {}
    assert data[charts.VEGALITE_MIMETYPE] == BAR_CHART
    assert "BarChart" in data["text/plain"] and "could not be made" in data["text/plain"]
    assert "signal" in data["text/plain"]


def test_v8_aborting_under_an_address_space_limit_costs_only_the_image() -> None:
    """A grader without cgroups limits the kernel's address space, which V8 cannot start in:
    the child dies, the notebook does not."""
    child = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30)); "
             f"os.execv(sys.executable, [sys.executable, '-I', {str(Path(charts.__file__))!r}])")
    data, _ = charts.chart_bundle(BAR_CHART, "BarChart", command=[sys.executable, "-c", child])
    assert "image/png" not in data
    assert "could not be made" in data["text/plain"]


def test_a_missing_renderer_says_which_package(tmp_path: Path) -> None:
    script = tmp_path / "renderer.py"
    script.write_text("import vl_convert_is_not_installed_here\n")
    data, _ = charts.chart_bundle(BAR_CHART, "BarChart", command=[sys.executable, str(script)])
    assert "image/png" not in data
    assert "the vl-convert-python package is not installed" in data["text/plain"]
    not_png, _ = charts.chart_bundle(BAR_CHART, "BarChart",
                                     command=[sys.executable, "-c", "print('hello')"])
    assert "other than a PNG" in not_png["text/plain"]


def test_a_slow_renderer_times_out() -> None:
    data, _ = charts.chart_bundle(BAR_CHART, "BarChart", timeout=0.5,
                                  command=[sys.executable, "-c", "import time; time.sleep(30)"])
    assert "image/png" not in data and "more than 0.5 s" in data["text/plain"]


# --------------------------------------------------------------------------- the notebook

def test_the_splink_notebook_draws_its_charts_with_the_helper() -> None:
    nb = json.loads(SPLINK_NOTEBOOK.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("from synthetic_data.output.charts import show_chart" in c for c in code)
    assert not any(OLD_FALLBACK in c or "vnd.vegalite" in c for c in code)
    assert sum(c.count("show(linker.visualisations.") for c in code) == 3
