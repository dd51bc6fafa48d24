// The table editor's inline edit: click (or Enter on) a cell, type, Enter saves it through the
// Studio's cell view (a merge patch of that one field, under the same services and RLS as the
// data API), Escape gives up. Without this script the grid is read-only; the row's JSON editor
// still works.
(function () {
  "use strict";
  const grid = document.getElementById("grid");
  if (!grid || grid.dataset.editable !== "true") return;
  const csrf = document.getElementById("csrf").value;
  const status = document.getElementById("cell-status");

  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "errornote" : "";
  }

  function edit(cell) {
    if (cell.querySelector("input")) return;
    const row = cell.closest("tr");
    const before = cell.textContent;
    const input = document.createElement("input");
    input.value = before;
    input.className = "studio-cell-input";
    input.setAttribute("aria-label", cell.dataset.field);
    cell.textContent = "";
    cell.appendChild(input);
    input.focus();
    input.select();
    let done = false;
    function restore(text) {
      done = true;
      cell.textContent = text;
    }
    input.addEventListener("keydown", async function (event) {
      if (event.key === "Escape") {
        restore(before);
        cell.focus();
      } else if (event.key === "Enter") {
        event.preventDefault();
        input.disabled = true;
        const body = new URLSearchParams({
          field: cell.dataset.field, value: input.value, version: row.dataset.version,
        });
        const response = await fetch(row.dataset.cellUrl, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRFToken": csrf, "Accept": "application/json" },
        });
        let answer = {};
        try { answer = await response.json(); } catch (e) { answer = { error: response.statusText }; }
        if (!response.ok) {
          input.disabled = false;
          input.focus();
          say(answer.error || "Not saved.", true);
          return;
        }
        row.dataset.version = answer.version;
        row.querySelectorAll("input[name=version]").forEach(function (i) { i.value = answer.version; });
        cell.classList.toggle("studio-absent", !answer.present);
        restore(answer.text);
        cell.classList.add("studio-saved");
        say("Saved " + cell.dataset.field + ".", false);
      }
    });
    input.addEventListener("blur", function () { if (!done && !input.disabled) restore(before); });
  }

  grid.addEventListener("click", function (event) {
    const cell = event.target.closest("td.studio-cell");
    if (cell) edit(cell);
  });
  grid.addEventListener("keydown", function (event) {
    const cell = event.target.closest("td.studio-cell");
    if (cell && event.target === cell && event.key === "Enter") edit(cell);
  });
})();
