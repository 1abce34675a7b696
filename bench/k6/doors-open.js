// Doors open: the promoter posts the link and PEOPLE (500) arrive within RAMP seconds, then
// stay HOLD seconds. Each VU is one person after another, and each person:
//   1. opens the page            GET  /promotor/miguel/festa-verao
//   2. types the phone           POST /api/guest/verify-phone-v2
//   3. types the rest            sleep THINK_MIN..THINK_MAX seconds (20–40 s in a real run)
//   4. submits                   POST /api/guest/register-v2?wait=25 (REGISTER_SHARE, new phone)
//                                or POST /api/guest/login-v2?wait=25 (the rest, an existing
//                                account), as the page does: the answer is held until the job ends
//   5. waits for the QR code     GET  /api/guest/status/{jobId}?wait=25, if the job has not ended
//      (4 and 5 as the page makes them, retries included: lib.js submitLikePage; 6 too:
//      qrImageLikePage)
//   6. sees it                   GET  /api/guest/qr/{qr_code}.svg
// Custom metrics: time_to_qr (submit sent → the guest pass received, retries' waits included),
// journeys_started / journeys_completed / journeys_failed (+ journey_failures{step}: a journey
// fails only where the page would show the guest a failure), page_retries{reason} (what the
// page got over), page_logins_after_register.
// Thresholds are the targets, reported pass/fail (k6 exits 99 when one fails; the runner
// records that, it does not stop).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import {
  BASE_URL, JSON_HEADERS, PASSWORD, RETRY_REASONS, demoIds, env, existingPhone, newPhone, num,
  qrImageLikePage, safeJson, secs, submitLikePage,
} from './lib.js';

const PEOPLE = num('PEOPLE', 500);
const RAMP = num('RAMP', 30);
const HOLD = num('HOLD', 300);
const THINK_MIN = num('THINK_MIN', 20);
const THINK_MAX = num('THINK_MAX', 40);
const REGISTER_SHARE = num('REGISTER_SHARE', 0.6);
const GRACE = num('GRACE', THINK_MAX + 60);
const PAGE_PATH = env('PAGE_PATH', '/promotor/miguel/festa-verao');

const timeToQr = new Trend('time_to_qr', true);
const started = new Counter('journeys_started');
const completed = new Counter('journeys_completed');
const failed = new Counter('journeys_failed');
const failures = new Counter('journey_failures');
const registrations = new Counter('registrations_completed');
const logins = new Counter('logins_completed');

const ROUTES = ['page', 'verify-phone-v2', 'qr-svg'];
// held until the job ends by design (like the status long-poll): judged as submit→QR
const HELD = ['register-v2-wait', 'login-v2-wait', 'status-wait'];
const thresholds = {
  journeys_failed: ['count<1'],
  time_to_qr: ['p(95)<500'],
  'journey_failures{step:page}': ['count>=0'],
  'journey_failures{step:verify}': ['count>=0'],
  'journey_failures{step:submit}': ['count>=0'],
  'journey_failures{step:job}': ['count>=0'],
  'journey_failures{step:qr}': ['count>=0'],
  'journey_failures{step:retries}': ['count>=0'],
  page_retries: ['count>=0'],
  page_logins_after_register: ['count>=0'],
};
for (const reason of RETRY_REASONS) thresholds[`page_retries{reason:${reason}}`] = ['count>=0'];
for (const route of ROUTES) thresholds[`http_req_duration{name:${route}}`] = ['p(95)<100'];
for (const route of HELD) thresholds[`http_req_duration{name:${route}}`] = ['max>=0']; // reported

export const options = {
  scenarios: {
    doors: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: secs(RAMP), target: PEOPLE },
        { duration: secs(HOLD), target: PEOPLE },
      ],
      gracefulRampDown: secs(GRACE),
      gracefulStop: secs(GRACE),
    },
  },
  thresholds,
};

const IDS = demoIds();

function fail(step) {
  failed.add(1);
  failures.add(1, { step });
}

export default function () {
  const vu = exec.vu.idInTest;
  const iter = exec.vu.iterationInInstance;
  const person = vu * 100 + (iter % 100); // unique per journey (< 100 journeys per VU)
  const isRegister = Math.random() < REGISTER_SHARE;
  const phone = isRegister ? newPhone('93', person) : existingPhone(person);
  started.add(1);

  const page = http.get(`${BASE_URL}${PAGE_PATH}`, { tags: { name: 'page' } });
  if (!check(page, { 'page 200': (r) => r.status === 200 })) return fail('page');

  const verify = http.post(`${BASE_URL}/api/guest/verify-phone-v2`, JSON.stringify({ phone }), {
    headers: JSON_HEADERS,
    tags: { name: 'verify-phone-v2' },
  });
  if (!check(verify, {
    'verify 200': (r) => r.status === 200,
    'verify knows the phone': (r) => safeJson(r, 'exists') === !isRegister,
  })) return fail('verify');

  sleep(THINK_MIN + Math.random() * (THINK_MAX - THINK_MIN));

  const body = isRegister
    ? {
      phone, firstName: 'Porta', lastName: `Aberta${person}`, email: `p${person}@bench.test`,
      password: PASSWORD, city: 'Lisboa', ...IDS,
    }
    : { phone, password: PASSWORD, ...IDS };
  const route = isRegister ? 'register-v2' : 'login-v2';
  const t0 = Date.now();
  const job = submitLikePage(route, body, 25);
  const qr = job.ok && job.data && job.data.qr_code;
  if (!check(job, {
    'guest on the list': (j) => j.ok,
    'qr code': () => typeof qr === 'string',
  })) {
    // what the page shows: retries spent, a refusal of the job (its result), or of the submit
    if (job.data && job.data.code === 'retries_spent') return fail('retries');
    return fail(job.status === 200 || job.status === 410 || job.status === 500 ? 'job' : 'submit');
  }
  timeToQr.add(Date.now() - t0, { kind: route });

  const svg = qrImageLikePage(qr, { name: 'qr-svg' });
  if (!check(svg, { 'qr svg 200': (r) => r.status === 200 })) return fail('qr');

  completed.add(1);
  (isRegister ? registrations : logins).add(1);
}
