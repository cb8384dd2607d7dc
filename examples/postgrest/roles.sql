-- Roles for exposing scim_pg through PostgREST (see README.md).
-- Run as a superuser (or the database owner) in the SCIM database, after
-- CREATE EXTENSION scim_pg.

-- PostgREST logs in as the authenticator. NOINHERIT: it has no privileges of
-- its own, only the right to SET ROLE to the roles granted to it.
CREATE ROLE scim_authenticator LOGIN NOINHERIT;
-- Set a password (or use peer authentication over the Unix socket):
-- ALTER ROLE scim_authenticator PASSWORD '...';

-- Every HTTP request runs as scim_web (db-anon-role). It can reach the
-- extension's schema and execute the PostgREST wrapper, nothing else.
CREATE ROLE scim_web NOLOGIN;
GRANT scim_web TO scim_authenticator;

GRANT USAGE ON SCHEMA scim TO scim_web;
GRANT EXECUTE ON FUNCTION scim.scim_postgrest(jsonb) TO scim_web;

-- PostgREST exposes every function in db-schemas that the role may EXECUTE,
-- and PostgreSQL grants EXECUTE to PUBLIC by default. The extension script is
-- expected to revoke that for its functions; check that scim_web can execute
-- nothing else in the schema (this query must return only scim_postgrest):
SELECT p.oid::regprocedure
FROM pg_proc p
WHERE p.pronamespace = 'scim'::regnamespace
  AND has_function_privilege('scim_web', p.oid, 'EXECUTE');
