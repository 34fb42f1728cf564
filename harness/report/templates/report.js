// The leaderboard page's behaviour, plain JavaScript with no library: sorting, filtering, CI
// whiskers and the F1-against-training-time scatter. Data comes from the inline #page-data JSON
// and the tables' data-* attributes; nothing is fetched.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("page-data").textContent);

  function svgElement(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.textContent = text;
    return element;
  }

  // ---------------------------------------------------------------- sorting
  // A cell sorts by its data-value if it has one, else by its text (a leading number counts).
  function sortKey(cell) {
    const raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    const number = parseFloat(raw.replace("−", "-"));
    return { empty: raw === "" || raw === "–", number: number, text: raw.toLowerCase() };
  }

  function compare(a, b, numeric) {
    if (a.empty !== b.empty) return a.empty ? 1 : -1;  // empty cells last, either way
    if (numeric && !isNaN(a.number) && !isNaN(b.number)) return a.number - b.number;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  }

  function sortBy(table, index, header) {
    const descending = header.getAttribute("aria-sort") === "ascending";
    const numeric = header.dataset.type ? header.dataset.type === "number" : null;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const keys = new Map(rows.map((row) => [row, sortKey(row.cells[index])]));
    const allNumeric = numeric !== null ? numeric : rows.every((row) => keys.get(row).empty || !isNaN(keys.get(row).number));
    rows.sort((a, b) => {
      const order = compare(keys.get(a), keys.get(b), allNumeric);
      return descending && !(keys.get(a).empty || keys.get(b).empty) ? -order : order;
    });
    for (const row of rows) body.appendChild(row);
    for (const other of header.parentNode.children) other.removeAttribute("aria-sort");
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  for (const table of document.querySelectorAll("table.sortable")) {
    Array.from(table.tHead.rows[0].cells).forEach((header, index) => {
      header.title = "sort by this column";
      header.addEventListener("click", () => sortBy(table, index, header));
    });
  }

  // ---------------------------------------------------------------- filtering
  const overall = document.getElementById("overall");
  function applyFilters() {
    const chosen = Array.from(document.querySelectorAll("#filters select"))
      .map((select) => [select.dataset.filter, select.value]).filter(([, value]) => value !== "");
    let shown = 0;
    for (const row of overall.tBodies[0].rows) {
      const visible = chosen.every(([key, value]) => row.dataset[key] === value);
      row.hidden = !visible;
      shown += visible ? 1 : 0;
    }
    document.getElementById("shown-count").textContent = `${shown} of ${overall.tBodies[0].rows.length} rows`;
  }
  if (overall) {
    for (const select of document.querySelectorAll("#filters select")) select.addEventListener("change", applyFilters);
    applyFilters();
  }

  // ---------------------------------------------------------------- CI whiskers
  // One scale per metric across the table, so whiskers of one metric can be compared by eye.
  function drawWhiskers() {
    if (!overall) return;
    const cells = Array.from(overall.querySelectorAll("td.ci"));
    const ranges = {};
    for (const cell of cells) {
      const values = [cell.dataset.low, cell.dataset.high, cell.dataset.estimate].filter((v) => v !== "").map(Number);
      const range = ranges[cell.dataset.metric] || (ranges[cell.dataset.metric] = [Infinity, -Infinity]);
      range[0] = Math.min(range[0], ...values);
      range[1] = Math.max(range[1], ...values);
    }
    const width = 120, height = 14;
    for (const cell of cells) {
      const [low, high] = ranges[cell.dataset.metric];
      const span = Math.max(high - low, 1e-9);
      const x = (value) => 4 + ((Number(value) - low) / span) * (width - 8);
      const svg = svgElement("svg", { width: width, height: height, "aria-hidden": "true" });
      svg.appendChild(svgElement("line", { x1: 0, x2: width, y1: height / 2, y2: height / 2, stroke: "#e3e6ea" }));
      if (cell.dataset.low !== "") {
        const [a, b] = [x(cell.dataset.low), x(cell.dataset.high)];
        svg.appendChild(svgElement("line", { x1: a, x2: b, y1: height / 2, y2: height / 2, stroke: "#334", "stroke-width": 1.5 }));
        for (const end of [a, b]) svg.appendChild(svgElement("line", { x1: end, x2: end, y1: 3, y2: height - 3, stroke: "#334" }));
      }
      svg.appendChild(svgElement("circle", { cx: x(cell.dataset.estimate), cy: height / 2, r: 3, fill: "#1f5fa8" }));
      cell.insertBefore(svg, cell.firstChild);
    }
  }
  drawWhiskers();

  // ---------------------------------------------------------------- scatter
  const COLOURS = ["#1f5fa8", "#d4651c", "#2e8b57", "#8e44ad", "#b3261e", "#5b6570"];
  function drawScatter(svg, scatter) {
    const series = Object.entries(scatter.points);
    const points = series.flatMap(([, list]) => list);
    if (!svg || points.length === 0) return;
    const [W, H, left, right, top, bottom] = [760, 420, 60, 150, 20, 50];
    const logs = points.map((p) => Math.log10(p.x));
    let [xMin, xMax] = [Math.floor(Math.min(...logs)), Math.ceil(Math.max(...logs))];
    if (xMin === xMax) { xMin -= 1; xMax += 1; }
    const f1s = points.map((p) => p.f1);
    const yMin = Math.max(0, Math.floor((Math.min(...f1s) - 0.05) * 10) / 10);
    const yMax = Math.min(1, Math.ceil((Math.max(...f1s) + 0.02) * 10) / 10);
    const X = (x) => left + ((Math.log10(x) - xMin) / (xMax - xMin)) * (W - left - right);
    const Y = (y) => H - bottom - ((y - yMin) / Math.max(yMax - yMin, 1e-9)) * (H - top - bottom);
    for (let e = xMin; e <= xMax; e++) {
      const value = Math.pow(10, e);
      svg.appendChild(svgElement("line", { x1: X(value), x2: X(value), y1: top, y2: H - bottom, stroke: "#eceff2" }));
      svg.appendChild(svgElement("text", { x: X(value), y: H - bottom + 16, "text-anchor": "middle", "font-size": 11 },
        value >= 1 ? String(value) : value.toFixed(-e)));
    }
    for (let y = yMin; y <= yMax + 1e-9; y += 0.1) {
      svg.appendChild(svgElement("line", { x1: left, x2: W - right, y1: Y(y), y2: Y(y), stroke: "#eceff2" }));
      svg.appendChild(svgElement("text", { x: left - 6, y: Y(y) + 4, "text-anchor": "end", "font-size": 11 }, y.toFixed(1)));
    }
    svg.appendChild(svgElement("text", { x: (left + W - right) / 2, y: H - 10, "text-anchor": "middle", "font-size": 12 }, "Training time (s, log scale)"));
    svg.appendChild(svgElement("text", { x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle", "font-size": 12,
      transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, scatter.metric));
    const tip = svgElement("text", { class: "tip", x: 0, y: 0, visibility: "hidden" });
    series.forEach(([split, list], index) => {
      const colour = COLOURS[index % COLOURS.length];
      for (const p of list) {
        const dot = svgElement("circle", { cx: X(p.x), cy: Y(p.f1), r: 5, fill: colour, "fill-opacity": 0.8,
          class: "point", "data-model": p.model, "data-test-set": split });
        const label = `${p.model} (${split}): ${scatter.metric} ${p.f1.toFixed(3)}, ${p.seconds.toFixed(1)} s` + (p.seeds > 1 ? `, mean of ${p.seeds} seeds` : "");
        dot.appendChild(svgElement("title", {}, label));
        dot.addEventListener("mouseenter", () => {
          tip.textContent = label;
          tip.setAttribute("x", Math.min(X(p.x) + 8, W - 330));
          tip.setAttribute("y", Y(p.f1) - 8);
          tip.setAttribute("visibility", "visible");
        });
        dot.addEventListener("mouseleave", () => tip.setAttribute("visibility", "hidden"));
        svg.appendChild(dot);
      }
      svg.appendChild(svgElement("circle", { cx: W - right + 20, cy: top + 10 + index * 18, r: 5, fill: colour }));
      svg.appendChild(svgElement("text", { x: W - right + 30, y: top + 14 + index * 18, "font-size": 12 }, split));
    });
    // One name per model beside its first point (its test sets share its x), so a printed page or a
    // screenshot says which dot is which: the first free spot of right, left, above, below.
    const placed = [];
    const free = (box) => placed.every((b) => box.x2 < b.x1 || box.x1 > b.x2 || box.y2 < b.y1 || box.y1 > b.y2);
    const named = new Set();
    for (const [, list] of series) {
      for (const p of list) {
        if (named.has(p.model)) continue;
        named.add(p.model);
        const [cx, cy, width] = [X(p.x), Y(p.f1), p.model.length * 6.2];
        const spots = [[cx + 8, cy + 4, "start"], [cx - 8, cy + 4, "end"], [cx, cy - 9, "middle"], [cx, cy + 17, "middle"]];
        const boxOf = ([sx, sy, anchor]) => {
          const x1 = anchor === "start" ? sx : anchor === "end" ? sx - width : sx - width / 2;
          return { x1, x2: x1 + width, y1: sy - 10, y2: sy + 2 };
        };
        const spot = spots.find((s) => free(boxOf(s))) || spots[0];
        placed.push(boxOf(spot));
        svg.appendChild(svgElement("text", { x: spot[0], y: spot[1], "text-anchor": spot[2], "font-size": 11,
          class: "point-label", "data-model": p.model }, p.model));
      }
    }
    svg.appendChild(tip);
  }
  data.scatters.forEach((scatter, index) => drawScatter(document.getElementById(`scatter-${index + 1}`), scatter));
})();
