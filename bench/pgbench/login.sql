-- A login of an existing account onto the event (a place recovered after
-- the first): one bcrypt comparison plus the guest lookup and a session.
\set n random(1, :users)
SELECT api.authenticate_and_create_guest_v2('+3519' || lpad(:n::text, 8, '0'), 'Segredo123',
                                            :event_id::uuid);
