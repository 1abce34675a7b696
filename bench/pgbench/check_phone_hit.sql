-- check_phone_with_cache on registered phones (cached when the cache is on:
-- a small set of phones, warmed first, so nearly every call is a hit).
\set n random(1, 1000)
SELECT api.check_phone_with_cache('+3519' || lpad(:n::text, 8, '0'));
