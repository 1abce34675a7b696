// The seed's scripts/load-test-500-users.js (../shared/seed/000_8ef9b06a530231bb.txt, Fase 5,
// ação 5.1): the same stages, checks, thresholds and iteration, pointed at the real demo ids.
//
// Changes, all of them here:
// - BASE_URL and the event/promoter/team ids come from the runner (read from the running
//   app's /api/guest/page/miguel/festa-verao), not 'test-event-id';
// - stages scaled: durations × TIME_SCALE (1 = the seed's 16 minutes), targets × PEAK / 500
//   (500 = the seed's peak);
// - phones: the seed draws `+351` + any 9 digits, most of which are not valid Portuguese
//   numbers (400 invalid_input). Here: valid mobiles +35192/93/96 + 7 random digits
//   (+35191… are the runner's existing accounts);
// - counters the seed forgets, beside its own `errors` Rate: submits accepted, refused with
//   503 + Retry-After (queue full), other 5xx, and jobs the seed stopped polling
//   (`seed_polls_exhausted`: its 10 × 500 ms polling gave up). The runner then counts, in
//   the jobs table, every accepted job that never completed.
// The seed's own defects are kept (they are part of what is measured): its "60% new users"
// is `Math.random() > 0.6` (40%), and its login branch needs a phone that exists, which a
// random phone never is, so nearly every iteration registers.
import { check, sleep } from 'k6';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { BASE_URL, demoIds, num, randomInt } from './lib.js';

export let errorRate = new Rate('errors');
const submitAccepted = new Counter('submit_accepted');
// accepted with the id of a job already pending for the same phone (the seed's random phones
// meet now and then): accepted - duplicates = the jobs the table must hold
const submitDuplicate = new Counter('submit_duplicate');
const submitRefused503 = new Counter('submit_refused_503');
const submitRefusedNoRetryAfter = new Counter('submit_503_without_retry_after');
const other5xx = new Counter('http_5xx_other');
const pollsExhausted = new Counter('seed_polls_exhausted');
const jobsCompletedSeen = new Counter('jobs_completed_seen');
const jobsFailedSeen = new Counter('jobs_failed_seen');
// The seed's `errors` Rate only ever records 1 (`check(...) || errorRate.add(1)`), so its
// rate is 100% after the first failed check: its 'rate<0.01' really means "no check ever
// fails". errors_as_meant records every check group, passed (0) or not (1): the error rate
// the seed meant. Both are reported; the seed's own threshold is kept as written.
const errorsAsMeant = new Rate('errors_as_meant');
function meant(ok) {
  errorsAsMeant.add(!ok);
  return ok;
}

const TIME_SCALE = num('TIME_SCALE', 1);
const PEAK = num('PEAK', 500);
const SEED_STAGES = [
  [60, 50], // Aquecimento
  [120, 200], // Crescimento
  [300, 500], // Pico de 500 usuários
  [300, 500], // Sustentação
  [120, 100], // Redução gradual
  [60, 0], // Cool down
];

export let options = {
  stages: SEED_STAGES.map(([seconds, target]) => ({
    duration: `${Math.max(200, Math.round(seconds * TIME_SCALE * 1000))}ms`,
    target: target === 0 ? 0 : Math.max(1, Math.round((target * PEAK) / 500)),
  })),
  thresholds: {
    http_req_duration: ['p(95)<1000'], // 95% < 1s
    errors: ['rate<0.01'], // <1% errors
    errors_as_meant: ['rate<0.01'], // added: the same 1%, counted as the seed meant it
    http_req_failed: ['rate<0.01'], // <1% failures
  },
};

const { eventId: EVENT_ID, promoterId: PROMOTER_ID, teamId: TEAM_ID } = demoIds();
const MOBILE_PREFIXES = ['92', '93', '96'];

function count5xx(res, isSubmit) {
  if (res.status === 503 && isSubmit) {
    submitRefused503.add(1);
    if (!res.headers['Retry-After']) submitRefusedNoRetryAfter.add(1);
  } else if (res.status >= 500) {
    other5xx.add(1);
  }
}

