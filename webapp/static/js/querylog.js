/* 检索日志: report the first hit opened (clicked, middle-clicked) or copied on the search results page.
   One small POST (navigator.sendBeacon survives the page being left); the server keeps only the first. */
(function () {
  "use strict";
  var list = document.querySelector("ol.hits[data-log-ref]");
  if (!list || !navigator.sendBeacon) { return; }
  var url = list.getAttribute("data-opened-url");
  var sent = false;
  function report(event) {
    if (sent) { return; }
    var hit = event.target.closest && event.target.closest("li.hit");
    if (!hit) { return; }
    if (event.type !== "copy" && !event.target.closest("a[data-hit]")) { return; }
    var offset = parseInt(list.getAttribute("data-rank-offset") || "0", 10) || 0;
    var rank = offset + Array.prototype.indexOf.call(list.querySelectorAll("li.hit"), hit) + 1;
    var data = new FormData();
    data.append("ref", list.getAttribute("data-log-ref"));
    data.append("rank", String(rank));
    data.append("csrf_token", window.kbCsrfToken ? window.kbCsrfToken() : "");
    sent = navigator.sendBeacon(url, data);
  }
  list.addEventListener("click", report);
  list.addEventListener("auxclick", report);
  list.addEventListener("copy", report);
})();
