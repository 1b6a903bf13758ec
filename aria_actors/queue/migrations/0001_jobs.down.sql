-- aria_queue 0001 down: drop everything 0001 created.
DROP SCHEMA IF EXISTS aria_queue CASCADE;
