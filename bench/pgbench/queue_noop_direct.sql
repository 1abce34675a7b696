-- A job that costs its function next to nothing: a login onto an unknown event is refused
-- after one indexed lookup (no bcrypt, no lock). The direct call; compare with
-- queue_noop_enqueue_work.sql for the queue's own cost.
\set n random(100000000, 999999999)
SELECT api.authenticate_and_create_guest_v2('+3513' || :n::text, 'Segredo123',
                                            '6b0f2f56-7bd3-4c7a-9a3c-2f0c0a4f6d11');
