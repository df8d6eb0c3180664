// rsearch page: searches as you type through the JSON API, keeps the query and filters in the
// URL (shareable; the back button walks through searches), and builds every node with
// textContent, never innerHTML, so passage text cannot inject markup.
"use strict";

const DEBOUNCE_MS = 140;
const LIMIT = 20;
const LIMIT_PER_ROLE = 3;
const CONTEXT = 2;

const $ = (id) => document.getElementById(id);
const box = $("q");
const compareButton = $("compare");
const statusLine = $("status");
const results = $("results");
const columns = $("columns");
const dym = $("dym");
const filters = $("filters");
const welcome = $("welcome");
const dialog = $("passage");

const encoder = new TextEncoder();
const decoder = new TextDecoder();

let taxonomy = { roles: [], topics: [] };
let state = readUrl();
let inFlight = null;
let generation = 0;
let typingTimer = 0;
// The last history entry was made by typing: further keystrokes replace it rather than
// adding one per letter.
let typing = false;
// The passage dialog was opened by a click that added a history entry: closing it goes back.
let openedByPush = false;
let opener = null;

function readUrl() {
  const params = new URLSearchParams(location.search);
  return {
    q: params.get("q") || "",
    roles: params.getAll("role"),
    topics: params.getAll("topic"),
    compare: params.get("view") === "compare",
    open: params.get("open"),
  };
}

function urlOf(s) {
  const params = new URLSearchParams();
  if (s.q) params.set("q", s.q);
  s.roles.forEach((r) => params.append("role", r));
  s.topics.forEach((t) => params.append("topic", t));
  if (s.compare) params.set("view", "compare");
  if (s.open) params.set("open", s.open);
  const query = params.toString();
  return query ? `?${query}` : location.pathname;
}

/** Makes `next` the state, recording it in the history (`push`) or in place (`replace`). */
function commit(next, how) {
  state = next;
  const url = urlOf(state);
  if (how === "push") history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  document.title = state.q ? `${state.q} – rsearch` : "rsearch";
}

async function api(path, signal) {
  const response = await fetch(path, { signal, headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.error && body.error.message) || `HTTP ${response.status}`);
  }
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function nameOf(kind, slug) {
  const found = taxonomy[kind].find((c) => c.slug === slug);
  return found ? found.name : slug;
}

/**
 * The text with its highlights marked. The API gives byte ranges of the UTF-8 text; slicing the
 * encoded bytes (not the JavaScript string, whose indices count UTF-16 units) keeps them exact
 * for accents, CJK and emoji.
 */
function highlighted(text, ranges) {
  const bytes = encoder.encode(text);
  const fragment = document.createDocumentFragment();
  let last = 0;
  const sorted = (ranges || []).slice().sort((a, b) => a[0] - b[0]);
  for (const [start, end] of sorted) {
    if (start < last || end > bytes.length || start >= end) continue;
    fragment.append(decoder.decode(bytes.subarray(last, start)));
    fragment.append(el("mark", { text: decoder.decode(bytes.subarray(start, end)) }));
    last = end;
  }
  fragment.append(decoder.decode(bytes.subarray(last)));
  return fragment;
}

function place(document_, section) {
  return section && section.length ? section.join(" › ") : document_;
}

function labelChips(hit) {
  const chips = el("span", { class: "labels" });
  hit.roles.forEach((slug) => chips.append(el("span", { class: "chip role", text: nameOf("roles", slug) })));
  hit.topics.forEach((slug) => chips.append(el("span", { class: "chip topic", text: nameOf("topics", slug) })));
  return chips;
}

function hitItem(hit) {
  const at = hit.text.indexOf(hit.snippet);
  const snippet = el("p", { class: "snippet" });
  if (at > 0) snippet.append("…");
  snippet.append(highlighted(hit.snippet, hit.highlights));
  if (at >= 0 && at + hit.snippet.length < hit.text.length) snippet.append("…");
  const link = el(
    "a",
    { href: urlOf({ ...state, open: hit.id }), "data-id": hit.id },
    el(
      "span",
      { class: "head" },
      el("span", { class: "rank", text: `${hit.rank}.` }),
      el("span", { class: "id", text: hit.id }),
      el("span", { class: "score", text: `score ${hit.score.toFixed(2)}` }),
      labelChips(hit),
    ),
    el("span", { class: "crumb", text: place(hit.document, hit.section) }),
    snippet,
  );
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    opener = link;
    openPassage(hit.id, "push", hit);
  });
  return el("li", { class: "hit" }, link);
}

