/* The patient search box: results as you type (from the second character), arrow keys to choose,
   Enter to open, Escape to close. Results come from frontdesk.views.patient_search. */
(function () {
  "use strict";
  var input = document.getElementById("patient-search-input");
  var list = document.getElementById("patient-search-results");
  if (!input || !list) { return; }
  var timer = null;
  var asked = "";
  var active = -1;

  function options() { return list.querySelectorAll("li[role=option]"); }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function choose(index) {
    var found = options();
    if (!found.length) { return; }
    active = (index + found.length) % found.length;
    found.forEach(function (option, position) { option.setAttribute("aria-selected", String(position === active)); });
    input.setAttribute("aria-activedescendant", found[active].id);
    found[active].scrollIntoView({ block: "nearest" });
  }

  function show(patients) {
    list.textContent = "";
    if (!patients.length) {
      var none = document.createElement("li");
      none.className = "none";
      none.textContent = "No patient found.";
      list.appendChild(none);
    }
    patients.forEach(function (patient, position) {
      var item = document.createElement("li");
      item.id = "patient-found-" + position;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      var link = document.createElement("a");
      link.href = patient.url;
      link.tabIndex = -1;
      link.textContent = patient.name;
      var detail = document.createElement("span");
      detail.className = "found-detail";
      detail.textContent = [patient.date_of_birth, patient.phone, patient.email].filter(Boolean).join(" · ");
      link.appendChild(detail);
      item.appendChild(link);
      list.appendChild(item);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
  }

  function search() {
    var text = input.value.trim();
    if (text.length < 2) { close(); return; }
    asked = text;
    fetch(input.dataset.url + "?" + new URLSearchParams({ q: text }).toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (body) { if (asked === text) { show(body.results); } })
      .catch(close);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(search, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); choose(active + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); choose(active - 1); }
    else if (event.key === "Escape") { close(); }
    else if (event.key === "Enter") {
      var found = options();
      var pick = active >= 0 ? found[active] : (found.length === 1 ? found[0] : null);
      if (pick) { event.preventDefault(); window.location.href = pick.querySelector("a").href; }
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("#patient-search")) { close(); }
  });
})();
