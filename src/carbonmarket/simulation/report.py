"""The what-if report: one self-contained HTML file with Plotly charts, and CSV files of every figure.

`write_report(result, out_dir)` takes the summary `run_policy` returns (and its baseline, when the
scenario names one) and writes:

- `<scenario>.html`: the levers, the headline numbers against the baseline, and six charts (price path
  with its p10-p90 band, supply and emissions, deficits by sector, compliance rate, auction revenue,
  abatement). Plotly's browser bundle is embedded from the installed `plotly` package: the file opens
  with no network.
- `<scenario>-metrics.csv`: one row per scenario × year × metric × percentile.
- `<scenario>-sectors.csv`: one row per scenario × year × sector × metric × percentile.
- `<scenario>.json`: the summary itself.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.io import to_html  # type: ignore[import-untyped]
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

MT = 1e6  # tonnes in a megatonne
BN = 1e9  # CNY in a billion
METRICS_COLUMNS = ("scenario", "year", "metric", "unit", "percentile", "value")
SECTORS_COLUMNS = ("scenario", "year", "sector", "metric", "unit", "percentile", "value")
CHARTS = ("price", "supply", "deficits", "compliance", "revenue", "abatement")
SCENARIO_COLOUR = "#1f6f8b"
BASELINE_COLOUR = "#9a9a9a"
SECTOR_COLOURS = ("#1f6f8b", "#d1495b", "#edae49", "#66a182", "#8d6a9f", "#2e2e2e", "#e07a5f", "#a0c4ff")
# How the headline numbers are shown: label, divisor, unit.
HEADLINE_FORMAT = {
    "price_first_cny": ("price, first year", 1, "CNY/t"),
    "price_2030_cny": ("price, 2030", 1, "CNY/t"),
    "price_last_cny": ("price, last year", 1, "CNY/t"),
    "abatement_total_t": ("abatement, all years", MT, "Mt"),
    "auction_revenue_total_cny": ("auction revenue, all years", BN, "bn CNY"),
    "compliance_rate_min": ("lowest compliance rate", 0.01, "%"),
    "emissions_last_t": ("emissions, last year", MT, "Mt"),
    "bank_max_t": ("largest bank", MT, "Mt"),
}


def write_report(result: Mapping[str, Any], out_dir: Path | str) -> dict[str, Path]:
    """Write the HTML, the CSVs and the JSON of a what-if into `out_dir`; their paths by kind."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = str(result["scenario"])
    paths = {
        "html": folder / f"{name}.html",
        "metrics_csv": folder / f"{name}-metrics.csv",
        "sectors_csv": folder / f"{name}-sectors.csv",
        "json": folder / f"{name}.json",
    }
    runs = [r for r in (result, result.get("baseline")) if r]
    _write_csv(paths["metrics_csv"], METRICS_COLUMNS, (row for r in runs for row in metric_rows(r)))
    _write_csv(paths["sectors_csv"], SECTORS_COLUMNS, (row for r in runs for row in sector_rows(r)))
    summary = {k: v for k, v in result.items() if k != "report"}
    paths["json"].write_text(json.dumps(summary, indent=1), encoding="utf-8")
    paths["html"].write_text(render_html(result), encoding="utf-8")
    return paths


# --- CSV -----------------------------------------------------------------------------------------------


