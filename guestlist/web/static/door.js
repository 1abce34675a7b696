// The door page (/porta/<token>): a staff phone scans guests' QR codes with its camera (jsQR,
// served from node_modules at /vendor/jsQR.js) and asks the server about each one
// (POST /api/door/check-in, the door's token as a Bearer credential). Each answer fills the screen
// for about a second: green with the name (admitted), amber with the time and door (already_in),
// red for the rest, with a vibration and a tone.
//
// Offline: the page keeps the event's list (downloaded at open, again every minute; this door's
// event only: names and the sha256 of each code, never a code) in IndexedDB and judges scans
// against it, by the scanned code's sha256, while the network is down. Those scans are
// shown as "pendente", kept in IndexedDB across reloads and sent with POST /api/door/sync when the
// network returns. A refused token (revoked, expired) wipes the list and the waiting scans.
// The page itself reloads offline through its service worker (/porta-sw.js, scope /porta/), which
// never caches an API answer.
'use strict';

(() => {
  const TOKEN = decodeURIComponent(location.pathname.replace(/^\/porta\//, '').replace(/\/$/, ''));
  const DATA = JSON.parse(document.getElementById('door-data').textContent || '{}');
  const ANSWER_MS = 1100; // an answer's time on screen: then ready for the next guest
  const AGE_ANSWER_MS = 3500; // an answer with an age warning
  const SAME_CODE_MS = 5000; // the same code is not sent again this soon after its answer
  const SCAN_EVERY_MS = 120; // camera frames decoded at most this often
  const SUMMARY_EVERY_MS = 5000;
  const LIST_EVERY_MS = 60000;
  const SYNC_EVERY_MS = 5000;
  const SYNC_BATCH = 500; // api.door_sync's limit
  const REQUEST_TIMEOUT_MS = 4000; // a check-in slower than this is judged locally

  const $ = (id) => document.getElementById(id);
  const ui = {
    eventTitle: $('event-title'), doorLabel: $('door-label'), inside: $('count-inside'),
    onList: $('count-list'), net: $('net-status'), pending: $('pending-status'),
    video: $('video'), frame: $('frame'), cameraMsg: $('camera-msg'),
    searchForm: $('search-form'), search: $('search'), results: $('search-results'),
    undo: $('undo'), byPromoter: $('by-promoter'), answer: $('answer'),
    answerTitle: $('answer-title'), answerName: $('answer-name'),
    answerDetail: $('answer-detail'), answerPending: $('answer-pending'), refused: $('refused'),
    answerAge: $('answer-age'),
    conflicts: $('conflicts'),
  };

  const state = {
    refused: false,
    showingUntil: 0,
    lastCode: null,
    lastCodeUntil: 0,
    lastAdmitted: null, // {guestId, name} of this door's last admission, for undo
    list: null, // {fetchedAt, guests: {qrCode: guest}}
    pendingCount: 0,
    syncing: false,
    minAge: null, // the event's minimum age (summary and list), for the age warning
  };

  if (DATA.event && DATA.event.title) ui.eventTitle.textContent = DATA.event.title;
  if (DATA.door && DATA.door.label) ui.doorLabel.textContent = DATA.door.label;
  if (DATA.event && DATA.event.minAge) state.minAge = DATA.event.minAge;

  // --- storage (IndexedDB: the offline list and the scans waiting to be synced) -----------------

  const DB_NAME = 'guestlist-door';
  let dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => {
          request.result.createObjectStore('lists'); // key: the door token → the event's list
          const pending = request.result.createObjectStore('pending', { keyPath: 'scanId' });
          pending.createIndex('token', 'token');
        };
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    }
    return dbPromise;
  }

  function tx(store, mode, work) {
    return db().then(
      (conn) =>
        new Promise((resolve, reject) => {
          const t = conn.transaction(store, mode);
          let result;
          Promise.resolve(work(t.objectStore(store))).then((r) => { result = r; });
          t.oncomplete = () => resolve(result);
          t.onerror = () => reject(t.error);
          t.onabort = () => reject(t.error);
        }),
    );
  }

  const req = (request) =>
    new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });

  const saveList = (list) => tx('lists', 'readwrite', (s) => req(s.put(list, TOKEN)));
  const loadList = () => tx('lists', 'readonly', (s) => req(s.get(TOKEN)));
  const addPending = (scan) => tx('pending', 'readwrite', (s) => req(s.put({ ...scan, token: TOKEN })));
  const allPending = () => tx('pending', 'readonly', (s) => req(s.index('token').getAll(TOKEN)));
  const dropPending = (ids) =>
    tx('pending', 'readwrite', (s) => Promise.all(ids.map((id) => req(s.delete(id)))));

  // A refused token: nothing of this door stays on the device.
  async function wipe() {
    state.list = null;
    try {
      await tx('lists', 'readwrite', (s) => req(s.delete(TOKEN)));
      const ids = (await allPending()).map((scan) => scan.scanId);
      await dropPending(ids);
    } catch (err) {
      // storage unavailable: nothing kept either
    }
  }

  // --- the server ----------------------------------------------------------------------------

  class Refused extends Error {}
  class Offline extends Error {}

  async function api(method, path, body, timeoutMs) {
    const controller = new AbortController();
    const timer = timeoutMs ? setTimeout(() => controller.abort(), timeoutMs) : null;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers: {
          Authorization: `Bearer ${TOKEN}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        credentials: 'omit',
        signal: controller.signal,
      });
    } catch (err) {
      throw new Offline(String(err));
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (response.status === 401) {
      await refuse();
      throw new Refused('door_invalid');
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      // 5xx and timeouts: as if offline (the scan is judged locally and synced later)
      if (response.status >= 500) throw new Offline(`HTTP ${response.status}`);
      const error = new Error((data && (data.message || data.error)) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function refuse() {
    if (state.refused) return;
    state.refused = true;
    ui.refused.hidden = false;
    ui.answer.hidden = true;
    document.querySelector('main').hidden = true;
    stopCamera();
    await wipe();
  }

  // The status line: the network's state (cleared when the network answers again), or a note.
  const OFFLINE_TEXT = 'Sem rede: as entradas ficam pendentes e são enviadas quando a rede voltar.';
  let offlineShown = false;
  function setOnline(online, detail) {
    if (detail) {
      ui.net.textContent = detail;
      offlineShown = false;
    } else if (!online) {
      ui.net.textContent = OFFLINE_TEXT;
      offlineShown = true;
    } else if (offlineShown) {
      ui.net.textContent = '';
      offlineShown = false;
    }
  }

  // --- the answer on screen --------------------------------------------------------------------

  const TIME = new Intl.DateTimeFormat('pt-PT', { hour: '2-digit', minute: '2-digit' });
  const fullName = (g) => (g ? [g.firstName, g.lastName].filter(Boolean).join(' ') : '');
  const labelOf = (door) => (door && typeof door === 'object' ? door.label : door) || '';

  // A guest the door should look at twice: under the event's minimum age (ageOk false) or with
  // no birth date known (null). Still admitted: the door decides, with an ID in hand.
  function ageWarning(guest) {
    if (!guest || !('ageOk' in guest) || guest.ageOk === true) return '';
    const age = state.minAge ? ` de ${state.minAge}` : '';
    return guest.ageOk === false
      ? `Menor${age} — pede identificação`
      : `Idade desconhecida${state.minAge ? ` (evento ${state.minAge}+)` : ''} — pede identificação`;
  }

  function show(answer, pending) {
    const guest = answer.guest || null;
    const result = answer.result;
    const colour = result === 'admitted' ? 'admitted' : result === 'already_in' ? 'already_in' : 'refused-scan';
    let title = '';
    let detail = '';
    if (result === 'admitted') {
      title = 'Pode entrar';
      detail = guest && guest.promoter ? `Lista de ${guest.promoter}` : '';
    } else if (result === 'already_in') {
      title = 'Já entrou';
      const at = guest && guest.checkedInAt ? TIME.format(new Date(guest.checkedInAt)) : '';
      const door = labelOf(answer.door) || answer.doorLabel || '';
      detail = [at && `às ${at}`, door && `na ${door}`].filter(Boolean).join(' ');
    } else if (result === 'wrong_event') {
      title = 'Outro evento';
      const other = answer.event && (typeof answer.event === 'string' ? answer.event : answer.event.title);
      detail = other ? `Este código é de «${other}». Pede o código deste evento.` : 'Este código é de outro evento. Pede o código deste evento.';
    } else {
      title = 'Não está na lista';
      detail = 'Código desconhecido. Procura o convidado pelo nome.';
    }
    ui.answer.className = `answer ${colour}`;
    ui.answer.dataset.result = result;
    ui.answerTitle.textContent = title;
    ui.answerName.textContent = fullName(guest);
    ui.answerDetail.textContent = detail;
    ui.answerPending.hidden = !pending;
    const age = result === 'admitted' || result === 'already_in' ? ageWarning(guest) : '';
    ui.answerAge.textContent = age;
    ui.answerAge.hidden = !age;
    ui.answer.hidden = false;
    // an age warning stays up longer: the door has to read it and ask for an ID
    const ms = age ? AGE_ANSWER_MS : ANSWER_MS;
    state.showingUntil = Date.now() + ms;
    feedback(result);
    setTimeout(() => {
      if (Date.now() >= state.showingUntil) ui.answer.hidden = true;
    }, ms);
    if (result === 'admitted' && guest && guest.id) {
      state.lastAdmitted = { guestId: guest.id, name: fullName(guest), pending };
      ui.undo.hidden = !!pending; // an offline admission is undone on the server, once synced
      ui.undo.textContent = `Anular a entrada de ${fullName(guest)}`;
    }
  }

  let audio = null;
  function feedback(result) {
    const pattern = result === 'admitted' ? [80] : result === 'already_in' ? [80, 60, 80] : [250, 80, 250];
    if (navigator.vibrate) {
      try { navigator.vibrate(pattern); } catch (err) { /* not allowed before a tap */ }
    }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = result === 'admitted' ? 'sine' : 'square';
      osc.frequency.value = result === 'admitted' ? 1046 : result === 'already_in' ? 660 : 220;
      gain.gain.value = 0.15;
      osc.connect(gain).connect(audio.destination);
      const now = audio.currentTime;
      osc.start(now);
      osc.stop(now + (result === 'admitted' ? 0.15 : 0.4));
    } catch (err) {
      // no audio on this device: the colours and the vibration remain
    }
  }

  // --- scans ---------------------------------------------------------------------------------

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  async function scanned(code) {
    const now = Date.now();
    if (state.refused || now < state.showingUntil) return;
    if (code === state.lastCode && now < state.lastCodeUntil) return;
    state.lastCode = code;
    state.lastCodeUntil = now + ANSWER_MS + SAME_CODE_MS;
    state.showingUntil = now + ANSWER_MS; // nothing else is sent until this answer has been shown
    const scan = { scanId: uuid(), qrCode: code, scannedAt: new Date().toISOString() };
    let answer;
    try {
      if (!navigator.onLine) throw new Offline('offline');
      answer = await api('POST', '/api/door/check-in', scan, REQUEST_TIMEOUT_MS);
      setOnline(true);
    } catch (err) {
      if (err instanceof Refused) return;
      if (!(err instanceof Offline) && !(err.name === 'AbortError')) {
        state.showingUntil = 0;
        setOnline(true, `Erro: ${err.message}`);
        return;
      }
      setOnline(false);
      await judgeOffline(scan);
      return;
    }
    state.showingUntil = 0;
    show(answer, false);
    refreshSummary();
  }

  // Without the server: the answer from the kept list, the scan kept for door_sync.
  async function sha256Hex(text) {
    if (!crypto.subtle) return null; // not a secure context: nothing can be judged offline
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
    return [...new Uint8Array(digest)].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  async function judgeOffline(scan) {
    const guests = (state.list && state.list.guests) || {};
    const hash = await sha256Hex(scan.qrCode).catch(() => null);
    const guest = hash ? guests[hash] : undefined;
    const waiting = await allPending().catch(() => []);
    const repeat = waiting.find((w) => w.qrCode === scan.qrCode);
    let answer;
    if (!guest) {
      answer = { result: 'not_found' };
    } else if (guest.checkedInAt || repeat) {
      answer = { result: 'already_in', guest: { ...guest, checkedInAt: guest.checkedInAt || (repeat && repeat.scannedAt) } };
    } else {
      answer = { result: 'admitted', guest };
    }
    // a repeat of a code this device already holds is not sent twice; the server is told what
    // the door showed (an offline admission at two doors is a conflict the organizer sees)
    if (!repeat) await addPending({ ...scan, offlineResult: answer.result }).catch(() => {});
    state.showingUntil = 0;
    show(answer, true);
    await countPending();
  }

  async function countPending() {
    const waiting = await allPending().catch(() => []);
    state.pendingCount = waiting.length;
    ui.pending.hidden = waiting.length === 0;
    ui.pending.textContent =
      waiting.length === 1 ? '1 entrada pendente por sincronizar' : `${waiting.length} entradas pendentes por sincronizar`;
    return waiting;
  }

  async function sync() {
    if (state.syncing || state.refused || !navigator.onLine) return;
    const waiting = await countPending();
    if (!waiting.length) return;
    state.syncing = true;
    try {
      for (let i = 0; i < waiting.length; i += SYNC_BATCH) {
        const batch = waiting
          .slice(i, i + SYNC_BATCH)
          .map(({ scanId, qrCode, scannedAt, offlineResult }) => ({ scanId, qrCode, scannedAt, offlineResult }));
        const answer = await api('POST', '/api/door/sync', { scans: batch });
        const done = ((answer && answer.results) || []).map((r) => r.scanId).filter(Boolean);
        await dropPending(done);
      }
      setOnline(true);
      await countPending();
      refreshSummary();
      refreshList();
    } catch (err) {
      if (err instanceof Offline) setOnline(false);
    } finally {
      state.syncing = false;
    }
  }

  // --- the offline list and the counter ------------------------------------------------------------

  async function refreshList() {
    if (state.refused) return;
    try {
      const answer = await api('GET', '/api/door/list');
      if (answer && answer.event && 'minAge' in answer.event) state.minAge = answer.event.minAge;
      // keyed by the sha256 of each code (the server never sends the codes themselves: a lost
      // phone holds nothing that opens the door)
      const guests = {};
      for (const g of (Array.isArray(answer) ? answer : answer && answer.guests) || []) {
        if (g && g.qrHash) {
          guests[g.qrHash] = {
            id: g.id, firstName: g.firstName, lastName: g.lastName, promoter: g.promoter,
            checkedInAt: g.checkedInAt || null, ageOk: 'ageOk' in g ? g.ageOk : true,
          };
        }
      }
      state.list = { fetchedAt: new Date().toISOString(), guests, minAge: state.minAge };
      await saveList(state.list).catch(() => {});
    } catch (err) {
      if (err instanceof Offline) setOnline(false);
    }
  }

  async function refreshSummary() {
    if (state.refused) return;
    try {
      const s = await api('GET', '/api/door/summary');
      if (s && s.event && 'minAge' in s.event) state.minAge = s.event.minAge;
      ui.inside.textContent = String(s.inside ?? '–');
      ui.onList.textContent = String(s.onList ?? '–');
      // codes admitted offline at two doors: the organizer sees them too
      const conflicts = Number(s.conflicts) || 0;
      ui.conflicts.hidden = conflicts === 0;
      ui.conflicts.textContent =
        conflicts === 1 ? '1 código entrou por duas portas sem rede' : `${conflicts} códigos entraram por duas portas sem rede`;
      ui.byPromoter.replaceChildren(
        ...(s.byPromoter || []).map((p) => {
          const li = document.createElement('li');
          const name = document.createElement('span');
          name.textContent = p.promoter || 'Sem promotor';
          const count = document.createElement('span');
          count.textContent = `${p.inside} / ${p.onList}`;
          li.append(name, count);
          return li;
        }),
      );
      setOnline(true);
    } catch (err) {
      if (err instanceof Offline) setOnline(false);
    }
  }

  // --- search, manual admission, undo ----------------------------------------------------------

  let searchTimer = null;
  async function search() {
    const q = ui.search.value.trim();
    if (q.length < 2) {
      ui.results.replaceChildren();
      return;
    }
    try {
      const answer = await api('GET', `/api/door/search?q=${encodeURIComponent(q)}`);
      const found = Array.isArray(answer) ? answer : (answer && (answer.guests || answer.results)) || [];
      ui.results.replaceChildren(...found.map(resultRow));
      if (!found.length) {
        const li = document.createElement('li');
        li.textContent = 'Ninguém encontrado. Tenta o apelido ou os últimos 4 dígitos do telemóvel.';
        ui.results.append(li);
      }
    } catch (err) {
      if (err instanceof Refused) return;
      const li = document.createElement('li');
      li.textContent = err instanceof Offline ? 'Sem rede: a pesquisa precisa de rede. Tenta de novo quando a rede voltar.' : `Erro: ${err.message}`;
      ui.results.replaceChildren(li);
    }
  }

  function resultRow(g) {
    const li = document.createElement('li');
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = fullName(g);
    const small = document.createElement('small');
    small.textContent = g.promoter ? `Lista de ${g.promoter}` : '';
    who.append(small);
    const age = ageWarning(g);
    if (age) {
      const flag = document.createElement('small');
      flag.className = 'age';
      flag.textContent = age;
      who.append(flag);
    }
    li.append(who);
    if (g.checkedIn || g.checkedInAt) {
      const inside = document.createElement('span');
      inside.className = 'inside';
      inside.textContent = 'Já entrou';
      li.append(inside);
    } else {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'admit';
      button.textContent = 'Dar entrada';
      button.setAttribute('aria-label', `Dar entrada a ${fullName(g)}`);
      button.addEventListener('click', () => admit(g, button));
      li.append(button);
    }
    return li;
  }

  async function admit(g, button) {
    button.disabled = true;
    try {
      const answer = await api('POST', '/api/door/admit', { guestId: g.id, scanId: uuid() });
      show(answer, false);
      ui.search.value = '';
      ui.results.replaceChildren();
      refreshSummary();
    } catch (err) {
      button.disabled = false;
      if (err instanceof Offline) setOnline(false, 'Sem rede: a entrada manual precisa de rede. Tenta de novo quando a rede voltar.');
    }
  }

  async function undo() {
    const last = state.lastAdmitted;
    if (!last) return;
    ui.undo.disabled = true;
    try {
      await api('POST', '/api/door/undo', { guestId: last.guestId });
      state.lastAdmitted = null;
      ui.undo.hidden = true;
      setOnline(true, `Entrada de ${last.name} anulada.`);
      if (state.lastCode) state.lastCodeUntil = Date.now() + SAME_CODE_MS;
      refreshSummary();
    } catch (err) {
      if (err instanceof Offline) setOnline(false, 'Sem rede: anular precisa de rede. Tenta de novo quando a rede voltar.');
    } finally {
      ui.undo.disabled = false;
    }
  }

  ui.searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    search();
  });
  ui.search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });
  ui.undo.addEventListener('click', undo);

  // --- the camera -----------------------------------------------------------------------------

  let stream = null;
  let scanTimer = null;

  async function startCamera() {
    if (typeof window.jsQR !== 'function') {
      ui.cameraMsg.textContent = 'Leitor de QR indisponível: usa a pesquisa.';
      return;
    }
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      ui.cameraMsg.textContent = 'Este navegador não dá acesso à câmara: usa a pesquisa.';
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } },
        audio: false,
      });
    } catch (err) {
      ui.cameraMsg.textContent = 'Sem acesso à câmara: autoriza-a nas definições ou usa a pesquisa.';
      return;
    }
    ui.video.srcObject = stream;
    await ui.video.play().catch(() => {});
    ui.cameraMsg.textContent = '';
    const ctx = ui.frame.getContext('2d', { willReadFrequently: true });
    const tick = () => {
      if (state.refused) return;
      const w = ui.video.videoWidth;
      const h = ui.video.videoHeight;
      if (w && h && Date.now() >= state.showingUntil) {
        ui.frame.width = w;
        ui.frame.height = h;
        ctx.drawImage(ui.video, 0, 0, w, h);
        const found = window.jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: 'dontInvert' });
        if (found && found.data) scanned(found.data.trim());
      }
      scanTimer = setTimeout(tick, SCAN_EVERY_MS);
    };
    tick();
  }

  function stopCamera() {
    clearTimeout(scanTimer);
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
  }

  // --- start ---------------------------------------------------------------------------------------

  // The service worker (scope /porta/) serves this page when the network is down. The page
  // that registered it was loaded before it, so the page stores its own copy once the worker is
  // ready (the worker refreshes it from every later visit).
  const SHELL = 'door-shell-v1'; // door-sw.js's cache
  async function keepPageOffline() {
    if (!('serviceWorker' in navigator) || !window.caches) return;
    try {
      await navigator.serviceWorker.register('/porta-sw.js', { scope: '/porta/' });
      await navigator.serviceWorker.ready;
      const cache = await caches.open(SHELL);
      const response = await fetch(location.pathname, { cache: 'no-store', credentials: 'omit' });
      if (response.ok) await cache.put(location.pathname, response);
    } catch (err) {
      // the page works without it, only not after a reload offline
    }
  }

  async function start() {
    if (DATA.refused) {
      await refuse();
      return;
    }
    keepPageOffline();
    state.list = (await loadList().catch(() => null)) || null;
    if (state.minAge === null && state.list && state.list.minAge) state.minAge = state.list.minAge;
    await countPending();
    if (!navigator.onLine) setOnline(false);
    window.addEventListener('online', () => { setOnline(true); sync(); refreshSummary(); });
    window.addEventListener('offline', () => setOnline(false));
    startCamera();
    refreshList();
    refreshSummary();
    sync();
    setInterval(refreshSummary, SUMMARY_EVERY_MS);
    setInterval(refreshList, LIST_EVERY_MS);
    setInterval(sync, SYNC_EVERY_MS);
  }

  start();
})();
