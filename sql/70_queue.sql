-- The guest job queue (table app.guest_jobs): enqueue a login or register,
-- work one job (claim, call the seed function, finish, NOTIFY: one
-- transaction), read a job's status, the queue's depth, and its cleanup.
SET LOCAL ROLE guestlist_owner;

-- Keeps app.guest_job_counts: +1 when a job becomes pending (waiting, active,
-- delayed), -1 when it stops being pending. It never waits for a slot another
-- transaction holds: it takes the first free one from its backend's own
-- (SKIP LOCKED; a slot this transaction holds already counts as free). A wait
-- there could close a cycle: a worker's batch holds its slot until it commits
-- while its next job waits for an event row, whose holder then waits for that
-- slot (deadlock 40P01). Only when all 16 are held does it wait for its own.
CREATE OR REPLACE FUNCTION app._guest_jobs_count()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_delta integer;
  v_own smallint := pg_backend_pid() % 16;
  v_slot smallint;
BEGIN
  v_delta := CASE
    WHEN TG_OP = 'INSERT' THEN 1
    WHEN TG_OP = 'DELETE' THEN -1
    WHEN NEW.status IN ('waiting', 'active', 'delayed') THEN 1
    ELSE -1 END;
  SELECT c.slot INTO v_slot FROM app.guest_job_counts c
  ORDER BY (c.slot - v_own + 16) % 16
  LIMIT 1
  FOR UPDATE SKIP LOCKED;
  UPDATE app.guest_job_counts c SET pending = c.pending + v_delta
  WHERE c.slot = coalesce(v_slot, v_own);
  RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER guest_jobs_count_insert
AFTER INSERT ON app.guest_jobs
FOR EACH ROW WHEN (NEW.status IN ('waiting', 'active', 'delayed'))
EXECUTE FUNCTION app._guest_jobs_count();

CREATE OR REPLACE TRIGGER guest_jobs_count_update
AFTER UPDATE OF status ON app.guest_jobs
FOR EACH ROW WHEN ((OLD.status IN ('waiting', 'active', 'delayed'))
                   IS DISTINCT FROM (NEW.status IN ('waiting', 'active', 'delayed')))
EXECUTE FUNCTION app._guest_jobs_count();

CREATE OR REPLACE TRIGGER guest_jobs_count_delete
AFTER DELETE ON app.guest_jobs
FOR EACH ROW WHEN (OLD.status IN ('waiting', 'active', 'delayed'))
EXECUTE FUNCTION app._guest_jobs_count();

-- Pending jobs (waiting + active + delayed): the sum of 16 counter rows.
-- (The helpers on the enqueue and work paths are PL/pgSQL, not SQL: a SQL
-- function with SET search_path is planned again at every call.)
CREATE OR REPLACE FUNCTION app._pending_jobs()
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN (SELECT coalesce(sum(c.pending), 0)::bigint FROM app.guest_job_counts c);
END
$$;

-- The advisory lock a worker holds on the job in hand (class 7040, key
-- hashtext(id)): lets status and depth see 'active' jobs, which other
-- transactions otherwise see as waiting until the worker commits.
CREATE OR REPLACE FUNCTION app._job_lock_key(p_job_id uuid)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN hashtext(p_job_id::text);
END
$$;

-- How many seconds until `p_pending` jobs are done, at the workers' drain
-- rate (app._drain_rate, sql/76_queue_admission.sql: measured, or the
-- configured capacity while unmeasured).
CREATE OR REPLACE FUNCTION app._queue_seconds(p_pending bigint)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN greatest(1, ceil(greatest(p_pending, 0) / app._drain_rate()))::integer;
END
$$;

