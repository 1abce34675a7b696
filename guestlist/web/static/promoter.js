/* A promoter's page: for each event their link (copy, share on WhatsApp), their figures, their
   team's ranking and their own guests (name and whether inside; the API never gives a promoter
   a phone or an email). */
"use strict";

(() => {
  const { api, el, $, show, date, time, copy } = Staff;
  const PAGE = 50;

  function fail(error) {
    if (error && error.status === 401) { showLogin("A sessão terminou. Entra de novo."); return; }
    show("alert", error && error.message ? error.message : "Ocorreu um erro.");
  }

  function showLogin(message) {
    $("app").hidden = true;
    $("who").hidden = true;
    $("login-form").hidden = false;
    show("alert", message || "");
  }

  async function start() {
    let me;
    try {
      me = await api("GET", "/api/staff/me");
    } catch (error) {
      if (error.status === 401) { showLogin(); return; }
      fail(error);
      return;
    }
    $("who-name").textContent = me.staff.displayName || me.staff.email;
    $("who").hidden = false;
    $("login-form").hidden = true;
    $("app").hidden = false;
    let data;
    try {
      data = await api("GET", "/api/promoter/dashboard");
    } catch (error) { fail(error); return; }
    const cards = [];
    for (const promoter of data.promoters) {
      for (const item of promoter.events) cards.push(eventCard(promoter, item));
    }
    $("events").replaceChildren(...cards);
    $("no-events").hidden = cards.length > 0;
    if (!data.promoters.length) {
      $("no-events").textContent = "Esta conta não é de um promotor. O organizador usa a consola em /organizador.";
    }
  }

  function eventCard(promoter, item) {
    const ev = item.event;
    const link = location.origin + item.linkPath;
    const message = `${ev.title} · ${date(ev.startsAt)}. Entra na minha lista: ${link}`;
    const share = el("a", { class: "button", href: "https://wa.me/?text=" + encodeURIComponent(message),
      target: "_blank", rel: "noopener noreferrer", text: "Partilhar no WhatsApp" });
    const copyButton = el("button", { type: "button", class: "secondary", text: "Copiar link",
      onclick: async () => show("notice", (await copy(link)) ? "Link copiado." : "Seleciona o link e copia-o.") });
    const figure = (label, value) => el("div", { class: "figure" }, el("strong", { text: String(value) }), label);
    const ranking = el("ol", {}, ...(item.teamRanking || []).map((r) =>
      el("li", { text: `${r.displayName}${r.me ? " (tu)" : ""}: ${r.onList} na lista, ${r.inside} entraram` })));
    const rows = el("tbody", {});
    const total = el("p", { class: "muted" });
    const more = el("button", { type: "button", class: "secondary", text: "Mostrar mais", hidden: true });
    let offset = 0;
    async function loadGuests() {
      let data;
      try {
        data = await api("GET", `/api/console/events/${ev.id}/guests?limit=${PAGE}&offset=${offset}&sort=recent`);
      } catch (error) { fail(error); return; }
      rows.append(...data.guests.map((g) => el("tr", {}, el("td", { text: g.name }),
        el("td", { text: g.checkedIn ? "Entrou" : "Na lista" }))));
      offset += data.guests.length;
      total.textContent = `${data.total} convidados teus`;
      more.hidden = offset >= data.total;
    }
    more.addEventListener("click", loadGuests);
    loadGuests();
    return el("section", { class: "card", "data-event-id": ev.id },
      el("h2", { text: ev.title }),
      el("p", { class: "muted", text: `${date(ev.startsAt)} · ${ev.location || ""}` + (ev.listOpen ? "" : " · lista fechada") }),
      el("p", { class: "link-box", text: link }),
      el("div", { class: "actions" }, copyButton, share),
      el("div", { class: "figures" }, figure("na lista", item.onList), figure("entraram", item.inside),
        figure("quota", item.quota === null || item.quota === undefined ? "—" : item.quota)),
      el("h3", { text: "Ranking da equipa" }), ranking,
      el("h3", { text: "Os teus convidados" }), total,
      el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Os teus convidados" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", { text: "Nome" }), el("th", { text: "Estado" }))), rows)),
      more);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    show("alert", "");
    try {
      await api("POST", "/api/staff/login", { email: $("login-email").value.trim(), password: $("login-password").value });
      $("login-password").value = "";
      start();
    } catch (error) { fail(error); }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/staff/logout", {}); } catch (error) { /* the cookie goes anyway */ }
    showLogin("");
    show("notice", "Sessão terminada.");
  });

  start();
})();
