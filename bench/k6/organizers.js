// Organizers at the opening: ORGANIZERS logged-in owners of the demo organization watch the
// night's event in the console while doors-open's people (./doors-open.js, unchanged) arrive
// at its guest page, on the same server. The runner seeds the event's list (bench/scenarios/
// organizers.py) and hands over one staff session cookie per organizer, each made through an
// invite, in a file of raw/ (SESSIONS_FILE: {"cookies": [...]}).
//
// Scenarios:
//   people      doors-open's journeys (its options: 500 people, its ramp and hold).
//   organizers  one VU per organizer, for the whole of doors-open's ramp and hold: every
//               REFRESH seconds the console's guest list (GET /api/console/events/{id}/guests,
//               50 rows; organizer n keeps view n of VIEWS: newest first, inside by arrival, a
//               search) and the event's figures (GET …/figures), one after the other as the
//               page asks them again.
// Counters: console_failures (an answer other than 200 with its body). doors-open's metrics
// and thresholds are its own.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import journey, { options as doorsOpen } from './doors-open.js';
import { BASE_URL, env, num, secs } from './lib.js';

const ORGANIZERS = num('ORGANIZERS', 3);
const REFRESH = num('REFRESH', 2);
const DURATION = num('RAMP', 30) + num('HOLD', 300);
const EVENT_ID = env('EVENT_ID');
const COOKIES = JSON.parse(open(env('SESSIONS_FILE'))).cookies;
const VIEWS = ['sort=recent', 'sort=arrival&checkedIn=true', 'q=conceicao&sort=name'];

const failures = new Counter('console_failures');

export const options = {
  scenarios: {
    people: { ...doorsOpen.scenarios.doors, exec: 'person' },
    organizers: {
      executor: 'constant-vus',
      exec: 'organizer',
      vus: ORGANIZERS,
      duration: secs(DURATION),
    },
  },
  thresholds: {
    ...doorsOpen.thresholds,
    'http_req_duration{name:console-guests}': ['max>=0'], // reported
    'http_req_duration{name:console-figures}': ['max>=0'],
    console_failures: ['count<1'],
  },
};

export function organizer() {
  // organizers opened the page at different moments: their refreshes do not fall together
  if (exec.vu.iterationInScenario === 0) sleep(Math.random() * REFRESH);
  const me = exec.vu.idInTest - 1;
  const view = VIEWS[me % VIEWS.length];
  const params = { headers: { Cookie: COOKIES[me % COOKIES.length] } };
  const t0 = Date.now();
  const list = http.get(`${BASE_URL}/api/console/events/${EVENT_ID}/guests?limit=50&${view}`,
    { ...params, tags: { name: 'console-guests' } });
  const figures = http.get(`${BASE_URL}/api/console/events/${EVENT_ID}/figures`,
    { ...params, tags: { name: 'console-figures' } });
  if (!check(list, { 'list 200': (r) => r.status === 200 && r.body.includes('"guests"') })) {
    failures.add(1, { route: 'console-guests' });
  }
  if (!check(figures, { 'figures 200': (r) => r.status === 200 && r.body.includes('"onList"') })) {
    failures.add(1, { route: 'console-figures' });
  }
  sleep(Math.max(0, REFRESH - (Date.now() - t0) / 1000));
}

export function person() {
  journey();
}