-- Payload keys that are neither absent, null nor a string: field errors.
CREATE OR REPLACE FUNCTION app._payload_type_errors(p_payload jsonb, p_keys text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
  v_errors jsonb := '[]'::jsonb;
BEGIN
  FOREACH v_key IN ARRAY p_keys LOOP
    IF jsonb_typeof(p_payload -> v_key) NOT IN ('string', 'null') THEN
      v_errors := v_errors || jsonb_build_object('field', v_key, 'code', 'wrong_type',
                                                 'message', 'Envia este campo como texto.');
    END IF;
  END LOOP;
  RETURN v_errors;
END
$$;

-- Text → uuid (32 hex digits, hyphens optional between the groups), or
-- NULL when it is not one. A pattern, not an exception block: no
-- subtransaction on the enqueue path.
CREATE OR REPLACE FUNCTION app._try_uuid(p_text text)
RETURNS uuid
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_text ~ '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$' THEN
    RETURN p_text::uuid;
  END IF;
  RETURN NULL;
END
$$;

-- Text (YYYY-MM-DD) → date, or NULL when it is not one. (The exception block
-- is a subtransaction: entered only when there is a date to try.)
CREATE OR REPLACE FUNCTION app._try_date(p_text text)
RETURNS date
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF p_text IS NULL OR p_text !~ '^\d{4}-\d{2}-\d{2}$' THEN
    RETURN NULL;
  END IF;
  BEGIN
    RETURN p_text::date;
  EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
    RETURN NULL;
  END;
END
$$;

-- A job's payload checked as the seed function would check its arguments,
-- reduced to that function's parameters (names without p_), the phone in
-- E.164 and ids in canonical form. Bad input: PT400 invalid_input naming
-- every bad field, so an invalid body never reaches the queue.
CREATE OR REPLACE FUNCTION app._job_payload(p_kind text, p_payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_keys text[];
  v_errors jsonb;
  v_phone text;
  v_event uuid;
  v_event_given uuid;
  v_promoter uuid;
  v_team uuid;
  v_birth date;
  v_out jsonb;
BEGIN
  IF p_kind IS NULL OR p_kind NOT IN ('login', 'register') THEN
    PERFORM app._invalid_field('kind', 'Tipo de pedido inválido. Usa login ou register.');
  END IF;
  IF p_payload IS NULL OR jsonb_typeof(p_payload) <> 'object' THEN
    PERFORM app._invalid_field('payload', 'Pedido vazio ou mal formado. Envia os campos do formulário.');
  END IF;
  v_keys := CASE p_kind
    WHEN 'login' THEN ARRAY['phone', 'password', 'event_id', 'promoter_id', 'team_id']
    ELSE ARRAY['phone', 'first_name', 'last_name', 'email', 'password', 'event_id',
               'promoter_id', 'team_id', 'birth_date', 'gender', 'city'] END;
  v_errors := app._payload_type_errors(p_payload, v_keys);
  IF jsonb_array_length(v_errors) > 0 THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'),
                       jsonb_build_object('errors', v_errors));
  END IF;

  v_phone := app._normalize_phone(p_payload ->> 'phone');
  v_event := app._try_uuid(p_payload ->> 'event_id');
  v_promoter := app._try_uuid(p_payload ->> 'promoter_id');
  v_team := app._try_uuid(p_payload ->> 'team_id');
  -- what the field checks see as the event: a malformed event_id is reported as
  -- invalid below, not as missing
  v_event_given := coalesce(v_event, CASE WHEN p_payload ->> 'event_id' IS NOT NULL
                                          THEN '00000000-0000-0000-0000-000000000000'::uuid END);

  IF p_kind = 'login' THEN
    -- the checks of api.authenticate_and_create_guest_v2
    v_errors := app._login_errors(p_payload ->> 'phone', p_payload ->> 'password', v_event_given);
  ELSE
    v_birth := app._try_date(p_payload ->> 'birth_date');
    v_errors := app._registration_errors(
      p_payload ->> 'phone', p_payload ->> 'first_name', p_payload ->> 'last_name',
      p_payload ->> 'email', p_payload ->> 'password', v_event_given,
      v_birth, p_payload ->> 'gender', p_payload ->> 'city');
    IF p_payload ->> 'birth_date' IS NOT NULL AND v_birth IS NULL THEN
      v_errors := v_errors || jsonb_build_object('field', 'birth_date', 'code', 'invalid',
                                                 'message', 'Indica a data de nascimento como AAAA-MM-DD, ou deixa-a em branco.');
    END IF;
  END IF;
  -- ids the function's uuid parameters could not take
  IF p_payload ->> 'event_id' IS NOT NULL AND v_event IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'event_id', 'code', 'invalid',
                                               'message', 'Identificador inválido. Abre de novo o link que recebeste do promotor.');
  END IF;
  IF p_payload ->> 'promoter_id' IS NOT NULL AND v_promoter IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'promoter_id', 'code', 'invalid',
                                               'message', 'Identificador inválido. Abre de novo o link que recebeste do promotor.');
  END IF;
  IF p_payload ->> 'team_id' IS NOT NULL AND v_team IS NULL THEN
    v_errors := v_errors || jsonb_build_object('field', 'team_id', 'code', 'invalid',
                                               'message', 'Identificador inválido. Abre de novo o link que recebeste do promotor.');
  END IF;
  IF jsonb_array_length(v_errors) > 0 THEN
    PERFORM app._raise(400, 'invalid_input', app._message('invalid_input'),
                       jsonb_build_object('errors', v_errors));
  END IF;

  v_out := jsonb_build_object('phone', v_phone, 'password', p_payload ->> 'password',
                              'event_id', v_event, 'promoter_id', v_promoter, 'team_id', v_team);
  IF p_kind = 'register' THEN
    v_out := v_out || jsonb_build_object(
      'first_name', p_payload ->> 'first_name', 'last_name', p_payload ->> 'last_name',
      'email', p_payload ->> 'email', 'birth_date', v_birth,
      'gender', p_payload ->> 'gender', 'city', p_payload ->> 'city');
  END IF;
  RETURN jsonb_strip_nulls(v_out);
