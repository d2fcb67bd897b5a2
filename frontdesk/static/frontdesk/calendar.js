/* The front desk's calendar: EventCalendar (vendored) fed by frontdesk.views.calendar_events.
   Dragging a booked session asks the server to move it through the booking rules; a refusal
   puts the block back and says why. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("calendar-config").textContent);
  var element = document.getElementById("calendar");
  var message = document.getElementById("calendar-message");

  function say(text, refused) {
    message.textContent = text;
    message.hidden = !text;
    message.classList.toggle("refused", Boolean(refused));
  }

  function localText(date) {
    function two(n) { return String(n).padStart(2, "0"); }
    return date.getFullYear() + "-" + two(date.getMonth() + 1) + "-" + two(date.getDate()) +
      "T" + two(date.getHours()) + ":" + two(date.getMinutes()) + ":00";
  }

  function events(fetchInfo, success, failure) {
    var query = new URLSearchParams({
      location: config.location,
      by: config.by,
      start: fetchInfo.startStr.slice(0, 10),
      end: fetchInfo.endStr.slice(0, 10)
    });
    fetch(config.eventsUrl + "?" + query.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) { throw new Error(body.detail || "The calendar could not be loaded."); }
          return body;
        });
      })
      .then(success)
      .catch(function (error) { say(error.message, true); failure(error); });
  }

  function blockContent(info) {
    var props = info.event.extendedProps;
    var alerts = props.alerts.length ? "<span class='block-alerts'>⚑ " + props.alerts.join(", ") + "</span> " : "";
    var text = document.createElement("div");
    text.textContent = info.event.title;
    var detail = document.createElement("span");
    detail.className = "block-detail";
    detail.textContent = props.protocol + " · " + props.number + " · " + props.statusLabel;
    return { html: alerts + text.outerHTML + detail.outerHTML };
  }

  function move(info) {
    var body = { start: localText(info.event.start), by: config.by };
    if (info.newResource) { body.resource = String(info.newResource.id); }
    fetch(config.moveUrl.replace("00000000-0000-0000-0000-000000000000", info.event.id), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": element.dataset.csrf },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          if (!response.ok) {
            info.revert();
            var earliest = answer.earliest_start ? " Earliest allowed: " + answer.earliest_start.replace("T", " ").slice(0, 16) + "." : "";
            say("Not moved: " + answer.detail + earliest, true);
            return;
          }
          say(info.event.extendedProps.patient + " moved to " + body.start.replace("T", " ").slice(0, 16) + ".", false);
          calendar.refetchEvents();
        });
      })
      .catch(function () { info.revert(); say("Not moved: the server could not be reached.", true); });
  }

  var panel = document.getElementById("session-panel");

  function urlFor(template, id) { return template.replace("00000000-0000-0000-0000-000000000000", id); }

  function openPanel(info) {
    var event = info.event;
    var props = event.extendedProps;
    document.getElementById("session-panel-title").textContent = props.patient;
    document.getElementById("session-panel-detail").textContent =
      localText(event.start).replace("T", " ").slice(0, 16) + " · " + props.protocol + " · " + props.number +
      " · " + props.practitioner + ", " + props.room + " · " + props.statusLabel +
      (props.arrived && !props.inTreatment && props.status === "booked" ? " " + props.arrivedAt : "");
    document.getElementById("session-panel-alerts").textContent = props.alerts.join(" · ");
    // Every action comes back to this day of the calendar.
    var back = window.location.pathname + "?" + new URLSearchParams({
      location: config.location, by: config.by, date: localText(event.start).slice(0, 10)
    }).toString();
    var complete = document.getElementById("panel-complete");
    complete.hidden = !props.mayComplete;
    complete.href = urlFor(config.completeUrl, event.id) + "?next=" + encodeURIComponent(back);
    document.getElementById("panel-open").href = urlFor(config.sessionUrl, event.id);
    var cancel = document.getElementById("panel-cancel");
    cancel.hidden = !props.mayCancel;
    cancel.href = urlFor(config.cancelUrl, event.id) + "?next=" + encodeURIComponent(back);
    // Each status change is a form posted to the session's action.
    [["panel-check-in", props.mayCheckIn, config.checkInUrl],
     ["panel-start-treatment", props.mayStartTreatment, config.startTreatmentUrl],
     ["panel-no-show", props.mayNoShow, config.noShowUrl]].forEach(function (action) {
      var form = document.getElementById(action[0]);
      form.hidden = !action[1];
      form.action = urlFor(action[2], event.id);
      form.querySelector("input[name=next]").value = back;
    });
    panel.showModal();
  }

  document.getElementById("panel-close").addEventListener("click", function () { panel.close(); });
  // A week of several columns does not fit a phone: a narrow screen opens on the day.
  var narrow = window.matchMedia("(max-width: 700px)").matches;
  var calendar = EventCalendar.create(element, {
    view: narrow ? "resourceTimeGridDay" : config.view,
    locale: config.locale,
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    dayHeaderFormat: { weekday: "short", day: "numeric", month: "short" },
    date: config.date,
    headerToolbar: { start: "prev,next today", center: "title", end: "resourceTimeGridDay,resourceTimeGridWeek" },
    resources: config.resources,
    businessHours: config.businessHours,
    slotMinTime: config.slotMinTime,
    slotMaxTime: config.slotMaxTime,
    slotDuration: "00:15:00",
    allDaySlot: false,
    nowIndicator: true,
    editable: false,
    eventStartEditable: config.mayMove,
    eventDurationEditable: false,
    eventSources: [{ events: events }],
    eventContent: blockContent,
    eventDrop: move,
    eventClick: openPanel,
    dateClick: function (info) { if (window.clinicBooking) { window.clinicBooking.open(info); } }
  });
  window.clinicCalendar = calendar;
})();
