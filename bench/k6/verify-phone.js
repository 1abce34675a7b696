// verify-phone-v2 head to head: VUS virtual users, no think time, against one TARGET:
//   ours         POST {BASE_URL}/api/guest/verify-phone-v2 (app.py)
//   bare         POST {BASE_URL}/api/guest/verify-phone-v2 (bench/bare_app.py: same SQL, same
//                kind of pool, no validation/middleware)
//   postgraphile POST {BASE_URL}/graphql, the mutation PostGraphile 4 makes of
//                api.check_phone_with_cache (VOLATILE → a mutation): checkPhoneWithCache
// Half the phones exist (the runner's accounts), half do not; every answer is checked
// against that. WARMUP seconds first (scenario warmup), then DURATION seconds measured
// (scenario measure): the report takes rps and latency from {scenario:measure} only.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { BASE_URL, JSON_HEADERS, env, existingPhone, newPhone, num, secs } from './lib.js';

const TARGET = env('TARGET');
const VUS = num('VUS', 50);
const WARMUP = num('WARMUP', 5);
const DURATION = num('DURATION', 30);
const PHONES = num('PHONES', 2000); // distinct phones of each kind

const GRAPHQL = `mutation ($phone: String!) {
  checkPhoneWithCache(input: {pPhone: $phone}) { json }
}`;

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
    'checks{scenario:measure}': ['rate>=0'],
  },
  discardResponseBodies: false,
};

function request(phone) {
  if (TARGET === 'postgraphile') {
    const res = http.post(`${BASE_URL}/graphql`,
      JSON.stringify({ query: GRAPHQL, variables: { phone } }),
      { headers: JSON_HEADERS, tags: { name: 'graphql' } });
    let answer;
    try { answer = res.json('data.checkPhoneWithCache.json'); } catch (e) { answer = undefined; }
    return { res, answer };
  }
  const res = http.post(`${BASE_URL}/api/guest/verify-phone-v2`, JSON.stringify({ phone }),
    { headers: JSON_HEADERS, tags: { name: 'verify-phone-v2' } });
  let answer;
  try { answer = res.json(); } catch (e) { answer = undefined; }
  return { res, answer };
}

export default function () {
  const n = exec.scenario.iterationInTest;
  const exists = n % 2 === 0;
  const k = Math.floor(n / 2) % PHONES;
  const phone = exists ? existingPhone(k) : newPhone('96', k);
  const { res, answer } = request(phone);
  check(res, {
    'status 200': (r) => r.status === 200,
    'right answer': () => !!answer && answer.exists === exists,
  });
}
