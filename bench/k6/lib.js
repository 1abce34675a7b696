// Shared by the bench scenarios. Everything comes from the environment the runner
// (bench/runner.py) sets: BASE_URL, the demo ids read from the running app, and the
// scenario's sizes. A missing value is an error, never a silent default to a fake id.
import http from 'k6/http';
import exec from 'k6/execution';
import { sleep } from 'k6';

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
