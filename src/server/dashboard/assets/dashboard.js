// crier's dashboard: live updates from the service's events, and the viewer's time zone.
(function () {
  "use strict";
  var body = document.body;
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var rendered = body.getAttribute("data-viewer-tz") || "";
  if (zone) document.cookie = "crier_tz=" + encodeURIComponent(zone) + "; path=/; SameSite=Strict; max-age=31536000";

  var main = document.getElementById("content");
  var pending = null;
  var retries = 0;

  // A form someone is filling in is never replaced under their hands.
  function busy() {
    var active = document.activeElement;
    if (active && main.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return true;
    var fields = main.querySelectorAll("input:not([type=hidden]), textarea");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) return true;
    }
    return false;
  }

  function refresh() {
    pending = null;
    if (busy()) {
      if (retries++ < 60) pending = setTimeout(refresh, 1000);
      return;
    }
    retries = 0;
    fetch(location.href, { headers: { "X-Crier-Live": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html || busy()) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        var fresh = page.getElementById("content");
        if (fresh) main.innerHTML = fresh.innerHTML;
      })
      .catch(function () {});
  }

  function soon() {
    if (!pending) pending = setTimeout(refresh, 300);
  }

  if (zone && zone !== rendered && body.getAttribute("data-live") === "on") soon();

  if (body.getAttribute("data-live") === "on" && window.EventSource) {
    var names = ["runs_created", "approvals_requested", "incident_changed", "sent", "failed",
      "reloaded", "approval_decided", "paused", "resumed", "triggered", "incident_action",
      "disqualified", "reset"];
    var source = new EventSource("/events");
    names.forEach(function (name) { source.addEventListener(name, soon); });
    source.onmessage = soon;
  }
})();
