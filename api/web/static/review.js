// Playback of a review grant: the wall-clock time as it plays, seeking by wall-clock time and by
// clicking the timeline, and a report of the span actually played (registered by the box).
"use strict";
(function () {
  function fmt(ms, tz) {
    // sv-SE writes YYYY-MM-DD HH:MM:SS; the zone is the box's, not the browser's.
    return new Intl.DateTimeFormat("sv-SE", {timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"}).format(new Date(ms));
  }
  document.querySelectorAll("section.player").forEach(function (sec) {
    var video = sec.querySelector("video");
    if (!video) return;
    var d = sec.dataset, clipStart = Number(d.clipStartUs) / 1000, since = Number(d.sinceUs) / 1000,
        until = Number(d.untilUs) / 1000, wall = sec.querySelector(".wall"), cursor = sec.querySelector(".cursor"),
        playedFrom = null;
    function now() { return clipStart + video.currentTime * 1000; }
    function show() {
      wall.textContent = fmt(Math.round(now()), d.tz);  // a frame time may sit a hair before the second
      wall.dataset.ms = String(Math.round(now()));
      cursor.setAttribute("x", Math.max(0, Math.min(99.6, 100 * (now() - since) / (until - since))) + "%");
    }
    function seekTo(ms) { video.currentTime = Math.max(0, (ms - clipStart) / 1000); }
    function report() {
      if (playedFrom === null) return;
      var f = new FormData();
      f.append("csrf", d.csrf);
      f.append("start_us", String(Math.round(playedFrom * 1000)));
      f.append("end_us", String(Math.round(now() * 1000)));
      playedFrom = null;
      navigator.sendBeacon("/review/" + d.grant + "/" + d.camera + "/played", f);
    }
    video.addEventListener("timeupdate", show);
    video.addEventListener("seeked", show);
    video.addEventListener("loadedmetadata", show);
    video.addEventListener("playing", function () { if (playedFrom === null) playedFrom = now(); });
    video.addEventListener("pause", report);
    video.addEventListener("ended", report);
    video.addEventListener("seeking", report);
    window.addEventListener("pagehide", report);
    sec.querySelector("svg.review-tl").addEventListener("click", function (ev) {
      var box = ev.currentTarget.getBoundingClientRect();
      seekTo(since + (until - since) * (ev.clientX - box.left) / box.width);
    });
    sec.querySelector("form.seek").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = ev.currentTarget.elements.at.value;  // YYYY-MM-DDTHH:MM[:SS], wall-clock in the box's zone
      var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d))?/.exec(v);
      if (!m) return;
      var utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0)) - Number(d.offsetMs);
      seekTo(utc);
    });
  });
})();
