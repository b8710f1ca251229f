// Touchpoint agent pages: live entries and screen pops (server-sent events), infinite scroll
// by cursor, entries loaded when opened, and remote images only on request. No framework.
"use strict";

(function () {
  const body = document.body;
  const page = body.dataset.page;
  const customer = body.dataset.customer;
  const channel = body.dataset.channel;
  const timeline = document.getElementById("timeline");
  const asOfControl = document.getElementById("as-of");
  const asOf = asOfControl ? asOfControl.dataset.asOf : "";  // set: the timeline as recorded then

  // ---- entries open on demand -------------------------------------------------------------
  async function loadEntry(details) {
    const target = details.querySelector(".entry-body");
    if (details.dataset.loaded) return;
    details.dataset.loaded = "1";
    try {
      const response = await fetch("/entries/" + encodeURIComponent(details.dataset.entry), { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      target.innerHTML = await response.text();  // server-rendered, autoescaped fragment of our origin
    } catch (err) {
      delete details.dataset.loaded;
      target.textContent = body.dataset.loadFailed;
    }
  }

  document.addEventListener("toggle", function (event) {
    const details = event.target;
    if (details.matches && details.matches("details[data-entry]") && details.open) loadEntry(details);
  }, true);

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-load-images]");
    if (!button) return;
    const frame = button.closest(".mail-html").querySelector("iframe");
    frame.src = button.dataset.loadImages;
    button.disabled = true;
  });

  // an entry named in ?open= (a link from another mail) opens in place
  const named = new URLSearchParams(location.search).get("open");
  const target = named && document.querySelector("details[data-entry='" + CSS.escape(named) + "']");
  if (target) {
    target.open = true;
    target.scrollIntoView({ block: "center" });
  }

  // ---- infinite scroll ------------------------------------------------------------------------
  const more = document.getElementById("more");
  let loadingMore = false;
  async function loadMore() {
    if (!more || loadingMore || !more.dataset.cursor) return;
    loadingMore = true;
    const button = more.querySelector("button");
    button.textContent = body.dataset.loading;
    try {
      const url = more.dataset.url + "&before=" + encodeURIComponent(more.dataset.cursor) +
        (asOf ? "&as_of=" + encodeURIComponent(asOf) : "");
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      timeline.insertAdjacentHTML("beforeend", await response.text());
      const next = response.headers.get("X-Next-Cursor");
      if (next) {
        more.dataset.cursor = next;
        button.textContent = button.dataset.label || button.textContent;
      } else {
        more.dataset.cursor = "";
        more.innerHTML = "";
        const end = document.createElement("p");
        end.className = "muted end";
        end.textContent = body.dataset.end;
        more.appendChild(end);
      }
    } catch (err) {
      button.textContent = body.dataset.loadFailed;
    } finally {
      loadingMore = false;
    }
  }
  if (more) {
    const button = more.querySelector("button");
    button.dataset.label = button.textContent;
    button.addEventListener("click", loadMore);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (seen) {
        if (seen.some(function (e) { return e.isIntersecting; })) loadMore();
      }, { rootMargin: "400px" }).observe(more);
    }
  }

  // ---- live entries and screen pops ----------------------------------------------------------
  const status = document.getElementById("live-status");
  function setLive(on) {
    if (!status) return;
    status.classList.toggle("on", on);
    status.classList.toggle("off", !on);
    status.title = on ? body.dataset.liveLabelOn : body.dataset.liveLabelOff;
    body.dataset.live = on ? "on" : "off";
  }

  function showEntry(data) {
    if (!timeline || (channel && data.channel !== channel) || asOf) return;  // a past view stays as it was
    const holder = document.createElement("ol");
    holder.innerHTML = data.html;
    const fresh = holder.firstElementChild;
    if (!fresh) return;
    const existing = document.getElementById(fresh.id);
    if (existing) {
      const wasOpen = existing.querySelector("details").open;
      existing.replaceWith(fresh);
      if (wasOpen) { fresh.querySelector("details").open = true; }
    } else {
      timeline.prepend(fresh);
    }
    const empty = document.getElementById("timeline-empty");
    if (empty) empty.remove();
  }

  function showPop(data) {
    if (page === "home") {
      window.location.assign(data.url);
      return;
    }
    const pop = document.getElementById("pop");
    if (!pop) return;
    pop.innerHTML = "";
    const text = document.createElement("span");
    text.textContent = "☎ " + body.dataset.incoming + ": " + data.name + (data.caller ? " (" + data.caller + ")" : "");
    const link = document.createElement("a");
    link.href = data.url;
    link.textContent = body.dataset.open;
    pop.append(text, " ", link);
    pop.hidden = false;
    link.focus();
  }

  if (status && "EventSource" in window) {
    const source = new EventSource("/live" + (customer ? "?customer=" + encodeURIComponent(customer) : ""));
    source.addEventListener("open", function () { setLive(true); });
    source.addEventListener("error", function () { setLive(false); });
    source.addEventListener("entry", function (event) { showEntry(JSON.parse(event.data)); });
    source.addEventListener("pop", function (event) { showPop(JSON.parse(event.data)); });
  }

  // ---- keyboard: "/" jumps to the search field ----------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.target.closest("input, textarea, select")) return;
    const field = document.getElementById("q") || document.getElementById("top-q");
    if (field) { event.preventDefault(); field.focus(); }
  });
})();
