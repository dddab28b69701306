"""`dvc plots show` draws without network: the page it writes carries vega, vega-lite and
vega-embed inline (vendor/vega/plots_template.html) and loads nothing from anywhere else; and its
line plots give each series its own colour (.dvc/plots/series.json)."""

import configparser
import json
import os
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import yaml
from dvc_render.html import PAGE_HTML

ROOT = Path(__file__).parents[2]


class PageResources(HTMLParser):
    """Every address a page's tags load or link to, and the code of its inline scripts."""

    def __init__(self):
        super().__init__()
        self.addresses: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.addresses += [value for name, value in attrs if name in ("src", "href", "data", "srcset") and value]
        self._in_script = tag == "script" and not any(name == "src" for name, _ in attrs)
        if self._in_script:
            self.inline_scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts[-1] += data


def remote_addresses(page: str) -> list[str]:
    parser = PageResources()
    parser.feed(page)
    return [address for address in parser.addresses if "://" in address or address.startswith("//")]


def test_dvc_config_names_the_vendored_template():
    config = configparser.ConfigParser()
    config.read(ROOT / ".dvc/config")
    template = (ROOT / ".dvc" / config["plots"]["html_template"]).resolve()
    assert template == (ROOT / "vendor/vega/plots_template.html").resolve()
    page = template.read_text(encoding="utf-8")
    assert "{plot_divs}" in page
    assert "{scripts}" not in page  # where DVC would put its CDN script tags


def show_plots(out: Path, *options: str) -> str:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(["dvc", "plots", "show", "-o", str(out), *options], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return (out / "index.html").read_text(encoding="utf-8")


def test_the_plots_page_loads_nothing_from_the_network(tmp_path):
    page = show_plots(tmp_path / "page")
    parser = PageResources()
    parser.feed(page)
    assert remote_addresses(page) == []
    assert any(address.startswith("static/") for address in parser.addresses)  # the images are there, locally
    code = "\n".join(parser.inline_scripts)
    for library_global in (".vega={}", "vegaLite", "vegaEmbed"):
        assert library_global in code
    assert page.count("vegaEmbed(") > 1  # curves are embedded


def test_dvcs_own_page_would_load_from_a_cdn(tmp_path):
    """The check above can fail: DVC's default page loads the three libraries from a CDN."""
    default = tmp_path / "dvc_default.html"
    default.write_text(PAGE_HTML, encoding="utf-8")
    page = show_plots(tmp_path / "page", "--html-template", str(default))
    assert any("cdn.jsdelivr.net" in address for address in remote_addresses(page))


def series_of(datapoint: dict) -> str:
    """The series a datapoint is drawn in by .dvc/plots/series.json: its revision and its file and field."""
    return datapoint["rev"] + "::" + (datapoint.get("filename::field") or datapoint.get("filename") or datapoint.get("field") or "")


def committed_line_plots() -> dict[str, dict]:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    result = subprocess.run(["dvc", "plots", "show", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    plots = json.loads(result.stdout)["data"]
    return {name: entries[0]["content"] for name, entries in plots.items() if entries and entries[0]["type"] == "vega"}


def test_every_line_plot_of_several_series_gives_each_its_own_colour():
    """With one revision DVC's linear template colours by revision alone; ours gives every file and field a colour."""
    template = json.loads((ROOT / ".dvc/plots/series.json").read_text())
    assert "datum['filename::field'] || datum.filename || datum.field" in template["transform"][0]["calculate"]  # what series_of reads
    yaml_plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    named = {name: spec for entry in yaml_plots for name, spec in entry.items() if isinstance(spec, dict)}
    several = {name: spec for name, spec in named.items() if spec.get("template") != "scatter" and len(spec.get("y", {})) > 1}
    assert several, "no plot of several series in dvc.yaml"
    drawn = committed_line_plots()
    for name, spec in several.items():
        assert spec["template"] == "series", name
        content = drawn[name]
        assert content["encoding"]["color"]["field"] == "series", name
        series = {series_of(point) for point in content["data"]["values"]}
        assert len(series) == len(spec["y"]), (name, series)


def test_dvcs_linear_template_draws_the_series_of_one_revision_in_one_colour():
    """The check above can fail: DVC's own template colours by the revision, one colour for all twelve validation curves."""
    from dvc_render.vega_templates import LinearTemplate

    layers = LinearTemplate.DEFAULT_CONTENT["layer"]
    assert {layer["encoding"]["color"]["field"] for layer in layers if "color" in layer.get("encoding", {})} == {"rev"}
    validation = committed_line_plots()["validation warping error against training time (s)"]
    assert len({point["rev"] for point in validation["data"]["values"]}) == 1


def budget_plot_specs() -> dict[str, dict]:
    yaml_plots = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    named = {name: spec for entry in yaml_plots for name, spec in entry.items() if isinstance(spec, dict)}
    return {name: spec for name, spec in named.items() if str(spec.get("template", "")).startswith("budget")}


def test_every_budget_plot_colours_each_method_and_draws_each_seeds_interval():
    """The budget curves (scripts/budget_curves.py): a colour per method, the same in every plot whichever methods it
    shows, and each training seed's test interval as a bar from <y>_low to <y>_high; the curve template joins the seeds' means."""
    from videodpo import methods
    specs = budget_plot_specs()
    assert specs, "no budget plot in dvc.yaml"
    drawn = committed_line_plots()
    for name, spec in specs.items():
        [(file, y)] = spec["y"].items()
        content = drawn[name]
        colour = content["encoding"]["color"]
        assert colour["field"] == "method" and set(colour["scale"]["domain"]) == set(methods.known()), name
        assert len(set(colour["scale"]["range"])) == len(colour["scale"]["domain"]), name
        bars = [layer for layer in content["layer"] if layer["mark"]["type"] == "rule" and "y2" in layer.get("encoding", {})]
        assert [(bar["encoding"]["y"]["field"], bar["encoding"]["y2"]["field"]) for bar in bars] == [(f"{y}_low", f"{y}_high")], name
        values = content["data"]["values"]
        assert all(f"{y}_low" in point and f"{y}_high" in point for point in values), name
        assert len({point["method"] for point in values}) > 1, (name, "a budget plot of one method")
        if spec["template"] == "budget":
            [line] = [layer for layer in content["layer"] if layer["mark"]["type"] == "line"]
            assert line["encoding"]["y"] == {"aggregate": "mean", "field": y, "type": "quantitative"}, name
