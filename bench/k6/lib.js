// Shared by the bench scenarios. Everything comes from the environment the runner
// (bench/runner.py) sets: BASE_URL, the demo ids read from the running app, and the
// scenario's sizes. A missing value is an error, never a silent default to a fake id.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';
import { Counter } from 'k6/metrics';

export function env(name, fallback) {
  const value = __ENV[name];
  if (value === undefined || value === '') {
    if (fallback === undefined) throw new Error(`bench: environment variable ${name} is required`);
    return fallback;
  }
  return value;
}

export function num(name, fallback) {
  const value = Number(env(name, fallback === undefined ? undefined : String(fallback)));
  if (!Number.isFinite(value)) throw new Error(`bench: ${name} must be a number`);
  return value;
}

export const BASE_URL = env('BASE_URL');
export const JSON_HEADERS = { 'Content-Type': 'application/json' };
export const PASSWORD = env('BENCH_PASSWORD', 'Segredo123');

// The demo ids, as /api/guest/page/miguel/festa-verao answered them to the runner.
export function demoIds() {
  return { eventId: env('EVENT_ID'), promoterId: env('PROMOTER_ID'), teamId: env('TEAM_ID') };
}

// A duration in seconds → k6's duration string ("0s" never: k6 refuses zero-length stages
// in some executors, so the smallest is one second).
export function secs(s) {
  return `${Math.max(1, Math.round(s))}s`;
}

function pad(n, width) {
  const s = String(n);
  return s.length >= width ? s.slice(-width) : '0'.repeat(width - s.length) + s;
}

// Existing accounts made by the runner before the run (bench/queries.sql create_users):
// +351910000001 … +35191<USERS>, password BENCH_PASSWORD.
export const USERS = num('USERS', 1);
export function existingPhone(n) {
  return `+35191${pad(1 + (Math.abs(n) % USERS), 7)}`;
}

// Phones nobody has: +35192…, +35193… (valid Portuguese mobiles, never made by the runner).
export function newPhone(prefix, n) {
  return `+351${prefix}${pad(n, 7)}`;
}

