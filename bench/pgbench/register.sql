-- A registration of a new phone: validation, one bcrypt hash, account,
-- guest and session.
\set n random(100000000, 999999999)
SELECT api.register_and_create_guest_v2('+3513' || :n::text, 'Bench', 'New', 'new@bench.test',
                                        'Segredo123', :event_id::uuid);
