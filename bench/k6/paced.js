// One request at a time, at saturation's pace: RATE requests/s (tenths allowed) for DURATION s
// to POST {BASE_URL}/api/guest/verify-phone-v2 of bench/bare_app.py (one SQL call, no validation,
// no middleware). At a few dozen requests a second each one arrives alone, so the CPU the server
// and k6 spend on it (the runner reads both from /proc) is what a saturation journey's one HTTP
// request costs at least, whatever the app does around it.
import { check } from 'k6';
import http from 'k6/http';
import { BASE_URL, JSON_HEADERS, existingPhone, num, secs } from './lib.js';

const RATE = num('RATE');
const DURATION = num('DURATION', 20);

export const options = {
  scenarios: {
    paced: {
      executor: 'constant-arrival-rate',
      rate: Math.max(1, Math.round(RATE * 10)),
      timeUnit: '10s',
      duration: secs(DURATION),
      preAllocatedVUs: 20,
      maxVUs: 100,
    },
  },
};

export default function () {
  const phone = existingPhone(Math.floor(Math.random() * 1e9));
  const res = http.post(`${BASE_URL}/api/guest/verify-phone-v2`, JSON.stringify({ phone }), {
    headers: JSON_HEADERS,
    tags: { name: 'verify-phone-v2' },
  });
  check(res, { 'status 200': (r) => r.status === 200 });
}