function renderFacets(facets) {
  filters.hidden = false;
  for (const [kind, param, cls] of [["roles", "roles", "role"], ["topics", "topics", "topic"]]) {
    const container = document.querySelector(`#facet-${kind} .chips`);
    container.replaceChildren();
    const counts = facets[kind] || {};
    const order = taxonomy[kind].length ? taxonomy[kind].map((c) => c.slug) : Object.keys(counts);
    for (const slug of order) {
      const active = state[param].includes(slug);
      const count = counts[slug] || 0;
      if (!count && !active) continue;
      const name = nameOf(kind, slug);
      const chip = el(
        "button",
        {
          type: "button",
          class: `chip ${cls}`,
          "aria-pressed": String(active),
          "data-slug": slug,
          "aria-label": `${name}: ${count} passage${count === 1 ? "" : "s"}${active ? ", filter on" : ""}`,
        },
        el("span", { text: name }),
        el("span", { class: "count", text: String(count) }),
      );
      chip.addEventListener("click", () => {
        const list = active ? state[param].filter((s) => s !== slug) : [...state[param], slug];
        typing = false;
        commit({ ...state, [param]: list, open: null }, "push");
        search();
      });
      container.append(chip);
    }
    document.getElementById(`facet-${kind}`).hidden = !container.children.length;
  }
}

function renderDidYouMean(suggestion) {
  dym.replaceChildren();
  dym.hidden = !suggestion;
  if (!suggestion) return;
  const link = el("a", { href: urlOf({ ...state, q: suggestion, open: null }), id: "dym-link", text: suggestion });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    box.value = suggestion;
    typing = false;
    commit({ ...state, q: suggestion, open: null }, "push");
    search();
  });
  dym.append("Did you mean ", link, "?");
}

function summary(res) {
  const shown = res.hits.length;
  if (res.total_hits === 0) return `No passage matches “${res.query}”.`;
  if (state.compare) return `${res.total_hits} passage${res.total_hits === 1 ? "" : "s"} match; the best of each role:`;
  if (shown < res.total_hits) return `${shown} of ${res.total_hits} passages`;
  return `${shown} passage${shown === 1 ? "" : "s"}`;
}

function render(res) {
  welcome.hidden = true;
  statusLine.classList.remove("error");
  statusLine.textContent = summary(res);
  renderDidYouMean(res.did_you_mean);
  renderFacets(res.facets);
  if (state.compare && res.by_role) {
    results.replaceChildren();
    results.hidden = true;
    columns.hidden = false;
    columns.replaceChildren();
    // JSON objects carry no order: the columns follow the taxonomy's.
    const known = taxonomy.roles.map((c) => c.slug).filter((slug) => slug in res.by_role);
    const order = known.concat(Object.keys(res.by_role).filter((slug) => !known.includes(slug)));
    for (const slug of order) {
      const hits = res.by_role[slug];
      const name = nameOf("roles", slug);
      const column = el("section", { class: "column", "aria-labelledby": `col-${slug}`, "data-role": slug });
      column.append(el("h2", { id: `col-${slug}`, text: name }));
      if (hits.length) column.append(el("ol", { class: "results" }, ...hits.map(hitItem)));
      else column.append(el("p", { class: "empty", text: `No passage about ${name} matches.` }));
      columns.append(column);
    }
  } else {
    columns.hidden = true;
    columns.replaceChildren();
    results.hidden = false;
    results.replaceChildren(...res.hits.map(hitItem));
  }
  results.setAttribute("aria-busy", "false");
}

function renderEmpty() {
  welcome.hidden = false;
  filters.hidden = true;
  dym.hidden = true;
  results.replaceChildren();
  columns.replaceChildren();
  statusLine.textContent = "";
}

function showError(message) {
  statusLine.textContent = message;
  statusLine.classList.add("error");
  results.setAttribute("aria-busy", "false");
}

/** Searches for the current state; an answer to an older search is dropped. */
function search() {
  compareButton.setAttribute("aria-pressed", String(state.compare));
  if (inFlight) inFlight.abort();
  const mine = ++generation;
  if (!state.q.trim()) {
    renderEmpty();
    return;
  }
  inFlight = new AbortController();
  const params = new URLSearchParams({ q: state.q });
  state.roles.forEach((r) => params.append("role", r));
  state.topics.forEach((t) => params.append("topic", t));
  // A last word not yet followed by a space may be unfinished: match it as a prefix too.
  if (!/\s$/.test(state.q)) params.set("prefix", "true");
  if (state.compare) {
    params.set("by_role", "true");
    params.set("limit", String(LIMIT_PER_ROLE));
  } else {
    params.set("limit", String(LIMIT));
  }
  results.setAttribute("aria-busy", "true");
  api(`/api/search?${params}`, inFlight.signal)
    .then((res) => mine === generation && render(res))
    .catch((error) => {
      if (error.name !== "AbortError" && mine === generation) showError(error.message);
    });
}