END
$$;

-- The sha256 kept for a job token: what api.guest_job_status compares.
CREATE OR REPLACE FUNCTION app._job_token_hash(p_token text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sha256(convert_to(p_token, 'UTF8'));
END
$$;

-- A new job token: 192 random bits, base64url (32 characters, no padding).
-- Handed to the submitter once; only app._job_token_hash of it is stored.
CREATE OR REPLACE FUNCTION app._new_job_token()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN translate(encode(public.gen_random_bytes(24), 'base64'), '+/', '-_');
END
$$;

-- The refusal a job gets when its secret is gone before a worker could use it
-- (a server crash empties app.guest_job_secrets) or it waited past
-- the setting job_pending_max_age_seconds: the guest has to submit again.
CREATE OR REPLACE FUNCTION app._job_expired()
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._refusal('job_expired',
    'O teu pedido expirou antes de ser processado. Submete-o novamente.');
END
$$;

-- Queue a login or register (p_kind) with the seed function's arguments
-- (p_payload, keys without p_). Rate-limited per client key, then validated
-- like the function itself (PT400 invalid_input). The password goes to the
-- unlogged app.guest_job_secrets, never to the job row. The submitter's
-- identical resubmission (the whole payload, password included) while the job
-- is pending joins that job (duplicate true); any other submission is a job of
-- its own, whoever it is about. Every answer carries a new jobToken, the only
-- way to read the job (api.guest_job_status). Past the setting queue_max_depth
-- pending jobs, or a backlog the workers would not finish within
-- queue_hold_seconds at their drain rate (sql/76_queue_admission.sql): PT503
-- queue_full with retry_after sized to the backlog. Returns {jobId, jobToken,
-- duplicate, estimatedSeconds}; a new job in a short queue NOTIFYs
-- guestlist_jobs_new so idle workers wake.
-- A login's lockout is decided by the worker from two payload keys set here:
-- lockout_key (the client key its failures count under) and device_user_id
-- (the account of p_session_token, the device's valid session, when it is
-- the phone's account). The session token itself is never stored.
CREATE OR REPLACE FUNCTION api.enqueue_guest_job(p_kind text, p_payload jsonb,
                                                 p_client_key text DEFAULT NULL,
                                                 p_session_token text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_payload jsonb;
  v_password text;
  v_submit bytea;
  v_key bytea;
  v_token text := app._new_job_token();
  v_id uuid;
  v_pending bigint;
  v_max bigint := app._config_int('queue_max_depth', 5000);
  v_retry integer;
BEGIN
  IF p_client_key IS NOT NULL THEN
    PERFORM app._enforce_rate_limit(CASE WHEN p_kind = 'login' THEN 'login' ELSE 'register' END,
                                    p_client_key);
  END IF;
  v_payload := app._job_payload(p_kind, p_payload);
  IF p_kind = 'login' THEN
    v_payload := v_payload || jsonb_strip_nulls(jsonb_build_object(
      'lockout_key', left(p_client_key, 100),
      'device_user_id', (SELECT cu.id FROM app.client_users cu
                         WHERE cu.id = app._session_user(p_session_token)
                           AND cu.phone = v_payload ->> 'phone')));
  END IF;
  v_submit := sha256(convert_to(p_kind || ':' || v_payload::text, 'UTF8'));
  v_password := v_payload ->> 'password';
  v_payload := v_payload - 'password';
  v_key := sha256(convert_to(p_kind || ':' || (v_payload ->> 'phone') || ':'
                             || (v_payload ->> 'event_id'), 'UTF8'));

  FOR i IN 1..3 LOOP
    -- a side row exists only while its job is pending
    SELECT s.job_id INTO v_id FROM app.guest_job_secrets s WHERE s.submit_hash = v_submit;
    IF v_id IS NOT NULL THEN
      INSERT INTO app.guest_job_tokens (job_id, token_hash)
      VALUES (v_id, app._job_token_hash(v_token));
      RETURN jsonb_build_object('jobId', v_id, 'jobToken', v_token, 'duplicate', true,
                                'estimatedSeconds', app._queue_seconds(app._pending_jobs()));
    END IF;

    v_pending := app._pending_jobs();
    IF v_pending >= v_max THEN
      -- come back when the queue should be down to 90% of its limit
      PERFORM app._raise(503, 'queue_full', 'Serviço sobrecarregado. Tenta novamente daqui a pouco.',
        jsonb_build_object('retry_after',
          least(120, app._queue_seconds(v_pending - (v_max * 9) / 10))));
    END IF;
    -- nothing the workers would finish after the page stopped waiting: come back
    -- when the backlog, at their drain rate, fits in queue_hold_seconds again
    v_retry := app._admission_retry_after(v_pending);
    IF v_retry IS NOT NULL THEN
      PERFORM app._raise(503, 'queue_full', 'Serviço sobrecarregado. Tenta novamente daqui a pouco.',
        jsonb_build_object('retry_after', v_retry));
    END IF;

    INSERT INTO app.guest_jobs AS j (kind, payload, dedupe_key, client_key)
    VALUES (p_kind, v_payload, v_key, left(p_client_key, 100))
    RETURNING j.id INTO v_id;
    INSERT INTO app.guest_job_secrets AS s (job_id, password, submit_hash)
    VALUES (v_id, v_password, v_submit)
    ON CONFLICT (submit_hash) DO NOTHING;
    IF FOUND THEN
      INSERT INTO app.guest_job_tokens (job_id, token_hash)
      VALUES (v_id, app._job_token_hash(v_token));
      -- Wake idle workers only when the queue was short: past that every worker is busy
      -- draining it (an idle one re-claims within WORKER_IDLE_SECONDS anyway), and each
      -- NOTIFY serializes its transaction's commit with every other notifying commit.
      IF v_pending < 32 THEN
        PERFORM pg_notify('guestlist_jobs_new', '');
      END IF;
      RETURN jsonb_build_object('jobId', v_id, 'jobToken', v_token, 'duplicate', false,
                                'estimatedSeconds', app._queue_seconds(v_pending + 1));
    END IF;
    -- the same submission, sent concurrently, committed its job first: drop ours and
    -- loop to join theirs (or, if it already finished, to queue ours again)
    DELETE FROM app.guest_jobs j WHERE j.id = v_id;
    v_id := NULL;
  END LOOP;
  -- three rounds of a twin appearing and finishing in between: the queue is very busy
  PERFORM app._raise(503, 'queue_full', 'Serviço sobrecarregado. Tenta novamente daqui a pouco.',
                     jsonb_build_object('retry_after', 1));
  RETURN NULL;  -- not reached: app._raise raises
END
$$;
GRANT EXECUTE ON FUNCTION api.enqueue_guest_job(text, jsonb, text, text) TO guestlist_web;

-- Do a job: call the seed function its kind names with its payload and the
-- password from app.guest_job_secrets (no client key: the rate limit was
-- applied at enqueue; a login's lockout uses the payload's lockout_key and
-- device_user_id), with guestlist.defer_session on for that call only, so
-- its answer carries no session (the job's owner gets one when reading the
-- result). Raises whatever the function raises; the caller records it.
CREATE OR REPLACE FUNCTION app._run_guest_job(p_kind text, p_payload jsonb, p_password text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_result jsonb;
BEGIN
  PERFORM set_config('guestlist.defer_session', 'on', true);
  IF p_kind = 'login' THEN
    v_result := app._login(
      p_phone => p_payload ->> 'phone',
      p_password => p_password,
      p_event_id => (p_payload ->> 'event_id')::uuid,
      p_promoter_id => (p_payload ->> 'promoter_id')::uuid,
      p_team_id => (p_payload ->> 'team_id')::uuid,
      p_lockout_key => p_payload ->> 'lockout_key',
      p_device_user_id => (p_payload ->> 'device_user_id')::uuid);
  ELSIF p_kind = 'register' THEN
    v_result := api.register_and_create_guest_v2(
      p_phone => p_payload ->> 'phone',
      p_first_name => p_payload ->> 'first_name',
      p_last_name => p_payload ->> 'last_name',
      p_email => p_payload ->> 'email',
      p_password => p_password,
      p_event_id => (p_payload ->> 'event_id')::uuid,
      p_promoter_id => (p_payload ->> 'promoter_id')::uuid,
      p_team_id => (p_payload ->> 'team_id')::uuid,
      p_birth_date => (p_payload ->> 'birth_date')::date,
      p_gender => p_payload ->> 'gender',
      p_city => p_payload ->> 'city',
      p_client_key => NULL);
  ELSE
    RAISE EXCEPTION 'unknown guest job kind %', p_kind;
  END IF;
  -- (an error above undoes the set_config with the caller's subtransaction)
  PERFORM set_config('guestlist.defer_session', 'off', true);
  RETURN v_result;
END
$$;

-- Claim the oldest claimable job (SKIP LOCKED: workers never wait on each
-- other) and do it, all in the caller's transaction: a worker that dies
-- mid-job leaves it waiting. The function's answer completes the job, a
-- refusal (success false) too. An unexpected error, or a cancel (statement
-- timeout, pg_cancel_backend), is logged server-side and retried after 1 s,
-- 2 s, 4 s… (delayed) until max_attempts, then the job is failed (dead
-- letter). A job whose secret is gone (app.guest_job_secrets emptied by a
-- crash) fails at once with the job_expired refusal. A finished job's secret
-- is deleted and its id NOTIFYed on guestlist_jobs. Returns {jobId, status},
-- or NULL when no job is claimable.
CREATE OR REPLACE FUNCTION app._work_one_guest_job(p_worker text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_job app.guest_jobs;
  v_password text;
  v_claimed_at timestamptz;
  v_attempt integer;
  v_result jsonb;
  v_error text;
  v_state text;
  v_message text;
  v_status text;
BEGIN
  -- The claim is a row lock, not an update: nobody outside this transaction
  -- could see a change before it commits, so the job's row is written once,
  -- at the end, with the attempt, the claim's time and the outcome. The
  -- advisory lock is what shows the job as active to guest_job_status and
  -- queue_depth while this transaction runs. (NO KEY UPDATE: a resubmission's
  -- new token, whose foreign key locks the row FOR KEY SHARE, does not wait.)
  SELECT j.* INTO v_job FROM app.guest_jobs j
  WHERE j.status IN ('waiting', 'delayed') AND j.run_at <= now()
  ORDER BY j.run_at, j.id
  LIMIT 1
  FOR NO KEY UPDATE SKIP LOCKED;
  IF v_job.id IS NULL THEN
    RETURN NULL;
  END IF;
  v_claimed_at := clock_timestamp();
  v_attempt := v_job.attempts + 1;
  PERFORM pg_try_advisory_xact_lock(7040, app._job_lock_key(v_job.id));

  SELECT s.password INTO v_password FROM app.guest_job_secrets s WHERE s.job_id = v_job.id;
  IF NOT FOUND THEN
    v_result := app._job_expired();
    v_status := 'failed';
    v_error := v_result ->> 'error';
  ELSE
    BEGIN
      v_result := app._run_guest_job(v_job.kind, v_job.payload, v_password);
      IF v_result IS NULL THEN
        RAISE EXCEPTION 'guest job function returned NULL';
      END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
      -- the one place errors are caught: to record the attempt. The real error
      -- goes to the server log only; the job row gets a generic message.
      GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT;
      RAISE LOG 'guestlist: job % (%) attempt %/% failed: SQLSTATE % %',
        v_job.id, v_job.kind, v_attempt, v_job.max_attempts, v_state, v_message;
      v_result := NULL;
    END;
    v_status := CASE WHEN v_result IS NOT NULL THEN 'completed'
                     WHEN v_attempt >= v_job.max_attempts THEN 'failed'
                     ELSE 'delayed' END;
    v_error := CASE v_status
      WHEN 'failed' THEN 'Não foi possível processar o pedido. Tenta novamente.'
      WHEN 'delayed' THEN 'Erro temporário. O pedido vai ser repetido.' END;
  END IF;

  UPDATE app.guest_jobs j
  SET attempts = v_attempt,
      processed_at = v_claimed_at,
      worker = left(p_worker, 100),
      status = v_status,
      result = v_result,
      error = v_error,
      run_at = CASE WHEN v_status = 'delayed'
                    THEN clock_timestamp() + make_interval(secs => 2 ^ (v_attempt - 1))
                    ELSE j.run_at END,
      finished_at = CASE WHEN v_status = 'delayed' THEN NULL ELSE clock_timestamp() END
  WHERE j.id = v_job.id;
  IF v_status <> 'delayed' THEN
    DELETE FROM app.guest_job_secrets s WHERE s.job_id = v_job.id;
    PERFORM pg_notify('guestlist_jobs', v_job.id::text);
  END IF;
  RETURN jsonb_build_object('jobId', v_job.id, 'status', v_status);
END
$$;

-- One job in one transaction (app._work_one_guest_job): {jobId, status}, or
-- NULL when no job is claimable.
CREATE OR REPLACE FUNCTION api.work_guest_job(p_worker text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._work_one_guest_job(p_worker);
END
$$;
GRANT EXECUTE ON FUNCTION api.work_guest_job(text) TO guestlist_web;

-- Jobs one after another in the caller's one transaction (one commit, one
-- round trip for all), each as app._work_one_guest_job does it (its own
-- subtransaction: one job's error never undoes another's work). Claims the
-- next job only while fewer than p_max_jobs are done and less than
-- p_budget_ms has passed since the first claim, so a slow job (bcrypt cost
-- 10: ~50 ms) ends the batch after itself: its row locks and its guest's
-- NOTIFY wait for no other job, while cheap jobs share a commit. Returns
-- {done, completed, delayed, failed, more}, or NULL when no job was claimable;
-- more: a job looked claimable at the end (one another worker is claiming
-- right now counts), so a worker told false sleeps instead of asking again.
CREATE OR REPLACE FUNCTION api.work_guest_jobs(p_worker text, p_max_jobs integer DEFAULT 50,
                                               p_budget_ms integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_started timestamptz := clock_timestamp();
  v_one jsonb;
  v_counts jsonb := jsonb_build_object('done', 0, 'completed', 0, 'delayed', 0, 'failed', 0);
BEGIN
  IF p_max_jobs IS NULL OR p_max_jobs NOT BETWEEN 1 AND 1000 THEN
    PERFORM app._invalid_field('max_jobs', 'Entre 1 e 1000. Corrige o número de pedidos.');
  END IF;
  IF p_budget_ms IS NULL OR p_budget_ms NOT BETWEEN 0 AND 1000 THEN
    PERFORM app._invalid_field('budget_ms', 'Entre 0 e 1000. Corrige o tempo em milissegundos.');
  END IF;
  LOOP
    v_one := app._work_one_guest_job(p_worker);
    EXIT WHEN v_one IS NULL;
    v_counts := v_counts || jsonb_build_object(
      'done', (v_counts ->> 'done')::integer + 1,
      v_one ->> 'status', (v_counts ->> (v_one ->> 'status'))::integer + 1);
    EXIT WHEN (v_counts ->> 'done')::integer >= p_max_jobs
           OR clock_timestamp() - v_started >= make_interval(secs => p_budget_ms / 1000.0);
  END LOOP;
  IF (v_counts ->> 'done')::integer = 0 THEN
    RETURN NULL;
  END IF;
  RETURN v_counts || jsonb_build_object('more', EXISTS (
    SELECT 1 FROM app.guest_jobs j
    WHERE j.status IN ('waiting', 'delayed') AND j.run_at <= clock_timestamp()));
END
$$;
GRANT EXECUTE ON FUNCTION api.work_guest_jobs(text, integer, integer) TO guestlist_web;

-- A job as its submitter polls it (the seed's shape): {id, status, result,
-- error, createdAt, processedAt, finishedAt}, for the job id with a token
-- api.enqueue_guest_job gave for it. An unknown id, no token and another
-- job's token are one indexed lookup that finds nothing: PT404 job_not_found,
-- alike. A job a worker holds right now reads as active. The first read of a
-- successful result by a token opens the guest's session and answers its
-- token (result.session_token, session_expires_at); later reads by that
-- token get the result only. Rate-limited per client key (bucket status).
CREATE OR REPLACE FUNCTION api.guest_job_status(p_job_id uuid, p_job_token text,
                                                p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_job app.guest_jobs;
  v_token_hash bytea := app._job_token_hash(p_job_token);
  v_status text;
  v_user uuid;
  v_session record;
BEGIN
  PERFORM app._enforce_rate_limit('status', p_client_key);
  SELECT j.* INTO v_job
  FROM app.guest_job_tokens t JOIN app.guest_jobs j ON j.id = t.job_id
  WHERE t.job_id = p_job_id AND t.token_hash = v_token_hash;
  IF v_job.id IS NULL THEN
    PERFORM app._raise(404, 'job_not_found', 'Pedido não encontrado. Submete o formulário novamente.');
  END IF;
  IF v_job.status = 'completed' AND v_job.result -> 'success' = 'true'::jsonb THEN
    -- once per token: the row update decides between concurrent reads
    UPDATE app.guest_job_tokens t SET session_opened_at = clock_timestamp()
    WHERE t.job_id = p_job_id AND t.token_hash = v_token_hash AND t.session_opened_at IS NULL;
    IF FOUND THEN
      SELECT g.client_user_id INTO v_user
      FROM app.guests g WHERE g.id = (v_job.result ->> 'guest_id')::uuid;
      IF v_user IS NOT NULL THEN
        SELECT * INTO v_session FROM app._open_session(v_user);
        v_job.result := v_job.result || jsonb_build_object(
          'session_token', v_session.token, 'session_expires_at', v_session.expires_at);
      END IF;
    END IF;
  END IF;
  v_status := v_job.status;
  IF v_status IN ('waiting', 'delayed')
     AND NOT pg_try_advisory_xact_lock_shared(7040, app._job_lock_key(v_job.id)) THEN
    v_status := 'active';
  END IF;
  RETURN jsonb_build_object(
    'id', v_job.id,
    'status', v_status,
    'result', v_job.result,
    'error', v_job.error,
    'createdAt', v_job.created_at,
    'processedAt', v_job.processed_at,
    'finishedAt', v_job.finished_at);
END
$$;
GRANT EXECUTE ON FUNCTION api.guest_job_status(uuid, text, text) TO guestlist_web;

-- The queue's depth for the autoscaler and metrics: active = jobs workers
-- hold now, delayed = retries not yet due, waiting = the rest of the pending
-- jobs (claimable now). Reads 16 counter rows, the delayed rows and the lock
-- table: cheap enough for once a second.
CREATE OR REPLACE FUNCTION api.queue_depth()
RETURNS jsonb
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('waiting', greatest(p.n - a.n - d.n, 0), 'active', a.n, 'delayed', d.n)
  FROM (SELECT app._pending_jobs() AS n) p,
       (SELECT count(*) AS n FROM pg_catalog.pg_locks l
        WHERE l.locktype = 'advisory' AND l.classid = 7040 AND l.objsubid = 2
          AND l.mode = 'ExclusiveLock' AND l.granted
          AND l.database = (SELECT oid FROM pg_catalog.pg_database
                            WHERE datname = pg_catalog.current_database())) a,
       (SELECT count(*) AS n FROM app.guest_jobs j
        WHERE j.status = 'delayed' AND j.run_at > now()) d
$$;
GRANT EXECUTE ON FUNCTION api.queue_depth() TO guestlist_web;

-- Fail pending jobs queued more than job_pending_max_age_seconds ago
-- (app.settings, default 600) with the job_expired refusal, erasing their secrets
-- (a job a worker holds right now is left to it), and NOTIFY their pollers;
-- then delete finished jobs older than job_retention_seconds (default
-- 3600). Both are app.settings rows, never GUCs: the web role may call
-- api.cleanup, and a GUC it set would expire every job or keep them all. Called by api.cleanup. Returns how many were deleted.
CREATE OR REPLACE FUNCTION app._cleanup_jobs()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
  v_deleted bigint;
BEGIN
  FOR v_id IN
    UPDATE app.guest_jobs j
    SET status = 'failed', result = app._job_expired(), error = app._job_expired() ->> 'error',
        finished_at = clock_timestamp()
    WHERE j.id IN (
      SELECT p.id FROM app.guest_jobs p
      WHERE p.status IN ('waiting', 'delayed')
        AND p.created_at < now() - make_interval(
                                     secs => app._config_int('job_pending_max_age_seconds', 600))
      FOR NO KEY UPDATE SKIP LOCKED)
    RETURNING j.id
  LOOP
    DELETE FROM app.guest_job_secrets s WHERE s.job_id = v_id;
    PERFORM pg_notify('guestlist_jobs', v_id::text);
  END LOOP;

  DELETE FROM app.guest_jobs j
  WHERE j.finished_at < now() - make_interval(
                                 secs => app._config_int('job_retention_seconds', 3600));
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  RETURN v_deleted;
END
$$;