export function randomInt(lo, hi) {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

// A unique number per iteration in the whole test, for any executor.
export function iterationKey() {
  return exec.scenario.iterationInTest;
}

export function safeJson(res, path) {
  try {
    return path === undefined ? res.json() : res.json(path);
  } catch (e) {
    return undefined;
  }
}

// Long-poll the queue until the job ends: GET /api/guest/status/{jobId}?wait=N with the
// submit's X-Job-Token answers the moment the job ends (or after N seconds with its current
// status). At most `polls` polls. Returns {status, body, response} — status 'gave_up' when the
// polls ran out.
export function waitForJob(jobId, jobToken, waitSeconds, polls, tags) {
  let last;
  for (let i = 0; i < polls; i++) {
    const res = http.get(`${BASE_URL}/api/guest/status/${jobId}?wait=${waitSeconds}`, {
      headers: { 'X-Job-Token': jobToken },
      tags: Object.assign({ name: 'status-wait' }, tags || {}),
      timeout: `${waitSeconds + 30}s`,
    });
    last = res;
    if (res.status !== 200) {
      // 404 right after an accepted submit would be a bug; anything else: try again shortly
      if (res.status === 404) return { status: 'http_404', body: safeJson(res), response: res };
      sleep(0.5);
      continue;
    }
    const body = safeJson(res);
    const status = body && body.status;
    if (status === 'completed' || status === 'failed') return { status, body, response: res };
  }
  return { status: 'gave_up', body: last ? safeJson(last) : undefined, response: last };
}

// A queued login/register as the page sends it: POST /api/guest/<route>?wait=N holds the answer
// until the job ends (it then carries the job's status, keys of GET status); a job still pending
// after N s is long-polled by waitForJob. Request name `<route>-wait`: a held answer waits for
// the job by design, like the status long-poll. Returns waitForJob's {status, body, response}
// plus {submit, jobId, jobToken}; status 'refused' when the submit was not accepted (see
// submit.status).
export function submitAndWait(route, body, waitSeconds, polls, tags) {
  const submit = http.post(`${BASE_URL}/api/guest/${route}?wait=${waitSeconds}`, JSON.stringify(body), {
    headers: JSON_HEADERS,
    tags: Object.assign({ name: `${route}-wait` }, tags || {}),
    timeout: `${waitSeconds + 30}s`,
  });
  const answer = safeJson(submit);
  const jobId = answer && answer.jobId;
  const jobToken = answer && answer.jobToken;
  if (submit.status !== 200 || typeof jobId !== 'string' || typeof jobToken !== 'string') {
    return { submit, jobId: undefined, status: 'refused', body: answer, response: submit };
  }
  if (answer.status === 'completed' || answer.status === 'failed') {
    return { submit, jobId, jobToken, status: answer.status, body: answer, response: submit };
  }
  return Object.assign({ submit, jobId, jobToken },
    waitForJob(jobId, jobToken, waitSeconds, polls, tags));
}

// --- a journey's submit as the guest page makes it (guestlist/web/static/guest.js viaQueue) ---
// The same statuses, the same bounds, the same waits: a 503 with a code (queue_full,
// unavailable) is waited out for its Retry-After (1 … 120 s) and the form sent again, for up to
// GIVE_UP_S; a lost answer — no response (k6 status 0), a 502/504, a 503 without a code, a job
// that expired (job_expired) or vanished (job_not_found after the submit was taken) — sends the
// same form again, at most RESUBMITS times, after RETRY_BASE_S doubled up to RETRY_MAX_S,
// jittered ×0.5…1.5; a registration resubmitted after a lost answer that finds the phone
// registered (phone_exists) logs in with the same password. Each retry is counted in
// page_retries{reason} (RETRY_REASONS; a lost answer past the last resubmit is the journey's
// failure, not a retry), so none is hidden; the journey fails only on what the page would show.
export const RESUBMITS = 4;
export const RETRY_BASE_S = 1;
export const RETRY_MAX_S = 8;
export const GIVE_UP_S = 600;
export const POLL_DEADLINE_S = 120;
// page_retries' reasons: a lost answer (network, http_502/503/504, job_expired, job_not_found),
// a busy submit waited out (queue_full, unavailable), a poll asked again (poll_<status>), the
// QR image asked again (qr_<status>)
export const RETRY_REASONS = [
  'network', 'http_502', 'http_503', 'http_504', 'job_expired', 'job_not_found', 'queue_full',
  'unavailable', 'poll_0', 'poll_429', 'poll_500', 'poll_503', 'qr_0', 'qr_502', 'qr_503',
  'qr_504',
];

export const pageRetries = new Counter('page_retries');
export const pageLoginsAfterRegister = new Counter('page_logins_after_register');

// The page's request(): {ok, status, data}, data the JSON body or {}, a Retry-After header as
// data.retry_after when the body has none.
function pageAnswer(res) {
  let data = safeJson(res);
  if (!data || typeof data !== 'object') data = {};
  const retryAfter = Number(res.headers['Retry-After']);
  if (retryAfter > 0 && data.retry_after === undefined) data.retry_after = retryAfter;
  return { ok: res.status >= 200 && res.status < 300, status: res.status, data };
}

export function lostAnswer(answer) {
  const code = answer.data && answer.data.code;
  if (answer.status === 0 || answer.status === 502 || answer.status === 504) return true;
  if (answer.status === 503) return !code;
  return code === 'job_expired' || answer.status === 410;
}

function lostReason(answer) {
  if (answer.status === 0) return 'network';
  const code = answer.data && answer.data.code;
  return code === 'job_expired' || code === 'job_not_found' ? code : `http_${answer.status}`;
}

export function retryDelay(n) {
  const base = Math.min(RETRY_BASE_S * 2 ** (n - 1), RETRY_MAX_S);
  return Math.max(1, Math.round(base * (0.5 + Math.random())));
}

function jobOutcome(job) {
  if (job.status === 'completed' && job.result) {
    return { ok: job.result.success === true, status: 200, data: job.result };
  }
  if (job.status === 'failed') {
    const data = job.result && job.result.code ? job.result : { code: 'job_failed', error: job.error };
    return { ok: false, status: data.code === 'job_expired' ? 410 : 500, data };
  }
  return null;
}

function submitJob(route, body, waitSeconds, tags) {
  const giveUpAt = Date.now() + GIVE_UP_S * 1000;
  for (;;) {
    const sent = pageAnswer(http.post(`${BASE_URL}/api/guest/${route}?wait=${waitSeconds}`,
      JSON.stringify(body), {
        headers: JSON_HEADERS,
        tags: Object.assign({ name: `${route}-wait` }, tags || {}),
        timeout: `${waitSeconds + 30}s`,
      }));
    if (sent.status !== 503 || lostAnswer(sent) || Date.now() > giveUpAt) return sent;
    pageRetries.add(1, { reason: sent.data.code });
    sleep(Math.min(Math.max(Math.ceil(sent.data.retry_after || 5), 1), 120));
  }
}

function oneJob(route, body, waitSeconds, tags) {
  const sent = submitJob(route, body, waitSeconds, tags);
  if (!sent.ok) return sent;
  const early = jobOutcome(sent.data);
  if (early) return early;
  const deadline = Date.now() + POLL_DEADLINE_S * 1000;
  while (Date.now() < deadline) {
    const polled = pageAnswer(http.get(`${BASE_URL}/api/guest/status/${sent.data.jobId}?wait=${waitSeconds}`, {
      headers: { 'X-Job-Token': sent.data.jobToken },
      tags: Object.assign({ name: 'status-wait' }, tags || {}),
      timeout: `${waitSeconds + 30}s`,
    }));
    if (!polled.ok) {
      if (polled.data.code === 'job_not_found') return Object.assign({}, polled, { status: 410 });
      if (lostAnswer(polled)) return polled;
      if (polled.status !== 429 && polled.status < 500) return polled;
      pageRetries.add(1, { reason: `poll_${polled.status}` });
      sleep(Math.min(Math.max(polled.data.retry_after || 1, 1), 10));
      continue;
    }
    const outcome = jobOutcome(polled.data);
    if (outcome) return outcome;
  }
  return { ok: false, status: 504, data: { code: 'timeout' } };
}

function asLogin(body) {
  const login = { phone: body.phone, password: body.password, eventId: body.eventId };
  if (body.promoterId) login.promoterId = body.promoterId;
  if (body.teamId) login.teamId = body.teamId;
  return login;
}

// A login ('login-v2') or registration ('register-v2') as the page makes it; {ok, status, data}
// as the page ends with it (data: the guest pass, or the refusal the page would show; code
// 'retries_spent' when every resubmit was lost too) and `resubmits`, how many it sent again.
export function submitLikePage(route, body, waitSeconds, tags) {
  let resubmits = 0;
  for (;;) {
    const answer = oneJob(route, body, waitSeconds, tags);
    if (lostAnswer(answer)) {
      if (resubmits >= RESUBMITS) {
        return { ok: false, status: answer.status, data: { code: 'retries_spent' }, resubmits };
      }
      pageRetries.add(1, { reason: lostReason(answer) });
      resubmits += 1;
      sleep(retryDelay(resubmits));
      continue;
    }
    if (resubmits > 0 && route === 'register-v2' && answer.data.code === 'phone_exists') {
      pageLoginsAfterRegister.add(1);
      const login = submitLikePage('login-v2', asLogin(body), waitSeconds, tags);
      return Object.assign(login.ok ? login : answer, { resubmits: resubmits + login.resubmits });
    }
    return Object.assign(answer, { resubmits });
  }
}

// QR_IMAGE_RETRIES in guest.js: the image the page shows, asked again 1, 2, 4 and 8 s after an
// answer lost or refused by a server that could not answer (no response, 502/503/504).
export const QR_IMAGE_RETRIES = 4;

// GET the QR image as the page's <img> does (tagged `tags`); the last answer.
export function qrImageLikePage(qrCode, tags) {
  for (let tries = 0; ; tries += 1) {
    const res = http.get(`${BASE_URL}/api/guest/qr/${qrCode}.svg`, { tags });
    const lost = res.status === 0 || res.status === 502 || res.status === 503 || res.status === 504;
    if (!lost || tries >= QR_IMAGE_RETRIES) return res;
    pageRetries.add(1, { reason: `qr_${res.status}` });
    sleep(2 ** tries);
  }
}
