// Vakt pages: a little progressive enhancement. Every page works without it.
(function () {
  "use strict";

  // The sign-in step's time left: the visible clock ticks every second; the
  // live region speaks only when the minute changes, at 30 and 10 seconds and
  // at the end, and never holds a code.
  function timer() {
    var box = document.getElementById("timer");
    if (!box) return;
    var left = parseInt(box.getAttribute("data-left"), 10);
    if (isNaN(left)) return;
    var end = Date.now() + left * 1000;
    var shown = document.getElementById("time-left");
    var live = document.getElementById("time-live");
    var lastSpoken = "";
    function fmt(tpl, n) { return tpl.replace("%d", String(n)); }
    function speak(text) { if (text !== lastSpoken) { live.textContent = text; lastSpoken = text; } }
    lastSpoken = live.textContent;
    function tick() {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      shown.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
      if (s === 0) {
        speak(live.getAttribute("data-expired"));
        var inputs = document.querySelectorAll("#code-form input, #code-form button, #recovery-form input, #recovery-form button");
        for (var i = 0; i < inputs.length; i++) inputs[i].disabled = true;
        return;
      }
      if (s === 30 || s === 10) speak(fmt(live.getAttribute("data-seconds"), s));
      else if (s > 30 && s % 60 === 0) speak(fmt(live.getAttribute("data-minutes"), s / 60));
      setTimeout(tick, 1000);
    }
    tick();
  }

  // While a push waits, ask the server now and then whether the phone
  // answered, and go on when it did.
  function pushWait() {
    var box = document.getElementById("push-wait");
    if (!box || !window.fetch) return;
    var url = box.getAttribute("data-status"), done = box.getAttribute("data-done");
    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) { return r.json(); }).then(function (j) {
        if (j.status === "succeeded") { window.location.assign(done); return; }
        if (j.status !== "pending") { window.location.reload(); return; }
        setTimeout(poll, 1500);
      }).catch(function () { setTimeout(poll, 4000); });
    }
    setTimeout(poll, 1000);
  }

  // A push enrolment waits for the device: ask now and then whether it
  // confirmed, and say so in the live region (role=status) when it did.
  function enrolWait() {
    var box = document.getElementById("push-status");
    if (!box || !window.fetch) return;
    var url = box.getAttribute("data-status");
    function poll() {
      fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) { return r.json(); }).then(function (j) {
        if (j.status === "active") {
          box.textContent = box.getAttribute("data-active");
          box.setAttribute("data-state", "active");
          var check = document.getElementById("push-check");
          if (check) check.hidden = true;
          return;
        }
        if (j.status === "expired") { box.textContent = box.getAttribute("data-expired"); box.setAttribute("data-state", "expired"); return; }
        setTimeout(poll, 1500);
      }).catch(function () { setTimeout(poll, 4000); });
    }
    setTimeout(poll, 1000);
  }

  // "Remember this browser" also applies when the person chooses a push.
  function rememberForPush() {
    var box = document.getElementById("remember");
    if (!box) return;
    var hidden = document.querySelectorAll('form[action="/ui/signin/method"] input[name=remember]');
    function sync() { for (var i = 0; i < hidden.length; i++) hidden[i].value = box.checked ? "on" : ""; }
    box.addEventListener("change", sync);
    sync();
  }

  // The return to the relying party posts itself.
  function autosubmit() {
    var f = document.querySelector("form[data-autosubmit]");
    if (f) f.submit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    timer(); pushWait(); enrolWait(); rememberForPush(); autosubmit();
  });
})();
