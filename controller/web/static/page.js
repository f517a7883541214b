// Keeps the approvals page current without reloading it. The page works without this script:
// the forms post, the server redirects back, and a reload shows the latest state.
// An update never removes what holds the keyboard focus nor what someone typed: a card decided
// elsewhere stays, marked as such, until its reader removes it.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const seconds = Number(live.dataset.refreshSeconds) || 5;
  const messages = document.getElementById("messages");

  // after a decision the server redirects here with a message: bring keyboard focus to it
  const message = document.querySelector("#messages .message");
  if (message) message.focus();

  // The page's own news goes into the live region beside the server's messages, never over the one
  // that holds focus: replacing it would drop the keyboard to the page's body.
  function announce(text) {
    for (const old of messages.querySelectorAll(".announced")) {
      if (!old.contains(document.activeElement)) old.remove();
    }
    const note = document.createElement("p");
    note.className = "message info announced";
    note.textContent = text;
    messages.append(note);
  }

  function holdsFocus(element) {
    return element.contains(document.activeElement);
  }

  function updateLiveTexts(current, fresh) {
    for (const element of fresh.querySelectorAll("[data-live]")) {
      if (element.closest("[data-id]") !== fresh.closest("[data-id]")) continue; // a card's own times only
      const target = current.querySelector('[data-live="' + element.dataset.live + '"]');
      // what holds focus waits for the next round rather than vanish under the keyboard
      if (target && target.innerHTML !== element.innerHTML && !holdsFocus(target)) target.innerHTML = element.innerHTML;
    }
  }

  function orderOf(card) {
    return card.querySelector("h3").textContent.trim();
  }

  function typedIn(card) {
    return [...card.querySelectorAll("textarea")].some((field) => field.value.trim() !== "");
  }

  // What became of a request that left the list: its row in the fresh "Recently decided", if there.
  function fateOf(id, fresh) {
    const row = fresh.querySelector('#recent tr[data-id="' + CSS.escape(id) + '"]');
    if (!row) return "is no longer on this list (decided elsewhere, or moved to another page)";
    const badge = row.querySelector(".badge");
    const state = badge.textContent.trim();
    const by = badge.parentElement.querySelector(".hint"); // "by <approver>", when one was named
    return "was " + state + " elsewhere" + (by && by.textContent.trim() ? " (" + by.textContent.trim() + ")" : "");
  }

  // Remove a card, sending the focus it held to the next card, else the previous one, else the list heading.
  function removeCard(card) {
    const heir = card.nextElementSibling || card.previousElementSibling;
    const hadFocus = holdsFocus(card);
    card.remove();
    if (hadFocus) (heir ? heir.querySelector("h3") : document.getElementById("pending-heading")).focus();
  }

  function markGone(card, fate) {
    card.classList.add("gone");
    const title = card.querySelector("h3");
    const note = document.createElement("p");
    note.className = "message warning gone-note";
    note.textContent = orderOf(card) + " " + fate + ". What you typed is kept until you remove the card. ";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = "Remove from the list";
    remove.addEventListener("click", () => removeCard(card));
    note.append(remove);
    title.parentElement.after(note);
  }

  // Cards already shown are kept as they are, so a reason being typed and the focus survive;
  // only their times change. Decided cards go, unless they hold the focus or typed text; new ones
  // take their place in the list's order. Returns what to announce.
  function mergePending(fresh) {
    const list = document.getElementById("pending-list");
    const freshCards = new Map([...fresh.querySelectorAll("#pending-list > [data-id]")].map((c) => [c.dataset.id, c]));
    const news = [];
    for (const card of [...list.children]) {
      if (freshCards.has(card.dataset.id)) {
        if (card.classList.contains("gone")) card.replaceWith(document.importNode(freshCards.get(card.dataset.id), true));
        continue;
      }
      if (card.classList.contains("gone")) continue;
      const fate = fateOf(card.dataset.id, fresh);
      if (holdsFocus(card) || typedIn(card)) markGone(card, fate);
      else card.remove();
      news.push(orderOf(card) + " " + fate + ".");
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
    if (added) news.push(added === 1 ? "1 new request is waiting for a decision." : added + " new requests are waiting for a decision.");
    return news;
  }

  function countText() {
    return document.querySelector('#pending-heading [data-live="pending-count"]').textContent.trim();
  }

  function apply(html) {
    const fresh = document.createElement("template");
    fresh.innerHTML = html;
    const counted = countText();
    const news = mergePending(fresh.content);
    updateLiveTexts(document.getElementById("pending-heading").parentElement, fresh.content.getElementById("pending"));
    for (const id of ["warnings", "recent"]) {
      const shown = document.getElementById(id);
      if (!holdsFocus(shown)) shown.replaceWith(document.importNode(fresh.content.getElementById(id), true));
    }
    if (countText() !== counted) news.push("Waiting for a decision: " + countText() + ".");
    if (news.length) announce(news.join(" "));
    countSelected();
  }

  // The bulk actions say how many cards are selected, in a live region of their own, and unfold
  // once a card is ticked.
  const selectedCount = document.getElementById("selected-count");
  function countSelected() {
    if (!selectedCount) return;
    const selected = document.querySelectorAll('#pending-list input[name="ids"]:checked').length;
    const text = selected ? selected + " selected." : "";
    if (selectedCount.textContent !== text) selectedCount.textContent = text;
  }
  document.addEventListener("change", (event) => {
    if (event.target.name !== "ids") return;
    countSelected();
    if (event.target.checked) document.getElementById("bulk-actions").open = true;
  });
  countSelected();

  // An ended session makes the lists answer with the sign-in form: that is no news about the requests,
  // so the cards stay as they are and the approver is told once why the page stopped following.
  let signedOut = false;
  function tellSignedOut() {
    if (signedOut) return;
    signedOut = true;
    announce("You were signed out, so this list no longer updates. Sign in again to see where the requests stand.");
  }

  let timer = null;
  function refreshSoon(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  async function refresh() {
    try {
      const response = await fetch(live.dataset.url, { headers: { Accept: "text/html" }, cache: "no-store" });
      if (response.redirected) tellSignedOut();
      else if (response.ok) apply(await response.text());
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
