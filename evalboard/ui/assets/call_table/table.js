// Browse's results table: one page of calls as a plain HTML table. Clicking a row (or Enter
// on its id) tells the server at once which call to open: Streamlit's data grid waits 150 ms
// before it reports a selection. Model text is only ever set as textContent.

const MISSING = "—";

function chips(names, colours, fallback) {
  return names.map((name) => {
    const colour = colours[name] || fallback;
    return el("span", { cls: "eb-chip", text: name,
                        style: `background:${colour.background};color:${colour.text}` });
  });
}

function cell(column, value, data) {
  const td = dataCell(column, value, data);
  if (column.drop) td.classList.add(`eb-drop-${column.drop}`);
  return td;
}

function dataCell(column, value, data) {
  if (column.kind === "open") {
    return el("td", {}, el("button", { type: "button", cls: "eb-open", "data-call": value,
                                       "aria-label": `Open call ${value}`, text: value }));
  }
  if (column.kind === "chips") {
    const td = el("td", { title: value.join(", ") || null });
    td.append(...chips(value, data.colours[column.name] || {}, data.fallback));
    return td;
  }
  if (value === null || value === undefined || value === "") {
    return el("td", { cls: column.kind === "number" ? "eb-num eb-missing" : "eb-missing",
                      text: column.kind === "status" ? "" : MISSING });
  }
  if (column.kind === "number") {
    return el("td", { cls: "eb-num", text: Number(value).toLocaleString() });
  }
  if (column.kind === "status") return el("td", { cls: "eb-error", text: value });
  const text = String(value);  // two lines at most; the whole preview on hover
  return el("td", { title: text }, el("div", { cls: "eb-clamp", text }));
}

function render(root, data) {
  // widths on the header cells (a fixed layout reads the first row); a column with `drop`
  // is left out on a narrow screen rather than cut at the edge of a scrolled table
  const head = el("tr", {}, ...data.columns.map((c) => el("th", {
    scope: "col", text: c.name, cls: c.drop ? `eb-drop-${c.drop}` : null,
    style: c.width ? `width:${c.width}` : null })));
  const body = el("tbody");
  for (const row of data.rows) {
    const tr = el("tr", { "data-call": row[0] });
    tr.append(...data.columns.map((column, i) => cell(column, row[i], data)));
    body.append(tr);
  }
  const table = el("table", { "aria-label": data.caption }, el("thead", {}, head), body);
  root.replaceChildren(el("div", { cls: "eb-frame" }, table),
                       ...Object.entries(data.dropped).map(([drop, text]) =>
                         el("p", { cls: `eb-dropped eb-dropped-${drop}`, text })));
}

function bind(root, open) {
  root.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-call]");
    if (row && root.contains(row)) open(Number(row.dataset.call));
  });
  root.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...root.querySelectorAll(".eb-open")];
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const next = buttons[at + (event.key === "ArrowDown" ? 1 : -1)];
    if (next) { next.focus(); event.preventDefault(); }
  });
}

const bound = new WeakSet();

export default function (component) {
  const { parentElement, setTriggerValue } = component;
  const data = typeof component.data === "string" ? JSON.parse(component.data) : component.data;
  const root = parentElement.querySelector(".eb-calls");
  if (!root || !data) return undefined;
  if (!bound.has(root)) {
    // the trigger is read through the latest component each time (its setter may change)
    bind(root, (callId) => root.__ebOpen(callId));
    bound.add(root);
  }
  root.__ebOpen = (callId) => setTriggerValue("open", callId);
  // the same rows again (a call opened or closed): mark the open row, redraw nothing
  const rows = JSON.stringify([data.columns, data.rows, data.colours]);
  if (rows !== root.__ebRows) {
    render(root, data);
    root.__ebRows = rows;
  }
  for (const tr of root.querySelectorAll("tbody tr")) {
    if (Number(tr.dataset.call) === data.opened) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
  return undefined;
}
