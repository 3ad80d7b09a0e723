// Review page: send reviews with fetch (the forms also work without this script) and keyboard shortcuts.
// Report text is never written as HTML here: only classes, attributes and textContent are set.
"use strict";

(function () {
  const main = document.getElementById("main");
  const csrf = main.dataset.csrf;
  const rows = Array.from(document.querySelectorAll("li.sent"));
  const help = document.getElementById("help");
  const progress = document.querySelector(".doc-tools progress");
  const progressText = document.querySelector(".doc-tools .progress .muted");
  const NONE = "O";
  let current = -1;

  function select(i, focus) {
    if (!rows.length) return;
    i = Math.max(0, Math.min(rows.length - 1, i));
    if (current >= 0) rows[current].classList.remove("current");
    current = i;
    const row = rows[current];
    row.classList.add("current");
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function boxes(row) {
    return Array.from(row.querySelectorAll("input[name=labels]"));
  }

  // "O" and the events exclude each other: checking one side clears the other.
  function exclusive(box) {
    if (!box.checked) return;
    for (const other of boxes(box.closest("li.sent"))) {
      if (other !== box && (box.value === NONE || other.value === NONE)) other.checked = false;
    }
  }

  function toggle(row, position) {
    const box = boxes(row)[position];
    if (!box) return;
    box.checked = !box.checked;
    exclusive(box);
  }

  function showReview(row, review) {
    const events = review.labels.filter((name) => name !== NONE);
    for (const cls of Array.from(row.classList)) if (cls.startsWith("hl-")) row.classList.remove(cls);
    if (events.length) row.classList.add("hl-" + events[0]);
    const stripes = row.querySelector(".stripes");
    stripes.replaceChildren(...events.map((name) => {
      const stripe = document.createElement("i");
      stripe.className = "ev-" + name;
      return stripe;
    }));
    for (const box of boxes(row)) box.checked = review.labels.includes(box.value);
    row.classList.add("reviewed");
    const state = row.querySelector(".state");
    state.classList.remove("failed");
    state.textContent = (review.accepted ? "Accepted" : "Relabelled") + " by " + review.reviewer;
  }

  // The document's counts as the server computed them after the review (never counted here, so the
  // chips, "Unreviewed" and the progress bar show what a reload would).
  function showCounts(counts) {
    if (!counts || typeof counts.n_sentences !== "number" || typeof counts.n_reviewed !== "number") return;
    for (const cell of document.querySelectorAll(".filters [data-count]")) {
      const key = cell.dataset.count;
      const value = key === "unreviewed" ? counts.n_sentences - counts.n_reviewed
        : Object.prototype.hasOwnProperty.call(counts.label_counts || {}, key) ? counts.label_counts[key] : null;
      if (typeof value === "number") cell.textContent = String(value);
    }
    if (progress) {
      progress.max = counts.n_sentences || 1;
      progress.value = counts.n_reviewed;
      progress.textContent = counts.n_reviewed + "/" + counts.n_sentences;
    }
    if (progressText) progressText.textContent = counts.n_reviewed + "/" + counts.n_sentences + " reviewed";
  }

  async function send(form, action) {
    const row = form.closest("li.sent");
    const state = row.querySelector(".state");
    const body = new FormData(form);
    body.set("action", action);
    state.classList.remove("failed");
    state.textContent = "Saving…";
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST", body, credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf },
      });
      const data = await response.json();
      if (!response.ok) throw new Error(data.detail || response.statusText);
      showReview(row, data);
      showCounts(data.counts);
      return true;
    } catch (err) {
      state.classList.add("failed");
      state.textContent = "Not saved: " + err.message;
      return false;
    }
  }

  async function submitRow(i, action) {
    const row = rows[i];
    if (row && (await send(row.querySelector("form.review"), action)) && i === current) select(i + 1, true);
  }

  rows.forEach((row, i) => {
    const form = row.querySelector("form.review");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      select(i, false);
      submitRow(i, event.submitter && event.submitter.value === "accept" ? "accept" : "save");
    });
    for (const box of boxes(row)) box.addEventListener("change", () => exclusive(box));
    row.addEventListener("focusin", () => select(i, false));
    row.addEventListener("click", () => select(i, false));
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest(".events-panel")) return;  // events.js has the keys there
    if (target.matches("textarea, input:not([type=checkbox]), select, [contenteditable]")) return;
    if (target.matches("button, a") && (event.key === "Enter" || event.key === " ")) return;
    if (help && help.open && event.key !== "?") return;
    const key = event.key;
    if (key === "?") { help.open ? help.close() : help.showModal(); }
    else if (key === "j") select(current + 1, true);
    else if (key === "k") select(current - 1, true);
    else if (current < 0) return;
    else if (key === "a") submitRow(current, "accept");
    else if (key === "Enter") submitRow(current, "save");
    else if (key >= "1" && key <= "5") toggle(rows[current], Number(key) - 1);
    else if (key === "0") toggle(rows[current], 5);
    else return;
    event.preventDefault();
  });

  const start = rows.findIndex((row) => "#" + row.id === location.hash);
  if (start >= 0) select(start, true);
})();
