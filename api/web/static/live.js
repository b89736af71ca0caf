// Live view: the camera's newest keyframe (a one-frame MP4 copied from the stream), refreshed.
// The re-commission button is shown only once a live picture is on screen beside it.
"use strict";
(function () {
  var sec = document.getElementById("live");
  if (!sec) return;
  var video = sec.querySelector("video.live"), state = sec.querySelector(".live-state"),
      form = sec.querySelector("form.commission"), cam = sec.dataset.camera, timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 2000); }
  function refresh() { video.src = "/cameras/" + cam + "/live.mp4?t=" + Date.now(); }
  video.addEventListener("loadeddata", function () {
    state.hidden = true;
    sec.dataset.frames = String(Number(sec.dataset.frames || 0) + 1);
    if (form) form.hidden = false;
    later();
  });
  video.addEventListener("error", function () { later(); });
  refresh();
})();
