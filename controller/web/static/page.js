// Keeps the approvals page current without reloading it. The page works without this script:
// the forms post, the server redirects back, and a reload shows the latest state.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const seconds = Number(live.dataset.refreshSeconds) || 5;

  // after a decision the server redirects here with a message: bring keyboard focus to it
  const message = document.querySelector("#messages .message");
  if (message) message.focus();

  function announce(text) {
    const note = document.createElement("p");
    note.className = "message info";
    note.textContent = text;
    document.getElementById("messages").replaceChildren(note);
  }

  function updateLiveTexts(current, fresh) {
    for (const element of fresh.querySelectorAll("[data-live]")) {
      if (element.closest("[data-id]") !== fresh.closest("[data-id]")) continue; // a card's own times only
      const target = current.querySelector('[data-live="' + element.dataset.live + '"]');
      if (target && target.innerHTML !== element.innerHTML) target.innerHTML = element.innerHTML;
    }
  }

  // Cards already shown are kept as they are, so a reason being typed and the focus survive;
  // only their times change. Decided cards go; new ones take their place in the list's order.
  function mergePending(fresh) {
    const list = document.getElementById("pending-list");
    const freshCards = new Map([...fresh.querySelectorAll("#pending-list > [data-id]")].map((c) => [c.dataset.id, c]));
    for (const card of [...list.children]) {
      if (!freshCards.has(card.dataset.id)) card.remove();
    }
    let added = 0;
    let previous = null;
    for (const [id, card] of freshCards) {
      let shown = [...list.children].find((c) => c.dataset.id === id);
      if (shown) updateLiveTexts(shown, card);
      else {
        shown = document.importNode(card, true);
        list.insertBefore(shown, previous ? previous.nextSibling : list.firstChild);
        added += 1;
      }
      previous = shown;
    }
    return added;
  }

  function apply(html) {
    const fresh = document.createElement("template");
    fresh.innerHTML = html;
    const added = mergePending(fresh.content);
    updateLiveTexts(document.getElementById("pending-heading").parentElement, fresh.content.getElementById("pending"));
    for (const id of ["warnings", "recent"]) {
      document.getElementById(id).replaceWith(document.importNode(fresh.content.getElementById(id), true));
    }
    if (added) announce(added === 1 ? "1 new request is waiting for a decision." : added + " new requests are waiting for a decision.");
  }

  let timer = null;
  function refreshSoon(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    try {
      const response = await fetch(live.dataset.url, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (response.ok) apply(await response.text());
    } catch (error) {
      // the controller is restarting or gone; the next round tries again
    } finally {
      refreshSoon(seconds * 1000);
    }
  }

  // The server announces every stored or changed request; the lists are fetched at once then.
  // The periodic refresh above stays, for when the stream is down (the browser reconnects by itself).
  if (window.EventSource && live.dataset.events) {
    const stream = new EventSource(live.dataset.events);
    for (const kind of ["stored", "changed", "reset"]) stream.addEventListener(kind, () => refreshSoon(50));
  }
  refreshSoon(seconds * 1000);
})();
