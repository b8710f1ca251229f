// The customer's consent per purpose: a server-rendered fragment of our origin, loaded once the
// page is there (the page itself does not wait for it).
"use strict";

(function () {
  const slot = document.getElementById("consent-slot");
  if (!slot) return;
  fetch(slot.dataset.src, { credentials: "same-origin" })
    .then(function (response) { return response.ok ? response.text() : ""; })
    .then(function (html) { slot.innerHTML = html; })
    .catch(function () { slot.textContent = ""; });
})();
