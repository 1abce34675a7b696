// Saturation: registrations arriving at a rising rate (ramping-arrival-rate, in steps) until
// the p95 time from submit to QR code passes MAX_TTQ_MS (2 s): k6 then aborts the run.
//
// RATES is the list of arrival rates (registrations/s, tenths allowed), one per step; the runner
// derives it from the bcrypt limit it measured in the same run. k6 counts arrivals per 10 s
// (timeUnit), so a rate of 35.6/s is 356 per 10 s: a step at 0.9 x the limit is 0.9 x, not
// the whole number nearest to it. Each step ramps for STEP_RAMP s, then
// holds HOLD s; a journey counts for step i (tag step=i) only when it starts in the last
// (1 - SETTLE) of step i's hold, so each step is judged on its settled part. Journeys started
// elsewhere carry step=transition.
// A journey, as the page makes it: POST /api/guest/register-v2?wait=25 (new phone), its answer
// held until the job ends (long-poll the status if it has not).
// time_to_qr records submit → end for every journey that got a job (outcome ok|failed|gave_up),
// so a slow tail cannot hide by not finishing.
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import {
  PASSWORD, demoIds, env, iterationKey, newPhone, num, secs, submitAndWait,
} from './lib.js';

const RATES = env('RATES').split(',').map(Number);
const HOLD = num('HOLD', 30);
const STEP_RAMP = num('STEP_RAMP', 2);
const SETTLE = num('SETTLE', 0.34);
const MAX_TTQ_MS = num('MAX_TTQ_MS', 2000);
const MAX_VUS = num('MAX_VUS', 600);
const ABORT = env('ABORT', '1') === '1';
const STEP_LEN = STEP_RAMP + HOLD;

const timeToQr = new Trend('time_to_qr', true);
const submits = new Counter('submits');
const refused = new Counter('submits_refused');
const completions = new Counter('completions');
const failedJourneys = new Counter('journeys_failed');

const stages = [];
const thresholds = { journeys_failed: ['count>=0'], submits_refused: ['count>=0'] };
const PER_10S = (rate) => Math.round(rate * 10);
RATES.forEach((rate, i) => {
  stages.push({ duration: secs(STEP_RAMP), target: PER_10S(rate) });
  stages.push({ duration: secs(HOLD), target: PER_10S(rate) });
  thresholds[`time_to_qr{step:${i}}`] = [
    { threshold: `p(95)<${MAX_TTQ_MS}`, abortOnFail: ABORT, delayAbortEval: secs(STEP_RAMP) },
  ];
  thresholds[`completions{step:${i}}`] = ['count>=0'];
  thresholds[`submits{step:${i}}`] = ['count>=0'];
  thresholds[`journeys_failed{step:${i}}`] = ['count>=0'];
});

export const options = {
  scenarios: {
    saturation: {
      executor: 'ramping-arrival-rate',
      startRate: Math.max(1, PER_10S(RATES[0] / 2)),
      timeUnit: '10s',
      // VUs made mid-run start late (k6 initialises them while the rate waits): make enough
      // up front for the top rate with ~3 s journeys.
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, Math.ceil(Math.max(...RATES) * 3))),
      maxVUs: MAX_VUS,
      stages,
      gracefulStop: '60s',
    },
  },
  thresholds,
};

const IDS = demoIds();

// The step a journey starting now belongs to, or 'transition'.
function currentStep() {
  const elapsed = (Date.now() - exec.scenario.startTime) / 1000;
  const i = Math.floor(elapsed / STEP_LEN);
  if (i < 0 || i >= RATES.length) return 'transition';
  const into = elapsed - i * STEP_LEN - STEP_RAMP;
  return into >= SETTLE * HOLD ? String(i) : 'transition';
}

export default function () {
  const step = currentStep();
  const tags = { step };
  const n = iterationKey();
  const phone = newPhone('92', n);
  const body = {
    phone, firstName: 'Sat', lastName: `Uracao${n}`, email: `s${n}@bench.test`,
    password: PASSWORD, ...IDS,
  };
  submits.add(1, tags);
  const t0 = Date.now();
  const job = submitAndWait('register-v2', body, 25, 4, { step });
  if (!check(job, { 'submit accepted': (j) => !!j.jobId })) {
    if (job.submit.status === 503 || job.submit.status === 429) refused.add(1, tags);
    failedJourneys.add(1, tags);
    return;
  }
  const ok = job.status === 'completed' && job.body && job.body.result &&
    job.body.result.success === true && typeof job.body.result.qr_code === 'string';
  timeToQr.add(Date.now() - t0, { step, outcome: ok ? 'ok' : job.status });
  if (check(job, { 'qr code': () => ok })) {
    completions.add(1, tags);
  } else {
    failedJourneys.add(1, tags);
  }
}
