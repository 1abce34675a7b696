// The door: DOORS staff phones check in GUESTS guests of the demo event (seeded by the runner,
// bench/scenarios/door.py) over DURATION seconds, while doors-open's people (./doors-open.js,
// unchanged) arrive at the guest page of the same event on the same server.
//
// Scenarios:
//   checkins  constant arrival rate, GUESTS scans in DURATION s: scan n checks in guest n at door
//             n % DOORS (POST /api/door/check-in, a new scanId); RETRY_SHARE of them are sent
//             again with the same scanId (a flaky network's retry: the same answer, admitted),
//             RESCAN_SHARE are scanned again at the next door with a new scanId (already_in).
//   screens   one VU per door: the door page's counter every 5 s (GET /api/door/summary) and
//             its offline list every minute (GET /api/door/list), as the page does.
//   people    doors-open's journeys (its options: 500 people, its ramp), held for DURATION s.
// Counters: admitted, already_in, the other results, retries answered differently
// (retry_mismatch) and second scans answered admitted (doubled): the runner also counts the
// check-ins in the database afterwards (lost and doubled).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { SharedArray } from 'k6/data';
import journey, { options as doorsOpen } from './doors-open.js';
import { BASE_URL, JSON_HEADERS, env, num, safeJson, secs } from './lib.js';

const DURATION = num('DURATION', 600);
const DOORS = num('DOORS', 4);
const RETRY_SHARE = num('RETRY_SHARE', 0.05);
const RESCAN_SHARE = num('RESCAN_SHARE', 0.05);
const PEOPLE_ON = env('PEOPLE_ON', '1') === '1';
const SEED_FILE = env('SEED_FILE'); // {"codes": [...], "tokens": [...]} written by the runner

const SEED = new SharedArray('seed', () => {
  const seed = JSON.parse(open(SEED_FILE));
  return [seed];
});

const results = new Counter('checkin_results');
const admitted = new Counter('checkins_admitted');
const retryMismatch = new Counter('retry_mismatch');
const doubled = new Counter('doubled_admissions');
const failedScans = new Counter('checkin_failures');

function uuid4() {
  const h = '0123456789abcdef';
  let s = '';
  for (let i = 0; i < 32; i += 1) {
    let d = Math.floor(Math.random() * 16);
    if (i === 12) d = 4;
    if (i === 16) d = 8 + (d & 3);
    s += h[d];
    if (i === 7 || i === 11 || i === 15 || i === 19) s += '-';
  }
  return s;
}

function checkIn(token, qrCode, scanId, name) {
  const res = http.post(
    `${BASE_URL}/api/door/check-in`,
    JSON.stringify({ qrCode, scanId, scannedAt: new Date().toISOString() }),
    { headers: { ...JSON_HEADERS, Authorization: `Bearer ${token}` }, tags: { name } },
  );
  const result = res.status === 200 ? safeJson(res, 'result') : `http_${res.status}`;
  results.add(1, { result: String(result), kind: name });
  return result;
}

const people = doorsOpen.scenarios.doors;
export const options = {
  scenarios: {
    checkins: {
      executor: 'constant-arrival-rate',
      exec: 'scan',
      rate: num('GUESTS', 2000),
      timeUnit: secs(DURATION),
      duration: secs(DURATION),
      preAllocatedVUs: 4 * DOORS,
      maxVUs: 40 * DOORS,
    },
    screens: {
      executor: 'constant-vus',
      exec: 'screen',
      vus: DOORS,
      duration: secs(DURATION),
    },
    ...(PEOPLE_ON ? { people: { ...people, exec: 'person' } } : {}),
  },
  thresholds: {
    ...(PEOPLE_ON ? doorsOpen.thresholds : {}),
    'http_req_duration{name:check-in}': ['p(95)<50'],
    'http_req_duration{name:check-in-retry}': ['max>=0'], // reported
    'http_req_duration{name:check-in-rescan}': ['max>=0'],
    'http_req_duration{name:door-summary}': ['max>=0'],
    'http_req_duration{name:door-list}': ['max>=0'],
    checkins_admitted: ['count>=0'],
    retry_mismatch: ['count<1'],
    doubled_admissions: ['count<1'],
    checkin_failures: ['count<1'],
    'checkin_results{result:admitted}': ['count>=0'],
    'checkin_results{result:already_in}': ['count>=0'],
  },
};

export function scan() {
  const seed = SEED[0];
  const n = exec.scenario.iterationInTest;
  if (n >= seed.codes.length) return;
  const code = seed.codes[n];
  const door = n % DOORS;
  const scanId = uuid4();
  const first = checkIn(seed.tokens[door], code, scanId, 'check-in');
  if (!check(first, { 'first scan admitted': (r) => r === 'admitted' })) {
    failedScans.add(1);
    return;
  }
  admitted.add(1);
  if (Math.random() < RETRY_SHARE) {
    const again = checkIn(seed.tokens[door], code, scanId, 'check-in-retry');
    if (!check(again, { 'a retry gets the same answer': (r) => r === 'admitted' })) {
      retryMismatch.add(1);
    }
  }
  if (Math.random() < RESCAN_SHARE) {
    const other = checkIn(seed.tokens[(door + 1) % DOORS], code, uuid4(), 'check-in-rescan');
    if (!check(other, { 'a second scan is already_in': (r) => r === 'already_in' })) {
      if (other === 'admitted') doubled.add(1);
      else failedScans.add(1);
    }
  }
}

export function screen() {
  const seed = SEED[0];
  const token = seed.tokens[(exec.vu.idInTest - 1) % DOORS];
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const iter = exec.vu.iterationInScenario;
  if (iter % 12 === 0) {
    const list = http.get(`${BASE_URL}/api/door/list`, { ...auth, tags: { name: 'door-list' } });
    check(list, { 'list 200': (r) => r.status === 200 });
  }
  const summary = http.get(`${BASE_URL}/api/door/summary`, {
    ...auth,
    tags: { name: 'door-summary' },
  });
  check(summary, { 'summary 200': (r) => r.status === 200 });
  sleep(5);
}

export function person() {
  journey();
}
