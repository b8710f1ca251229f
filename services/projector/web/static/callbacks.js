// The customer's open callback, shown above the timeline: a server-rendered fragment of our
// origin, loaded once the page is there.
"use strict";

(function () {
  const slot = document.getElementById("callback-slot");
  if (!slot) return;
  fetch(slot.dataset.src, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (html) { slot.innerHTML = html; })
    .catch(function () { /* the timeline works without it */ });
})();
