/* Booking from the calendar: click a free slot, find the patient, pick the course (and the room, or the
   practitioner when the columns are rooms), see the rules' verdict before saving, book, or book at the
   earliest start a rule allows. Every answer comes from the server (frontdesk.views._book). */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("calendar-config").textContent);
  var dialog = document.getElementById("booking-dialog");
  if (!dialog || !config.mayBook) { return; }
  var csrf = document.getElementById("calendar").dataset.csrf;
  var patientInput = document.getElementById("booking-patient");
  var patientList = document.getElementById("booking-patients");
  var chosen = document.getElementById("booking-patient-chosen");
  var courseSelect = document.getElementById("booking-course");
  var otherSelect = document.getElementById("booking-other");
  var verdict = document.getElementById("booking-verdict");
  var save = document.getElementById("booking-save");
  var earliest = document.getElementById("booking-earliest");
  var state = {};
  var timer = null;
  var NIL = "00000000-0000-0000-0000-000000000000";

  function two(n) { return String(n).padStart(2, "0"); }
  function localText(date) {
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) +
      "T" + two(date.getHours()) + ":" + two(date.getMinutes()) + ":00";
  }
  function shown(text) { return text.replace("T", " ").slice(0, 16); }

  function fill(select, rows, placeholder) {
    select.textContent = "";
    if (placeholder) { select.appendChild(new Option(placeholder, "")); }
    rows.forEach(function (row) { select.appendChild(new Option(row.title || row.label, row.id)); });
  }

  function say(text, allowed) {
    verdict.textContent = text;
    verdict.className = allowed === true ? "allowed" : (allowed === false ? "refused" : "");
  }

  function body() {
    var other = otherSelect.value;
    return {
      course: courseSelect.value,
      start: state.start,
      practitioner: config.by === "room" ? other : state.column,
      room: config.by === "room" ? state.column : other
    };
  }

  function post(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body())
    }).then(function (response) { return response.json().then(function (answer) { return { response: response, answer: answer }; }); });
  }

  function showRefusal(answer) {
    say(answer.detail, false);
    if (answer.earliest_start) {
      earliest.hidden = false;
      earliest.textContent = "Book at earliest: " + shown(answer.earliest_start);
      earliest.dataset.start = answer.earliest_start;
    }
  }

  function check() {
    save.disabled = true;
    earliest.hidden = true;
    if (!courseSelect.value || courseSelect.value === NEW_COURSE || !otherSelect.value) { say(""); return; }
    say("Checking the rules…");
    post(config.checkUrl).then(function (result) {
      if (result.answer.ok) { say(result.answer.detail, true); save.disabled = false; }
      else { showRefusal(result.answer); }
    }).catch(function () { say("The rules could not be checked: the server could not be reached.", false); });
  }

  function book() {
    save.disabled = true;
    post(config.bookUrl).then(function (result) {
      if (!result.response.ok) { showRefusal(result.answer); return; }
      dialog.close();
      var message = document.getElementById("calendar-message");
      message.hidden = false;
      message.classList.remove("refused");
      message.textContent = state.patient + " booked for " + shown(state.start) + ".";
      if (window.clinicCalendar) {
        window.clinicCalendar.setOption("date", state.start.slice(0, 10));
        window.clinicCalendar.refetchEvents();
      }
    }).catch(function () { say("Not booked: the server could not be reached.", false); });
  }

  function choosePatient(patient) {
    state.patient = patient.name;
    patientList.textContent = "";
    patientInput.value = "";
    chosen.hidden = false;
    chosen.textContent = patient.name + " · " + patient.date_of_birth;
    fetch(config.coursesUrl.replace(NIL, patient.id), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        var here = answer.results.filter(function (course) { return course.location === config.location; });
        state.patientId = patient.id;
        fill(courseSelect, here, here.length ? "" : "No course here yet");
        if (config.mayStartCourse) { courseSelect.appendChild(new Option("Start a new course…", NEW_COURSE)); }
        courseSelect.disabled = false;
        if (here.length === 1) { courseSelect.value = here[0].id; }
        showNewCourse();
        check();
      });
  }

  function searchPatients() {
    var text = patientInput.value.trim();
    if (text.length < 2) { patientList.textContent = ""; return; }
    fetch(config.searchUrl + "?" + new URLSearchParams({ q: text }).toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (answer) {
        patientList.textContent = "";
        answer.results.forEach(function (patient) {
          var item = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.textContent = patient.name + " · " + patient.date_of_birth + (patient.phone ? " · " + patient.phone : "");
          button.addEventListener("click", function () { choosePatient(patient); });
          item.appendChild(button);
          patientList.appendChild(item);
        });
      });
  }

  function open(info) {
    state = { start: localText(info.date), column: info.resource ? String(info.resource.id) : "" };
    var columns = config.by === "room" ? config.rooms : config.practitioners;
    var column = columns.filter(function (row) { return row.id === state.column; })[0];
    document.getElementById("booking-when").textContent = shown(state.start) + (column ? " · " + column.title : "");
    document.getElementById("booking-other-label").textContent = config.by === "room" ? "Practitioner" : "Room";
    fill(otherSelect, config.by === "room" ? config.practitioners : config.rooms, "");
    otherSelect.selectedIndex = otherSelect.options.length > 1 ? 1 : 0;
    fill(courseSelect, [], "Choose the patient first");
    courseSelect.disabled = true;
    chosen.hidden = true;
    patientInput.value = "";
    patientList.textContent = "";
    earliest.hidden = true;
    save.disabled = true;
    say("");
    dialog.showModal();
    patientInput.focus();
  }

  var NEW_COURSE = "new";
  var newCourse = document.getElementById("booking-new-course");
  var protocolSelect = document.getElementById("booking-protocol");
  fill(protocolSelect, config.protocols || [], "");

  function showNewCourse() { newCourse.hidden = courseSelect.value !== NEW_COURSE; }

  document.getElementById("booking-start-course").addEventListener("click", function () {
    fetch(config.startCourseUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ patient: state.patientId, protocol: protocolSelect.value, location: config.location })
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (!answer.ok) { say("Course not started: " + answer.detail, false); return; }
        var option = new Option(answer.label, answer.id);
        courseSelect.insertBefore(option, courseSelect.firstChild);
        courseSelect.value = answer.id;
        showNewCourse();
        check();
      })
      .catch(function () { say("Course not started: the server could not be reached.", false); });
  });

  patientInput.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(searchPatients, 150); });
  courseSelect.addEventListener("change", function () { showNewCourse(); check(); });
  otherSelect.addEventListener("change", check);
  save.addEventListener("click", book);
  earliest.addEventListener("click", function () {
    state.start = earliest.dataset.start;
    document.getElementById("booking-when").textContent = shown(state.start);
    earliest.hidden = true;
    post(config.checkUrl).then(function (result) {
      if (result.answer.ok) { book(); } else { showRefusal(result.answer); }
    });
  });
  document.getElementById("booking-close").addEventListener("click", function () { dialog.close(); });
  // "Book next" from the card: the dialog opens at the course's first free slot, patient and course chosen.
  function openSuggested(suggestion) {
    state = { start: suggestion.start, column: config.by === "room" ? suggestion.room : suggestion.practitioner };
    document.getElementById("booking-when").textContent = shown(state.start);
    document.getElementById("booking-other-label").textContent = config.by === "room" ? "Practitioner" : "Room";
    fill(otherSelect, config.by === "room" ? config.practitioners : config.rooms, "");
    otherSelect.value = config.by === "room" ? suggestion.practitioner : suggestion.room;
    if (!otherSelect.value && otherSelect.options.length > 1) { otherSelect.selectedIndex = 1; }
    fill(courseSelect, [{ id: suggestion.course, label: suggestion.courseLabel }], "");
    courseSelect.value = suggestion.course;
    courseSelect.disabled = false;
    state.patient = suggestion.patient;
    chosen.hidden = false;
    chosen.textContent = suggestion.patient;
    patientInput.value = "";
    patientList.textContent = "";
    earliest.hidden = true;
    dialog.showModal();
    check();
  }

  window.clinicBooking = { open: open };
  if (config.suggestion && config.suggestion.practitioner) { openSuggested(config.suggestion); }
})();
