// Time to QR: how long from `register-v2` to the page showing the QR code, when
// N people press "register" at the same moment, for each N of LEVELS (1, 20, 100).
//
// One k6 scenario per N (`n1`, `n20`, `n100`), one after another (startTime), each
// `per-vu-iterations` with N VUs and ROUNDS[i] iterations: iteration r of every VU sleeps
// until the scenario's start + r × SLOTS[i] seconds, so the N journeys of a round leave
// together (a burst; `burst_start_lag` records how late each left). The runner sizes each
// slot from the bcrypt limit of the same run: a generous bound on the burst, plus a pause in
// which the queue empties. A journey still running when its slot ends is counted in
// `slot_overruns` (the next burst began before it ended), never hidden.
// A journey does what the guest page (static/guest.js) does:
//   POST /api/guest/register-v2?wait=25    a new phone (+35196…, never a bench account), the
//                                          answer held until the job ends (as the page does)
//   GET  /api/guest/status/{jobId}?wait=25 long-poll, again, if it has not
//   GET  /api/guest/qr/{qr_code}.svg       the QR code the page shows
// time_to_qr: from just before the POST to the end of the SVG response, successful journeys
// only; every failure counts in journeys_failed (tag n) and journey_failures (tag step:
// register = not 200 or no job id, status = status not 200 / polls ran out, job_failed,
// refused = result.success false, qr = SVG not 200). A warm-up journey (scenario `warmup`,
// tag n:warmup) runs first and is not reported. Every metric carries the tag n (scenario tag).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import {
  BASE_URL, PASSWORD, demoIds, env, newPhone, num, submitAndWait,
} from './lib.js';

const LEVELS = env('LEVELS').split(',').map(Number);
const ROUNDS = env('ROUNDS').split(',').map(Number);
const SLOTS = env('SLOTS').split(',').map(Number); // seconds from one burst to the next
const WARMUP_SLOT = num('WARMUP_SLOT', 3); // seconds for the warm-up journey (0: none)
const POLLS = num('POLLS', 5); // long-polls of 25 s at most: the page gives up after 120 s
if (LEVELS.length !== ROUNDS.length || LEVELS.length !== SLOTS.length) {
  throw new Error('bench: LEVELS, ROUNDS and SLOTS need one value per level');
}

const timeToQr = new Trend('time_to_qr', true);
const startLag = new Trend('burst_start_lag', true);
const registrations = new Counter('registrations');
const completed = new Counter('journeys_completed');
const failed = new Counter('journeys_failed');
const failures = new Counter('journey_failures');
const overruns = new Counter('slot_overruns');

const ms = (s) => `${Math.round(s * 1000)}ms`;

const scenarios = {};
const thresholds = {};
if (WARMUP_SLOT > 0) {
  scenarios.warmup = {
    executor: 'per-vu-iterations', vus: 1, iterations: 1, startTime: '0s',
    maxDuration: ms(WARMUP_SLOT + 120), gracefulStop: '30s', exec: 'burst',
    tags: { n: 'warmup' },
  };
}
let start = WARMUP_SLOT;
LEVELS.forEach((n, i) => {
  scenarios[`n${n}`] = {
    executor: 'per-vu-iterations', vus: n, iterations: ROUNDS[i], startTime: ms(start),
    // late rounds (a journey that overran its slot) may still start: they are counted
    maxDuration: ms(ROUNDS[i] * SLOTS[i] + 120), gracefulStop: '30s', exec: 'burst',
    tags: { n: String(n) },
  };
  start += ROUNDS[i] * SLOTS[i];
  // sub-metrics per level in the summary (thresholds that always pass: the bench reports)
  thresholds[`time_to_qr{n:${n}}`] = ['max>=0'];
  thresholds[`burst_start_lag{n:${n}}`] = ['max>=0'];
  thresholds[`registrations{n:${n}}`] = ['count>=0'];
  thresholds[`journeys_completed{n:${n}}`] = ['count>=0'];
  thresholds[`journeys_failed{n:${n}}`] = ['count>=0'];
  thresholds[`slot_overruns{n:${n}}`] = ['count>=0'];
});
for (const step of ['register', 'status', 'job_failed', 'refused', 'qr']) {
  thresholds[`journey_failures{step:${step}}`] = ['count>=0'];
}

export const options = { scenarios, thresholds };

const IDS = demoIds();
const SLOT_OF = {};
LEVELS.forEach((n, i) => {
  SLOT_OF[`n${n}`] = { slot: SLOTS[i], offset: (i + 1) * 1000000 };
});
SLOT_OF.warmup = { slot: WARMUP_SLOT, offset: 0 };

function fail(step) {
  failed.add(1);
  failures.add(1, { step });
}

export function burst() {
  const { slot, offset } = SLOT_OF[exec.scenario.name];
  const round = exec.vu.iterationInScenario;
  const due = exec.scenario.startTime + round * slot * 1000;
  const wait = due - Date.now();
  if (wait > 0) sleep(wait / 1000);
  const key = offset + exec.scenario.iterationInTest; // unique in the run: < 1,000,000 per level
  const phone = newPhone('96', key);
  const body = {
    phone, firstName: 'Tempo', lastName: `Qr${key}`, email: `q${key}@bench.test`,
    password: PASSWORD, city: 'Lisboa', ...IDS,
  };
  registrations.add(1);
  failed.add(0); // the level's failure count exists in the summary even when it stays 0
  overruns.add(0);
  const t0 = Date.now();
  startLag.add(t0 - due);
  try {
    const job = submitAndWait('register-v2', body, 25, POLLS);
    if (!check(job, {
      'register-v2 200 with a job id': (j) => j.submit.status === 200 && !!j.jobId,
    })) return fail('register');

    if (!check(job, { 'status answered': (j) => j.status === 'completed' || j.status === 'failed' })) {
      return fail('status');
    }
    if (!check(job, { 'job completed': (j) => j.status === 'completed' })) return fail('job_failed');
    const result = job.body && job.body.result;
    const qr = result && result.qr_code;
    if (!check(result, {
      'guest on the list with a QR code': (r) => !!r && r.success === true && typeof qr === 'string',
    })) return fail('refused');

    const svg = http.get(`${BASE_URL}/api/guest/qr/${qr}.svg`, { tags: { name: 'qr-svg' } });
    if (!check(svg, { 'qr svg 200': (r) => r.status === 200 })) return fail('qr');
    timeToQr.add(Date.now() - t0);
    completed.add(1);
  } finally {
    if (Date.now() > due + slot * 1000) overruns.add(1);
  }
}