function submitted(res) {
  count5xx(res, true);
  if (res.status >= 200 && res.status < 300) {
    submitAccepted.add(1);
    submitDuplicate.add(res.json('duplicate') === true ? 1 : 0); // 0s too: the metric exists
  }
}

export default function () {
  const phone = `+351${MOBILE_PREFIXES[randomInt(0, 2)]}${randomInt(0, 9999999).toString().padStart(7, '0')}`;
  const isNewUser = Math.random() > 0.6; // 60% novos usuários, 40% login

  // Step 1: Verificar telefone
  let verifyResponse = http.post(`${BASE_URL}/api/guest/verify-phone-v2`,
    JSON.stringify({ phone }),
    { headers: { 'Content-Type': 'application/json' }, tags: { name: 'verify-phone-v2' } }
  );
  count5xx(verifyResponse, false);

  meant(check(verifyResponse, {
    'verify phone status 200': (r) => r.status === 200,
    'verify response time < 100ms': (r) => r.timings.duration < 100,
  })) || errorRate.add(1);

  const phoneExists = verifyResponse.json('exists');

  if (phoneExists && !isNewUser) {
    // Step 2A: Login
    let loginResponse = http.post(`${BASE_URL}/api/guest/login-v2`,
      JSON.stringify({
        phone,
        password: 'Test123!',
        eventId: EVENT_ID,
        promoterId: PROMOTER_ID,
        teamId: TEAM_ID
      }),
      { headers: { 'Content-Type': 'application/json' }, tags: { name: 'login-v2' } }
    );
    submitted(loginResponse);

    meant(check(loginResponse, {
      'login status 200': (r) => r.status === 200,
      'login response time < 100ms': (r) => r.timings.duration < 100,
      'job id returned': (r) => r.json('jobId') !== undefined,
    })) || errorRate.add(1);

    // Step 3: Verificar status do job
    let jobId = loginResponse.json('jobId');
    if (jobId) {
      pollJobStatus(jobId, loginResponse.json('jobToken'));
    }

  } else {
    // Step 2B: Registro
    let registerResponse = http.post(`${BASE_URL}/api/guest/register-v2`,
      JSON.stringify({
        phone,
        firstName: `User${Math.floor(Math.random() * 9999)}`,
        lastName: `Test${Math.floor(Math.random() * 9999)}`,
        email: `user${Math.floor(Math.random() * 9999)}@test.com`,
        password: 'Test123!',
        city: 'Lisboa',
        eventId: EVENT_ID,
        promoterId: PROMOTER_ID,
        teamId: TEAM_ID
      }),
      { headers: { 'Content-Type': 'application/json' }, tags: { name: 'register-v2' } }
    );
    submitted(registerResponse);

    meant(check(registerResponse, {
      'register status 200': (r) => r.status === 200,
      'register response time < 100ms': (r) => r.timings.duration < 100,
      'job id returned': (r) => r.json('jobId') !== undefined,
    })) || errorRate.add(1);

    // Step 3: Verificar status do job
    let jobId = registerResponse.json('jobId');
    if (jobId) {
      pollJobStatus(jobId, registerResponse.json('jobToken'));
    }
  }

  sleep(1); // Pausa entre iterações
}

// The seed's poll, with the one header a job now needs: the token its submit answered with.
function pollJobStatus(jobId, jobToken) {
  for (let i = 0; i < 10; i++) {
    let statusResponse = http.get(`${BASE_URL}/api/guest/status/${jobId}`, {
      headers: { 'X-Job-Token': jobToken },
      tags: { name: 'status' },
    });
    count5xx(statusResponse, false);

    if (statusResponse.status === 200) {
      const status = statusResponse.json('status');

      if (status === 'completed') {
        jobsCompletedSeen.add(1);
        meant(check(statusResponse, {
          'job completed successfully': (r) => r.json('result.success') === true,
          'qr code generated': (r) => r.json('result.qr_code') !== undefined,
        })) || errorRate.add(1);
        return;
      } else if (status === 'failed') {
        jobsFailedSeen.add(1);
        errorRate.add(1);
        errorsAsMeant.add(1);
        return;
      }
    }

    sleep(0.5); // Aguardar 500ms
  }
  pollsExhausted.add(1); // the seed moves on and never looks at this job again
}
