"""The SVG chart helpers of the dashboard (app/web/charts.py)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from app.web.charts import HEIGHT, PAD_BOTTOM, PAD_TOP, Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
PLOT_H = HEIGHT - PAD_TOP - PAD_BOTTOM


def test_bar_chart_is_well_formed_svg_with_an_accessible_label() -> None:
    svg = ET.fromstring(str(bar_chart("Fetches", ["a", "b"], [Series("ok", [1, 2], "ok")])))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Fetches"
    assert svg.find(f"{SVG}title").text == "Fetches"


def test_bar_heights_are_proportional_and_stack() -> None:
    svg = ET.fromstring(
        str(
            bar_chart(
                "x",
                ["a", "b"],
                [Series("ok", [5, 10], "ok"), Series("failed", [0, 0], "err")],
            )
        )
    )
    heights = [float(r.get("height")) for r in svg.iter(f"{SVG}rect")]
    assert heights == [PLOT_H / 2, PLOT_H]  # axis top rounds 10 up to 10


def test_stacked_series_sit_on_top_of_each_other() -> None:
    svg = ET.fromstring(
        str(bar_chart("x", ["a"], [Series("ok", [2], "ok"), Series("failed", [2], "err")]))
    )
    ok, failed = list(svg.iter(f"{SVG}rect"))
    assert float(failed.get("y")) + float(failed.get("height")) == float(ok.get("y"))


def test_labels_are_escaped() -> None:
    markup = str(bar_chart("<b>&", ["<x>"], [Series("s", [1], "ok")]))
    assert "<b>" not in markup and "&lt;b&gt;&amp;" in markup
    ET.fromstring(markup)


def test_line_chart_breaks_the_line_where_values_are_missing() -> None:
    markup = str(line_chart("x", list("abcde"), [Series("avg", [1, 2, None, 3, 4], "avg")], "s"))
    assert len(re.findall(r"<polyline", markup)) == 2
    assert len(re.findall(r"<circle", markup)) == 4


def test_empty_chart_still_renders_an_axis() -> None:
    svg = ET.fromstring(str(line_chart("x", [], [Series("avg", [], "avg")])))
    assert len(list(svg.iter(f"{SVG}line"))) == 3
