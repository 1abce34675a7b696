// The HTTP ceiling: GET {BASE_URL}/const on bench/bare_app.py (constant JSON, no database,
// no middleware), VUS virtual users, no think time. WARMUP seconds, then DURATION measured.
import { check } from 'k6';
import http from 'k6/http';
import { BASE_URL, num, secs } from './lib.js';

const VUS = num('VUS', 50);
const WARMUP = num('WARMUP', 5);
const DURATION = num('DURATION', 30);

export const options = {
  scenarios: {
    warmup: { executor: 'constant-vus', vus: VUS, duration: secs(WARMUP), gracefulStop: '5s' },
    measure: {
      executor: 'constant-vus', vus: VUS, duration: secs(DURATION),
      startTime: secs(WARMUP), gracefulStop: '5s',
    },
  },
  thresholds: {
    'http_reqs{scenario:measure}': ['count>=0'],
    'http_req_duration{scenario:measure}': ['max>=0'],
    'http_req_failed{scenario:measure}': ['rate>=0'],
  },
};

export default function () {
  const res = http.get(`${BASE_URL}/const`, { tags: { name: 'const' } });
  check(res, { 'status 200': (r) => r.status === 200 });
}
