-- Staff accounts: invites, login, sessions, and the sealed scope the
-- console's row-level security policies read (docs/tenancy.md).
SET LOCAL ROLE guestlist_owner;

-- ─── the scope ──────────────────────────────────────────────────────────────

-- The HMAC-SHA256 (hex) of a console scope under the database's own key.
CREATE OR REPLACE FUNCTION app._console_seal(p_scope text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN encode(public.hmac(convert_to(p_scope, 'UTF8'),
                            decode(app._config('console_scope_key', NULL), 'hex'), 'sha256'),
                'hex');
END
$$;

-- The ids of the caller's scope of one kind (orgs: every organization they
-- belong to; full: where they are owner or manager; owner; porgs: where they
-- are a promoter; promoters: which promoters they are; staff: themselves),
-- or an empty array. The scope is trusted only when sealed by
-- app._console_begin IN THIS TRANSACTION OF THIS BACKEND: its seal must be the
-- key's HMAC of the scope, and the scope must name this backend's pid and this
-- transaction's start. A GUC anyone set by hand, or one left from an earlier
-- transaction, opens nothing. The policies call it once a query, as
-- (SELECT app._console_ids(...)).
CREATE OR REPLACE FUNCTION app._console_ids(p_kind text)
RETURNS uuid[]
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_scope text := current_setting('guestlist.console_scope', true);
  v_seal text := current_setting('guestlist.console_seal', true);
  v_json jsonb;
BEGIN
  IF coalesce(v_scope, '') = '' OR coalesce(v_seal, '') = ''
     OR v_seal IS DISTINCT FROM app._console_seal(v_scope) THEN
    RETURN '{}'::uuid[];
  END IF;
  v_json := v_scope::jsonb;
  IF (v_json ->> 'pid')::integer IS DISTINCT FROM pg_backend_pid()
     OR (v_json ->> 'at')::timestamptz IS DISTINCT FROM now() THEN
    RETURN '{}'::uuid[];
  END IF;
  RETURN coalesce((SELECT array_agg(x::uuid) FROM jsonb_array_elements_text(v_json -> p_kind) x),
                  '{}'::uuid[]);
END
$$;
GRANT EXECUTE ON FUNCTION app._console_ids(text) TO guestlist_console;

-- The events of the organizations of the caller's scope of one kind ('full',
-- 'porgs', see app._console_ids): the guests' and quotas' policies compare an
-- event id with this array (an init-plan once a query) instead of looking up
-- each row's event.
CREATE OR REPLACE FUNCTION app._console_event_ids(p_kind text)
RETURNS uuid[]
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_orgs uuid[] := app._console_ids(p_kind);
BEGIN
  IF cardinality(v_orgs) = 0 THEN
    RETURN '{}'::uuid[];
  END IF;
  RETURN coalesce((SELECT array_agg(e.id) FROM app.events e WHERE e.organization_id = ANY (v_orgs)),
                  '{}'::uuid[]);
END
$$;
GRANT EXECUTE ON FUNCTION app._console_event_ids(text) TO guestlist_console;

-- The staff account of a valid (unexpired, unrevoked) session token of an
-- active account, or NULL.
CREATE OR REPLACE FUNCTION app._staff_session(p_session_token text)
RETURNS uuid
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff uuid;
BEGIN
  IF p_session_token IS NULL OR p_session_token !~ '^[0-9a-f]{64}$' THEN
    RETURN NULL;
  END IF;
  SELECT s.staff_id INTO v_staff
  FROM app.staff_sessions s
  JOIN app.staff_accounts a ON a.id = s.staff_id AND a.is_active
  WHERE s.token_hash = sha256(decode(p_session_token, 'hex'))
    AND s.expires_at > now() AND s.revoked_at IS NULL;
  RETURN v_staff;
END
$$;

