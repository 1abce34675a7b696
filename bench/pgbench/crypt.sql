-- The bcrypt limit: one cost-10 hash per transaction.
SELECT public.crypt('Segredo123', public.gen_salt('bf', 10));
