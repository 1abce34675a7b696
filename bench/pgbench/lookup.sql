-- The indexed-lookup limit: the same phone lookup check_phone does, bare.
\set n random(1, :users)
SELECT id, first_name FROM app.client_users
WHERE phone = '+3519' || lpad(:n::text, 8, '0') AND is_active;
