-- tests/db/test_field_parity.py: the SQL side of the app/SQL field-rule comparison.

-- name: parity_job_payload
-- The queue's check of a login or register payload (the seed functions' own checks plus the
-- ids and date the typed parameters would refuse); raises PT400 with every bad field.
SELECT app._job_payload(%(kind)s::text, %(payload)s::jsonb)

-- name: parity_registration_errors
-- The synchronous register function's checks, with the typed values the app would pass.
SELECT app._registration_errors(%(phone)s, %(first_name)s, %(last_name)s, %(email)s,
                                %(password)s, %(event_id)s::uuid, %(birth_date)s::date,
                                %(gender)s, %(city)s)

-- name: parity_not_printable
-- Every code point (surrogates aside) app._printable_text refuses.
SELECT array_agg(cp ORDER BY cp)
FROM generate_series(1, 1114111) AS cp
WHERE (cp < 55296 OR cp > 57343) AND NOT app._printable_text(chr(cp))
