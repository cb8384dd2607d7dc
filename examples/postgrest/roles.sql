-- Roles for exposing scim_pg through PostgREST (see README.md).
-- Run as a superuser (or the database owner) in the SCIM database, after
-- CREATE EXTENSION scim_pg.

-- PostgREST logs in as the authenticator. NOINHERIT: it has no privileges of
-- its own, only the right to SET ROLE to the roles granted to it.
CREATE ROLE scim_authenticator LOGIN NOINHERIT;
-- Set a password (or use peer authentication over the Unix socket):
-- ALTER ROLE scim_authenticator PASSWORD '...';

-- Every HTTP request runs as scim_web (db-anon-role). CREATE EXTENSION
-- scim_pg made that role (NOLOGIN) and granted it USAGE on schema scim and
-- EXECUTE on scim_http and scim_postgrest, nothing else.
GRANT scim_web TO scim_authenticator;
-- The public base URL for Location/meta.location (or set X-Scim-Base-Url
-- in nginx.conf; this setting wins):
-- ALTER ROLE scim_web SET scim.public_url = 'https://scim.example.com/scim/v2';

-- PostgREST exposes every function in db-schemas that the role may EXECUTE,
-- and PostgreSQL grants EXECUTE to PUBLIC by default. The extension script is
-- revokes that for its functions; check that scim_web can execute nothing
-- else in the schema (this query must return scim_http and scim_postgrest):
SELECT p.oid::regprocedure
FROM pg_proc p
WHERE p.pronamespace = 'scim'::regnamespace
  AND has_function_privilege('scim_web', p.oid, 'EXECUTE');
