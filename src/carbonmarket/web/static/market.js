// The public market page: draw the daily close and volume with Plotly (served from the installed
// plotly package) from /api/market/series, and add trades and closes as the live feed announces them.
import { formatQuantity } from "/static/session.js";

const main = document.querySelector("[data-market]");
const chart = document.getElementById("market-chart");
const chartStatus = document.getElementById("chart-status");
const picker = document.getElementById("chart-instrument");
const tradesBody = document.querySelector("#recent-trades tbody");
const tradesEmpty = document.getElementById("trades-empty");
const liveState = document.getElementById("live-state");
const tradesShownMax = 50;

// Fen to CNY with two decimals, as every price on the page is shown.
function cny(fen) {
  return fen === null || fen === undefined ? "—" : formatQuantity(fen, "CNY");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function drawChart(instrument) {
  const from = main.dataset.chartFrom;
  const to = main.dataset.chartTo;
  const query = new URLSearchParams({ instrument, from, to, period: "day" });
  let body;
  try {
    const response = await fetch(`/api/market/series?${query}`, { headers: { Accept: "application/json" } });
    body = await response.json();
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  } catch (error) {
    chartStatus.textContent = `The series could not be loaded: ${error.message}`;
    return;
  }
  if (!window.Plotly) {
    chartStatus.textContent = "The chart library did not load.";
    return;
  }
  const days = body.series.filter((d) => d.close_fen !== null);
  const x = days.map((d) => d.day);
  const close = {
    x,
    y: days.map((d) => d.close_fen / 100),
    name: "Close (CNY/t)",
    type: "scatter",
    mode: "lines",
    line: { color: "#14532d", width: 2 },
  };
  const volume = {
    x,
    y: days.map((d) => d.volume_total),
    name: "Volume (t)",
    type: "bar",
    yaxis: "y2",
    marker: { color: "#93c5fd" },
  };
  const layout = {
    margin: { t: 16, r: 64, b: 40, l: 56 },
    height: 360,
    showlegend: true,
    legend: { orientation: "h", y: -0.18 },
    yaxis: { title: { text: "CNY/t" } },
    yaxis2: { title: { text: "t" }, overlaying: "y", side: "right", showgrid: false, rangemode: "tozero" },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
  };
  await window.Plotly.react(chart, [volume, close], layout, { displaylogo: false, responsive: true });
  chart.dataset.points = String(days.length);
  chart.dataset.instrument = instrument;
  const traded = days.filter((d) => d.volume_total > 0).length;
  chartStatus.textContent = `${days.length} trading days from ${from} to ${to}; ${traded} with trades.`;
}

function addTrade(trade) {
  if (tradesBody.querySelector(`tr[data-trade="${CSS.escape(trade.trade_id)}"]`)) return;
  const tr = document.createElement("tr");
  tr.dataset.trade = trade.trade_id;
  tr.className = "fresh";
  tr.append(
    cell(trade.at.slice(0, 19), "mono"),
    cell(trade.instrument),
    cell(trade.modality),
    cell(cny(trade.price_fen), "num"),
    cell(formatQuantity(trade.quantity, trade.instrument), "num"),
  );
  tradesBody.prepend(tr);
  while (tradesBody.rows.length > tradesShownMax) tradesBody.deleteRow(-1);
  tradesEmpty.hidden = true;
}

function updateClose(close) {
  const row = document.querySelector(`#closes tr[data-instrument="${CSS.escape(close.instrument)}"]`);
  if (!row) return;
  row.querySelector(".close").textContent = cny(close.close_fen);
}

function listen() {
  if (!window.EventSource) return;
  const source = new EventSource("/api/market/stream");
  source.addEventListener("open", () => {
    liveState.textContent = "(live)";
  });
  source.addEventListener("error", () => {
    liveState.textContent = "(reconnecting…)";
  });
  source.addEventListener("trade", (event) => addTrade(JSON.parse(event.data)));
  source.addEventListener("close", (event) => updateClose(JSON.parse(event.data)));
}

picker.addEventListener("change", () => drawChart(picker.value));
if (picker.value) {
  drawChart(picker.value);
} else {
  chartStatus.textContent = "No instrument has a price yet.";
}
listen();
