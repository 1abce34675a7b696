// Load monitor: every 2 s, GET /api/admin/metrics with the admin token, then cards, alerts and
// six charts of the last 10 minutes drawn as inline SVG from the answer's `series` — only
// measured points, a gap where nothing was measured. Vanilla JS, no third-party code, no
// request to any other host, no inline style (the CSP allows 'self' only).
//
// The token: given once as the page's fragment (#token=…, which the browser never sends) or in
// the form; kept in sessionStorage (this tab only), sent only as `Authorization: Bearer`,
// removed from the address bar at once, never logged.
'use strict';

(() => {
  const METRICS_URL = '/api/admin/metrics';
  const TOKEN_KEY = 'guestlist.adminToken';
  const REFRESH_MS = 2000;
  const WINDOW_MS = 10 * 60 * 1000;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ALERTS = { queueSize: 100, errorRate: 5, p95ResponseTime: 1000 };

  const $ = (id) => document.getElementById(id);
  const number = new Intl.NumberFormat('pt-PT', { maximumFractionDigits: 1 });
  const clock = new Intl.DateTimeFormat('pt-PT', {
    hour: '2-digit', minute: '2-digit', second: '2-digit',
  });

  // --- the token ----------------------------------------------------------------------------

  function tokenFromFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get('token');
    if (token !== null) {
      // out of the address bar and the history before anything else happens
      window.history.replaceState(null, '', window.location.pathname + window.location.search);
      if (token.trim()) sessionStorage.setItem(TOKEN_KEY, token.trim());
    }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  function showLogin(message) {
    $('monitor').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !message;
    $('login-error').textContent = message || '';
    setStatus('idle', 'Sem sessão');
    $('token').focus();
  }

  function showMonitor() {
    $('login').hidden = true;
    $('monitor').hidden = false;
  }

  // --- fetching -----------------------------------------------------------------------------

  let timer = null;

  async function fetchMetrics() {
    const response = await fetch(METRICS_URL, {
      headers: { Accept: 'application/json', Authorization: `Bearer ${token()}` },
      credentials: 'omit',
      cache: 'no-store',
    });
    if (response.status === 401) return { unauthorized: true };
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return { data: await response.json() };
  }

  async function tick() {
    timer = null;
    if (!token()) {
      showLogin('');
      return;
    }
    const started = Date.now();
    try {
      const { unauthorized, data } = await fetchMetrics();
      if (unauthorized) {
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin('Token inválido ou em falta.');
        return;
      }
      showMonitor();
      render(data);
    } catch (_err) {
      setStatus('down', 'Sem ligação ao servidor');
    }
    timer = window.setTimeout(tick, Math.max(0, REFRESH_MS - (Date.now() - started)));
  }

  function restart() {
    if (timer !== null) window.clearTimeout(timer);
    tick();
  }

  // --- rendering ----------------------------------------------------------------------------

  function setStatus(state, text) {
    $('status').dataset.state = state;
    $('status-text').textContent = text;
  }

  function show(id, value) {
    const el = $(id);
    if (!el) return;
    el.dataset.value = value === null || value === undefined ? '' : String(value);
    el.textContent = value === null || value === undefined ? '—' : number.format(value);
  }

  function gauge(id, value) {
    const el = $(id);
    if (!el) return;
    const max = Number(el.getAttribute('max')) || 1;
    el.value = Math.min(Math.max(Number(value) || 0, 0), max);
  }

  function alertsFor(data) {
    const out = [];
    if (data.queueSize !== null && data.queueSize > ALERTS.queueSize) {
      out.push({ key: 'queueSize', text: `Fila alta: ${number.format(data.queueSize)} pedidos à espera` });
    }
    if (data.errorRate > ALERTS.errorRate) {
      out.push({ key: 'errorRate', text: `Taxa de erro alta: ${number.format(data.errorRate)}%` });
    }
    if (data.p95ResponseTime !== null && data.p95ResponseTime > ALERTS.p95ResponseTime) {
      out.push({
        key: 'p95ResponseTime',
        text: `Tempo de resposta alto: p95 de ${number.format(data.p95ResponseTime)} ms`,
      });
    }
    if (data.queueError) {
      out.push({ key: 'queue', text: 'Sem dados da fila: a base de dados não respondeu' });
    }
    return out;
  }

  function renderAlerts(data) {
    const alerts = alertsFor(data);
    const list = $('alert-list');
    list.replaceChildren(...alerts.map((a) => {
      const li = document.createElement('li');
      li.textContent = a.text;
      li.dataset.alert = a.key;
      return li;
    }));
    $('alerts').hidden = alerts.length === 0;
    for (const card of document.querySelectorAll('.metric')) {
      card.dataset.alert = String(alerts.some((a) => a.key === card.dataset.metric));
    }
  }

  function render(data) {
    document.body.dataset.generatedAt = String(data.generatedAt);
    for (const key of ['activeUsers', 'queueSize', 'activeJobs', 'processingRate',
      'p95ResponseTime', 'avgResponseTime', 'errorRate', 'workerConcurrency', 'totalProcessed',
      'totalFailed', 'jobLatencyP95', 'requestsLastMinute', 'requestsTotal']) {
      show(`m-${key}`, data[key]);
    }
    for (const key of ['activeUsers', 'queueSize', 'processingRate', 'p95ResponseTime',
      'errorRate']) {
      gauge(`g-${key}`, data[key]);
    }
    const system = data.system || {};
    for (const key of ['instances', 'requestsLastMinute', 'p95ResponseTime', 'activeUsers',
      'workerProcesses']) {
      show(`s-${key}`, system[key]);
    }
    // every process's worker tasks (standalone workers too); this process's own without them
    if (system.workerConcurrency != null) show('m-workerConcurrency', system.workerConcurrency);
    renderAlerts(data);
    for (const svg of document.querySelectorAll('.chart svg')) {
      drawChart(svg, data.series || [], svg.dataset.key, data.generatedAt);
    }
    $('updated').textContent = `última leitura às ${clock.format(new Date(data.generatedAt))}`;
    if (data.queueError) setStatus('degraded', 'Sistema online · fila sem dados');
    else setStatus('ok', 'Sistema online');
  }

  // --- charts -------------------------------------------------------------------------------

  const W = 320;
  const H = 120;
  const PAD = { left: 34, right: 6, top: 8, bottom: 16 };

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * power >= value) return step * power;
    }
    return 10 * power;
  }

  // Lines through measured points; a null point ends a segment (a gap, not a zero).
  function segments(points, key, x, y) {
    const out = [];
    let current = [];
    for (const p of points) {
      const v = p[key];
      if (v === null || v === undefined) {
        if (current.length) out.push(current);
        current = [];
      } else {
        current.push([x(p.t), y(v)]);
      }
    }
    if (current.length) out.push(current);
    return out;
  }

  function drawChart(svg, points, key, now) {
    const end = points.length ? points[points.length - 1].t : now;
    const start = end - WINDOW_MS + 5000;
    const values = points.map((p) => p[key]).filter((v) => v !== null && v !== undefined);
    const max = niceMax(Math.max(0, ...values));
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const x = (t) => PAD.left + ((t - start) / (end - start || 1)) * plotW;
    const y = (v) => PAD.top + (1 - v / max) * plotH;

    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    const nodes = [];
    for (const frac of [0, 0.5, 1]) {
      const yy = PAD.top + frac * plotH;
      nodes.push(el('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy }));
      nodes.push(el('text', { class: 'axis-label', x: PAD.left - 4, y: yy + 3, 'text-anchor': 'end' },
        number.format(max * (1 - frac))));
    }
    for (const [label, frac, anchor] of [['-10 min', 0, 'start'], ['-5 min', 0.5, 'middle'],
      ['agora', 1, 'end']]) {
      nodes.push(el('text', { class: 'axis-label', x: PAD.left + frac * plotW, y: H - 3,
        'text-anchor': anchor }, label));
    }
    const lines = segments(points, key, x, y);
    for (const line of lines) {
      if (line.length === 1) {  // an isolated measurement: a dot, not an invisible line
        nodes.push(el('circle', { class: 'series-dot', cx: line[0][0].toFixed(1),
          cy: line[0][1].toFixed(1), r: 2 }));
        continue;
      }
      const d = line.map(([px, py], i) => `${i ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
      const base = y(0).toFixed(1);
      const area = `${d}L${line[line.length - 1][0].toFixed(1)},${base}L${line[0][0].toFixed(1)},${base}Z`;
      nodes.push(el('path', { class: 'series-area', d: area }));
      nodes.push(el('path', { class: 'series-line', d }));
    }
    if (!values.length) {
      nodes.push(el('text', { class: 'empty', x: PAD.left + plotW / 2, y: PAD.top + plotH / 2,
        'text-anchor': 'middle' }, 'sem medições'));
    }
    svg.replaceChildren(...nodes);
    svg.dataset.points = String(values.length);
    svg.dataset.last = values.length ? String(values[values.length - 1]) : '';
    svg.dataset.max = String(Math.max(0, ...values));
  }

  // --- start --------------------------------------------------------------------------------

  function start() {
    tokenFromFragment();
    $('login').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('token').value.trim();
      $('token').value = '';
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      restart();
    });
    $('logout').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
      showLogin('');
    });
    window.addEventListener('hashchange', () => {
      tokenFromFragment();
      restart();
    });
    tick();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
