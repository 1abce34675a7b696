-- check_phone_with_cache on phones never seen (a cache miss every time).
\set n random(100000000, 999999999)
SELECT api.check_phone_with_cache('+3512' || :n::text);