-- Validate a staff session and seal its scope for this transaction (GUCs
-- guestlist.console_scope and guestlist.console_seal, set LOCAL): the first
-- thing every console function does, so whatever the GUCs held before is
-- overwritten. Invalid, expired or revoked: PT401 session_invalid. Returns
-- the scope (staff, orgs, full, owner, porgs, promoters).
CREATE OR REPLACE FUNCTION app._console_begin(p_session_token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff uuid;
  v_scope jsonb;
  v_text text;
BEGIN
  PERFORM set_config('guestlist.console_scope', '', true);
  PERFORM set_config('guestlist.console_seal', '', true);
  v_staff := app._staff_session(p_session_token);
  IF v_staff IS NULL THEN
    PERFORM app._raise(401, 'session_invalid', 'Sessão inválida ou expirada. Entra de novo.');
  END IF;
  SELECT jsonb_build_object(
           'staff', jsonb_build_array(v_staff),
           'orgs', coalesce(jsonb_agg(m.organization_id), '[]'),
           'full', coalesce(jsonb_agg(m.organization_id)
                              FILTER (WHERE m.role IN ('owner', 'manager')), '[]'),
           'owner', coalesce(jsonb_agg(m.organization_id) FILTER (WHERE m.role = 'owner'), '[]'),
           'porgs', coalesce(jsonb_agg(m.organization_id) FILTER (WHERE m.role = 'promoter'), '[]'),
           'promoters', coalesce(jsonb_agg(DISTINCT m.promoter_id)
                                   FILTER (WHERE m.role = 'promoter'), '[]'),
           'pid', pg_backend_pid(),
           'at', now())
    INTO v_scope
  FROM app.staff_memberships m WHERE m.staff_id = v_staff;
  v_text := v_scope::text;
  PERFORM set_config('guestlist.console_scope', v_text, true);
  PERFORM set_config('guestlist.console_seal', app._console_seal(v_text), true);
  RETURN v_scope;
END
$$;
GRANT EXECUTE ON FUNCTION app._console_begin(text) TO guestlist_console;

-- ─── the console's policies (re-created on every migrate) ───────────────────
-- Reads: rows of the caller's organizations (a promoter: their own guests
-- and quotas only; the door's tables: owner or manager only). Writes:
-- organizations where the caller is owner or manager (members and invites:
-- owner).
DO $$
DECLARE
  v_orgs constant text := '((SELECT app._console_ids(''orgs''))::uuid[])';
  v_full constant text := '((SELECT app._console_ids(''full''))::uuid[])';
  v_owner constant text := '((SELECT app._console_ids(''owner''))::uuid[])';
  v_porgs constant text := '((SELECT app._console_ids(''porgs''))::uuid[])';
  v_promoters constant text := '((SELECT app._console_ids(''promoters''))::uuid[])';
  v_staff constant text := '((SELECT app._console_ids(''staff''))::uuid[])';
  v_full_events constant text := '((SELECT app._console_event_ids(''full''))::uuid[])';
  v_porg_events constant text := '((SELECT app._console_event_ids(''porgs''))::uuid[])';
  p record;
BEGIN
  FOR p IN SELECT * FROM (VALUES
    ('organizations', 'SELECT', format('id = ANY %s', v_orgs), NULL),
    ('events', 'ALL', format('organization_id = ANY %s', v_orgs),
                      format('organization_id = ANY %s', v_full)),
    ('event_slugs', 'ALL', format('organization_id = ANY %s', v_orgs),
                           format('organization_id = ANY %s', v_full)),
    ('teams', 'ALL', format('organization_id = ANY %s', v_orgs),
                     format('organization_id = ANY %s', v_full)),
    ('team_members', 'ALL',
     'EXISTS (SELECT 1 FROM app.teams t WHERE t.id = team_id)',
     format('EXISTS (SELECT 1 FROM app.teams t WHERE t.id = team_id AND t.organization_id = ANY %s)',
            v_full)),
    ('promoters', 'SELECT',
     format('id = ANY %s OR EXISTS (SELECT 1 FROM app.team_members tm WHERE tm.promoter_id = id)',
            v_promoters), NULL),
    ('guests', 'SELECT',
     format('event_id = ANY %s OR (event_id = ANY %s AND promoter_id = ANY %s)',
            v_full_events, v_porg_events, v_promoters),
     NULL),
    ('event_promoter_quotas', 'ALL',
     format('event_id = ANY %s OR (event_id = ANY %s AND promoter_id = ANY %s)',
            v_full_events, v_porg_events, v_promoters),
     format('event_id = ANY %s', v_full_events)),
    ('staff_memberships', 'ALL', format('organization_id = ANY %s OR staff_id = ANY %s', v_full, v_staff),
                                 format('organization_id = ANY %s', v_owner)),
    ('staff_invites', 'ALL', format('organization_id = ANY %s', v_owner),
                             format('organization_id = ANY %s', v_owner)),
    ('staff_accounts', 'SELECT',
     format('id = ANY %s OR EXISTS (SELECT 1 FROM app.staff_memberships m WHERE m.staff_id = id)',
            v_staff), NULL),
    -- the door (owner and manager only: a promoter sees no door link, scan or conflict)
    ('door_links', 'ALL', format('event_id = ANY %s', v_full_events),
                          format('event_id = ANY %s', v_full_events)),
    ('door_scans', 'SELECT', format('event_id = ANY %s', v_full_events), NULL),
    ('door_conflicts', 'SELECT', format('event_id = ANY %s', v_full_events), NULL),
    ('door_undos', 'SELECT', 'EXISTS (SELECT 1 FROM app.door_links d WHERE d.id = door_id)', NULL)
  ) AS v(tbl, cmd, using_expr, check_expr) LOOP
    EXECUTE format('DROP POLICY IF EXISTS console ON app.%I', p.tbl);
    EXECUTE format('CREATE POLICY console ON app.%I AS PERMISSIVE FOR %s TO guestlist_console '
                   'USING (%s)%s', p.tbl, p.cmd, p.using_expr,
                   CASE WHEN p.check_expr IS NOT NULL
                        THEN format(' WITH CHECK (%s)', p.check_expr) ELSE '' END);
  END LOOP;
  -- a new promoter is added by an owner or manager (the console function checks the
  -- role); it becomes visible once it joins one of the organization's teams
  DROP POLICY IF EXISTS console_insert ON app.promoters;
  CREATE POLICY console_insert ON app.promoters AS PERMISSIVE FOR INSERT TO guestlist_console
    WITH CHECK (cardinality((SELECT app._console_ids('full'))::uuid[]) > 0);
  DROP POLICY IF EXISTS console_update ON app.promoters;
  EXECUTE format('CREATE POLICY console_update ON app.promoters AS PERMISSIVE FOR UPDATE '
                 'TO guestlist_console USING (EXISTS (SELECT 1 FROM app.team_members tm '
                 'JOIN app.teams t ON t.id = tm.team_id WHERE tm.promoter_id = id '
                 'AND t.organization_id = ANY %s))', v_full);
END
$$;

-- ─── accounts, invites, sessions ────────────────────────────────────────────

-- An email as stored (trimmed, lowercase), or NULL when it cannot be one.
CREATE OR REPLACE FUNCTION app._staff_email(p_email text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v text := lower(btrim(p_email));
BEGIN
  RETURN CASE WHEN length(v) <= 254 AND v ~ '^[^[:space:]@]+@[^[:space:]@]+\.[^[:space:]@]+$'
                   AND app._printable_text(v) THEN v END;
END
$$;

-- The key a staff email's failed logins count under (the guests' lockout
-- tables, sha256 of 'staff:' and the email, never confused with a phone's).
CREATE OR REPLACE FUNCTION app._staff_lockout_hash(p_email text)
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sha256(convert_to('staff:' || coalesce(p_email, ''), 'UTF8'));
END
$$;

-- Open a staff session (12 h); the token (64 hex) leaves once.
CREATE OR REPLACE FUNCTION app._open_staff_session(p_staff_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_raw bytea := public.gen_random_bytes(32);
  v_expires timestamptz := now() + interval '12 hours';
BEGIN
  INSERT INTO app.staff_sessions (staff_id, token_hash, expires_at)
  VALUES (p_staff_id, sha256(v_raw), v_expires);
  RETURN jsonb_build_object('sessionToken', encode(v_raw, 'hex'), 'expiresAt', v_expires);
END
$$;

-- A new invite (72 h) to p_organization_id as p_role; returns the token
-- once ({"inviteToken", "invitePath", "expiresAt"}): only its sha256 is kept.
-- The path puts the token after '#', which browsers never send to a server.
-- Bad email, role, or a promoter invite without a promoter of the
-- organization: PT400 invalid_input; unknown organization: PT404 not_found.
CREATE OR REPLACE FUNCTION app._create_invite(p_organization_id uuid, p_email text, p_role text,
                                              p_promoter_id uuid, p_invited_by uuid)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_email text := app._staff_email(p_email);
  v_raw bytea := public.gen_random_bytes(32);
  v_expires timestamptz := now() + interval '72 hours';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM app.organizations o WHERE o.id = p_organization_id) THEN
    PERFORM app._raise(404, 'not_found', 'Não encontrado. Escolhe-o de novo na tua lista.');
  END IF;
  IF v_email IS NULL THEN
    PERFORM app._invalid_field('email', 'Email inválido. Escreve um email como nome@exemplo.pt.');
  END IF;
  IF p_role IS NULL OR p_role NOT IN ('owner', 'manager', 'promoter') THEN
    PERFORM app._invalid_field('role', 'Papel inválido. Escolhe owner, manager ou promoter.');
  END IF;
  IF (p_role = 'promoter') <> (p_promoter_id IS NOT NULL) THEN
    PERFORM app._invalid_field('promoter_id',
      'Um promotor é convidado com o seu promotor e os outros papéis sem nenhum. Escolhe o promotor só para o papel promoter.');
  END IF;
  IF p_promoter_id IS NOT NULL AND NOT EXISTS (
       SELECT 1 FROM app.team_members tm JOIN app.teams t ON t.id = tm.team_id
       WHERE tm.promoter_id = p_promoter_id AND t.organization_id = p_organization_id) THEN
    PERFORM app._raise(404, 'not_found', 'Não encontrado. Escolhe-o de novo na tua lista.');
  END IF;
  INSERT INTO app.staff_invites (organization_id, email, role, promoter_id, token_hash,
                                 invited_by, expires_at)
  VALUES (p_organization_id, v_email, p_role, p_promoter_id, sha256(v_raw), p_invited_by,
          v_expires);
  RETURN jsonb_build_object('inviteToken', encode(v_raw, 'hex'),
                            'invitePath', '/organizador/convite#' || encode(v_raw, 'hex'),
                            'expiresAt', v_expires);
END
$$;

-- An operator's invite of a member (owner, manager, or promoter with
-- p_promoter_id, a promoter in one of the organization's teams):
-- {"inviteToken", "invitePath", "expiresAt"}.
CREATE OR REPLACE FUNCTION admin.invite_member(p_organization_id uuid, p_email text, p_role text,
                                               p_promoter_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN app._create_invite(p_organization_id, p_email, p_role, p_promoter_id, NULL);
END
$$;
GRANT EXECUTE ON FUNCTION admin.invite_member(uuid, text, text, uuid) TO guestlist_admin;

-- A new organization with its first owner's invite: {"organizationId",
-- "inviteToken", "invitePath", "expiresAt"}. The two-argument form (no
-- owner) stays for scripts that only want the id.
CREATE OR REPLACE FUNCTION admin.create_organization(p_name text, p_slug text, p_owner_email text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_id uuid;
BEGIN
  IF app._staff_email(p_owner_email) IS NULL THEN
    PERFORM app._invalid_field('owner_email', 'Email inválido. Escreve um email como nome@exemplo.pt.');
  END IF;
  v_id := admin.create_organization(p_name, p_slug);
  RETURN jsonb_build_object('organizationId', v_id)
         || app._create_invite(v_id, p_owner_email, 'owner', NULL, NULL);
END
$$;
GRANT EXECUTE ON FUNCTION admin.create_organization(text, text, text) TO guestlist_admin;

-- Accept an invite: a new account (p_password: the registration's rules,
-- p_display_name 1-80 printable characters) or, when the email already has
-- one, that account's own password (an invite never sets the password of an
-- existing account). Adds the membership (a second invite to the same
-- organization changes the role), spends the invite, opens a session:
-- {"sessionToken", "expiresAt"}. Unknown, used or expired token: PT404
-- invite_invalid; the organization's last owner invited to a lesser role:
-- PT409 last_owner (the invite stays pending); bad fields: PT400 invalid_input; rate-limited per
-- p_client_key (bucket staff_login, PT429). A wrong password of an existing
-- account is RETURNED ({"success": false, "code": "invalid_credentials"},
-- or account_locked under the login's lockout), as api.staff_login's are.
CREATE OR REPLACE FUNCTION api.accept_invite(p_invite_token text, p_password text,
                                             p_display_name text, p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_invite app.staff_invites;
  v_account app.staff_accounts;
  v_error jsonb;
  v_key bytea;
  v_retry integer;
BEGIN
  PERFORM app._enforce_rate_limit('staff_login', p_client_key);
  IF p_invite_token ~ '^[0-9a-f]{64}$' THEN
    SELECT * INTO v_invite FROM app.staff_invites i
    WHERE i.token_hash = sha256(decode(p_invite_token, 'hex'))
      AND i.accepted_at IS NULL AND i.expires_at > now()
    FOR UPDATE;
  END IF;
  IF v_invite.id IS NULL THEN
    PERFORM app._raise(404, 'invite_invalid',
                       'Este convite não é válido: já foi usado ou expirou. Pede um novo.');
  END IF;
  SELECT * INTO v_account FROM app.staff_accounts a WHERE a.email = v_invite.email FOR UPDATE;
  IF v_account.id IS NOT NULL THEN
    -- the account's own password, under the login's lockout (an invite link is no way to
    -- guess it); a wrong one is returned, not raised, so that its failure counts
    v_key := app._staff_lockout_hash(v_account.email);
    v_retry := app._login_wait(v_key, p_client_key);
    IF v_retry > 0 THEN
      RETURN app._refusal('account_locked', app._message('account_locked'),
                          jsonb_build_object('retry_after', v_retry));
    END IF;
    IF NOT v_account.is_active OR coalesce(octet_length(p_password), 0) NOT BETWEEN 1 AND 72
       OR public.crypt(p_password, v_account.password_hash) IS DISTINCT FROM v_account.password_hash
    THEN
      PERFORM app._login_failed(v_key, p_client_key);
      RETURN app._refusal('invalid_credentials',
                          'Este email já tem conta: indica a palavra-passe dela.');
    END IF;
    PERFORM app._clear_login_failures(v_key);
  ELSE
    v_error := app._new_password_error(p_password);
    IF v_error IS NOT NULL THEN
      PERFORM app._raise(400, 'invalid_input', v_error ->> 'message',
                         jsonb_build_object('errors', jsonb_build_array(v_error)));
    END IF;
    IF coalesce(length(btrim(p_display_name)), 0) NOT BETWEEN 1 AND 80 THEN
      PERFORM app._invalid_field('display_name', 'O nome deve ter entre 1 e 80 caracteres. Corrige o nome.');
    END IF;
    PERFORM app._require_printable('display_name', p_display_name);
    INSERT INTO app.staff_accounts (email, display_name, password_hash)
    VALUES (v_invite.email, btrim(p_display_name),
            public.crypt(p_password, public.gen_salt('bf', app._bcrypt_cost())))
    RETURNING * INTO v_account;
  END IF;
  -- the organization's last owner taking a lesser role would leave nobody who can invite
  -- (api.console_member_remove refuses the same); owners take turns here as they do there
  IF v_invite.role <> 'owner' THEN
    PERFORM 1 FROM app.staff_memberships m
    WHERE m.organization_id = v_invite.organization_id AND m.role = 'owner' FOR UPDATE;
    IF EXISTS (SELECT 1 FROM app.staff_memberships m
               WHERE m.organization_id = v_invite.organization_id AND m.staff_id = v_account.id
                 AND m.role = 'owner')
       AND (SELECT count(*) FROM app.staff_memberships m
            WHERE m.organization_id = v_invite.organization_id AND m.role = 'owner') = 1 THEN
      PERFORM app._raise(409, 'last_owner',
        'É o único dono da organização. Convida outro dono e tenta de novo.');
    END IF;
  END IF;
  INSERT INTO app.staff_memberships AS m (organization_id, staff_id, role, promoter_id)
  VALUES (v_invite.organization_id, v_account.id, v_invite.role, v_invite.promoter_id)
  ON CONFLICT (organization_id, staff_id) DO UPDATE
    SET role = excluded.role, promoter_id = excluded.promoter_id, updated_at = now();
  UPDATE app.staff_invites SET accepted_at = now() WHERE id = v_invite.id;
  RETURN app._open_staff_session(v_account.id);
END
$$;
GRANT EXECUTE ON FUNCTION api.accept_invite(text, text, text, text) TO guestlist_web;

-- Log a staff member in: {"success": true, "sessionToken", "expiresAt"}.
-- Unknown email and wrong password answer alike (invalid_credentials, one
-- bcrypt each); the guests' lockout rules apply per email (account_locked
-- with retry_after). These two refusals are RETURNED ({"success": false,
-- "code", "error"}), as the guest login's are, not raised: a raise would roll
-- back the failure's count and so the lockout. The HTTP route answers them
-- 401 and 429. Rate-limited per p_client_key (bucket staff_login, PT429).
CREATE OR REPLACE FUNCTION api.staff_login(p_email text, p_password text,
                                           p_client_key text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_email text := app._staff_email(p_email);
  v_key bytea;
  v_account app.staff_accounts;
  v_retry integer;
BEGIN
  PERFORM app._enforce_rate_limit('staff_login', p_client_key);
  v_key := app._staff_lockout_hash(v_email);
  -- class 7042: one attempt at a time per email, so a burst cannot outrun the count
  PERFORM pg_advisory_xact_lock(7042, ('x' || left(encode(v_key, 'hex'), 8))::bit(32)::integer);
  v_retry := app._login_wait(v_key, p_client_key);
  IF v_retry > 0 THEN
    RETURN app._refusal('account_locked', app._message('account_locked'),
                        jsonb_build_object('retry_after', v_retry));
  END IF;
  SELECT * INTO v_account FROM app.staff_accounts a WHERE a.email = v_email AND a.is_active;
  IF coalesce(p_password, '') = '' OR octet_length(p_password) > 72
     OR public.crypt(p_password, coalesce(v_account.password_hash, app._dummy_password_hash()))
        IS DISTINCT FROM v_account.password_hash THEN
    PERFORM app._login_failed(v_key, p_client_key);
    RETURN app._refusal('invalid_credentials', 'Email ou palavra-passe incorretos. Confirma-os e tenta de novo.');
  END IF;
  PERFORM app._clear_login_failures(v_key);
  RETURN jsonb_build_object('success', true) || app._open_staff_session(v_account.id);
END
$$;
GRANT EXECUTE ON FUNCTION api.staff_login(text, text, text) TO guestlist_web;

-- End this session (idempotent: an unknown token ends nothing). Returns
-- whether one ended.
CREATE OR REPLACE FUNCTION api.staff_logout(p_session_token text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_ended integer;
BEGIN
  IF p_session_token IS NULL OR p_session_token !~ '^[0-9a-f]{64}$' THEN
    RETURN false;
  END IF;
  UPDATE app.staff_sessions s SET revoked_at = now()
  WHERE s.token_hash = sha256(decode(p_session_token, 'hex')) AND s.revoked_at IS NULL;
  GET DIAGNOSTICS v_ended = ROW_COUNT;
  RETURN v_ended > 0;
END
$$;
GRANT EXECUTE ON FUNCTION api.staff_logout(text) TO guestlist_web;

-- End every session of this session's account ("log out everywhere"):
-- returns how many ended. Invalid session: PT401 session_invalid.
CREATE OR REPLACE FUNCTION api.staff_logout_everywhere(p_session_token text)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff uuid := app._staff_session(p_session_token);
  v_ended integer;
BEGIN
  IF v_staff IS NULL THEN
    PERFORM app._raise(401, 'session_invalid', 'Sessão inválida ou expirada. Entra de novo.');
  END IF;
  UPDATE app.staff_sessions s SET revoked_at = now()
  WHERE s.staff_id = v_staff AND s.revoked_at IS NULL AND s.expires_at > now();
  GET DIAGNOSTICS v_ended = ROW_COUNT;
  RETURN v_ended;
END
$$;
GRANT EXECUTE ON FUNCTION api.staff_logout_everywhere(text) TO guestlist_web;

-- Who this session is: {"staff": {id, email, displayName}, "memberships":
-- [{organizationId, name, slug, role, promoterId}]}. PT401 session_invalid.
CREATE OR REPLACE FUNCTION api.staff_me(p_session_token text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_staff uuid := app._staff_session(p_session_token);
  v_answer jsonb;
BEGIN
  IF v_staff IS NULL THEN
    PERFORM app._raise(401, 'session_invalid', 'Sessão inválida ou expirada. Entra de novo.');
  END IF;
  SELECT jsonb_build_object(
           'staff', jsonb_build_object('id', a.id, 'email', a.email, 'displayName', a.display_name),
           'memberships', coalesce((
             SELECT jsonb_agg(jsonb_build_object('organizationId', o.id, 'name', o.name,
                                                 'slug', o.slug, 'role', m.role,
                                                 'promoterId', m.promoter_id)
                              ORDER BY o.name, o.id)
             FROM app.staff_memberships m JOIN app.organizations o ON o.id = m.organization_id
             WHERE m.staff_id = a.id), '[]'))
    INTO v_answer
  FROM app.staff_accounts a WHERE a.id = v_staff;
  RETURN v_answer;
END
$$;
GRANT EXECUTE ON FUNCTION api.staff_me(text) TO guestlist_web;

-- The cleanup's part (api.cleanup, sql/90_maintenance.sql): staff sessions
-- past their 12 hours (revoked or not), and invites 30 days past their
-- expiry (until then an accepted one records who invited whom). Returns how
-- many rows went.
CREATE OR REPLACE FUNCTION app._cleanup_staff()
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_sessions bigint;
  v_invites bigint;
BEGIN
  DELETE FROM app.staff_sessions s WHERE s.expires_at <= now();
  GET DIAGNOSTICS v_sessions = ROW_COUNT;
  DELETE FROM app.staff_invites i WHERE i.expires_at <= now() - interval '30 days';
  GET DIAGNOSTICS v_invites = ROW_COUNT;
  RETURN v_sessions + v_invites;
END
$$;
