// Guest page: phone → login or register → QR code. Vanilla JS, no third-party code, no request
// to any other host. The API layer below is the only place that knows URLs: one function per
// call, each resolving to {ok, status, data}, so the queued (v2) variants can replace
// login/register without touching the steps.
'use strict';

(() => {
  // --- API: one function per call -------------------------------------------------------------

  async function request(method, url, body, headers) {
    const init = {
      method,
      headers: Object.assign({ Accept: 'application/json' }, headers),
      credentials: 'same-origin',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (_err) {
      return { ok: false, status: 0, data: { code: 'network' } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (_err) {
      data = {};
    }
    const retryAfter = Number(response.headers.get('Retry-After'));
    if (retryAfter > 0 && data.retry_after === undefined) data.retry_after = retryAfter;
    return { ok: response.ok, status: response.status, data };
  }

  const api = {
    pageData: (promoter, event) =>
      request('GET', `/api/guest/page/${encodeURIComponent(promoter)}/${encodeURIComponent(event)}`),
    returningGuest: (eventId) => request('GET', `/api/guest/me/${encodeURIComponent(eventId)}`),
    // the same question answered 200 {guest: null} when this device has no pass: a first
    // visit logs no failed request in the console
    sessionPass: (eventId) => request('GET', `/api/guest/session/${encodeURIComponent(eventId)}`),
    verifyPhone: (phone) => request('POST', '/api/guest/verify-phone', { phone }),
    login: (body) => request('POST', '/api/guest/login', body),
    // the birth date an account lacks, for an event with a minimum age (then log in again)
    giveBirthDate: (body) => request('POST', '/api/guest/birth-date', body),
    register: (body) => request('POST', '/api/guest/register', body),
    // queued variants: the answer is held until the job ends (at most `wait`
    // seconds) and then carries the job's status; past that, the job id is long-polled
    loginQueued: (body, wait) => request('POST', `/api/guest/login-v2?wait=${wait}`, body),
    registerQueued: (body, wait) =>
      request('POST', `/api/guest/register-v2?wait=${wait}`, body),
    // a job answers only the holder of the token its submit answered with
    jobStatus: (jobId, jobToken, wait) =>
      request('GET', `/api/guest/status/${encodeURIComponent(jobId)}?wait=${wait}`, undefined, {
        'X-Job-Token': jobToken,
      }),
    qrImageUrl: (qrCode) => `/api/guest/qr/${encodeURIComponent(qrCode)}.svg`,
    // the guest's own data (the session cookie): a download, and the account's erasure
    myData: () => fetch('/api/guest/data', { credentials: 'same-origin' }),
    erase: () => request('POST', '/api/guest/erase', { confirm: true }),
    // ends this device's session on the server and clears its cookie
    logout: () => request('POST', '/api/guest/logout', {}),
    // a forgotten password: a link mailed to the account's email, then the new password
    passwordReset: (body) => request('POST', '/api/guest/password-reset', body),
    passwordResetConfirm: (body) => request('POST', '/api/guest/password-reset/confirm', body),
  };

  // The queued route first, its answer held until the job ends; while it has not, the job is
  // long-polled. Resolves like the synchronous call ({ok, status, data}: the guest pass, or the
  // refusal's error body). Two kinds of trouble are met on the way, and neither reaches the
  // guest as an error while it can still be got over:
  // - busy: a 503 with a code the page knows (queue_full, unavailable) is waited out for the
  //   Retry-After it gave, with a countdown, then the form is submitted to the queue again
  //   (never to the synchronous route: that would hash on the web's connections at the worst
  //   moment); for up to GIVE_UP_MS.
  // - lost: the request or its job is gone — the connection cut (fetch failed), a 502/504, a
  //   503 with no body the page knows (a proxy's, an instance that died), or the job expired
  //   (job_expired: a database failover or crash took the queued password) or vanished
  //   (job_not_found on a job the server had accepted). The same form, still held in memory
  //   (the password never in storage), is submitted again, at most RESUBMITS times, after
  //   RETRY_BASE_S, ×2 each time (capped at RETRY_MAX_S, jittered so a crowd does not come
  //   back at once), saying so; then the form is shown again with `retries_spent`.
  // A resubmit is safe: an identical submission joins its job while the job is pending; a
  // registration whose first job did complete answers phone_exists, and then the page logs in
  // with the same password (docs/queue.md, "A resubmitted form"). The form behind the
  // processing step keeps what the guest typed. bench/k6/lib.js retries the same way.
  const WAIT_SECONDS = 25;
  const GIVE_UP_MS = 10 * 60 * 1000;
  const RESUBMITS = 4;
  const RETRY_BASE_S = 1;
  const RETRY_MAX_S = 8;
  const POLL_DEADLINE_MS = 120000;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Waits `seconds`, saying so each second in the processing step.
  async function countdown(seconds, sentence) {
    for (let left = seconds; left > 0; left -= 1) {
      $('processing-text').textContent = sentence(left);
      await sleep(1000);
    }
    $('processing-text').textContent = 'Estamos a confirmar a tua entrada na lista.';
  }

  const busySentence = (left) => `Muita gente a entrar. Tentamos de novo em ${left} s…`;
  const lostSentence = (left) =>
    `A ligação falhou; a tentar de novo em ${left} s. Espera: não precisas de escrever nada.`;

  // The wait before resubmit n (1, 2, …): RETRY_BASE_S doubled each time up to RETRY_MAX_S,
  // between half and one and a half of that, whole seconds.
  function retryDelay(n) {
    const base = Math.min(RETRY_BASE_S * 2 ** (n - 1), RETRY_MAX_S);
    return Math.max(1, Math.round(base * (0.5 + Math.random())));
  }

  // An answer that says the request or its job was lost, so the same form may be sent again.
  function lostAnswer(answer) {
    const code = answer.data && answer.data.code;
    if (answer.status === 0 || answer.status === 502 || answer.status === 504) return true;
    if (answer.status === 503) return !code;
    return code === 'job_expired' || answer.status === 410;
  }

  // A finished job as the synchronous call's answer; null while it is not finished.
  function jobOutcome(job) {
    if (job.status === 'completed' && job.result) {
      return { ok: job.result.success === true, status: 200, data: job.result };
    }
    if (job.status === 'failed') {
      // job_expired (its result): the request was lost before it was done (lostAnswer)
      const data = job.result && job.result.code ? job.result : { code: 'job_failed', error: job.error };
      return { ok: false, status: data.code === 'job_expired' ? 410 : 500, data };
    }
    $('processing-text').textContent = job.status === 'active'
      ? 'Estamos a confirmar a tua entrada na lista.'
      : 'O teu pedido está na fila. Não feches esta página.';
    return null;
  }

  // Submits until the queue takes the job, waiting out a busy queue; the held answer (the
  // job's id and token, maybe its outcome), or a refusal, or a lost answer.
  async function submitJob(queued, body) {
    const giveUpAt = Date.now() + GIVE_UP_MS;
    for (;;) {
      const sent = await queued(body, WAIT_SECONDS);
      if (sent.status !== 503 || lostAnswer(sent) || Date.now() > giveUpAt) return sent;
      await countdown(Math.min(Math.max(Math.ceil(sent.data.retry_after || 5), 1), 120), busySentence);
    }
  }

  // One job: submitted, then long-polled until it ends. A poll answered "busy" (a 503 with
  // its code, too many polls at once) is asked again while the job goes on; a lost poll (cut,
  // 502/504) or a job that is gone (job_not_found after the server took it, job_expired) is a
  // lost answer: the form is submitted again, and joins its job if the job is still there.
  async function oneJob(queued, body) {
    const sent = await submitJob(queued, body);
    if (!sent.ok) return sent;
    const early = jobOutcome(sent.data);
    if (early) return early;
    const deadline = Date.now() + POLL_DEADLINE_MS;
    while (Date.now() < deadline) {
      const polled = await api.jobStatus(sent.data.jobId, sent.data.jobToken, WAIT_SECONDS);
      if (!polled.ok) {
        if (polled.data.code === 'job_not_found') return { ...polled, status: 410 };
        if (lostAnswer(polled)) return polled;
        if (polled.status !== 429 && polled.status < 500) return polled;
        await sleep(1000 * Math.min(Math.max(polled.data.retry_after || 1, 1), 10));
        continue;
      }
      const outcome = jobOutcome(polled.data);
      if (outcome) return outcome;
    }
    return { ok: false, status: 504, data: { code: 'timeout' } };
  }

  // The registration's form as a login: the same phone, password and attribution.
  function asLogin(body) {
    const login = { phone: body.phone, password: body.password, eventId: body.eventId };
    if (body.promoterId) login.promoterId = body.promoterId;
    if (body.teamId) login.teamId = body.teamId;
    return login;
  }

  // A login or a registration through the queue (see above), resubmitted while its answer is
  // lost; `retries_spent` once RESUBMITS resubmits were lost too.
  async function viaQueue(kind, body) {
    $('processing-text').textContent = 'Estamos a confirmar a tua entrada na lista.';
    let resubmits = 0;
    for (;;) {
      const queued = kind === 'register' ? api.registerQueued : api.loginQueued;
      const answer = await oneJob(queued, body);
      if (lostAnswer(answer)) {
        if (resubmits >= RESUBMITS) {
          return { ok: false, status: answer.status, data: { code: 'retries_spent' } };
        }
        resubmits += 1;
        await countdown(retryDelay(resubmits), lostSentence);
        continue;
      }
      if (resubmits > 0 && kind === 'register' && answer.data.code === 'phone_exists') {
        // an earlier submit of this form registered the guest before its answer was lost:
        // the same password logs them in; any refusal of it shows the registration's answer
        const login = await viaQueue('login', asLogin(body));
        return login.ok ? login : answer;
      }
      return answer;
    }
  }

  // --- the same rules as the server (sql/40_register.sql) ---------------------------------

  const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function todayIso() {
    const now = new Date();
    const local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
    return local.toISOString().slice(0, 10);
  }

  function registrationErrors(v) {
    const errors = {};
    const first = v.firstName.trim();
    const last = v.lastName.trim();
    if (first.length < 1) errors.firstName = 'Indica o teu nome.';
    else if (first.length > 80) errors.firstName = tooLong('O nome', first.length);
    if (last.length < 1) errors.lastName = 'Indica o teu apelido.';
    else if (last.length > 80) errors.lastName = tooLong('O apelido', last.length);
    const email = v.email.trim();
    if (!email) errors.email = 'Indica o teu email, como nome@exemplo.pt.';
    else if (email.length > 254 || !EMAIL_RE.test(email)) {
      errors.email = 'Indica um email válido, como nome@exemplo.pt.';
    }
    const pw = v.password;
    if (pw.length < 8 || pw.length > 200 || !/[a-z]/.test(pw) || !/[A-Z]/.test(pw) || !/[0-9]/.test(pw)) {
      errors.password = 'Escolhe uma palavra-passe com pelo menos 8 caracteres, com maiúsculas, ' +
        'minúsculas e números.';
    }
    if (v.confirmPassword !== pw) {
      errors.confirmPassword = 'As palavras-passe não coincidem. Escreve a mesma nas duas caixas.';
    }
    if (v.birthDate) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(v.birthDate)) {
        errors.birthDate = 'Data inválida. Escolhe-a no calendário ou deixa o campo em branco.';
      } else if (v.birthDate <= '1900-01-01') {
        errors.birthDate = BIRTH_DATE_OLD;
      } else if (v.birthDate >= todayIso()) {
        errors.birthDate = BIRTH_DATE_FUTURE;
      }
    }
    if (!['', 'M', 'F', 'O'].includes(v.gender)) errors.gender = 'Escolhe uma das opções de género.';
    if (v.city.trim().length > 80) errors.city = tooLong('A cidade', v.city.trim().length);
    return errors;
  }

  // the server's texts (guestlist/web/inputs.py, sql/40_register.sql)
  const BIRTH_DATE_OLD =
    'Indica uma data de nascimento real, depois de 1900, ou deixa o campo em branco.';
  const BIRTH_DATE_FUTURE =
    'A data de nascimento tem de ser anterior a hoje. Corrige-a ou deixa-a em branco.';
  const PHONE_REQUIRED = 'Indica o teu número de telemóvel.';
  const PHONE_INVALID = 'Número de telemóvel inválido. Confirma os dígitos, por exemplo 935 886 310.';

  // A name, surname or city past the server's 80 characters: said, never cut.
  function tooLong(what, length) {
    return `${what} pode ter no máximo 80 caracteres (tem ${length}). Encurta-o.`;
  }

  // A Portuguese number as people write it (935 886 310); any other as typed.
  function phoneForDisplay(phone) {
    const digits = phone.replace(/[\s().-]/g, '');
    const national = digits.replace(/^(\+|00)351/, '');
    if (/^\d{9}$/.test(national)) {
      return `${national.slice(0, 3)} ${national.slice(3, 6)} ${national.slice(6)}`;
    }
    return phone;
  }

  function showPhoneInUse(phone) {
    for (const el of document.querySelectorAll('[data-phone-in-use]')) {
      el.textContent = phoneForDisplay(phone);
    }
  }

  function phoneLooksValid(phone) {
    const digits = phone.replace(/\D/g, '');
    return /^[+\d\s().-]+$/.test(phone.trim()) && digits.length >= 9 && digits.length <= 15;
  }

  // --- page state and elements ----------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  // signedIn: this page shows the pass of the device's session; holder: the device holds a
  // session (maybe someone else's) with no pass for this event
  const state = {
    page: null, phone: '', firstName: '', busy: false, signedIn: false, holder: false, pass: null,
  };

  const MESSAGES = {
    network: 'Sem ligação. Verifica a tua rede e tenta novamente.',
    internal: 'Ocorreu um erro. Tenta novamente daqui a pouco.',
    // the form was sent again RESUBMITS times and each answer was lost (viaQueue)
    retries_spent: 'Não conseguimos falar com o servidor. O que escreveste continua aqui: ' +
      'verifica a tua rede e carrega de novo no botão.',
    invalid_credentials: 'Palavra-passe incorreta. Tenta novamente.',
    guest_list_closed: 'A lista de convidados deste evento já fechou. Fala com o teu promotor.',
    guest_list_full: 'A lista de convidados deste evento está completa. Fala com o teu promotor.',
    event_not_found: 'Evento não encontrado. Confirma o link com quem to enviou.',
    promoter_quota_full:
      'A lista deste promotor para este evento está completa. Fala com o teu promotor.',
    too_young:
      'Este evento tem idade mínima e ainda não a tens. Fala com o teu promotor se for um erro.',
    birth_date_required: 'Este evento tem idade mínima. Indica a tua data de nascimento.',
    birth_date_known: 'A tua data de nascimento já está registada. Entra com a tua palavra-passe.',
    promoter_not_found:
      'Este link de promotor já não é válido para este evento. Pede um novo ao teu promotor.',
    logout_offline:
      'Sem ligação: para terminares a sessão neste dispositivo precisas de rede. Tenta de novo quando tiveres sinal.',
    reset_link_invalid:
      'Este link já não é válido: foi usado, substituído por outro mais recente ou passaram ' +
      '30 minutos. Entra com o teu número e escolhe «Esqueci-me da palavra-passe» outra vez.',
  };

  function secondsText(seconds) {
    if (!(seconds > 0)) return 'daqui a pouco';
    if (seconds < 90) return `daqui a ${Math.ceil(seconds)} segundos`;
    return `daqui a ${Math.ceil(seconds / 60)} minutos`;
  }

  function messageFor(data) {
    const code = data && data.code;
    if (code === 'rate_limited' || code === 'queue_full') {
      return `Demasiados pedidos. Tenta novamente ${secondsText(data.retry_after)}.`;
    }
    if (code === 'account_locked') {
      return `Demasiadas tentativas falhadas. Tenta novamente ${secondsText(data.retry_after)}.`;
    }
    if (MESSAGES[code]) return MESSAGES[code];
    if (data && typeof data.error === 'string' && data.error) return data.error;
    return MESSAGES.internal;
  }

  function showAlert(text) {
    const el = $('alert');
    el.textContent = text || '';
    el.hidden = !text;
  }

  function showStep(name) {
    for (const section of document.querySelectorAll('[data-step]')) {
      section.hidden = section.dataset.step !== name;
    }
    // one guest per device: said where a second guest would sign in over the first
    $('device-holder').hidden =
      !(state.holder || state.signedIn) || !['phone', 'login', 'register'].includes(name);
    const heading = document.querySelector(`[data-step="${name}"] h2`);
    if (heading && name !== 'loading') heading.focus({ preventScroll: false });
  }

  function setFieldError(inputId, text) {
    const input = $(inputId);
    const error = $(`${inputId}-error`);
    if (!input || !error) return false;
    error.textContent = text || '';
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    return true;
  }

  function clearErrors(form) {
    showAlert('');
    for (const input of form.querySelectorAll('input, select')) {
      if (input.id) setFieldError(input.id, '');
    }
    for (const warning of form.querySelectorAll('[data-warning]')) warning.hidden = true;
    stopCountdown();
  }

  // A lock's length as said in a sentence: "15 minutos", "1 minuto".
  function minutesText(minutes) {
    return minutes === 1 ? '1 minuto' : `${minutes} minutos`;
  }

  // A wait as the countdown shows it: "14 min 05 s", "42 s".
  function waitText(seconds) {
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return m > 0 ? `${m} min ${String(s).padStart(2, '0')} s` : `${s} s`;
  }

  // The lock's wait counting down under the warning, once a second (not read aloud each
  // second: aria-live off); at zero it says the guest may try again.
  let countdownTimer = null;

  function stopCountdown() {
    if (countdownTimer !== null) clearInterval(countdownTimer);
    countdownTimer = null;
  }

  function startCountdown(seconds) {
    stopCountdown();
    const el = $('login-warning-wait');
    const until = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      el.textContent = left > 0
        ? `Podes tentar de novo daqui a ${waitText(left)}.`
        : 'Já podes tentar de novo: escreve a tua palavra-passe.';
      if (left === 0) {
        $('login-warning-text').textContent = 'O bloqueio terminou neste dispositivo.';
        stopCountdown();
      }
    };
    el.hidden = false;
    tick();
    countdownTimer = setInterval(tick, 1000);
  }

  // The login step's warning with the way out, a reset link by email: when one more wrong
  // password locks this device out of the account (attempts_left 1: for how many minutes), or
  // once it did (0, or account_locked: the wait counting down). Any other refusal shows none.
  function showLoginWarning(data) {
    let text = '';
    let wait = 0;
    const minutes = Number.isInteger(data.lock_minutes) && data.lock_minutes > 0
      ? data.lock_minutes : 0;
    const lasting = minutes ? `durante ${minutesText(minutes)}` : 'durante algum tempo';
    if (data.code === 'invalid_credentials' && data.attempts_left === 1) {
      text = `Atenção: se a próxima palavra-passe também estiver errada, a conta fica ` +
        `bloqueada neste dispositivo ${lasting}. Não tens a certeza? Pede um link ` +
        `para definires uma nova.`;
    } else if (data.code === 'invalid_credentials' && data.attempts_left === 0) {
      text = `Demasiadas tentativas falhadas: a conta ficou bloqueada neste dispositivo ` +
        `${lasting}. Espera, ou define já uma nova palavra-passe por email.`;
      wait = minutes * 60;
    } else if (data.code === 'account_locked') {
      text = 'Demasiadas tentativas falhadas: a conta está bloqueada neste dispositivo. ' +
        'Espera, ou define já uma nova palavra-passe por email.';
      wait = data.retry_after > 0 ? Math.ceil(data.retry_after) : 0;
    }
    $('login-warning-text').textContent = text;
    $('login-warning').hidden = !text;
    $('login-warning-wait').hidden = true;
    if (wait > 0) startCountdown(wait);
    else stopCountdown();
    return Boolean(text);
  }

  // Server field errors ({field: JSON key, message}) shown on their inputs; the rest as an alert.
  function showServerErrors(data, prefix) {
    const errors = Array.isArray(data.errors) ? data.errors : [];
    const unplaced = [];
    let first = null;
    for (const err of errors) {
      const id = `${prefix}${err.field}`;
      if (setFieldError(id, err.message)) {
        first = first || id;
      } else {
        unplaced.push(err.message);
      }
    }
    if (unplaced.length || !errors.length) showAlert(unplaced.join(' ') || messageFor(data));
    if (first) $(first).focus();
  }

  function setBusy(form, busy) {
    state.busy = busy;
    for (const button of form.querySelectorAll('button')) button.disabled = busy;
  }

  // --- rendering --------------------------------------------------------------------------------

  const dateFormat = new Intl.DateTimeFormat('pt-PT', {
    timeZone: 'Europe/Lisbon',
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });

  function renderEvent(page) {
    const event = page.event || {};
    $('event-title').textContent = event.title || 'Lista de convidados';
    $('event-org').textContent = (page.organization && page.organization.name) || '';
    const when = event.startsAt ? new Date(event.startsAt) : null;
    if (when && !Number.isNaN(when.getTime())) {
      $('event-date').textContent = dateFormat.format(when);
      $('event-date').dateTime = when.toISOString();
    }
    $('event-location').textContent = event.location || '';
    const promoter = page.promoter && page.promoter.displayName;
    $('event-promoter').textContent = promoter ? `Lista de ${promoter}` : '';
    if (event.title) document.title = `${event.title} · Lista de convidados`;
    renderPrivacy(page.organization || {});
  }

  // The privacy notice names the organization and its retention periods.
  function renderPrivacy(org) {
    const months = (n) => (n === 1 ? '1 mês' : `${n} meses`);
    if (org.name) {
      for (const el of document.querySelectorAll('[data-org-name]')) el.textContent = org.name;
    }
    if (Number.isInteger(org.guestRetentionMonths)) {
      for (const el of document.querySelectorAll('[data-guest-months]')) {
        el.textContent = months(org.guestRetentionMonths);
      }
    }
    if (Number.isInteger(org.accountRetentionMonths)) {
      for (const el of document.querySelectorAll('[data-account-months]')) {
        el.textContent = months(org.accountRetentionMonths);
      }
    }
  }

  function openPrivacy(event) {
    event.preventDefault();
    const notice = $('privacy-notice');
    notice.open = true;
    notice.scrollIntoView({ block: 'start' });
    notice.querySelector('summary').focus();
  }

  function downloadName(title) {
    const slug = (title || 'evento')
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60);
    return `convite-${slug || 'evento'}.png`;
  }

  // --- the ticket: a phone-screen PNG drawn here from the QR image (no library, no server) -----

  const TICKET = { width: 1080, height: 1920, margin: 60, qr: 760 };

  // Lines of at most `width` pixels in the context's current font, at most `max` of them.
  function wrapText(ctx, text, width, max) {
    const lines = [];
    let line = '';
    for (const word of String(text || '').split(/\s+/).filter(Boolean)) {
      const next = line ? `${line} ${word}` : word;
      if (line && ctx.measureText(next).width > width) {
        lines.push(line);
        line = word;
      } else {
        line = next;
      }
    }
    if (line) lines.push(line);
    if (lines.length > max) {
      lines.length = max;
      lines[max - 1] = `${lines[max - 1].replace(/\s*\S*$/, '')}…`;
    }
    return lines;
  }

  // "Ana Silva": the full name when the pass has it, else the first name.
  function guestName(pass) {
    return [pass.first_name, pass.last_name].filter((part) => part && String(part).trim())
      .join(' ');
  }

  async function ticketBlob(pass) {
    const event = pass.event || {};
    const qr = new Image();
    qr.src = api.qrImageUrl(pass.qr_code);
    await qr.decode();
    const { width, height, margin } = TICKET;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#047857';
    ctx.fillRect(0, 0, width, height);
    ctx.fillStyle = '#ffffff';
    ctx.beginPath();
    ctx.roundRect(margin, margin, width - 2 * margin, height - 2 * margin, 48);
    ctx.fill();

    const inner = width - 4 * margin;
    const font = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'alphabetic';
    let y = margin + 130;
    const org = state.page && state.page.organization && state.page.organization.name;
    if (org) {
      ctx.fillStyle = '#047857';
      ctx.font = `600 36px ${font}`;
      ctx.fillText(org.toUpperCase(), width / 2, y, inner);
      y += 90;
    }
    ctx.fillStyle = '#0f172a';
    ctx.font = `700 72px ${font}`;
    for (const line of wrapText(ctx, event.title || 'Lista de convidados', inner, 2)) {
      ctx.fillText(line, width / 2, y, inner);
      y += 84;
    }
    ctx.fillStyle = '#334155';
    ctx.font = `400 40px ${font}`;
    const when = event.startsAt ? new Date(event.startsAt) : null;
    if (when && !Number.isNaN(when.getTime())) {
      y += 10;
      for (const line of wrapText(ctx, dateFormat.format(when), inner, 2)) {
        ctx.fillText(line, width / 2, y, inner);
        y += 52;
      }
    }
    if (event.location) {
      for (const line of wrapText(ctx, event.location, inner, 2)) {
        ctx.fillText(line, width / 2, y, inner);
        y += 52;
      }
    }

    // the code as sharp squares: no smoothing when the image is scaled
    const size = TICKET.qr;
    const top = Math.max(y + 30, 640);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(qr, (width - size) / 2, top, size, size);

    // the guest's name as on their account: first and last (the pass of their own session)
    y = top + size + 100;
    ctx.fillStyle = '#0f172a';
    ctx.font = `700 60px ${font}`;
    for (const line of wrapText(ctx, guestName(pass), inner, 2)) {
      ctx.fillText(line, width / 2, y, inner);
      y += 70;
    }
    ctx.fillStyle = '#334155';
    ctx.font = `400 36px ${font}`;
    ctx.fillText('Mostra este código à entrada.', width / 2, Math.min(y + 10, height - margin - 50));

    return new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('toBlob'))), 'image/png');
    });
  }

  async function onTicketDownload(event) {
    const button = event.currentTarget;
    if (!state.pass) return;
    button.disabled = true;
    showAlert('');
    let blob = null;
    try {
      state.pass = await completePass(state.pass);
      blob = await ticketBlob(state.pass);
    } catch (_err) {
      blob = null;
    }
    button.disabled = false;
    if (!blob) {
      showAlert('Não foi possível criar a imagem do convite. Tenta novamente.');
      return;
    }
    const url = URL.createObjectURL(blob);
    const link = document.createElement('a');
    link.href = url;
    link.download = downloadName(state.pass.event && state.pass.event.title);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  // --- this device's pass without signal (static/guest-sw.js serves it from these caches) ----

  const PASS_CACHE = 'guestlist-pass-v1';
  const SHELL_CACHE = 'guestlist-shell-v1';
  const passKey = (eventId) => `/guest-pass/${encodeURIComponent(eventId)}`;
  const hasCaches = () => 'caches' in window;

  // Everything this device kept of its guest: signing out, erasing, another guest signing in.
  async function forgetPass() {
    if (!hasCaches()) return;
    try {
      await caches.delete(PASS_CACHE);
    } catch (_err) {
      // nothing kept
    }
  }

  // The pass just shown, and its QR image, kept for this event; the page itself too, for an
  // offline reload. A new sign-in starts from an empty store, so no pass of the device's
  // previous session survives it. Resolves true once kept.
  async function savePass(pass, newSession) {
    if (!hasCaches() || !pass.event || !pass.event.id) return false;
    try {
      if (newSession) await caches.delete(PASS_CACHE);
      const url = api.qrImageUrl(pass.qr_code);
      const image = await fetch(url, { credentials: 'same-origin' });
      if (!image.ok) return false;
      const kept = {
        guest_id: pass.guest_id,
        qr_code: pass.qr_code,
        first_name: pass.first_name,
        last_name: pass.last_name,
        event: pass.event,
      };
      const cache = await caches.open(PASS_CACHE);
      await cache.put(url, image);
      await cache.put(
        passKey(pass.event.id),
        new Response(JSON.stringify(kept), { headers: { 'Content-Type': 'application/json' } }),
      );
      const shell = await caches.open(SHELL_CACHE);
      const here = window.location.pathname;
      if (!(await shell.match(here))) await shell.add(here);
      return true;
    } catch (_err) {
      return false;
    }
  }

  async function keptPass(eventId) {
    if (!hasCaches()) return null;
    try {
      const cache = await caches.open(PASS_CACHE);
      const kept = await cache.match(passKey(eventId));
      return kept ? await kept.json() : null;
    } catch (_err) {
      return null;
    }
  }

  // Installable (a manifest) and offline (the service worker) once the guest has a pass.
  async function becomeApp() {
    if (!document.querySelector('link[rel="manifest"]')) {
      const link = document.createElement('link');
      link.rel = 'manifest';
      link.href = `${window.location.pathname.replace(/\/+$/, '').toLowerCase()}/manifest.webmanifest`;
      document.head.append(link);
    }
    if (!('serviceWorker' in navigator)) return;
    try {
      await navigator.serviceWorker.register('/sw.js', { scope: '/promotor/' });
    } catch (_err) {
      // the page works without it, only not offline
    }
  }

  // A pass from a login or registration carries the first name only; the session's own pass
  // (asked with the cookie just set) adds the last name, for the ticket and the kept copy.
  async function completePass(pass) {
    if (pass.last_name || !pass.event || !pass.event.id) return pass;
    const back = await api.sessionPass(pass.event.id);
    const guest = back.ok && back.data && back.data.guest;
    if (!guest || guest.qr_code !== pass.qr_code || !guest.last_name) return pass;
    return Object.assign({}, pass, { last_name: guest.last_name });
  }

  async function keepOffline(pass, newSession) {
    await becomeApp();
    const full = await completePass(pass);
    if (state.pass && state.pass.qr_code === full.qr_code) state.pass = full;
    if (await savePass(full, newSession)) {
      const note = $('qr-offline');
      note.textContent = 'Este código fica guardado neste dispositivo: abre-o mesmo sem rede.';
      note.hidden = false;
    }
  }

  // --- steps in the browser's history: Back and Forward move between them -------------------

  function remember(step, replace) {
    const entry = { step, phone: state.phone };
    if (replace) window.history.replaceState(entry, '');
    else window.history.pushState(entry, '');
  }

  function firstStep() {
    return state.page && state.page.guestListOpen ? 'phone' : 'closed';
  }

  function onPopState(event) {
    const entry = event.state;
    if (!entry || !entry.step || !state.page || state.busy) return;
    showAlert('');
    if (entry.step === 'qr' && state.signedIn && state.pass) {
      showStep('qr');
    } else if ((entry.step === 'login' || entry.step === 'register') && entry.phone) {
      // the step as it was left: the typed fields stay in their forms
      state.phone = entry.phone;
      $('phone').value = entry.phone;
      $('login-username').value = entry.phone;
      showStep(entry.step);
    } else {
      showStep(firstStep());
    }
  }

  // The QR image is a GET the browser makes by itself: one that fails (an instance restarting,
  // the database failing over) is asked again 1, 2, 4 and 8 s later, so the guest is not left
  // with a broken image of the code they came for.
  const QR_IMAGE_RETRIES = 4;

  function showQrImage(url) {
    const image = $('qr-image');
    let tries = 0;
    image.onerror = () => {
      if (tries >= QR_IMAGE_RETRIES) return;
      const wait = 1000 * 2 ** tries;
      tries += 1;
      setTimeout(() => {
        if (image.dataset.src === url) image.src = `${url}?tentativa=${tries}`;
      }, wait);
    };
    image.dataset.src = url;
    image.src = url;
  }

  // source: 'signin' (a login or registration just now: a new session), 'session' (the
  // device's session, from the server) or 'kept' (this device's copy, without signal)
  function showQr(pass, source) {
    const event = pass.event || (state.page && state.page.event) || {};
    const url = api.qrImageUrl(pass.qr_code);
    $('qr-greeting').textContent = pass.first_name
      ? `${pass.first_name}, estás na lista!`
      : 'Estás na lista!';
    $('qr-event').textContent = event.title || '';
    showQrImage(url);
    state.pass = Object.assign({}, pass, { event });
    state.signedIn = true;
    state.holder = false;
    showAlert('');
    showStep('qr');
    remember('qr', true);
    const note = $('qr-offline');
    note.hidden = source !== 'kept';
    note.textContent = source === 'kept' ? 'Sem rede: este é o código guardado neste dispositivo.' : '';
    if (source !== 'kept') keepOffline(state.pass, source === 'signin');
  }

  // A new sign-in on a device that holds a session ends that session first (server-side), so
  // the device holds one guest at a time; its kept pass goes when the new one is kept.
  async function endPreviousSession() {
    if (!state.holder && !state.signedIn) return;
    const out = await api.logout();
    if (out.ok) {
      state.holder = false;
      state.signedIn = false;
      await forgetPass();
    }
  }

  async function restart() {
    // "Não és tu?": the next person on this device must not get the last one's QR code back
    // the session ends on the server before the phone step; without signal it cannot, and the
    // pass stays
    const signOut = state.signedIn;
    if (signOut) {
      const out = await api.logout();
      if (!out.ok) {
        showAlert(out.status === 0 ? MESSAGES.logout_offline : messageFor(out.data));
        return;
      }
      state.signedIn = false;
      state.holder = false;
      state.pass = null;
      await forgetPass();
      $('qr-offline').hidden = true;
    }
    state.phone = '';
    state.firstName = '';
    for (const form of document.querySelectorAll('form')) {
      form.reset();
      clearErrors(form);
    }
    $('login-birth').hidden = true;
    showStep(firstStep());
    // signed out: the pass's place in the history becomes the phone step
    remember(firstStep(), signOut);
    if (state.page && state.page.guestListOpen) $('phone').focus();
  }

  // "Alterar": back to the phone step with the number in its field; what was typed on the
  // login or register step stays there.
  function changePhone() {
    showAlert('');
    $('phone').value = state.phone;
    showStep('phone');
    $('phone').focus();
  }

  function attribution() {
    const page = state.page || {};
    const body = { eventId: page.event && page.event.id };
    if (page.promoter && page.promoter.id) body.promoterId = page.promoter.id;
    if (page.teamId) body.teamId = page.teamId;
    return body;
  }

  // --- steps ------------------------------------------------------------------------------------

  async function onPhoneSubmit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (state.busy) return;
    clearErrors(form);
    const phone = $('phone').value.trim();
    if (!phone || !phoneLooksValid(phone)) {
      setFieldError('phone', phone ? PHONE_INVALID : PHONE_REQUIRED);
      $('phone').focus();
      return;
    }
    setBusy(form, true);
    const { ok, data } = await api.verifyPhone(phone);
    setBusy(form, false);
    if (!ok) {
      if (data.code === 'invalid_input') showServerErrors(data, '');
      else showAlert(messageFor(data));
      return;
    }
    state.phone = phone;
    showPhoneInUse(phone);
    if (data.exists) {
      clearErrors($('form-login')); // another number's warning is not this one's
      $('login-birth').hidden = true; // nor its missing birth date
      // no name before the password: the greeting by name comes with the QR code
      $('login-greeting').textContent = 'Olá de novo!';
      $('login-username').value = phone;
      showStep('login');
      remember('login');
      $('login-password').focus();
    } else {
      showStep('register');
      remember('register');
      $('reg-firstName').focus();
    }
  }

  async function onLoginSubmit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (state.busy) return;
    clearErrors(form);
    const password = $('login-password').value;
    if (!password) {
      setFieldError('login-password', 'Indica a tua palavra-passe.');
      $('login-password').focus();
      return;
    }
    // asked once: an account without a birth date, on an event with a minimum age
    const birthDate = $('login-birth').hidden ? '' : $('login-birthDate').value;
    if (!$('login-birth').hidden && !/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) {
      setFieldError('login-birthDate', MESSAGES.birth_date_required);
      $('login-birthDate').focus();
      return;
    }
    setBusy(form, true);
    if (birthDate) {
      const given = await api.giveBirthDate({ phone: state.phone, password, birthDate });
      if (!given.ok && given.data.code !== 'birth_date_known') {
        setBusy(form, false);
        if (given.data.code === 'invalid_input') showServerErrors(given.data, 'login-');
        else showAlert(messageFor(given.data));
        return;
      }
      $('login-birth').hidden = true;
    }
    showStep('processing');
    await endPreviousSession();
    const { ok, data } = await viaQueue('login', {
      phone: state.phone,
      password,
      ...attribution(),
    });
    setBusy(form, false);
    if (ok) {
      showQr(data, 'signin');
      return;
    }
    showStep('login');
    const warned = showLoginWarning(data);
    if (data.code === 'invalid_credentials') {
      setFieldError('login-password', data.attempts_left === 0
        ? 'Palavra-passe incorreta. Lê o aviso abaixo.'
        : messageFor(data));
      $('login-password').value = '';
      $('login-password').focus();
    } else if (data.code === 'invalid_input') {
      showServerErrors(data, 'login-');
    } else if (data.code === 'birth_date_required') {
      $('login-birth').hidden = false;
      $('login-birthDate').focus();
    } else if (!warned) {
      showAlert(messageFor(data));
    }
  }

  function registrationValues() {
    const value = (name) => $(`reg-${name}`).value;
    return {
      firstName: value('firstName'),
      lastName: value('lastName'),
      email: value('email'),
      birthDate: value('birthDate'),
      gender: value('gender'),
      city: value('city'),
      password: value('password'),
      confirmPassword: value('confirmPassword'),
    };
  }

  async function onRegisterSubmit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (state.busy) return;
    clearErrors(form);
    const v = registrationValues();
    const errors = registrationErrors(v);
    const fields = Object.keys(errors);
    if (fields.length) {
      for (const field of fields) setFieldError(`reg-${field}`, errors[field]);
      $(`reg-${fields[0]}`).focus();
      return;
    }
    const body = {
      phone: state.phone,
      firstName: v.firstName.trim(),
      lastName: v.lastName.trim(),
      email: v.email.trim(),
      password: v.password,
      ...attribution(),
    };
    if (v.birthDate) body.birthDate = v.birthDate;
    if (v.gender) body.gender = v.gender;
    if (v.city.trim()) body.city = v.city.trim();
    setBusy(form, true);
    showStep('processing');
    await endPreviousSession();
    const { ok, data } = await viaQueue('register', body);
    setBusy(form, false);
    if (ok) {
      showQr(data, 'signin');
      return;
    }
    showStep('register');
    if (data.code === 'invalid_input') {
      showServerErrors(data, 'reg-');
    } else if (data.code === 'phone_exists') {
      $('login-greeting').textContent = 'Olá de novo!';
      $('login-username').value = state.phone;
      showStep('login');
      showAlert(data.error || 'Este telemóvel já está registado. Entra com a tua palavra-passe.');
      $('login-password').focus();
    } else {
      showAlert(messageFor(data));
    }
  }

  // --- the guest's own data ---------------------------------------------------------------------

  const SESSION_EXPIRED = 'A tua sessão expirou. Entra de novo para gerires os teus dados.';

  async function onDataDownload(event) {
    const button = event.currentTarget;
    button.disabled = true;
    showAlert('');
    let response;
    try {
      response = await api.myData();
    } catch (_err) {
      response = null;
    }
    button.disabled = false;
    if (!response || !response.ok) {
      let data = { code: response ? 'internal' : 'network' };
      if (response) data = await response.json().catch(() => data);
      if (response && response.status === 401) showAlert(SESSION_EXPIRED);
      else showAlert(messageFor(data));
      return;
    }
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement('a');
    link.href = url;
    link.download = 'os-meus-dados.json';
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function onEraseSubmit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (state.busy) return;
    clearErrors(form);
    if (!$('erase-confirm').checked) {
      setFieldError('erase-confirm', 'Confirma que queres apagar a tua conta.');
      $('erase-confirm').focus();
      return;
    }
    setBusy(form, true);
    const { ok, status, data } = await api.erase();
    setBusy(form, false);
    if (ok) {
      form.reset();
      $('my-data').open = false;
      state.phone = '';
      state.firstName = '';
      state.signedIn = false;
      state.pass = null;
      await forgetPass();
      showAlert('');
      showStep('erased');
      remember('erased', true);
      return;
    }
    showAlert(status === 401 ? SESSION_EXPIRED : messageFor(data));
  }

  // --- start ------------------------------------------------------------------------------------

  // --- a forgotten password ------------------------------------------------------------------

  // The link's token arrives in the fragment (#redefinir=…), which no server sees; it is taken
  // out of the address at once, so it stays in neither the history nor a shared screenshot.
  const RESET_FRAGMENT = '#redefinir=';

  function takeResetToken() {
    const hash = window.location.hash;
    if (!hash.startsWith(RESET_FRAGMENT)) return null;
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    const token = hash.slice(RESET_FRAGMENT.length);
    return /^[0-9a-f]{64}$/.test(token) ? token : '';
  }

  async function onForgotPassword(event) {
    const button = event.currentTarget;
    if (state.busy) return;
    clearErrors($('form-login'));
    setBusy($('form-login'), true);
    const { ok, data } = await api.passwordReset({
      phone: state.phone,
      eventId: attribution().eventId,
      promoterId: attribution().promoterId,
    });
    setBusy($('form-login'), false);
    if (!ok) {
      showAlert(messageFor(data));
      button.focus();
      return;
    }
    $('reset-sent-text').textContent = data.message;
    showStep('reset-sent');
  }

  // The link opened where the page already is (pasted into its address bar, or a mail read in
  // the same tab): only the fragment changes, so no load runs start() again.
  function onHashChange() {
    if (!state.page || state.busy) return; // start() reads the address itself once loaded
    const token = takeResetToken();
    if (token === null) return;
    state.resetToken = token;
    showAlert('');
    if (token) {
      showStep('reset');
    } else {
      showAlert(MESSAGES.reset_link_invalid);
      showStep(firstStep());
    }
  }

  async function onResetSubmit(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (state.busy) return;
    clearErrors(form);
    const password = $('reset-password').value;
    if (!password) {
      setFieldError('reset-password', 'Escolhe uma nova palavra-passe.');
      $('reset-password').focus();
      return;
    }
    setBusy(form, true);
    const { ok, data } = await api.passwordResetConfirm({ token: state.resetToken, password });
    setBusy(form, false);
    if (ok) {
      state.resetToken = null;
      $('reset-password').value = '';
      await restart();
      showAlert(data.message);
      return;
    }
    if (data.code === 'invalid_input') {
      showServerErrors(data, 'reset-');
    } else {
      showAlert(messageFor(data));
    }
  }

  function inlinePageData() {
    const el = $('page-data');
    if (!el) return null;
    try {
      const data = JSON.parse(el.textContent);
      return data && data.event && data.event.id ? data : null;
    } catch (_err) {
      return null;
    }
  }

  async function loadPage() {
    const inline = inlinePageData();
    if (inline) return inline;
    const match = window.location.pathname.match(/^\/promotor\/([^/]+)\/([^/]+)\/?$/);
    if (!match) return null;
    const { ok, data } = await api.pageData(
      decodeURIComponent(match[1]),
      decodeURIComponent(match[2]),
    );
    return ok ? data : null;
  }

  async function start() {
    $('form-phone').addEventListener('submit', onPhoneSubmit);
    $('form-login').addEventListener('submit', onLoginSubmit);
    $('form-register').addEventListener('submit', onRegisterSubmit);
    for (const button of document.querySelectorAll('[data-action="restart"]')) {
      button.addEventListener('click', restart);
    }
    for (const button of document.querySelectorAll('[data-action="change-phone"]')) {
      button.addEventListener('click', changePhone);
    }
    for (const link of document.querySelectorAll('[data-action="privacy"]')) {
      link.addEventListener('click', openPrivacy);
    }
    $('data-download').addEventListener('click', onDataDownload);
    $('qr-download').addEventListener('click', onTicketDownload);
    window.addEventListener('popstate', onPopState);
    $('form-erase').addEventListener('submit', onEraseSubmit);
    $('forgot-password').addEventListener('click', onForgotPassword);
    $('login-warning-reset').addEventListener('click', onForgotPassword);
    $('form-reset').addEventListener('submit', onResetSubmit);
    window.addEventListener('hashchange', onHashChange);
    state.resetToken = takeResetToken();

    state.page = await loadPage();
    if (!state.page) {
      showAlert('Não foi possível carregar este evento. Tenta novamente daqui a pouco.');
      showStep('none');
      return;
    }
    renderEvent(state.page);

    if (state.resetToken !== null) {
      // a link from the reset mail: the new password first, whoever this device holds
      if (state.resetToken) {
        showStep('reset');
      } else {
        showAlert(MESSAGES.reset_link_invalid);
        showStep('phone');
      }
      return;
    }

    // A device that already got its QR code for this event sees it again without logging in.
    const back = await api.sessionPass(state.page.event.id);
    if (back.ok && back.data.guest && back.data.guest.qr_code) {
      showQr(back.data.guest, 'session');
      return;
    }
    if (back.status === 0) {
      // no signal: the pass this device kept for this event, if any
      const kept = await keptPass(state.page.event.id);
      if (kept && kept.qr_code) {
        showQr(kept, 'kept');
        return;
      }
    } else if (back.ok && !back.data.session) {
      await forgetPass(); // no session (signed out, expired): nor its kept pass
    } else if (back.ok) {
      state.holder = true; // a session, without a place on this event's list
    }
    if (!state.page.guestListOpen) {
      showStep('closed');
      return;
    }
    showStep('phone');
    remember('phone', true);
    if (back.status === 0) showAlert(MESSAGES.network);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