def metric_rows(run: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    for metric, bands in run["metrics"].items():
        for i, year in enumerate(run["years"]):
            for percentile in ("p10", "p50", "p90"):
                yield (run["scenario"], year, metric, bands["unit"], percentile, bands[percentile][i])


def sector_rows(run: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    for sector, metrics in run["by_sector"].items():
        for metric, bands in metrics.items():
            for i, year in enumerate(run["years"]):
                for percentile in ("p10", "p50", "p90"):
                    value = bands[percentile][i]
                    yield (run["scenario"], year, sector, metric, bands["unit"], percentile, value)


def _write_csv(path: Path, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


# --- charts -------------------------------------------------------------------------------------------


def _series(run: Mapping[str, Any], metric: str, divisor: float) -> dict[str, list[float]]:
    bands = run["metrics"][metric]
    return {p: [v / divisor for v in bands[p]] for p in ("p10", "p50", "p90")}


def _band_traces(
    run: Mapping[str, Any], metric: str, divisor: float, colour: str, label: str, dash: str = "solid"
) -> list[go.Scatter]:
    """The p50 line with a shaded p10-p90 band."""
    years = run["years"]
    s = _series(run, metric, divisor)
    fill = _rgba(colour, 0.18)
    return [
        go.Scatter(x=years, y=s["p90"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip"),
        go.Scatter(
            x=years,
            y=s["p10"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=fill,
            name=f"{label} p10-p90",
            hoverinfo="skip",
        ),
        go.Scatter(
            x=years,
            y=s["p50"],
            mode="lines+markers",
            line={"color": colour, "dash": dash},
            name=f"{label} p50",
        ),
    ]


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        xaxis_title="year",
        yaxis_title=y_title,
        template="plotly_white",
        height=380,
        margin={"l": 70, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "y": -0.18},
    )
    fig.update_xaxes(dtick=1)
    return fig


def _compared(result: Mapping[str, Any], metric: str, divisor: float, title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    base = result.get("baseline")
    if base:
        for trace in _band_traces(base, metric, divisor, BASELINE_COLOUR, str(base["scenario"]), "dash"):
            fig.add_trace(trace)
    for trace in _band_traces(result, metric, divisor, SCENARIO_COLOUR, str(result["scenario"])):
        fig.add_trace(trace)
    return _layout(fig, title, y_title)


def price_chart(result: Mapping[str, Any]) -> go.Figure:
    fig = _compared(result, "price_cny", 1, "Allowance price (p50, p10-p90 band over seeds)", "CNY/t")
    reserve = result["metrics"]["reserve_price_cny"]["p50"]
    if any(v > 0 for v in reserve):
        fig.add_trace(
            go.Scatter(
                x=result["years"],
                y=reserve,
                mode="lines",
                line={"color": "#d1495b", "dash": "dot"},
                name="auction reserve price",
            )
        )
    return fig


def supply_chart(result: Mapping[str, Any]) -> go.Figure:
    """Where the allowances come from and go (p50): free, sold at auction, emissions, bank."""
    years = result["years"]
    m = result["metrics"]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=years, y=[v / MT for v in m["free_t"]["p50"]], name="free allocation", marker_color="#66a182"
        )
    )
    fig.add_trace(
        go.Bar(
            x=years,
            y=[v / MT for v in m["auction_sold_t"]["p50"]],
            name="sold at auction",
            marker_color="#edae49",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=[v / MT for v in m["emissions_bau_t"]["p50"]],
            name="BAU emissions",
            line={"color": "#555555", "dash": "dash"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=[v / MT for v in m["emissions_t"]["p50"]],
            name="verified emissions",
            line={"color": "#d1495b"},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=years,
            y=[v / MT for v in m["bank_t"]["p50"]],
            name="bank (end of year)",
            yaxis="y2",
            line={"color": SCENARIO_COLOUR, "dash": "dot"},
        )
    )
    fig.update_layout(barmode="stack", yaxis2={"title": "bank, Mt", "overlaying": "y", "side": "right"})
    low = min(min(m["free_t"]["p50"]), min(m["emissions_t"]["p50"])) / MT
    fig = _layout(fig, "Supply and emissions (p50)", "Mt CO2")
    fig.update_yaxes(range=[low * 0.85, None], selector={"title": {"text": "Mt CO2"}})
    fig.update_layout(margin={"r": 70})
    return fig


def deficit_chart(result: Mapping[str, Any]) -> go.Figure:
    """Verified emissions less free allocation, per sector (p50; positive: the sector buys)."""
    fig = go.Figure()
    for k, (sector, metrics) in enumerate(result["by_sector"].items()):
        band = metrics["deficit_t"]
        fig.add_trace(
            go.Scatter(
                x=result["years"],
                y=[v / MT for v in band["p50"]],
                mode="lines+markers",
                name=sector,
                line={"color": SECTOR_COLOURS[k % len(SECTOR_COLOURS)]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [(h - m) / MT for h, m in zip(band["p90"], band["p50"], strict=True)],
                    "arrayminus": [(m - lo) / MT for m, lo in zip(band["p50"], band["p10"], strict=True)],
                    "thickness": 1,
                    "width": 2,
                },
            )
        )
    return _layout(fig, "Deficit by sector: verified emissions - free allocation (p50, p10-p90)", "Mt CO2")


def compliance_chart(result: Mapping[str, Any]) -> go.Figure:
    fig = _compared(
        result, "compliance_rate", 0.01, "Compliance rate (share of entities surrendering in full)", "%"
    )
    return fig


def revenue_chart(result: Mapping[str, Any]) -> go.Figure:
    return _compared(result, "auction_revenue_cny", BN, "Auction revenue (volume sold x price)", "bn CNY")


def abatement_chart(result: Mapping[str, Any]) -> go.Figure:
    return _compared(result, "abatement_t", MT, "Abatement below business as usual", "Mt CO2")


def figures(result: Mapping[str, Any]) -> dict[str, go.Figure]:
    """The report's charts by id (the HTML's `chart-<id>` divs)."""
    return {
        "price": price_chart(result),
        "supply": supply_chart(result),
        "deficits": deficit_chart(result),
        "compliance": compliance_chart(result),
        "revenue": revenue_chart(result),
        "abatement": abatement_chart(result),
    }


# --- HTML ---------------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 1.2rem 1.5rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
p.lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: .86rem; margin: .4rem 0 1rem; }
th, td { border-bottom: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: .6rem 1.2rem; }
.levers { columns: 2; column-gap: 2rem; }
.note { color: #666; font-size: .85rem; }
"""


def _format(value: float, divisor: float) -> str:
    scaled = value / divisor
    return f"{scaled:,.2f}" if abs(scaled) < 1000 else f"{scaled:,.0f}"


def headline_table(result: Mapping[str, Any]) -> str:
    base = result.get("baseline")
    head = "<tr><th>figure</th><th>unit</th>"
    head += f"<th>{html.escape(str(base['scenario']))}</th>" if base else ""
    head += f"<th>{html.escape(str(result['scenario']))}</th>"
    head += "<th>difference</th></tr>" if base else "</tr>"
    rows = []
    for key, (label, divisor, unit) in HEADLINE_FORMAT.items():
        if key not in result["headline"]:
            continue
        value = result["headline"][key]
        cells = f"<td>{label}</td><td>{unit}</td>"
        if base and key in base["headline"]:
            other = base["headline"][key]
            cells += f"<td class='num'>{_format(other, divisor)}</td>"
            cells += f"<td class='num'>{_format(value, divisor)}</td>"
            cells += f"<td class='num'>{_format(value - other, divisor)}</td>"
        else:
            cells += f"<td class='num'>{_format(value, divisor)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _lever_items(levers: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for key, value in levers.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and not all(str(k).isdigit() for k in value):
            yield from _lever_items(value, f"{name}.")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                label = item.get("sector", "?")
                yield from _lever_items({k: v for k, v in item.items() if k != "sector"}, f"{name}.{label}.")
        else:
            yield name, json.dumps(value)


def levers_table(result: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
        for k, v in _lever_items(result["levers"])
    )
    return f"<table class='levers'><tr><th>lever</th><th>value</th></tr>{rows}</table>"


def render_html(result: Mapping[str, Any]) -> str:
    """The whole report as one HTML document (Plotly embedded)."""
    name = html.escape(str(result["scenario"]))
    years = result["years"]
    base = result.get("baseline")
    against = f" against <b>{html.escape(str(base['scenario']))}</b> (grey, dashed)" if base else ""
    charts = "".join(
        f"<div>{to_html(fig, full_html=False, include_plotlyjs=False, div_id=f'chart-{key}')}</div>"
        for key, fig in figures(result).items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>What-if {name}</title>
<style>{STYLE}</style>
<script>{get_plotlyjs()}</script></head>
<body>
<h1>What-if: {name}</h1>
<p class="lead">{years[0]}-{years[-1]}, {result["seeds"]} Monte Carlo seeds on {result["entities"]:,}
generated entities{against}. Lines are medians (p50) over seeds, bands p10-p90. Tonnes in Mt CO2, prices
in CNY/t. A yearly reduced-form market-clearing model, not the platform's full year (docs/simulation.md).</p>
<h2>Headline</h2>
{headline_table(result)}
<h2>Charts</h2>
<div class="grid">{charts}</div>
<h2>Levers</h2>
<p class="note">Every lever of [policy] as run (defaults filled in); paths are {{year: value}}, linear
between the years and flat outside them.</p>
{levers_table(result)}
<p class="note">Source: {html.escape(str(result.get("source", "")))}. CSV files beside this one hold every
figure (one row per year, metric and percentile).</p>
</body></html>
"""
