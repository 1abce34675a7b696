-- bcrypt at cost 4 (the bench setting of guestlist.bcrypt_cost): one hash per transaction.
SELECT public.crypt('Segredo123', public.gen_salt('bf', 4));
