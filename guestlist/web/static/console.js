/* The organizer's console: login or invite, then events, an event's list and figures,
   promoters and quotas, door links, members. Everything it shows comes from the console API, which answers
   only within the caller's organizations; text is always set with textContent. */
"use strict";

(() => {
  const { api, el, $, show, date, time, copy } = Staff;
  const PAGE = 50;
  const ROLE_LABEL = { owner: "Dono", manager: "Gestor", promoter: "Promotor" };
  const state = {
    me: null, org: null, events: [], event: null, editing: null, promoters: [], offset: 0,
  };

  function fail(error) {
    if (error && error.status === 401 && state.me) {
      state.me = null;
      showLogin("A sessão terminou. Entra de novo.");
      return;
    }
    show("alert", error && error.message ? error.message : "Ocorreu um erro.");
    window.scrollTo(0, 0);
  }

  function note(text) { show("notice", text); }

  function clearMessages() { show("alert", ""); show("notice", ""); }

  // --- views ------------------------------------------------------------------------------
  function view(name) {
    for (const panel of document.querySelectorAll("[data-view-panel]")) {
      panel.hidden = panel.dataset.viewPanel !== name;
    }
    for (const tab of document.querySelectorAll("nav.tabs button")) {
      if (tab.dataset.view === name || (name === "event" || name === "event-form") && tab.dataset.view === "events") {
        tab.setAttribute("aria-current", "page");
      } else {
        tab.removeAttribute("aria-current");
      }
    }
    $("invite-result").hidden = true;
    hideDoorLink();
  }

  function showLogin(message) {
    $("app").hidden = true;
    $("who").hidden = true;
    $("invite-form").hidden = true;
    $("login-form").hidden = false;
    show("alert", message || "");
    $("login-email").focus();
  }

  function role() {
    const m = state.me && state.me.memberships.find((x) => x.organizationId === state.org);
    return m ? m.role : null;
  }

  // --- session ----------------------------------------------------------------------------
  async function start() {
    const invite = location.pathname.replace(/\/$/, "") === "/organizador/convite";
    if (invite) {
      const token = location.hash.replace(/^#(token=)?/, "");
      $("invite-form").dataset.token = token;
      $("invite-form").hidden = false;
      if (!/^[0-9a-f]{64}$/.test(token)) show("alert", "Este link de convite está incompleto. Copia-o de novo da mensagem.");
      $("invite-name").focus();
      return;
    }
    try {
      state.me = await api("GET", "/api/staff/me");
    } catch (error) {
      if (error.status === 401) { showLogin(); return; }
      fail(error);
      return;
    }
    enter();
  }

  function enter() {
    const staff = state.me.staff;
    const manageable = state.me.memberships.filter((m) => m.role !== "promoter");
    if (!manageable.length) {
      // a promoter only: their page is elsewhere
      location.assign("/promotor/painel");
      return;
    }
    $("login-form").hidden = true;
    $("invite-form").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = staff.displayName || staff.email;
    const select = $("org");
    select.replaceChildren(...manageable.map((m) => el("option", { value: m.organizationId, text: m.name })));
    if (!manageable.some((m) => m.organizationId === state.org)) state.org = manageable[0].organizationId;
    select.value = state.org;
    select.closest("label").hidden = manageable.length < 2;
    $("tab-members").hidden = role() !== "owner";
    loadEvents();
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    try {
      await api("POST", "/api/staff/login", {
        email: $("login-email").value.trim(), password: $("login-password").value,
      });
      $("login-password").value = "";
      state.me = await api("GET", "/api/staff/me");
      enter();
    } catch (error) { fail(error); }
  });

  $("invite-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    const name = $("invite-name").value.trim();
    try {
      await api("POST", "/api/staff/invite/accept", {
        token: event.target.dataset.token, password: $("invite-password").value,
        displayName: name || null,
      });
      // the token is spent: leave the invite's address (and its fragment) behind
      history.replaceState(null, "", "/organizador");
      $("invite-password").value = "";
      state.me = await api("GET", "/api/staff/me");
      enter();
    } catch (error) { fail(error); }
  });

  async function logout(everywhere) {
    clearMessages();
    try {
      await api("POST", everywhere ? "/api/staff/logout-everywhere" : "/api/staff/logout", {});
    } catch (error) {
      if (error.status !== 401) { fail(error); return; }
    }
    state.me = null;
    showLogin(everywhere ? "" : "");
    note(everywhere ? "Terminaste todas as sessões." : "Sessão terminada.");
  }
  $("logout").addEventListener("click", () => logout(false));
  $("logout-all").addEventListener("click", () => logout(true));

  $("org").addEventListener("change", () => {
    state.org = $("org").value;
    $("tab-members").hidden = role() !== "owner";
    loadEvents();
  });

  for (const tab of document.querySelectorAll("nav.tabs button")) {
    tab.addEventListener("click", () => {
      clearMessages();
      if (tab.dataset.view === "events") loadEvents();
      else if (tab.dataset.view === "promoters") loadPromoters();
      else loadMembers();
    });
  }

  // --- events -----------------------------------------------------------------------------
  async function loadEvents() {
    view("events");
    try {
      const data = await api("GET", "/api/console/events?organizationId=" + encodeURIComponent(state.org));
      state.events = data.events;
    } catch (error) { fail(error); return; }
    const list = $("event-list");
    list.replaceChildren(...state.events.map(eventItem));
    $("no-events").hidden = state.events.length > 0;
  }

  function eventItem(ev) {
    const badge = el("span", { class: "badge " + (ev.listOpen ? "open" : "closed"),
      text: ev.listOpen ? "lista aberta" : "lista fechada" });
    const count = ev.guestCapacity ? `${ev.guestCount} / ${ev.guestCapacity}` : String(ev.guestCount);
    const act = (label, fn, cls) => el("button", { type: "button", class: cls || "secondary", text: label, onclick: fn });
    return el("li", { "data-event-id": ev.id },
      el("strong", { text: ev.title }), " ", badge,
      el("div", { class: "muted", text: `${date(ev.startsAt)} · ${ev.location || "sem local"} · ${count} na lista` +
        (ev.minAge ? ` · ${ev.minAge}+` : "") + (ev.isActive ? "" : " · inativo") }),
      el("div", { class: "actions" },
        act("Abrir lista", () => openEvent(ev.id), "primary"),
        act("Editar", () => editEvent(ev)),
        ev.listOpen ? act("Fechar lista", () => eventAction(ev, "close", "Lista fechada."))
          : act("Reabrir lista", () => eventAction(ev, "reopen", "Lista reaberta.")),
        act("Duplicar (+7 dias)", () => eventAction(ev, "duplicate", "Evento duplicado para a semana seguinte."))));
  }

  async function eventAction(ev, action, done) {
    clearMessages();
    try {
      await api("POST", `/api/console/events/${ev.id}/${action}`, {});
      await loadEvents();
      note(done);
    } catch (error) { fail(error); }
  }

  // datetime-local (the browser's local time) ⇄ ISO 8601 with the offset
  function toLocalInput(value) {
    if (!value) return "";
    const d = new Date(value);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }
  function fromLocalInput(value) { return value ? new Date(value).toISOString() : null; }
  function intOrNull(value) { return value === "" ? null : Number.parseInt(value, 10); }

  function editEvent(ev) {
    clearMessages();
    state.editing = ev || null;
    $("event-form-title").textContent = ev ? "Editar evento" : "Novo evento";
    $("ev-title").value = ev ? ev.title : "";
    $("ev-slug").value = ev ? ev.slug || "" : "";
    $("ev-start").value = ev ? toLocalInput(ev.startsAt) : "";
    $("ev-closes").value = ev ? toLocalInput(ev.guestListClosesAt) : "";
    $("ev-location").value = ev ? ev.location || "" : "";
    $("ev-capacity").value = ev && ev.guestCapacity ? ev.guestCapacity : "";
    $("ev-min-age").value = ev && ev.minAge ? ev.minAge : "";
    $("ev-active").checked = ev ? ev.isActive : true;
    view("event-form");
    $("ev-title").focus();
  }
  $("new-event").addEventListener("click", () => editEvent(null));
  $("event-cancel").addEventListener("click", () => loadEvents());

  $("event-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    const body = {
      title: $("ev-title").value.trim(),
      slug: $("ev-slug").value.trim(),
      startsAt: fromLocalInput($("ev-start").value),
      location: $("ev-location").value.trim() || null,
      guestCapacity: intOrNull($("ev-capacity").value),
      guestListClosesAt: fromLocalInput($("ev-closes").value),
      minAge: intOrNull($("ev-min-age").value),
      isActive: $("ev-active").checked,
    };
    try {
      if (state.editing) {
        await api("POST", `/api/console/events/${state.editing.id}`, body);
      } else {
        await api("POST", "/api/console/events", { organizationId: state.org, ...body });
      }
      await loadEvents();
      note(state.editing ? "Evento guardado." : "Evento criado.");
    } catch (error) { fail(error); }
  });

  // --- one event: figures, chart, quotas, guests -------------------------------------------
  async function openEvent(id) {
    clearMessages();
    state.event = state.events.find((e) => e.id === id) || { id };
    state.offset = 0;
    view("event");
    $("event-title").textContent = state.event.title || "";
    $("event-meta").textContent = `${date(state.event.startsAt)} · ${state.event.location || ""}`;
    $("export-link").href = `/api/console/events/${id}/export.csv`;
    await Promise.all([loadFigures(), loadPromoterList(), loadGuests(), loadDoors()]);
  }
  $("back-events").addEventListener("click", () => loadEvents());
  $("refresh-event").addEventListener("click", () => { loadFigures(); loadGuests(); loadDoors(); });

  async function loadPromoterList() {
    try {
      const data = await api("GET", `/api/console/organizations/${state.org}/promoters`);
      state.promoters = data.promoters;
    } catch (error) { fail(error); return; }
    const select = $("g-promoter");
    const current = select.value;
    select.replaceChildren(el("option", { value: "", text: "Todos" }),
      ...state.promoters.map((p) => el("option", { value: p.id, text: p.displayName })));
    select.value = current;
    renderQuotas();
  }

  async function loadFigures() {
    try {
      state.figures = await api("GET", `/api/console/events/${state.event.id}/figures`);
    } catch (error) { fail(error); return; }
    const f = state.figures;
    const box = (label, value) => el("div", { class: "figure" }, el("strong", { text: String(value) }), label);
    $("event-figures").replaceChildren(
      box("na lista", f.onList), box("entraram", f.inside),
      box("lotação", f.capacity === null || f.capacity === undefined ? "—" : f.capacity));
    drawChart(f.timeline || []);
    renderQuotas();
  }

  function renderQuotas() {
    if (!state.figures || !state.promoters) return;
    const byId = new Map((state.figures.promoters || []).map((p) => [p.promoterId, p]));
    const rows = state.promoters.map((p) => {
      const f = byId.get(p.id) || { onList: 0, inside: 0, shareOfArrivals: 0, quota: null };
      const input = el("input", { type: "number", min: "0", max: "1000000", inputmode: "numeric",
        "aria-label": `Quota de ${p.displayName}`, value: f.quota === null || f.quota === undefined ? "" : f.quota });
      input.style.maxWidth = "7rem";
      const save = el("button", { type: "button", class: "secondary", text: "Guardar",
        onclick: async () => {
          clearMessages();
          try {
            await api("POST", `/api/console/events/${state.event.id}/quotas/${p.id}`, { quota: intOrNull(input.value) });
            note(`Quota de ${p.displayName} guardada.`);
            loadFigures();
          } catch (error) { fail(error); }
        } });
      return el("tr", {},
        el("td", { text: p.displayName }),
        el("td", { class: "num", text: String(f.onList) }),
        el("td", { class: "num", text: String(f.inside) }),
        el("td", { class: "num", text: `${Math.round((f.shareOfArrivals || 0) * 100)}%` }),
        el("td", {}, el("div", { class: "actions" }, input, save)));
    });
    $("promoter-figures").replaceChildren(...rows);
  }

  // Registrations and arrivals per 15 minutes as grouped bars in an inline SVG.
  function drawChart(points) {
    const target = $("chart");
    if (!points.length) {
      target.replaceChildren(el("p", { class: "muted", text: "Ainda sem registos nem entradas." }));
      return;
    }
    const NS = "http://www.w3.org/2000/svg";
    const svg = (tag, attrs) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      return node;
    };
    const W = 640, H = 220, L = 36, B = 28, T = 10;
    const max = Math.max(1, ...points.map((p) => Math.max(p.registrations, p.arrivals)));
    const slot = (W - L - 4) / points.length;
    const bar = Math.max(1, slot / 2 - 1);
    const y = (v) => H - B - (v / max) * (H - B - T);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `Registos e entradas por 15 minutos: máximo ${max}` });
    root.append(svg("line", { x1: L, y1: H - B, x2: W, y2: H - B, stroke: "#64748b" }));
    for (const v of [0, Math.round(max / 2), max]) {
      const label = svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": "11", fill: "#334155" });
      label.textContent = String(v);
      root.append(label);
    }
    const every = Math.max(1, Math.ceil(points.length / 8));
    points.forEach((p, i) => {
      const x = L + i * slot + 1;
      const reg = svg("rect", { x, y: y(p.registrations), width: bar, height: H - B - y(p.registrations), fill: "#2563eb" });
      const arr = svg("rect", { x: x + bar, y: y(p.arrivals), width: bar, height: H - B - y(p.arrivals), fill: "#047857" });
      const tip = svg("title", {});
      tip.textContent = `${time(p.at)}: ${p.registrations} registos, ${p.arrivals} entradas`;
      reg.append(tip);
      root.append(reg, arr);
      if (i % every === 0) {
        const label = svg("text", { x: x + bar, y: H - 10, "text-anchor": "middle", "font-size": "11", fill: "#334155" });
        label.textContent = time(p.at);
        root.append(label);
      }
    });
    target.replaceChildren(root);
  }

  // The list shows the answer to the last page asked (next, next, a new search): an earlier
  // answer that arrives after it is dropped, never shown over it.
  let guestsAsked = 0;
  async function loadGuests() {
    const asked = ++guestsAsked;
    const params = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset), sort: $("g-sort").value });
    if ($("g-query").value.trim()) params.set("q", $("g-query").value.trim());
    if ($("g-promoter").value) params.set("promoterId", $("g-promoter").value);
    if ($("g-inside").value) params.set("checkedIn", $("g-inside").value);
    let data;
    try {
      data = await api("GET", `/api/console/events/${state.event.id}/guests?${params}`);
    } catch (error) {
      if (asked === guestsAsked) fail(error);
      return;
    }
    if (asked !== guestsAsked) return;
    $("guest-rows").replaceChildren(...data.guests.map((g) => el("tr", {},
      el("td", { text: g.name }),
      el("td", { text: g.phone || "" }),
      el("td", { text: g.promoterName || "—" }),
      el("td", { text: g.checkedIn ? `Entrou ${time(g.checkedInAt)}` : "Na lista" }),
      el("td", { text: date(g.createdAt) }))));
    const first = data.total ? state.offset + 1 : 0;
    const last = Math.min(state.offset + PAGE, data.total);
    $("guest-total").textContent = `${data.total} convidados`;
    $("page-label").textContent = `${first}–${last} de ${data.total}`;
    $("prev-page").disabled = state.offset === 0;
    $("next-page").disabled = last >= data.total;
  }
  $("guest-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    state.offset = 0;
    loadGuests();
  });
  $("prev-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadGuests(); });
  $("next-page").addEventListener("click", () => { state.offset += PAGE; loadGuests(); });

  // --- one event's doors: links for the staff phones, their scans, conflicts ----------------
  async function loadDoors() {
    let data;
    try {
      data = await api("GET", `/api/console/events/${state.event.id}/doors`);
    } catch (error) { fail(error); return; }
    $("door-rows").replaceChildren(...data.doors.map(doorRow));
    $("no-doors").hidden = data.doors.length > 0;
    $("door-conflicts").textContent = data.conflicts
      ? `${data.conflicts} código(s) admitido(s) em duas portas enquanto estavam sem rede: a primeira leitura conta.`
      : "Nenhum código foi admitido em duas portas.";
    $("door-conflict-list").replaceChildren(...data.conflictList.map((c) => el("li", {
      text: `${c.guest.name}: entrou em ${c.admitted.door} às ${time(c.admitted.scannedAt)}; ` +
        `lido de novo em ${c.later.door} às ${time(c.later.scannedAt)}`,
    })));
  }

  function doorRow(door) {
    const status = door.revokedAt ? `Revogado ${date(door.revokedAt)}`
      : door.live ? `Ativo até ${date(door.expiresAt)}` : "Expirado";
    let armed = false;
    const revoke = el("button", { type: "button", class: "secondary", text: "Revogar",
      onclick: async () => {
        // two clicks: a revoked link cannot be brought back, only replaced
        if (!armed) {
          armed = true;
          revoke.textContent = "Confirmar revogação";
          return;
        }
        clearMessages();
        try {
          await api("POST", `/api/console/doors/${door.doorId}/revoke`, {});
          await loadDoors();
          note(`Link da porta «${door.label}» revogado: esse telemóvel já não abre a porta. Cria outro link se precisares.`);
        } catch (error) { fail(error); }
      } });
    return el("tr", { "data-door-id": door.doorId },
      el("td", { text: door.label }),
      el("td", { class: "door-state " + (door.live ? "live" : "ended"), text: status }),
      el("td", { class: "num", text: String(door.scans) }),
      el("td", { text: door.lastScanAt ? time(door.lastScanAt) : "—" }),
      el("td", {}, door.revokedAt ? null : revoke));
  }

  // The new link, shown once: its URL and the QR code the server drew (an SVG parsed as such,
  // never as HTML); dropped from the page when hidden or on leaving the event.
  function showDoorLink(link) {
    const parsed = new DOMParser().parseFromString(link.qrSvg, "image/svg+xml").documentElement;
    const qr = $("door-qr");
    qr.replaceChildren();
    if (parsed && parsed.namespaceURI === "http://www.w3.org/2000/svg" && parsed.localName === "svg") {
      parsed.setAttribute("role", "img");
      parsed.setAttribute("aria-label", `Código QR do link da porta «${link.label}»`);
      qr.append(document.importNode(parsed, true));
    }
    $("door-created-title").textContent = `Link da porta «${link.label}»`;
    $("door-link").textContent = link.url;
    $("door-created").hidden = false;
    $("door-created").scrollIntoView();
  }

  function hideDoorLink() {
    $("door-qr").replaceChildren();
    $("door-link").textContent = "";
    $("door-created").hidden = true;
  }

  $("door-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    try {
      const link = await api("POST", `/api/console/events/${state.event.id}/doors`, {
        label: $("door-label").value.trim(),
      });
      event.target.reset();
      await loadDoors();
      showDoorLink(link);
      note("Link da porta criado. Lê o código QR com o telemóvel da porta.");
    } catch (error) { fail(error); }
  });
  $("copy-door").addEventListener("click", async () => {
    note((await copy($("door-link").textContent)) ? "Link copiado. Envia-o só a quem está à porta." : "Seleciona o link e copia-o.");
  });
  $("hide-door").addEventListener("click", hideDoorLink);

  // --- promoters --------------------------------------------------------------------------
  async function loadPromoters() {
    view("promoters");
    // the rows shown are about to be replaced (what is typed in them with them): say so
    const rows = $("promoter-rows");
    rows.setAttribute("aria-busy", "true");
    let data;
    try {
      data = await api("GET", `/api/console/organizations/${state.org}/promoters`);
    } catch (error) { fail(error); return; } finally { rows.setAttribute("aria-busy", "false"); }
    state.promoters = data.promoters;
    $("team-names").replaceChildren(...data.teams.map((t) => el("option", { value: t.name })));
    const owner = role() === "owner";
    $("promoter-rows").replaceChildren(...data.promoters.map((p) => {
      const team = el("input", { type: "text", maxlength: "80", list: "team-names", "aria-label": `Nova equipa de ${p.displayName}` });
      const addTeam = el("button", { type: "button", class: "secondary", text: "Juntar à equipa",
        onclick: async () => {
          clearMessages();
          try {
            await api("POST", `/api/console/organizations/${state.org}/promoters/${p.id}/teams`, { teamName: team.value.trim() });
            await loadPromoters();
            note(`${p.displayName} juntou-se à equipa.`);
          } catch (error) { fail(error); }
        } });
      const email = el("input", { type: "email", maxlength: "254", "aria-label": `Email de ${p.displayName}` });
      const invite = el("button", { type: "button", class: "secondary", text: "Convidar para a conta",
        onclick: () => inviteMember(email.value.trim(), "promoter", p.id) });
      return el("tr", { "data-promoter-id": p.id },
        el("td", { text: p.displayName }),
        el("td", { text: `/promotor/${p.slug}/…` }),
        el("td", { text: p.teams.map((t) => t.name).join(", ") }),
        el("td", { text: p.memberEmail || "—" }),
        el("td", {}, el("div", { class: "actions" }, team, addTeam),
          owner && !p.memberEmail ? el("div", { class: "actions" }, email, invite) : null));
    }));
  }

  $("promoter-add").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    try {
      await api("POST", `/api/console/organizations/${state.org}/promoters`, {
        displayName: $("pr-name").value.trim(), slug: $("pr-slug").value.trim(),
        teamName: $("pr-team").value.trim(),
      });
      event.target.reset();
      await loadPromoters();
      note("Promotor adicionado.");
    } catch (error) { fail(error); }
  });

  // --- members ----------------------------------------------------------------------------
  async function loadMembers() {
    view("members");
    let data;
    try {
      data = await api("GET", `/api/console/organizations/${state.org}/members`);
    } catch (error) { fail(error); return; }
    $("member-rows").replaceChildren(...data.members.map((m) => el("tr", {},
      el("td", { text: m.displayName || "—" }), el("td", { text: m.email }),
      el("td", { text: ROLE_LABEL[m.role] || m.role }))));
    $("invite-list").replaceChildren(...data.invites.map((i) =>
      el("li", { text: `${i.email} · ${ROLE_LABEL[i.role] || i.role} · até ${date(i.expiresAt)}` })));
    if (!data.invites.length) $("invite-list").replaceChildren(el("li", { class: "muted", text: "Nenhum." }));
  }

  async function inviteMember(email, inviteRole, promoterId) {
    clearMessages();
    try {
      const data = await api("POST", `/api/console/organizations/${state.org}/invites`, {
        email, role: inviteRole, promoterId: promoterId || null,
      });
      const link = location.origin + data.invitePath;
      $("invite-link").textContent = link;
      $("invite-result").hidden = false;
      $("invite-result").scrollIntoView();
      note("Convite criado.");
    } catch (error) { fail(error); }
  }
  $("member-invite").addEventListener("submit", (event) => {
    event.preventDefault();
    inviteMember($("mi-email").value.trim(), $("mi-role").value, null).then(() => {
      if (!$("invite-result").hidden) loadMembers().then(() => { $("invite-result").hidden = false; });
    });
  });
  $("copy-invite").addEventListener("click", async () => {
    note((await copy($("invite-link").textContent)) ? "Link copiado." : "Seleciona o link e copia-o.");
  });

  start();
})();
