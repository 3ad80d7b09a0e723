// Review page, events: edit a report's events through the REST API (/v1/documents/{id}/events...) and draw
// each answer. The server renders the same markup first (templates/_events.html); what is drawn after an edit
// is always the event the API answered with, never a local guess.
// Report text is never written as HTML here: only classes, attributes and textContent are set.
"use strict";

(function () {
  const panel = document.querySelector(".events-panel");
  const island = document.getElementById("events-data");
  if (!panel || !island) return;
  const csrf = document.getElementById("main").dataset.csrf;
  const api = panel.dataset.api;
  const reviewer = panel.dataset.reviewer || "analyst";
  const list = panel.querySelector("ol.events");
  const form = document.getElementById("new-span");
  const newStatus = document.getElementById("new-status");
  const selText = document.getElementById("sel-text");
  const selWhere = document.getElementById("sel-where");
  const addEvent = document.getElementById("add-event");
  const addArg = document.getElementById("add-arg");
  const newType = document.getElementById("new-type");
  const newRealis = document.getElementById("new-realis");
  const newRole = document.getElementById("new-role");
  const newSuggest = document.getElementById("new-suggest");  // absent when the model has no event extractor
  const countCell = document.getElementById("events-count");
  const noEvents = panel.querySelector(".no-events");
  const island_ = JSON.parse(island.textContent);
  const SHORT = island_.short;
  const events = new Map(island_.events.map((ev) => [ev.id, ev]));
  const options = (select) => Array.from(select.options).map((o) => o.value);
  const TYPES = options(newType), REALIS = options(newRealis), ROLES = options(newRole);
  const rows = Array.from(document.querySelectorAll("li.sent"));
  let span = null;      // the last text selection inside one sentence: {start, end, text, sentence}
  let current = null;   // id of the event the keyboard and "Add argument" act on

  // -- document offsets of a browser selection ------------------------------------------------------
  // A sentence's .stext carries data-start (its document offset). Offsets count the characters of its text
  // nodes, in code points as the server does (a JS string counts UTF-16 units), skipping [data-skip] labels.
  const codePoints = (s) => { let n = 0; for (const _ of s) n++; return n; };
  function skipped(node, root) {
    for (let el = node.parentElement; el && el !== root; el = el.parentElement) if (el.hasAttribute("data-skip")) return true;
    return false;
  }
  function textNodes(root) {
    const out = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) if (!skipped(t, root)) out.push(t);
    return out;
  }
  const rootText = (root) => textNodes(root).map((t) => t.data).join("");
  function pointOffset(root, node, offset) {
    const before = document.createRange();
    before.selectNodeContents(root);
    before.setEnd(node, offset);
    let n = 0;
    for (const t of textNodes(root)) {
      if (!before.intersectsNode(t)) continue;
      n += codePoints(t === node ? t.data.slice(0, offset) : t.data);
    }
    return Number(root.dataset.start) + n;
  }
  function selectionSpan() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    const elementOf = (node) => (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
    const row = elementOf(range.startContainer) && elementOf(range.startContainer).closest("li.sent");
    const endRow = elementOf(range.endContainer) && elementOf(range.endContainer).closest("li.sent");
    if (!row || row !== endRow) return null;  // a span lies inside one sentence
    const root = row.querySelector(".stext");
    const whole = document.createRange();
    whole.selectNodeContents(root);
    const clipped = range.cloneRange();
    if (clipped.compareBoundaryPoints(Range.START_TO_START, whole) < 0) clipped.setStart(root, 0);
    if (clipped.compareBoundaryPoints(Range.END_TO_END, whole) > 0) clipped.setEnd(root, root.childNodes.length);
    if (clipped.collapsed) return null;
    let start = pointOffset(root, clipped.startContainer, clipped.startOffset);
    let end = pointOffset(root, clipped.endContainer, clipped.endOffset);
    const base = Number(root.dataset.start);
    const chars = Array.from(rootText(root));
    while (start < end && /\s/u.test(chars[start - base])) start++;  // a double click may take a space
    while (end > start && /\s/u.test(chars[end - 1 - base])) end--;
    if (end <= start) return null;
    return { start, end, text: chars.slice(start - base, end - base).join(""), sentence: Number(row.dataset.index) };
  }

  // -- drawing ------------------------------------------------------------------------------------------
  const live = (items) => items.filter((item) => item.state !== "deleted");
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }
  const short = (type) => SHORT[type] || type;

  // The same pieces as event_marks.pieces: the sentence cut at every boundary of every live span.
  function renderSentence(row) {
    const root = row.querySelector(".stext");
    const base = Number(root.dataset.start);
    const chars = Array.from(rootText(root));
    const end = base + chars.length;
    const spans = [];
    for (const ev of sortedEvents()) {
      if (ev.state === "deleted") continue;
      spans.push({ start: ev.trigger.start, end: ev.trigger.end, kind: "trigger", ev, text: ev.realis });
      for (const arg of live(ev.arguments)) spans.push({ start: arg.start, end: arg.end, kind: "argument", ev, text: arg.role });
    }
    const inside = spans.filter((s) => s.start < end && s.end > base && s.start < s.end)
      .map((s) => ({ ...s, labelled: s.end <= end, start: Math.max(s.start, base), end: Math.min(s.end, end) }));
    const cuts = Array.from(new Set([base, end, ...inside.flatMap((s) => [s.start, s.end])])).sort((a, b) => a - b);
    const nodes = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const a = cuts[i], b = cuts[i + 1];
      const text = chars.slice(a - base, b - base).join("");
      const covering = inside.filter((s) => s.start <= a && b <= s.end);
      if (!covering.length) { nodes.push(el("span", { "data-start": a, text })); continue; }
      const triggers = covering.filter((s) => s.kind === "trigger");
      const args = covering.filter((s) => s.kind === "argument");
      const first = triggers[0] || covering[0];
      const roles = args.map((s) => s.text);
      const title = roles.join(", ") + (triggers.length ? (roles.length ? "; " : "") + "trigger" : "");
      const ids = Array.from(new Set([...triggers, ...args].map((s) => s.ev.id)));
      nodes.push(el("mark", {
        className: "span" + (triggers.length ? " trig" : "") + (args.length ? " arg" : "") + " ev-" + first.ev.type,
        "data-start": a, "data-events": ids.join(" "), title, text,
      }));
      for (const s of inside) {
        if (s.end !== b || !s.labelled || !covering.includes(s)) continue;  // a label where its span really ends
        const label = s.kind === "trigger" ? short(s.ev.type) + " · " + s.text : s.text;
        nodes.push(el("span", {
          className: "tag tag-" + s.kind + " ev-" + s.ev.type, "data-skip": true, "data-event": s.ev.id, "data-label": label,
        }));
      }
    }
    root.replaceChildren(...nodes);
  }

  function stateText(ev) {
    let text;
    if (ev.state === "deleted") text = "Deleted" + (ev.reviewer ? " by " + ev.reviewer : "");
    else if (ev.reviewer) text = (ev.origin === "analyst" ? "Added" : "Reviewed") + " by " + ev.reviewer;
    else text = "Proposed by the model" + (typeof ev.score === "number" ? " (" + ev.score.toFixed(2) + ")" : "");
    const node = el("p", { className: "ev-state", text });
    if (ev.reviewed_at) {
      node.append(" · ", el("time", { datetime: ev.reviewed_at, text: ev.reviewed_at.slice(0, 16).replace("T", " ") }));
    }
    return node;
  }

  function select(className, values, chosen, label) {
    const node = el("select", { className, "aria-label": label });
    for (const value of values) node.append(el("option", { value, selected: value === chosen, text: value }));
    return node;
  }

  function actionForm(ev, action, className, label, buttonClass) {
    const url = list.dataset[action + "Url"].replace("/0/", "/" + ev.id + "/");
    return el("form", { className: "inline " + className, method: "post", action: url },
      el("input", { type: "hidden", name: "csrf", value: csrf }),
      el("button", { type: "submit", className: "small " + buttonClass,
        "aria-label": label + " event " + ev.type + " “" + ev.trigger.text + "”", text: label }));
  }

  // The same item as the event_item macro, with its controls enabled.
  function renderEvent(ev) {
    const dead = ev.state === "deleted";
    const item = el("li", {
      className: "event ev-" + ev.type + " state-" + ev.state + (ev.reviewer ? " reviewed" : "") + (ev.id === current ? " current" : ""),
      id: "e" + ev.id, "data-event": ev.id, tabindex: "-1", "aria-labelledby": "e" + ev.id + "-title",
    });
    item.append(el("div", { className: "ev-head" },
      el("span", { className: "chip ev-" + ev.type, id: "e" + ev.id + "-title" }, short(ev.type) + " ", el("q", { text: ev.trigger.text })),
      " ", el("span", { className: "ev-realis", text: ev.realis }),
      " ", el("a", { className: "ev-where", href: "#s" + ev.sentence, text: "sentence " + (ev.sentence + 1) })));
    item.append(stateText(ev));
    if (!dead) {
      item.append(el("div", { className: "ev-fields" },
        el("label", null, "Type ", select("ev-type", TYPES, ev.type, null)),
        " ", el("label", null, "Realis ", select("ev-realis-select", REALIS, ev.realis, null))));
    }
    const args = el("ul", { className: "ev-args", "aria-label": "Arguments" });
    for (const arg of live(ev.arguments)) {
      const entry = el("li", { "data-argument": arg.id });
      if (dead) entry.append(el("span", { className: "role", text: arg.role }));
      else entry.append(select("arg-role", ROLES, arg.role, "Role of “" + arg.text + "”"));
      entry.append(" ", el("q", { text: arg.text }));
      if (!dead) {
        entry.append(" ", el("button", { type: "button", className: "small link arg-remove",
          "aria-label": "Remove argument " + arg.role + " “" + arg.text + "”", text: "Remove" }));
      }
      args.append(entry);
    }
    if (!args.children.length) args.append(el("li", { className: "muted", text: "No arguments" }));
    item.append(args);
    if (!dead) {
      item.append(el("div", { className: "ev-actions" },
        actionForm(ev, "accept", "ev-accept", "Accept", "accept"), " ", actionForm(ev, "delete", "ev-delete", "Delete", "danger")));
    } else {  // accepting a deleted event restores it
      item.append(el("div", { className: "ev-actions" }, actionForm(ev, "accept", "ev-accept", "Restore", "secondary")));
    }
    return item;
  }

  function sortedEvents() {
    return Array.from(events.values()).sort((a, b) => a.trigger.start - b.trigger.start || a.id - b.id);
  }

  // Where an element with focus inside an item sits, so that focus survives the item being redrawn.
  function focusKey(item) {
    const active = document.activeElement;
    if (!active || !item.contains(active)) return null;
    const arg = active.closest("[data-argument]");
    return { cls: active.className.split(" ").find((c) => /^(ev-|arg-)/.test(c)) || null, arg: arg && arg.dataset.argument, self: active === item };
  }
  function restoreFocus(item, key) {
    if (!key) return;
    let target = item;
    if (!key.self && key.cls) {
      const scope = key.arg ? item.querySelector('[data-argument="' + key.arg + '"]') : item;
      target = (scope && scope.querySelector("." + key.cls)) || item.querySelector("." + key.cls + " button") || item;
    }
    target.focus({ preventScroll: true });
  }

  function spansOf(ev) {
    return ev ? [ev.trigger, ...live(ev.arguments)] : [];
  }
  function redrawRows(...evs) {
    const spans = evs.flatMap(spansOf);
    for (const row of rows) {
      const root = row.querySelector(".stext");
      const a = Number(root.dataset.start), b = Number(root.dataset.end);
      if (spans.some((s) => s.start < b && s.end > a)) renderSentence(row);
    }
  }

  function show(ev) {
    const before = events.get(ev.id);
    events.set(ev.id, ev);
    const old = document.getElementById("e" + ev.id);
    const key = old && focusKey(old);
    const item = renderEvent(ev);
    if (old) old.replaceWith(item);
    else {
      const next = sortedEvents().find((other) => other.id !== ev.id && document.getElementById("e" + other.id)
        && (other.trigger.start > ev.trigger.start || (other.trigger.start === ev.trigger.start && other.id > ev.id)));
      list.insertBefore(item, next ? document.getElementById("e" + next.id) : null);
    }
    restoreFocus(item, key);
    redrawRows(before, ev);
    const n = Array.from(events.values()).filter((e) => e.state !== "deleted").length;
    countCell.textContent = String(n);
    noEvents.hidden = events.size > 0;
    return item;
  }

  // -- talking to the API -----------------------------------------------------------------------------
  function describe(data, response) {
    const detail = data && data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((e) => (Array.isArray(e.loc) ? e.loc.slice(1).join(".") + ": " : "") + (e.msg || "invalid")).join("; ");
    }
    return response.status + " " + response.statusText;
  }
  async function call(method, path, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (body) headers["Content-Type"] = "application/json";
    const url = api + path + (method === "DELETE" ? "?reviewer=" + encodeURIComponent(reviewer) : "");
    const response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body ? JSON.stringify({ ...body, reviewer }) : undefined,
    });
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    if (!response.ok || !data) throw new Error(describe(data, response));
    return data;
  }
  async function change(id, method, path, body) {
    const item = document.getElementById("e" + id);
    const state = item && item.querySelector(".ev-state");
    if (state) { state.classList.remove("failed"); state.textContent = "Saving…"; }
    try {
      const ev = await call(method, path, body);
      show(ev);
      return ev;
    } catch (err) {
      const now = document.getElementById("e" + id);
      const target = now && now.querySelector(".ev-state");
      if (target) { target.classList.add("failed"); target.textContent = "Not saved: " + err.message; }
      else say("Not saved: " + err.message, true);
      return null;
    }
  }
  function say(message, failed) {
    newStatus.textContent = message;
    newStatus.classList.toggle("failed", Boolean(failed));
  }

  // -- the current event and the selection ---------------------------------------------------------------
  function setCurrent(id, focus) {
    const ev = events.get(id);
    if (!ev) return;
    current = id;
    for (const item of list.querySelectorAll("li.event.current")) item.classList.remove("current");
    const item = document.getElementById("e" + id);
    if (item) {
      item.classList.add("current");
      if (focus) { item.focus({ preventScroll: true }); item.scrollIntoView({ block: "nearest" }); }
    }
    updatePanel();
  }
  function updatePanel() {
    selText.textContent = span ? span.text : "none";
    selWhere.textContent = span ? "sentence " + (span.sentence + 1) + ", characters " + span.start + "–" + span.end
      : "select text in a sentence";
    addEvent.disabled = !span;
    const target = current !== null && events.get(current);
    const usable = target && target.state !== "deleted";
    addArg.disabled = !span || !usable;
    addArg.textContent = usable ? "Add argument to " + short(target.type) + " “" + target.trigger.text + "”" : "Add argument (choose an event)";
  }
  document.addEventListener("selectionchange", () => {
    const found = selectionSpan();
    if (found) { span = found; updatePanel(); }  // a collapsed selection (focus moved) keeps the last span
  });

  let adding = false;  // one new event at a time: a second click or Enter while it is saved adds nothing
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (adding) return;
    if (!span) { say("Select the trigger text in a sentence first.", true); return; }
    say("Saving…");
    adding = true;
    addEvent.disabled = true;
    try {
      const suggest = Boolean(newSuggest && newSuggest.checked);
      const ev = await call("POST", "", {
        type: newType.value, realis: newRealis.value, trigger: { start: span.start, end: span.end }, suggest_arguments: suggest,
      });
      show(ev);
      span = null;
      window.getSelection().removeAllRanges();
      setCurrent(ev.id, false);
      const n = ev.arguments.length;
      say("Added " + ev.type + " “" + ev.trigger.text + "”" + (suggest ? " with " + n + " suggested argument" + (n === 1 ? "" : "s") + " to review." : "."));
    } catch (err) { say("Not saved: " + err.message, true); }
    finally { adding = false; updatePanel(); }
  });
  async function addArgument() {
    if (!span || current === null) { say("Select text and choose an event first.", true); return; }
    const ev = await change(current, "POST", "/" + current + "/arguments", { role: newRole.value, start: span.start, end: span.end });
    if (ev) {
      say("Added " + newRole.value + " “" + span.text + "” to " + ev.type + ".");
      span = null;
      window.getSelection().removeAllRanges();
      updatePanel();
    }
  }
  addArg.addEventListener("click", addArgument);

  // -- the list: accept, delete, type, realis, roles ------------------------------------------------------
  const idOf = (node) => Number(node.closest("li.event").dataset.event);
  list.addEventListener("submit", (event) => {
    const target = event.target;
    if (!target.matches("form.ev-accept, form.ev-delete")) return;
    event.preventDefault();
    const id = idOf(target);
    setCurrent(id, false);
    if (target.matches(".ev-accept")) change(id, "PATCH", "/" + id, { state: "accepted" });
    else change(id, "DELETE", "/" + id);
  });
  list.addEventListener("change", (event) => {
    const target = event.target;
    if (!target.matches("select")) return;
    const id = idOf(target);
    if (target.matches(".ev-type")) change(id, "PATCH", "/" + id, { type: target.value });
    else if (target.matches(".ev-realis-select")) change(id, "PATCH", "/" + id, { realis: target.value });
    else if (target.matches(".arg-role")) {
      const arg = target.closest("[data-argument]").dataset.argument;
      change(id, "PATCH", "/" + id + "/arguments/" + arg, { role: target.value });
    }
  });
  list.addEventListener("click", (event) => {
    const target = event.target;
    const item = target.closest("li.event");
    if (!item) return;
    if (Number(item.dataset.event) !== current) setCurrent(Number(item.dataset.event), false);
    if (target.matches("button.arg-remove")) {
      const id = idOf(target);
      change(id, "DELETE", "/" + id + "/arguments/" + target.closest("[data-argument]").dataset.argument);
    }
  });
  list.addEventListener("focusin", (event) => {
    const item = event.target.closest("li.event");
    if (item && Number(item.dataset.event) !== current) setCurrent(Number(item.dataset.event), false);
  });
  // A click on a highlighted span makes its event the current one (a drag there still selects text).
  document.querySelector("ol.sentences").addEventListener("click", (event) => {
    const mark = event.target.closest("mark[data-events], .tag[data-event]");
    if (!mark || !window.getSelection().isCollapsed) return;
    const id = Number((mark.dataset.events || mark.dataset.event).split(" ")[0]);
    setCurrent(id, false);
    const item = document.getElementById("e" + id);
    if (item) item.scrollIntoView({ block: "nearest" });
  });

  // -- keys -----------------------------------------------------------------------------------------
  function step(delta) {
    const items = Array.from(list.querySelectorAll("li.event"));
    if (!items.length) return;
    const at = items.findIndex((item) => Number(item.dataset.event) === current);
    const next = at < 0 ? (delta > 0 ? 0 : items.length - 1) : Math.max(0, Math.min(items.length - 1, at + delta));
    setCurrent(Number(items[next].dataset.event), true);
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    const help = document.getElementById("help");
    if (help && help.open) return;
    if (target.matches("select") && target.closest(".events-panel")) {
      if (key === "Escape") {  // back from a control to its event
        const item = target.closest("li.event");
        (item || form).focus();
        if (item) event.preventDefault();
      }
      return;
    }
    if (target.matches("textarea, input:not([type=checkbox]), select, [contenteditable]")) return;
    if (target.matches("button, a") && (key === "Enter" || key === " ")) return;
    const item = target.closest && target.closest("li.event");
    if (key === "n") step(1);
    else if (key === "p") step(-1);
    else if (key === "e") {
      if (span) newType.focus();
      else say("Select the trigger text in a sentence first, then press e.", true);
    } else if (key === "g") {
      if (span && current !== null) newRole.focus();
      else say("Select text and choose an event (n/p) first, then press g.", true);
    } else if (!item) return;
    else if (key === "a") change(current, "PATCH", "/" + current, { state: "accepted" });
    else if (key === "d" || key === "Delete") change(current, "DELETE", "/" + current);
    else if (key === "t" || key === "r" || key === "o") {
      const control = item.querySelector(key === "t" ? ".ev-type" : key === "r" ? ".ev-realis-select" : ".arg-role");
      if (!control) return;
      control.focus();
    } else return;
    event.preventDefault();
  });

  // Ready: the controls the server drew disabled (they need this script) now work.
  for (const control of list.querySelectorAll("select[disabled], button[disabled]")) control.disabled = false;
  form.hidden = false;
  updatePanel();
})();