async function openPassage(id, how, hit) {
  if (how === "push") {
    typing = false;
    commit({ ...state, open: id }, "push");
    openedByPush = true;
  }
  let res;
  try {
    res = await api(`/api/passages/${encodeURIComponent(id)}?context=${CONTEXT}`);
  } catch (error) {
    showError(error.message);
    return;
  }
  $("passage-title").textContent = res.document;
  $("passage-place").textContent = `${res.id} · ${place(res.document, res.section)}`;
  const body = $("passage-body");
  body.replaceChildren();
  const neighbour = (n) => {
    const block = el("p", { class: "ctx" });
    if (JSON.stringify(n.section) !== JSON.stringify(res.section)) {
      block.append(el("span", { class: "where", text: place(res.document, n.section) }));
    }
    block.append(n.text);
    return block;
  };
  (res.context ? res.context.before : []).forEach((n) => body.append(neighbour(n)));
  const current = el("p", { class: "ctx current", "aria-current": "true" });
  current.append(labelChips(res), " ");
  if (hit && hit.text === res.text) {
    // The snippet's byte ranges, moved to where the snippet sits in the whole passage.
    const at = res.text.indexOf(hit.snippet);
    const shift = at >= 0 ? encoder.encode(res.text.slice(0, at)).length : 0;
    const ranges = at >= 0 ? hit.highlights.map(([s, e]) => [s + shift, e + shift]) : [];
    current.append(highlighted(res.text, ranges));
  } else {
    current.append(res.text);
  }
  body.append(current);
  (res.context ? res.context.after : []).forEach((n) => body.append(neighbour(n)));
  if (!dialog.open) dialog.showModal();
  current.scrollIntoView({ block: "center" });
}

dialog.addEventListener("close", () => {
  if (state.open) {
    if (openedByPush) history.back();
    else commit({ ...state, open: null }, "replace");
  }
  openedByPush = false;
  if (opener && !document.contains(opener)) {
    opener = document.querySelector(`.hit > a[data-id="${CSS.escape(opener.dataset.id)}"]`);
  }
  if (opener) opener.focus();
});
$("close").addEventListener("click", () => dialog.close());
dialog.addEventListener("click", (event) => {
  if (event.target === dialog) dialog.close();
});

box.addEventListener("input", () => {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    commit({ ...state, q: box.value, open: null }, typing ? "replace" : "push");
    typing = true;
    search();
  }, DEBOUNCE_MS);
});

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(typingTimer);
  if (box.value !== state.q) commit({ ...state, q: box.value, open: null }, typing ? "replace" : "push");
  typing = false;
  search();
});

compareButton.addEventListener("click", () => {
  typing = false;
  commit({ ...state, compare: !state.compare, open: null }, "push");
  search();
});

/** What a search depends on: entries that differ only in the open passage share results. */
function searchKey(s) {
  return JSON.stringify([s.q, s.roles, s.topics, s.compare]);
}

window.addEventListener("popstate", () => {
  const before = searchKey(state);
  state = readUrl();
  box.value = state.q;
  typing = false;
  document.title = state.q ? `${state.q} – rsearch` : "rsearch";
  if (searchKey(state) !== before) search();
  if (state.open) openPassage(state.open, "none");
  else if (dialog.open) {
    openedByPush = false;
    dialog.close();
  }
});

/** Result links in reading order (list, or columns left to right). */
function resultLinks() {
  return Array.from(document.querySelectorAll(".hit > a")).filter((a) => a.offsetParent !== null);
}

document.addEventListener("keydown", (event) => {
  if (dialog.open) return;
  const target = event.target;
  const inField = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
  if (event.key === "/" && !inField) {
    event.preventDefault();
    box.focus();
    box.select();
    return;
  }
  if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
  const links = resultLinks();
  if (!links.length) return;
  const at = links.indexOf(target);
  if (target === box) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      links[0].focus();
    }
    return;
  }
  if (at < 0) return;
  event.preventDefault();
  if (event.key === "ArrowDown") links[Math.min(at + 1, links.length - 1)].focus();
  else if (at === 0) box.focus();
  else links[at - 1].focus();
});

async function start() {
  box.value = state.q;
  compareButton.setAttribute("aria-pressed", String(state.compare));
  try {
    taxonomy = await api("/api/labels");
  } catch (error) {
    taxonomy = { roles: [], topics: [] };
  }
  api("/api/health")
    .then((health) => {
      $("about").textContent = `${health.passages} passages from ${health.files} file${health.files === 1 ? "" : "s"}.`;
    })
    .catch(() => {});
  search();
  if (state.open) openPassage(state.open, "none");
}

start();
