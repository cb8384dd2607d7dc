-- scim_pg 0.1.0 → 0.2.0: ALTER EXTENSION scim_pg UPDATE TO '0.2.0'
-- (README "Upgrading"; docs/upgrades.md). scripts/test step `upgrade`
-- checks that a 0.1.0 database upgraded by it keeps every row and ends
-- with exactly the schema of a fresh 0.2.0 install.
--
-- The script runs in one transaction: if any step fails, nothing changed.
-- It goes:
--   1. checks that existing data fits 0.2.0's new constraints (failing
--      with what to fix, before any change);
--   2. drops 0.1.0's code (functions, triggers, RLS policies, and the
--      indexes on lower() that 0.2.0 builds on scim.fold);
--   3. changes 0.1.0's tables: members gets the generated
--      member_user/member_group columns and the same-tenant foreign keys;
--   4. runs the 0.2.0 install script in its order, without the statements
--      that create what 0.1.0 has (its tables, their indexes, the default
--      tenant): new roles, new token columns (expires, last_used,
--      admin = false, oauth_client), new tables (settings, oauth_clients,
--      tenant_operations, policy_changes, changes, provisioning_log,
--      extension_schemas, extension_indexes, policy_attribute_maps), and
--      every function, trigger, RLS policy and grant as 0.2.0 defines them;
--      its scim_fold_rebuild() recomputes the folded emails and builds the
--      scim.fold indexes.
-- Parts 1-3 are written by hand; part 4 is refreshed from pgrx's output by
-- tests/upgrade/refresh-0.1.0--0.2.0.py until 0.2.0 is released.
-- Tokens keep their hashes (they authenticate as before: not admin,
-- never expiring). The change feed and the provisioning log start empty.
--
-- The C functions name the library of 0.2.0 (scim_pg-0.2.0): until this
-- script has run, a 0.1.0 catalog keeps calling the 0.1.0 library.

\echo Use "ALTER EXTENSION scim_pg UPDATE TO '0.2.0'" to load this file. \quit

SET LOCAL search_path TO scim, pg_catalog;

-- 1. Checks --------------------------------------------------------------

-- 0.2.0 compares caseExact=false names by scim.fold (Unicode case folding)
-- rather than lower(): the checks below need it now.
CREATE  FUNCTION "fold"(
	"s" TEXT /* & str */
) RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_fold_text_wrapper';

DO $$
DECLARE
    n      bigint;
    sample text;
BEGIN
    -- A membership row must name a user or group of its own tenant
    -- (0.2.0's members_user_same_tenant / members_group_same_tenant).
    -- 0.1.0 removed memberships with their members, so only rows written
    -- to scim.members directly can fail this.
    SELECT count(*), string_agg(format('tenant %s, group %s: %s %s', m.tenant_id, m.group_id, m.member_type, m.member_id),
                                E'\n' ORDER BY m.tenant_id, m.group_id, m.member_id)
      INTO n, sample
      FROM scim.members m
     WHERE (m.member_type = 'User' AND NOT EXISTS (
                SELECT 1 FROM scim.users u WHERE u.tenant_id = m.tenant_id AND u.id = m.member_id))
        OR (m.member_type = 'Group' AND NOT EXISTS (
                SELECT 1 FROM scim.groups g WHERE g.tenant_id = m.tenant_id AND g.id = m.member_id));
    IF n > 0 THEN
        RAISE EXCEPTION 'scim_pg 0.2.0: % membership row(s) name a member that is not a user or group of their tenant; nothing was changed', n
            USING ERRCODE = 'foreign_key_violation',
                  DETAIL = sample,
                  HINT = 'Delete those rows (DELETE FROM scim.members m WHERE (m.member_type = ''User'' AND NOT EXISTS (SELECT 1 FROM scim.users u WHERE u.tenant_id = m.tenant_id AND u.id = m.member_id)) OR (m.member_type = ''Group'' AND NOT EXISTS (SELECT 1 FROM scim.groups g WHERE g.tenant_id = m.tenant_id AND g.id = m.member_id))), then run ALTER EXTENSION scim_pg UPDATE again.';
    END IF;

    -- userName and group displayName stay unique per tenant under the new
    -- folding: names distinct under lower() may fold alike ('straße' and
    -- 'STRASSE', 'é' precomposed and decomposed).
    SELECT count(*), string_agg(format('tenant %s (%s): %s %L held by %s', d.tenant, d.tenant_id, d.kind, d.key,
                                       array_to_string(d.names, ', ')), E'\n' ORDER BY d.tenant, d.kind, d.key)
      INTO n, sample
      FROM (SELECT u.tenant_id, t.name AS tenant, 'userName' AS kind, scim.fold(u.user_name) AS key,
                   array_agg(format('%s (%s)', u.user_name, u.id) ORDER BY u.user_name COLLATE "C", u.id) AS names
              FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id
             GROUP BY u.tenant_id, t.name, scim.fold(u.user_name)
            HAVING count(*) > 1
            UNION ALL
            SELECT g.tenant_id, t.name, 'group displayName', scim.fold(g.display_name),
                   array_agg(format('%s (%s)', g.display_name, g.id) ORDER BY g.display_name COLLATE "C", g.id)
              FROM scim.groups g JOIN scim.tenants t ON t.id = g.tenant_id
             GROUP BY g.tenant_id, t.name, scim.fold(g.display_name)
            HAVING count(*) > 1) d;
    IF n > 0 THEN
        RAISE EXCEPTION 'scim_pg 0.2.0: % name(s) are held by more than one resource under Unicode case folding, which 0.2.0 keeps unique; nothing was changed', n
            USING ERRCODE = 'unique_violation',
                  DETAIL = sample,
                  HINT = 'With 0.1.0 still installed, rename or delete all but one resource of each name (scim.scim_patch / scim.scim_delete, scim.tenant set to the tenant), then run ALTER EXTENSION scim_pg UPDATE again.';
    END IF;
END
$$;

-- 2. 0.1.0's code --------------------------------------------------------

DROP POLICY tenant_isolation ON scim.users;
DROP POLICY tenant_isolation ON scim.groups;
DROP POLICY tenant_isolation ON scim.members;
DROP POLICY tenant_isolation ON scim.tokens;
DROP POLICY tenant_isolation ON scim.policies;
DROP POLICY tenant_isolation ON scim.policy_bindings;

DROP TRIGGER users_drop_memberships ON scim.users;
DROP TRIGGER users_policy_delete ON scim.users;
DROP TRIGGER users_policy_insert ON scim.users;
DROP TRIGGER users_policy_update ON scim.users;
DROP TRIGGER groups_drop_memberships ON scim.groups;
DROP TRIGGER groups_policy_delete ON scim.groups;
DROP TRIGGER members_policy_delete ON scim.members;
DROP TRIGGER members_policy_insert ON scim.members;
DROP TRIGGER members_policy_truncate ON scim.members;
DROP TRIGGER members_touch_added ON scim.members;
DROP TRIGGER members_touch_removed ON scim.members;
DROP TRIGGER policies_delete ON scim.policies;
DROP TRIGGER policies_insert ON scim.policies;
DROP TRIGGER policies_normalize ON scim.policies;
DROP TRIGGER policies_truncate ON scim.policies;
DROP TRIGGER policies_update ON scim.policies;
DROP TRIGGER policy_bindings_delete ON scim.policy_bindings;
DROP TRIGGER policy_bindings_insert ON scim.policy_bindings;
DROP TRIGGER policy_bindings_truncate ON scim.policy_bindings;
DROP TRIGGER tenants_policy_default ON scim.tenants;
DROP TRIGGER tenants_policy_epoch ON scim.tenants;

DROP FUNCTION scim._drop_memberships();
DROP FUNCTION scim._group_members(uuid, uuid);
DROP FUNCTION scim._http(uuid, text, text, text, jsonb, text);
DROP FUNCTION scim._http_dispatch(uuid, text, text, text, jsonb, text);
DROP FUNCTION scim._http_error(text, text, text);
DROP FUNCTION scim._policy_before_write();
DROP FUNCTION scim._policy_bindings_changed();
DROP FUNCTION scim._policy_default_changed();
DROP FUNCTION scim._policy_default_epoch();
DROP FUNCTION scim._policy_graph_changed(uuid[]);
DROP FUNCTION scim._policy_group(uuid, text);
DROP FUNCTION scim._policy_group_deleting();
DROP FUNCTION scim._policy_lock(uuid, text);
DROP FUNCTION scim._policy_members_changed();
DROP FUNCTION scim._policy_normalize(jsonb);
DROP FUNCTION scim._policy_notify(uuid, uuid[]);
DROP FUNCTION scim._policy_notify_all(uuid);
DROP FUNCTION scim._policy_policies_changed();
DROP FUNCTION scim._policy_truncated();
DROP FUNCTION scim._policy_users_below(uuid, uuid[]);
DROP FUNCTION scim._policy_users_changed();
DROP FUNCTION scim._token_secret(uuid);
DROP FUNCTION scim._touch_members();
DROP FUNCTION scim._ts(timestamptz);
DROP FUNCTION scim.current_tenant();
DROP FUNCTION scim.effective_policy(text);
DROP FUNCTION scim.effective_policy_explain(text);
DROP FUNCTION scim.policy_allows(text, text, text);
DROP FUNCTION scim.scim_build_info();
DROP FUNCTION scim.scim_bulk(jsonb);
DROP FUNCTION scim.scim_create_group(jsonb);
DROP FUNCTION scim.scim_create_trigram_indexes();
DROP FUNCTION scim.scim_create_user(jsonb);
DROP FUNCTION scim.scim_delete(text, text, text);
DROP FUNCTION scim.scim_filter(text, text);
DROP FUNCTION scim.scim_filter_sql(text, text);
DROP FUNCTION scim.scim_get(text, text, text, text);
DROP FUNCTION scim.scim_http(text, text, text, jsonb, text);
DROP FUNCTION scim.scim_list(text, text, integer, integer, text, text, text, text, text);
DROP FUNCTION scim.scim_matches(jsonb, text);
DROP FUNCTION scim.scim_patch(text, text, jsonb, text);
DROP FUNCTION scim.scim_policy_bind(text, text);
DROP FUNCTION scim.scim_policy_delete(text);
DROP FUNCTION scim.scim_policy_put(text, jsonb);
DROP FUNCTION scim.scim_policy_set_default(text);
DROP FUNCTION scim.scim_policy_unbind(text, text);
DROP FUNCTION scim.scim_postgrest(jsonb);
DROP FUNCTION scim.scim_replace(text, text, jsonb, text);
DROP FUNCTION scim.scim_tenant_create(text);
DROP FUNCTION scim.scim_token_issue(text);
DROP FUNCTION scim.scim_token_revoke(uuid);
DROP FUNCTION scim.scim_tokens();

-- Built again on scim.fold below (sql/fold.sql, sql/trigram.sql).
DROP INDEX scim.users_user_name_ci, scim.users_display_name_ci, scim.groups_display_name_ci;
DROP INDEX IF EXISTS scim.users_user_name_trgm, scim.users_display_name_trgm, scim.groups_display_name_trgm;

-- 3. 0.1.0's tables -----------------------------------------------------

-- members: member_id split by kind into generated columns, each with a
-- composite foreign key to its table in the same tenant (sql/storage.sql;
-- the rows were checked in part 1).
ALTER TABLE scim.members
    ADD COLUMN member_user uuid GENERATED ALWAYS AS (CASE WHEN member_type = 'User' THEN member_id END) STORED,
    ADD COLUMN member_group uuid GENERATED ALWAYS AS (CASE WHEN member_type = 'Group' THEN member_id END) STORED,
    ADD CONSTRAINT members_user_same_tenant FOREIGN KEY (tenant_id, member_user)
        REFERENCES scim.users (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT members_group_same_tenant FOREIGN KEY (tenant_id, member_group)
        REFERENCES scim.groups (tenant_id, id) DEFERRABLE INITIALLY DEFERRED;
-- members_member carries group_id too: a user's groups are read in group
-- id order with no sort per user (sql/storage.sql).
DROP INDEX scim.members_member;
CREATE INDEX members_member ON scim.members (tenant_id, member_id, group_id);
-- tokens: its new columns are added by part 4 (sql/credentials.sql alters
-- the table in a fresh install too).

-- 4. The 0.2.0 install script (pgrx's output, in its order), without what 0.1.0 has.
-- Refreshed by tests/upgrade/refresh-0.1.0--0.2.0.py: edit parts 1-3 instead.

-- scim_pg storage. Runs first in the extension script (pgrx `bootstrap`).
--
-- Principles (see README "Storage"):
--   * every table is keyed by tenant_id first and protected by RLS on the
--     current tenant (GUC scim.tenant; unset = the default tenant),
--     every policy written out in sql/rls.sql;
--   * attributes that IdPs filter on are promoted to indexed columns, the
--     full canonical resource lives in `resource` (without id/meta/members);
--   * group membership is a junction table so member changes are deltas;
--   * data tables are registered with pg_extension_config_dump.

-- The schema is created here (not by the control file's `schema`) so that
-- it belongs to the extension and DROP EXTENSION removes it too. The rest
-- of the script, including the pgrx-generated functions, lands in it.
-- (0.1.0 has the schema scim.)

-- The extension's roles (README "Security model"). Roles are cluster-wide,
-- so they are created only when missing (a second database with the
-- extension, or a re-create, reuses them) and DROP EXTENSION leaves them;
-- every privilege is granted in sql/grants.sql.
--   scim_admin: tenants, tokens, policies, settings (+ everything scim_app may);
--   scim_app:   resource and policy-query functions of the tenant it names
--               in GUC scim.tenant; no table privileges at all;
--   scim_tenant_app: the same functions, but the tenant only from a token
--               (scim_session(token) per transaction; the GUC is refused);
--   scim_web:   scim_http / scim_postgrest only (the tenant comes from the token).
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['scim_admin', 'scim_app', 'scim_tenant_app', 'scim_web'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

-- (0.1.0 has scim.tenants: part 3.)
-- The default tenant: single-tenant use needs no configuration at all.

-- pg_dump saves every tenant row, the default one included (its
-- default_policy is configuration). On restore CREATE EXTENSION has already
-- made the default row, so the dumped one updates it instead of failing.
CREATE FUNCTION scim._tenants_merge_default() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id = '00000000-0000-0000-0000-000000000000' THEN
        UPDATE scim.tenants t
           SET name = NEW.name, default_policy = NEW.default_policy, created = NEW.created
         WHERE t.id = NEW.id;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tenants_merge_default BEFORE INSERT ON scim.tenants
    FOR EACH ROW EXECUTE FUNCTION scim._tenants_merge_default();

-- The current tenant: GUC scim.tenant holds a tenant id or name; unset or
-- empty means the default tenant. An unknown tenant is an error, never a
-- silent fallback.
-- The one way SQL raises a SCIM error (the Rust side raises the same shape,
-- src/error.rs): MESSAGE is the human-readable detail, DETAIL carries
-- {"status", "scimType"} as JSON (scim_http turns it back into a SCIM
-- error body), the SQLSTATE is the closest standard one.
CREATE FUNCTION scim._raise(status int, scim_type text, message text) RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = message,
        ERRCODE = CASE status
                      WHEN 400 THEN '22023' WHEN 401 THEN '28000' WHEN 403 THEN '42501'
                      WHEN 404 THEN 'P0002' WHEN 409 THEN '23505' WHEN 412 THEN '55000'
                      WHEN 413 THEN '54000' WHEN 501 THEN '0A000' ELSE 'XX000' END,
        DETAIL = CASE WHEN scim_type IS NULL THEN format('{"status":%s}', status)
                      ELSE format('{"status":%s,"scimType":%s}', status, to_json(scim_type)) END;
END
$$;

-- SECURITY DEFINER: resolving the GUC reads scim.tenants, which a role
-- given direct (RLS-confined) table access must not be able to read.
CREATE FUNCTION scim.current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER AS $$
DECLARE
    setting text := nullif(current_setting('scim.tenant', true), '');
    found   uuid;
BEGIN
    IF setting IS NULL THEN
        RETURN '00000000-0000-0000-0000-000000000000';
    END IF;
    IF setting ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
        SELECT id INTO found FROM scim.tenants WHERE id = setting::uuid;
    ELSE
        SELECT id INTO found FROM scim.tenants WHERE name = setting;
    END IF;
    IF found IS NULL THEN
        PERFORM scim._raise(400, 'invalidValue', format('unknown tenant "%s" (GUC scim.tenant)', setting));
    END IF;
    RETURN found;
END
$$;

-- The caseless matching key of caseExact=false strings (userName,
-- displayName, emails, every case-insensitive filter) is scim.fold(text):
-- Unicode canonical caseless matching, NFC(casefold(NFD(s))), computed in
-- Rust (scim_core::casefold, src/fold.rs) so it is the same in every
-- database locale and the same as the in-memory evaluator. pgrx declares
-- it; the indexes on it are made by sql/fold.sql and sql/trigram.sql.

-- (0.1.0 has scim.users: part 3.)
-- userName is unique per tenant, case-insensitively (RFC 7643
-- caseExact=false): index users_user_name_ci on scim.fold(user_name),
-- created with the other scim.fold() indexes by sql/fold.sql.
-- users_email_values (GIN, tenant-leading when btree_gin is installed):
-- sql/optional_indexes.sql.

-- (0.1.0 has scim.groups: part 3.)
-- groups_display_name_ci (unique, scim.fold): sql/fold.sql.
-- A user's groups are rendered with each group's displayName: read from
-- this index alone (an index-only scan) instead of the group's row. The
-- users' groups were most of a list page's time at 1M users.
CREATE INDEX groups_display_name_by_id ON scim.groups (tenant_id, id) INCLUDE (display_name);

-- Membership: one row per (group, member). Members are users or groups.
-- member_id is split by kind into two generated columns so that each kind
-- has a composite foreign key to its table in the SAME tenant: a row can
-- never name another tenant's user or group (MATCH SIMPLE skips the NULL
-- one). The member keys are DEFERRABLE INITIALLY DEFERRED because a
-- deleted user or group leaves its groups in an AFTER DELETE statement
-- trigger (below), which runs after an immediate check would.
-- (0.1.0 has scim.members: part 3.)
-- A user's groups, in group id order: rendering reads them in this order
-- with no sort per user (src/store/render.rs).
-- What the member foreign keys look up when a user or group is deleted
-- (no remaining membership may name it): without these, every delete
-- scanned all tenants' memberships. Partial: each row is in one of them.
CREATE INDEX members_member_user ON scim.members (tenant_id, member_user) WHERE member_user IS NOT NULL;
CREATE INDEX members_member_group ON scim.members (tenant_id, member_group) WHERE member_group IS NOT NULL;
-- Group-in-group edges only (the policy graph loads them per tenant).

-- Membership writes since a group row was last written, one row per
-- writing transaction (n = 1; folded rows carry the sum). A group's
-- version is `groups.version + sum(n)` and its lastModified the later of
-- `groups.last_modified` and max(at) (scim_core::filter::GROUP_VERSION_SQL,
-- GROUP_LAST_MODIFIED_SQL). Why not bump the group row, as every other
-- write does: a row lock is held until commit, so parallel PATCHes of one
-- group's members (what IdPs send) would each wait for the previous one's
-- WAL flush. Appending rows never conflicts; each committed membership
-- write adds exactly 1 to the version, and folding (src/store/members.rs)
-- replaces rows by their sum, so versions never repeat.
CREATE TABLE scim.member_writes (
    tenant_id uuid NOT NULL,
    group_id  uuid NOT NULL,
    n         bigint NOT NULL DEFAULT 1 CHECK (n > 0),
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    FOREIGN KEY (tenant_id, group_id) REFERENCES scim.groups (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX member_writes_group ON scim.member_writes (tenant_id, group_id) INCLUDE (n, at);

-- A deleted user or group leaves every group it was a member of, in the
-- same transaction, and those groups get a new version (their member list
-- changed).
CREATE FUNCTION scim._drop_memberships() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH gone AS (
        DELETE FROM scim.members m
         USING old_rows o
         WHERE m.tenant_id = o.tenant_id AND m.member_id = o.id
        RETURNING m.tenant_id, m.group_id
    )
    UPDATE scim.groups g
       SET version = g.version + 1, last_modified = clock_timestamp()
      FROM (SELECT DISTINCT tenant_id, group_id FROM gone) c
     WHERE g.tenant_id = c.tenant_id AND g.id = c.group_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_drop_memberships AFTER DELETE ON scim.users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._drop_memberships();
CREATE TRIGGER groups_drop_memberships AFTER DELETE ON scim.groups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._drop_memberships();

-- A membership change changes a member user's representation (its
-- `groups`), so the user gets a new version and lastModified too (its ETag
-- must not go stale). Groups do not list their parents: nothing to touch.
-- SKIP LOCKED: a user row another transaction holds is being written by
-- it (a concurrent membership change or a PATCH of the user), which bumps
-- its version anyway. Never waiting here is what keeps multi-operation
-- transactions (Bulk) on groups that share members free of deadlocks.
CREATE FUNCTION scim._touch_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scim.users u SET version = u.version + 1, last_modified = clock_timestamp()
      WHERE (u.tenant_id, u.id) IN (
            SELECT l.tenant_id, l.id FROM scim.users l
             WHERE (l.tenant_id, l.id) IN (SELECT c.tenant_id, c.member_id FROM changed c WHERE c.member_type = 'User')
             ORDER BY l.tenant_id, l.id
               FOR NO KEY UPDATE SKIP LOCKED);
    RETURN NULL;
END
$$;
CREATE TRIGGER members_touch_added AFTER INSERT ON scim.members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._touch_members();
CREATE TRIGGER members_touch_removed AFTER DELETE ON scim.members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._touch_members();

-- Bearer tokens: only a SHA-256 of the secret is stored.
-- (0.1.0 has scim.tokens: part 3.)

-- Policies: a named document per tenant, bound to groups.
-- (0.1.0 has scim.policies: part 3.)
-- (0.1.0 has scim.policy_bindings: part 3.)

-- pg_dump keeps the data of extension-owned tables.
-- All tenant rows, the default one too (scim._tenants_merge_default).
SELECT pg_catalog.pg_extension_config_dump('scim.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('scim.users', '');
SELECT pg_catalog.pg_extension_config_dump('scim.groups', '');
SELECT pg_catalog.pg_extension_config_dump('scim.members', '');
SELECT pg_catalog.pg_extension_config_dump('scim.member_writes', '');
SELECT pg_catalog.pg_extension_config_dump('scim.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('scim.policies', '');
SELECT pg_catalog.pg_extension_config_dump('scim.policy_bindings', '');

-- Settings an administrator chose (name → jsonb), kept by pg_dump. Rows
-- exist only once set explicitly, so a restore never meets a row the
-- extension script made itself.
CREATE TABLE scim.settings (
    name  text PRIMARY KEY,
    value jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('scim.settings', '');

-- A retention setting (scim_retention_set): the interval stored under
-- `name`, else `fallback`. Read by the prune functions.
CREATE FUNCTION scim._retention(name text, fallback interval) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (s.value #>> '{}')::interval FROM scim.settings s WHERE s.name = _retention.name),
                    fallback)
$$;

--   storage

-- Policy engine: the admin API (see src/policy/; notifications: policy_notify.sql).
--
-- Policies are named documents per tenant (scim.policies), bound to groups
-- (scim.policy_bindings); a tenant may name a default policy
-- (scim.tenants.default_policy). The read side (effective_policy,
-- effective_policy_explain, policy_allows) and document validation are Rust
-- (src/policy/). Bodies here are plpgsql so that references to Rust
-- functions are resolved at run time, not when the extension script runs.

-- Documents are validated and normalised on every write, whatever the path
-- (scim_policy_put, a direct INSERT/UPDATE, a pg_dump restore), and
-- `updated` (when the document last changed) strictly increases whenever
-- it changes. Backends keep parsed documents in the tenant's policy graph,
-- versioned by scim.tenants.policy_epoch (see below).
CREATE FUNCTION scim._policy_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.document := scim._policy_normalize(NEW.document);
    IF TG_OP = 'UPDATE' AND NEW.document IS DISTINCT FROM OLD.document THEN
        NEW.updated := greatest(clock_timestamp(), OLD.updated + interval '1 microsecond', NEW.updated);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER policies_normalize BEFORE INSERT OR UPDATE ON scim.policies
    FOR EACH ROW EXECUTE FUNCTION scim._policy_before_write();

-- Admin API ---------------------------------------------------------------
-- scim_policy_put(name, document) is Rust (validation with a precise detail).

-- A group of the current tenant, locked against concurrent deletion; 404 otherwise.
CREATE FUNCTION scim._policy_group(tenant uuid, group_ref text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE g uuid;
BEGIN
    IF group_ref ~* '^\s*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\s*$' THEN
        SELECT id INTO g FROM scim.groups
         WHERE tenant_id = tenant AND id = trim(group_ref)::uuid FOR KEY SHARE;
    END IF;
    IF g IS NULL THEN
        PERFORM scim._raise(404, NULL, format('Group ''%s'' not found', group_ref));
    END IF;
    RETURN g;
END
$$;

-- A policy of the current tenant, locked against concurrent deletion; 404 otherwise.
CREATE FUNCTION scim._policy_lock(tenant uuid, policy text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM scim.policies p WHERE p.tenant_id = tenant AND p.name = policy FOR KEY SHARE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('policy "%s" not found', policy));
    END IF;
END
$$;

-- Bind a policy to a group. Idempotent: true if the binding was created,
-- false if it already existed.
CREATE FUNCTION scim.scim_policy_bind(group_id text, policy text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := scim.current_tenant();
    g uuid := scim._policy_group(t, scim_policy_bind.group_id);
BEGIN
    PERFORM scim._policy_lock(t, scim_policy_bind.policy);
    INSERT INTO scim.policy_bindings (tenant_id, group_id, policy)
    VALUES (t, g, scim_policy_bind.policy)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

-- Unbind: true if a binding was removed, false if there was none. An
-- unknown group or policy is a 404 (a typo should not look like success).
CREATE FUNCTION scim.scim_policy_unbind(group_id text, policy text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t uuid := scim.current_tenant();
    g uuid := scim._policy_group(t, scim_policy_unbind.group_id);
BEGIN
    PERFORM scim._policy_lock(t, scim_policy_unbind.policy);
    DELETE FROM scim.policy_bindings b
     WHERE b.tenant_id = t AND b.group_id = g AND b.policy = scim_policy_unbind.policy;
    RETURN FOUND;
END
$$;

-- The policy of users who reach no bound policy. NULL clears it.
CREATE FUNCTION scim.scim_policy_set_default(policy text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid := scim.current_tenant();
BEGIN
    IF policy IS NOT NULL THEN
        PERFORM scim._policy_lock(t, policy);
    END IF;
    UPDATE scim.tenants SET default_policy = policy
     WHERE id = t AND default_policy IS DISTINCT FROM policy;
END
$$;

-- Delete a policy: its bindings go with it (FK cascade), and it stops
-- being the default. 404 if unknown.
CREATE FUNCTION scim.scim_policy_delete(name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE t uuid := scim.current_tenant();
BEGIN
    UPDATE scim.tenants SET default_policy = NULL
     WHERE id = t AND default_policy = scim_policy_delete.name;
    DELETE FROM scim.policies p WHERE p.tenant_id = t AND p.name = scim_policy_delete.name;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('policy "%s" not found', scim_policy_delete.name));
    END IF;
END
$$;

--   storage

-- JSON representation helper. The row → JSON expressions live in
-- src/store/render.rs and are spliced into each statement (one kept plan);
-- this small SQL function is inlined into them. It is the one SQL function
-- WITHOUT a pinned search_path (a SET clause stops the planner from
-- inlining a SQL function): instead every function, operator and type in
-- it is schema-qualified, so no object in the caller's search_path can
-- stand in for one (tests/pg_regress 09_security).
-- STABLE (to_char is), so the planner can inline it.
CREATE FUNCTION scim._ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.to_char(pg_catalog.timezone('UTC'::pg_catalog.text, t), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::pg_catalog.text)
$$;

--   storage

-- Credential lifecycle (README "Credentials"): token expiry, rotation with
-- overlap, last use; OAuth 2.0 clients (client credentials grant); the
-- per-tenant operating settings (rate limit, provisioning log options)
-- that authentication reads in the same statement as the token.

ALTER TABLE scim.tokens
    ADD COLUMN expires      timestamptz,                  -- NULL: never
    ADD COLUMN last_used    timestamptz,                  -- about once a minute at most
    ADD COLUMN admin        boolean NOT NULL DEFAULT false,  -- may read /ProvisioningLog
    ADD COLUMN oauth_client uuid;                         -- issued by POST /oauth/token
CREATE INDEX tokens_oauth_client ON scim.tokens (oauth_client, expires) WHERE oauth_client IS NOT NULL;

-- OAuth 2.0 clients (RFC 6749 §4.4): only a SHA-256 of the secret is stored.
CREATE TABLE scim.oauth_clients (
    tenant_id      uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    id             uuid NOT NULL DEFAULT gen_random_uuid(),   -- the client_id
    label          text NOT NULL,
    secret_hash    bytea NOT NULL,
    admin          boolean NOT NULL DEFAULT false,
    token_lifetime interval NOT NULL DEFAULT interval '1 hour'
                   CHECK (token_lifetime > interval '0' AND token_lifetime <= interval '1 day'),
    created        timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked        timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX oauth_clients_id ON scim.oauth_clients (id);

-- Per-tenant operating settings; no row means the defaults (no rate
-- limit, reads not logged, no values in the log).
CREATE TABLE scim.tenant_operations (
    tenant_id      uuid PRIMARY KEY REFERENCES scim.tenants (id) ON DELETE CASCADE,
    rate_per_second real CHECK (rate_per_second > 0),
    rate_burst     int CHECK (rate_burst >= 1),
    log_reads      boolean NOT NULL DEFAULT false,
    log_values     boolean NOT NULL DEFAULT false,
    CHECK ((rate_per_second IS NULL) = (rate_burst IS NULL))
);

SELECT pg_catalog.pg_extension_config_dump('scim.oauth_clients', '');
SELECT pg_catalog.pg_extension_config_dump('scim.tenant_operations', '');

-- Record a use, unless another request of the same token is doing it
-- (SKIP LOCKED: authentication never waits on it).
CREATE FUNCTION scim._credential_touch(token_id uuid) RETURNS void
LANGUAGE sql AS $$
    UPDATE scim.tokens t SET last_used = clock_timestamp()
     WHERE (t.tenant_id, t.id) IN (
           SELECT l.tenant_id, l.id FROM scim.tokens l
            WHERE l.id = token_id
              AND (l.last_used IS NULL OR l.last_used < clock_timestamp() - interval '1 minute')
              FOR NO KEY UPDATE SKIP LOCKED)
$$;

-- A new secret for the token's label, scope and lifetime; the old token
-- stays valid until `overlap` has passed (then 401), so the IdP can be
-- updated without a provisioning gap. Returns the new token once.
CREATE FUNCTION scim.scim_token_rotate(token_id uuid, overlap interval DEFAULT interval '1 day')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old scim.tokens;
    fresh text;
BEGIN
    IF overlap IS NULL OR overlap < interval '0' THEN
        PERFORM scim._raise(400, 'invalidValue', 'overlap must be zero or positive');
    END IF;
    SELECT * INTO old FROM scim.tokens t
     WHERE t.tenant_id = scim.current_tenant() AND t.id = token_id AND t.revoked IS NULL
       AND (t.expires IS NULL OR t.expires > clock_timestamp())
       FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('token %s not found (or revoked or expired)', token_id));
    END IF;
    fresh := scim.scim_token_issue(old.label, old.expires - old.created, old.admin);
    UPDATE scim.tokens t SET expires = least(coalesce(t.expires, 'infinity'), clock_timestamp() + overlap)
     WHERE t.tenant_id = old.tenant_id AND t.id = old.id;
    RETURN fresh;
END
$$;

-- OAuth clients of the current tenant, without secrets.
CREATE FUNCTION scim.scim_oauth_clients()
RETURNS TABLE (client_id uuid, label text, admin boolean, token_lifetime interval,
               created timestamptz, revoked timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT c.id, c.label, c.admin, c.token_lifetime, c.created, c.revoked
      FROM scim.oauth_clients c
     WHERE c.tenant_id = tenant
     ORDER BY c.created, c.id;
END
$$;

-- Revoking a client revokes the access tokens it was given.
CREATE FUNCTION scim.scim_oauth_client_revoke(client_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    UPDATE scim.oauth_clients c SET revoked = coalesce(c.revoked, clock_timestamp())
     WHERE c.tenant_id = tenant AND c.id = client_id;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('OAuth client %s not found', client_id));
    END IF;
    UPDATE scim.tokens t SET revoked = coalesce(t.revoked, clock_timestamp())
     WHERE t.tenant_id = tenant AND t.oauth_client = client_id;
END
$$;

-- The client's tenant and scope, for POST /oauth/token (before any tenant
-- is known; owner-only).
CREATE FUNCTION scim._oauth_client(client_id uuid)
RETURNS TABLE (tenant_id uuid, label text, secret_hash bytea, admin boolean, lifetime_seconds bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.tenant_id, c.label, c.secret_hash, c.admin, extract(epoch FROM c.token_lifetime)::bigint
      FROM scim.oauth_clients c
     WHERE c.id = client_id AND c.revoked IS NULL
$$;

-- Requests per second and burst for the current tenant, enforced by the
-- gateway (README "Rate limits"); NULL, NULL turns the limit off.
CREATE FUNCTION scim.scim_rate_limit_set(requests_per_second real, burst int DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE b int := coalesce(burst, greatest(1, ceil(requests_per_second)::int));
BEGIN
    IF requests_per_second IS NOT NULL AND (requests_per_second <= 0 OR b < 1) THEN
        PERFORM scim._raise(400, 'invalidValue', 'requests_per_second and burst must be positive');
    END IF;
    INSERT INTO scim.tenant_operations AS o (tenant_id, rate_per_second, rate_burst)
    VALUES (scim.current_tenant(), requests_per_second, CASE WHEN requests_per_second IS NOT NULL THEN b END)
    ON CONFLICT (tenant_id) DO UPDATE SET rate_per_second = EXCLUDED.rate_per_second,
                                          rate_burst = EXCLUDED.rate_burst;
END
$$;

-- What the provisioning log keeps for the current tenant: reads too, and
-- the request bodies (PII: off by default; passwords are never kept).
CREATE FUNCTION scim.scim_provisioning_log_configure(log_reads boolean, log_values boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO scim.tenant_operations AS o (tenant_id, log_reads, log_values)
    VALUES (scim.current_tenant(), coalesce(log_reads, false), coalesce(log_values, false))
    ON CONFLICT (tenant_id) DO UPDATE SET log_reads = EXCLUDED.log_reads, log_values = EXCLUDED.log_values;
END
$$;

-- The current tenant's operating settings.
CREATE FUNCTION scim.scim_tenant_operations()
RETURNS TABLE (rate_per_second real, rate_burst int, log_reads boolean, log_values boolean)
LANGUAGE sql STABLE AS $$
    SELECT o.rate_per_second, o.rate_burst, coalesce(o.log_reads, false), coalesce(o.log_values, false)
      FROM (SELECT scim.current_tenant() AS id) t
      LEFT JOIN scim.tenant_operations o ON o.tenant_id = t.id
$$;

--   credentials

-- Tenants and tokens: the SQL-language part of the admin API (token issue
-- and rotation are in Rust: randomness and hashing, src/auth.rs).

-- Tenants ---------------------------------------------------------------
CREATE FUNCTION scim.scim_tenant_create(name text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE created uuid;
BEGIN
    INSERT INTO scim.tenants (name) VALUES (scim_tenant_create.name) RETURNING id INTO created;
    RETURN created;
EXCEPTION
    WHEN unique_violation THEN
        PERFORM scim._raise(409, 'uniqueness', format('tenant "%s" already exists', scim_tenant_create.name));
    WHEN check_violation OR not_null_violation THEN
        PERFORM scim._raise(400, 'invalidValue', 'a tenant name must be a non-empty string');
END
$$;

-- Tokens (issue is in Rust: randomness and hashing) ---------------------
CREATE FUNCTION scim.scim_tokens()
RETURNS TABLE (id uuid, label text, created timestamptz, revoked timestamptz,
               expires timestamptz, last_used timestamptz, admin boolean)
LANGUAGE plpgsql STABLE AS $$
-- The tenant is resolved before the query (an unknown tenant is an error
-- even when there is no row to filter; see scim_policy_changes).
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    RETURN QUERY
    SELECT t.id, t.label, t.created, t.revoked, t.expires, t.last_used, t.admin
      FROM scim.tokens t
     WHERE t.tenant_id = tenant
     ORDER BY t.created, t.id;
END
$$;

CREATE FUNCTION scim.scim_token_revoke(token_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scim.tokens SET revoked = coalesce(revoked, clock_timestamp())
     WHERE tenant_id = scim.current_tenant() AND id = token_id;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('token %s not found', token_id));
    END IF;
END
$$;

--   storage

-- The HTTP entry points: scim_http (what the gateway calls; the library's
-- function, src/http/entry.rs) and scim_postgrest (what PostgREST calls,
-- below), over the Rust request path (src/http/).

-- HTTP -------------------------------------------------------------------
-- scim_http and scim_postgrest authenticate every request by its bearer
-- token, so they are the two functions a web role may execute; they run
-- as the extension owner (SECURITY DEFINER, fixed search_path). Every
-- other function is revoked from PUBLIC at the end of this script: the SQL
-- API trusts its caller with the tenant GUC, so only roles you GRANT it to
-- (your app backend) may call it.
-- (0.1.0 has the type scim.http_response.)

-- A SQL error → a SCIM error response. Our own errors carry
-- {"status":…,"scimType":…} in DETAIL; anything else is mapped by SQLSTATE.
CREATE FUNCTION scim._http_error(sqlstate text, message text, detail text)
RETURNS scim.http_response LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    info   jsonb;
    status int;
    stype  text;
    body   jsonb;
    hdrs   jsonb := '{"Content-Type": "application/scim+json"}';
BEGIN
    BEGIN
        -- The first line: pgrx may append a backtrace to re-raised errors.
        info := split_part(detail, E'\n', 1)::jsonb;
    EXCEPTION WHEN OTHERS THEN
        info := NULL;
    END;
    IF jsonb_typeof(info) = 'object' AND info ? 'status' THEN
        status := (info->>'status')::int;
        stype := info->>'scimType';
    ELSIF sqlstate = '23505' THEN
        status := 409; stype := 'uniqueness';
    ELSIF sqlstate IN ('22P02', '22023', '2202E', '22003', '22004', '22007', '22008', '22021', '54000', '54001') THEN
        status := 400; stype := 'invalidValue';
    ELSIF sqlstate IN ('40001', '40P01', '55P03') THEN
        status := 409; stype := NULL;
        message := 'the resource was modified concurrently; retry: ' || message;
    ELSIF sqlstate = '57014' THEN
        status := 503; stype := NULL;
    ELSIF sqlstate = '25006' THEN
        -- A write on a hot standby: the gateway sends writes to the primary.
        status := 503; stype := NULL;
        message := 'this server is a read-only replica; send writes to the primary: ' || message;
    ELSE
        status := 500; stype := NULL;
        message := 'internal error (SQLSTATE ' || sqlstate || '): ' || message;
    END IF;
    body := jsonb_build_object(
        'schemas', jsonb_build_array('urn:ietf:params:scim:api:messages:2.0:Error'),
        'status', status::text,
        'detail', message);
    IF stype IS NOT NULL THEN
        body := body || jsonb_build_object('scimType', stype);
    END IF;
    IF status = 401 AND (message LIKE 'invalid or revoked token%' OR message LIKE 'the token expired%') THEN
        -- A token was presented and is not valid (RFC 6750 §3.1).
        hdrs := hdrs || '{"WWW-Authenticate": "Bearer realm=\"scim\", error=\"invalid_token\""}';
    ELSIF status = 401 THEN
        hdrs := hdrs || '{"WWW-Authenticate": "Bearer realm=\"scim\""}';
    END IF;
    RETURN ROW(status, hdrs, body)::scim.http_response;
END
$$;

-- scim._http(tenant, method, path, query, headers, body): one request in a
-- sub-transaction, then the provisioning log; Rust (src/http/entry.rs),
-- created after this file.

-- The one HTTP entry point (the gateway calls it; scim_postgrest too).
-- scim.scim_http itself is the library's (src/http/entry.rs): no PL/pgSQL
-- wrapper between the gateway and the request.

-- PostgREST exposure (see examples/postgrest/): nginx rewrites
-- /scim/v2/<path> to POST /rpc/scim_postgrest and carries the original
-- method, path, query and bearer token in x-scim-* headers. One unnamed
-- jsonb parameter, so PostgREST passes the whole request body. SCIM errors
-- are ordinary results with response.status set, never RAISEs, and the
-- failed write is still rolled back (scim_http's sub-transaction).
CREATE FUNCTION scim.scim_postgrest(jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    req     jsonb := coalesce(nullif(current_setting('request.headers', true), ''), '{}')::jsonb;
    method  text := upper(coalesce(req->>'x-scim-method', 'GET'));
    fwd     jsonb;
    res     scim.http_response;
    out_hdr jsonb;
BEGIN
    -- Forward every request header except PostgREST's own Authorization
    -- (a JWT slot); the SCIM bearer token travels in x-scim-authorization.
    SELECT coalesce(jsonb_object_agg(key, value), '{}') INTO fwd
      FROM jsonb_each(req) WHERE key NOT IN ('authorization', 'x-scim-authorization', 'x-scim-internal');
    IF req ? 'x-scim-authorization' THEN
        fwd := fwd || jsonb_build_object('authorization', req->>'x-scim-authorization');
    END IF;
    -- The public base URL: the GUC scim.public_url when the administrator
    -- set it (ALTER ROLE … SET), else X-Scim-Base-Url, which nginx always
    -- sets from its own configuration, replacing any the client sent
    -- (examples/postgrest/nginx.conf). scim_http itself reads only the GUC.
    IF coalesce(current_setting('scim.public_url', true), '') = '' AND req ? 'x-scim-base-url' THEN
        PERFORM set_config('scim.public_url', req->>'x-scim-base-url', true);
    END IF;
    res := scim.scim_http(
        method,
        coalesce(req->>'x-scim-path', '/'),
        req->>'x-scim-query',
        fwd,
        CASE WHEN $1 IS NULL OR (method IN ('GET', 'DELETE') AND $1 = '{}'::jsonb) THEN NULL ELSE $1::text END);
    SELECT coalesce(jsonb_agg(jsonb_build_object(key, value)), '[]') INTO out_hdr
      FROM jsonb_each(res.headers) WHERE key NOT ILIKE 'x-scim-internal-%';
    PERFORM set_config('response.status', res.status::text, true);
    PERFORM set_config('response.headers', out_hdr::text, true);
    RETURN res.body;
END
$$;

CREATE  FUNCTION "_api_tenant"() RETURNS uuid /* pgrx :: Uuid */
STRICT 
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'api_tenant_wrapper';

-- requires:
--   http
CREATE  FUNCTION "_http"(
	"tenant" uuid, /* Option < pgrx :: Uuid > */
	"method" TEXT, /* & str */
	"path" TEXT, /* & str */
	"query" TEXT, /* Option < & str > */
	"headers" jsonb, /* Option < JsonArg > */
	"body" TEXT /* Option < & str > */
) RETURNS scim.http_response /* HttpResponseRow */
 
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'http_wrapper';

CREATE  FUNCTION "_http_dispatch"(
	"tenant" uuid, /* Option < pgrx :: Uuid > */
	"method" TEXT, /* & str */
	"path" TEXT, /* & str */
	"query" TEXT, /* Option < & str > */
	"headers" jsonb, /* Option < JsonArg > */
	"body" TEXT /* Option < & str > */
) RETURNS jsonb /* JsonbDatum */

LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'http_dispatch_wrapper';

CREATE  FUNCTION "_policy_normalize"(
	"document" jsonb /* JsonArg */
) RETURNS jsonb /* JsonB */
IMMUTABLE STRICT PARALLEL SAFE 
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'policy_normalize_wrapper';

CREATE  FUNCTION "effective_policy"(
	"user_ref" TEXT /* Option < & str > */
) RETURNS jsonb /* JsonB */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'effective_policy_wrapper';

CREATE  FUNCTION "effective_policy_explain"(
	"user_ref" TEXT /* Option < & str > */
) RETURNS jsonb /* JsonB */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'effective_policy_explain_wrapper';

-- (scim.fold: part 1.)

--   storage
--   fold::scim_fold_text

-- The trigger functions written in Rust (src/triggers/). pgrx writes
-- 'MODULE_PATHNAME' into the CREATE FUNCTION of a trigger function, which
-- this extension cannot use (its library is versioned and the control
-- file names none: scim_pg.control), so they are created here from the
-- library every other function of this script names (scim.fold's).
DO $$
DECLARE library text := (SELECT p.probin FROM pg_catalog.pg_proc p
                          WHERE p.oid = 'scim.fold(text)'::pg_catalog.regprocedure);
BEGIN
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._changes_resources() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_changes_resources_wrapper');
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._policy_users_changed() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_policy_users_changed_wrapper');
    EXECUTE pg_catalog.format(
        'CREATE FUNCTION scim._tenants_written() RETURNS trigger LANGUAGE c AS %L, %L',
        library, '_tenants_written_wrapper');
END
$$;

-- Each backend keeps what it read about tenants (the resolved GUC
-- scim.tenant, whether a tenant has a default policy) only while it has
-- not written scim.tenants since (src/store/tenant.rs); these count the
-- writes. ALWAYS: under session_replication_role = replica too.
CREATE TRIGGER tenants_written_before BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON scim.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION scim._tenants_written();
CREATE TRIGGER tenants_written_after AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scim.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION scim._tenants_written();
ALTER TABLE scim.tenants ENABLE ALWAYS TRIGGER tenants_written_before;
ALTER TABLE scim.tenants ENABLE ALWAYS TRIGGER tenants_written_after;

--   storage
--   triggers

-- The change feed: scim_changes(after, limit) (README "Provisioning log
-- and change feed").
--
-- The promise: a consumer that stores the last change number it read
-- never misses a committed change and never sees an uncommitted one, even
-- when writers commit in another order than they wrote.
--
-- Why not a sequence drawn by the writer: writer A draws 1, writer B draws
-- 2 and commits, a consumer reads 2 and stores it, then A commits its 1:
-- missed for ever. So writers only append PENDING rows (change_no NULL,
-- with their transaction id), and change numbers are handed out later, by
-- the reader, to pending rows whose writer is older than the xmin of the
-- reader's snapshot: every such writer has ended, so its rows are either
-- visible (committed) or gone (rolled back) and can never appear later.
-- Numbering runs under one transaction-level advisory lock, so batches are
-- numbered and committed one after the other: every number a reader can
-- see was handed out after every smaller one became visible.
--
-- Cost: one row per changed resource (statement-level triggers, one INSERT
-- per statement) and, in the reader, one UPDATE of the rows that became
-- ready, serialised across readers. A long-running transaction holds back
-- xmin and so delays (never loses) the feed. On a hot standby, or under
-- REPEATABLE READ / SERIALIZABLE, scim_changes only reads what is already
-- numbered (a prefix of the feed, so still never a gap).

-- The two closed vocabularies are domains, not table CHECKs: a table's
-- CHECK is parsed and planned again by every INSERT statement (one per
-- write here, ~13 µs for the two), a domain's once per backend.
CREATE DOMAIN scim.change_resource_type AS text CHECK (VALUE IN ('User', 'Group'));
CREATE DOMAIN scim.change_operation AS text
    CHECK (VALUE IN ('create', 'update', 'deactivate', 'activate', 'delete', 'member_add', 'member_remove'));
CREATE TABLE scim.changes (
    pending_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     uuid NOT NULL,
    writer_xid    xid8 NOT NULL DEFAULT pg_catalog.pg_current_xact_id(),
    change_no     bigint,                 -- NULL until the change is numbered
    resource_type scim.change_resource_type NOT NULL,
    resource_id   uuid NOT NULL,
    operation     scim.change_operation NOT NULL,
    version       bigint,                 -- the resource's version after the change
    member_id     uuid,                   -- member_add / member_remove
    at            timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE UNIQUE INDEX changes_numbered ON scim.changes (tenant_id, change_no) WHERE change_no IS NOT NULL;
CREATE INDEX changes_pending ON scim.changes (writer_xid, pending_id) WHERE change_no IS NULL;
CREATE INDEX changes_at ON scim.changes USING brin (at);   -- for the prune only
CREATE SEQUENCE scim.change_numbers AS bigint;
-- Writers: statement-level triggers, one INSERT per statement
-- (scim._changes_resources, Rust: src/triggers/change_feed.rs). Rows of a
-- tenant being deleted are not recorded (its resources go with it).
-- SECURITY DEFINER: a change made by a role given direct DML (RLS confines
-- it to its tenant's rows) is in the feed too, without granting it the
-- feed's table; the rows come only from the statement's transition tables.
ALTER FUNCTION scim._changes_resources() SECURITY DEFINER;
CREATE TRIGGER users_changes_insert AFTER INSERT ON scim.users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();
CREATE TRIGGER users_changes_update AFTER UPDATE ON scim.users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();
CREATE TRIGGER users_changes_delete AFTER DELETE ON scim.users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();
CREATE TRIGGER groups_changes_insert AFTER INSERT ON scim.groups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();
CREATE TRIGGER groups_changes_update AFTER UPDATE ON scim.groups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();
CREATE TRIGGER groups_changes_delete AFTER DELETE ON scim.groups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_resources();

CREATE FUNCTION scim._changes_members() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation, member_id)
        SELECT c.tenant_id, 'Group', c.group_id, 'member_add', c.member_id FROM changed c;
    ELSE
        -- A deleted group's memberships go with it (its 'delete' says so).
        INSERT INTO scim.changes (tenant_id, resource_type, resource_id, operation, member_id)
        SELECT c.tenant_id, 'Group', c.group_id, 'member_remove', c.member_id FROM changed c
         WHERE EXISTS (SELECT 1 FROM scim.groups g WHERE g.tenant_id = c.tenant_id AND g.id = c.group_id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER members_changes_insert AFTER INSERT ON scim.members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_members();
CREATE TRIGGER members_changes_delete AFTER DELETE ON scim.members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._changes_members();

-- Number the pending changes whose writers have ended (see the top of
-- this file). Returns how many were numbered.
CREATE FUNCTION scim._changes_number() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE numbered bigint;
BEGIN
    IF pg_is_in_recovery() OR current_setting('transaction_isolation') <> 'read committed' THEN
        RETURN 0;
    END IF;
    -- One numberer at a time, until it commits. The next statement takes
    -- a new snapshot (READ COMMITTED), so it sees every earlier batch.
    PERFORM pg_advisory_xact_lock(8386218497125364014);
    WITH ready AS (
        SELECT c.pending_id FROM scim.changes c
         WHERE c.change_no IS NULL
           AND c.writer_xid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY c.writer_xid, c.pending_id
    ), numbered_rows AS (
        SELECT r.pending_id, nextval('scim.change_numbers') AS n FROM ready r
    )
    UPDATE scim.changes c SET change_no = nr.n
      FROM numbered_rows nr
     WHERE c.pending_id = nr.pending_id;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    RETURN numbered;
END
$$;

-- The current tenant's committed changes after change number `after`, in
-- order, at most `max_rows` (1 to 10,000).
CREATE FUNCTION scim.scim_changes(after bigint DEFAULT 0, max_rows int DEFAULT 1000)
RETURNS TABLE (change_no bigint, resource_type text, resource_id uuid, operation text,
               version bigint, member_id uuid, at timestamptz)
LANGUAGE plpgsql AS $$
DECLARE tenant uuid := scim._api_tenant();   -- scim_session binding enforced
BEGIN
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
        PERFORM scim._raise(400, 'invalidValue', 'max_rows must be between 1 and 10000');
    END IF;
    PERFORM scim._changes_number();
    RETURN QUERY
        SELECT c.change_no, c.resource_type::text, c.resource_id, c.operation::text, c.version, c.member_id, c.at
          FROM scim.changes c
         WHERE c.tenant_id = tenant AND c.change_no IS NOT NULL AND c.change_no > coalesce(after, 0)
         ORDER BY c.change_no
         LIMIT max_rows;
END
$$;

-- Changes older than the retention (scim.settings 'change_feed_retention',
-- default 7 days) are deleted, numbered or still pending: a feed nobody
-- reads is bounded by the retention too. Deleting an old pending row loses
-- nothing a reader could still get: had a reader numbered it, it would be
-- as old and go the same way (numbering every pending row here, as this
-- once did, cost an UPDATE per write). Returns how many.
CREATE FUNCTION scim.scim_changes_prune() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    -- A value, not clock_timestamp() - keep in the WHERE clause: a
    -- volatile expression is evaluated on every row and is no index
    -- condition on the BRIN index of at.
    cutoff timestamptz := clock_timestamp() - scim._retention('change_feed_retention', '7 days');
    gone bigint;
BEGIN
    DELETE FROM scim.changes c WHERE c.at < cutoff;
    GET DIAGNOSTICS gone = ROW_COUNT;
    RETURN gone;
END
$$;

--   changes

-- The provisioning log (README "Provisioning log and change feed"): one row
-- per write request and per failed request (4xx included), written by
-- scim._http after the request's sub-transaction, so a failed request is
-- logged although its work was rolled back. Reads only when the tenant
-- opts in (scim_provisioning_log_configure). The row is written by
-- src/provisioning_log.rs; this file holds the table and the read side.

CREATE TABLE scim.provisioning_log (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant_id        uuid,          -- NULL: no valid credential, so no tenant
    credential_id    uuid,          -- a token or an OAuth client
    credential_label text,
    sql_role         text NOT NULL DEFAULT session_user,
    method           text NOT NULL,
    path             text NOT NULL,
    resource_type    text,
    resource_id      text,
    status           int NOT NULL,
    scim_type        text,
    detail           text,
    request_id       text,
    duration_ms      double precision,
    version_before   bigint,
    version_after    bigint,
    attributes       text[],        -- attribute names the request wrote
    request_body     jsonb          -- only when the tenant opts in; never passwords
);
CREATE INDEX provisioning_log_tenant_at ON scim.provisioning_log (tenant_id, at);
-- BRIN: rows arrive in time order, and a BRIN costs next to nothing per
-- insert (the prune is its only reader).
CREATE INDEX provisioning_log_at ON scim.provisioning_log USING brin (at);
-- The current tenant's log, newest first, filtered by time, status range,
-- resource type and id; `before_id` pages backwards (the last id seen).
CREATE FUNCTION scim.scim_provisioning_log(
    since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL,
    min_status int DEFAULT NULL, max_status int DEFAULT NULL,
    resource_type text DEFAULT NULL, resource_id text DEFAULT NULL,
    before_id bigint DEFAULT NULL, max_rows int DEFAULT 100)
RETURNS SETOF scim.provisioning_log
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();
BEGIN
    IF max_rows IS NULL OR max_rows < 1 OR max_rows > 10000 THEN
        PERFORM scim._raise(400, 'invalidValue', 'max_rows must be between 1 and 10000');
    END IF;
    RETURN QUERY
        SELECT l.* FROM scim.provisioning_log l
         WHERE l.tenant_id = tenant
           AND (since IS NULL OR l.at >= since)
           AND (until IS NULL OR l.at < until)
           AND (min_status IS NULL OR l.status >= min_status)
           AND (max_status IS NULL OR l.status <= max_status)
           AND (scim_provisioning_log.resource_type IS NULL
                OR lower(l.resource_type) = lower(rtrim(scim_provisioning_log.resource_type, 's')))
           AND (scim_provisioning_log.resource_id IS NULL OR l.resource_id = scim_provisioning_log.resource_id)
           AND (before_id IS NULL OR l.id < before_id)
         ORDER BY l.at DESC, l.id DESC
         LIMIT max_rows;
END
$$;

-- JSON lines for a SIEM: one object per row, oldest first, e.g.
--   psql -c "\copy (SELECT * FROM scim.scim_provisioning_log_export(now() - interval '1 day')) TO 'scim.jsonl'"
CREATE FUNCTION scim.scim_provisioning_log_export(since timestamptz DEFAULT NULL, until timestamptz DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.to_jsonb(l))::text
      FROM scim.provisioning_log l
     WHERE l.tenant_id = tenant
       AND (since IS NULL OR l.at >= since)
       AND (until IS NULL OR l.at < until)
     ORDER BY l.at, l.id;
END
$$;

-- Retention, for the log and the change feed (scim.settings rows, kept
-- by pg_dump): NULL leaves a value as it is.
CREATE FUNCTION scim.scim_retention_set(provisioning_log interval DEFAULT NULL, change_feed interval DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF provisioning_log <= interval '0' OR change_feed <= interval '0' THEN
        PERFORM scim._raise(400, 'invalidValue', 'a retention must be positive');
    END IF;
    IF provisioning_log IS NOT NULL THEN
        INSERT INTO scim.settings (name, value) VALUES ('provisioning_log_retention', to_jsonb(provisioning_log::text))
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF change_feed IS NOT NULL THEN
        INSERT INTO scim.settings (name, value) VALUES ('change_feed_retention', to_jsonb(change_feed::text))
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    END IF;
END
$$;

-- Log rows older than the retention (default 30 days) are deleted, in
-- every tenant; with the change feed's (scim_changes_prune). Run it from
-- cron / pg_cron; the log write also calls it every 4,096 rows. Returns
-- how many log rows went.
-- Planned for its cutoff each time (it runs rarely): a generic plan reads
-- all of provisioning_log_tenant_at instead of the BRIN ranges that are old
-- enough.
CREATE FUNCTION scim.scim_provisioning_log_prune() RETURNS bigint
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    -- The cutoff is a value, not clock_timestamp() - keep in the WHERE
    -- clause: a volatile expression is evaluated per row and is no index
    -- condition, so every prune read the whole log.
    cutoff timestamptz := clock_timestamp() - scim._retention('provisioning_log_retention', '30 days');
    gone bigint;
BEGIN
    DELETE FROM scim.provisioning_log l WHERE l.at < cutoff;
    GET DIAGNOSTICS gone = ROW_COUNT;
    PERFORM scim.scim_changes_prune();
    RETURN gone;
END
$$;

-- The current tenant's log as a view (for reporting roles granted SELECT
-- on it; RLS on the table confines direct readers as everywhere else).
CREATE VIEW scim.provisioning_log_current WITH (security_barrier) AS
    SELECT l.* FROM scim.provisioning_log l WHERE l.tenant_id = scim.current_tenant();

--   policy_admin
--   triggers

-- Policy change notifications (see src/policy/ and README "Policy").

-- Change notifications ---------------------------------------------------
--
-- Every change that can alter someone's effective policy is recorded in
-- scim.policy_changes (tenant, affected users or "all") and announced by
-- NOTIFY scim_policy_changed whose payload is ONLY the change number
-- (scim.policy_changes.seq). Any role may LISTEN on any channel, so the
-- payload carries no tenant or user id; a listener entitled to a tenant
-- reads the details with scim.scim_policy_changes(since) under that tenant
-- (README "Security model"). Delivered on commit; a rolled-back change
-- leaves neither a row nor a notification. "all" is recorded when more than
-- scim.policy_notify_max_users users (default 100) are affected. Rows
-- older than a day are pruned as new ones are written.
--
-- Statement-level AFTER triggers with transition tables: a statement
-- changing 1,000 memberships records one change per tenant.
--
--   * members insert/delete: users below the member (transitively), only if
--     the group or one of its ancestors has a binding: an edge under groups
--     that reach no binding changes nobody's policy (the default policy
--     still applies). Traversals run over current ∪ changed edges, a
--     superset of both the old and the new graph, so multi-edge statements
--     (cascades) are never missed. Users that no longer exist are left to
--     the users trigger (a deleted user's memberships are dropped by
--     scim._drop_memberships).
--   * bindings insert/delete: users below the group.
--   * policies: a changed document → users below groups bound to it; the
--     tenant's default policy changed, created or deleted → all.
--   * tenants.default_policy changed → all (finding users who reach no
--     binding would mean scanning the tenant).
--   * users: deleted → them; `active` changed → them; inserted while the
--     tenant has a default policy → them (they now get it).
--   * group delete: a BEFORE DELETE row trigger on groups, while the
--     group's members and bindings still exist: the statement triggers of
--     the FK cascades (members, bindings) only fire once both cascades are
--     done, when each sees neither the other's rows nor a path to the users.
--
-- userName/externalId changes are not notified: listeners key by user id.

CREATE TABLE scim.policy_changes (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    all_users boolean NOT NULL,
    users     uuid[],            -- sorted; NULL when all_users
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX policy_changes_tenant ON scim.policy_changes (tenant_id, seq);
CREATE INDEX policy_changes_at ON scim.policy_changes (at);
CREATE FUNCTION scim._policy_record(tenant uuid, all_users boolean, users uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    -- Nothing to record for a tenant being deleted (its users go with it).
    INSERT INTO scim.policy_changes (tenant_id, all_users, users)
    SELECT tenant, all_users, CASE WHEN NOT all_users THEN users END
     WHERE EXISTS (SELECT 1 FROM scim.tenants t WHERE t.id = tenant)
    RETURNING seq INTO n;
    IF n IS NULL THEN
        RETURN;
    END IF;
    IF n % 256 = 0 THEN
        DELETE FROM scim.policy_changes WHERE at < clock_timestamp() - interval '1 day';
    END IF;
    PERFORM pg_notify('scim_policy_changed', n::text);
END
$$;

CREATE FUNCTION scim._policy_notify(tenant uuid, users uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    max_users int := coalesce(nullif(current_setting('scim.policy_notify_max_users', true), '')::int, 100);
BEGIN
    IF tenant IS NULL OR users IS NULL OR cardinality(users) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(users) > max_users THEN
        PERFORM scim._policy_record(tenant, true, NULL);
    ELSE
        PERFORM scim._policy_record(tenant, false,
            ARRAY(SELECT DISTINCT u FROM unnest(users) AS u ORDER BY u));
    END IF;
END
$$;

-- The recorded changes of the CURRENT tenant after change number `since`
-- (a notified number minus one reads that change), oldest first.
-- The caller's tenant as the API resolves it (scim._api_tenant: a
-- scim_session binding is enforced, so a token-bound role cannot read
-- another tenant's changes by setting the GUC). plpgsql: that Rust function
-- is created later in the install script.
CREATE FUNCTION scim.scim_policy_changes(since bigint DEFAULT 0)
RETURNS TABLE (seq bigint, all_users boolean, users uuid[], at timestamptz)
LANGUAGE plpgsql STABLE AS $$
-- Resolved before the query: in a WHERE clause the check (and its 401/403
-- for a token-bound role without scim_session) would be skipped when
-- there is no row to filter.
DECLARE tenant uuid := scim._api_tenant();
BEGIN
    RETURN QUERY
    SELECT c.seq, c.all_users, c.users, c.at
      FROM scim.policy_changes c
     WHERE c.tenant_id = tenant AND c.seq > since
     ORDER BY c.seq;
END
$$;

-- The policy graph of these tenants changed (nesting, bindings, policies):
-- backends keeping it (src/policy/graph.rs) read it again on their next
-- call. Runs in the changing transaction, so the new epoch becomes visible
-- exactly when the change does.
CREATE FUNCTION scim._policy_graph_changed(tenants uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scim.tenants t SET policy_epoch = t.policy_epoch + 1 WHERE t.id = ANY (tenants);
END
$$;

CREATE FUNCTION scim._policy_notify_all(tenant uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._policy_record(tenant, true, NULL);
END
$$;

-- Users strictly below the given groups (transitively, current edges).
CREATE FUNCTION scim._policy_users_below(tenant uuid, groups uuid[]) RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE down(id, kind) AS (
        SELECT g, 'Group'::text FROM unnest(groups) AS g
      UNION
        SELECT m.member_id, m.member_type
          FROM down d
          JOIN scim.members m ON m.tenant_id = tenant AND m.group_id = d.id
         WHERE d.kind = 'Group')
    SELECT array_agg(id) FROM down WHERE kind = 'User'
$$;

-- members: INSERT (changed = new rows) and DELETE (changed = old rows).
CREATE FUNCTION scim._policy_members_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    -- Group nesting is part of the cached policy graph; user memberships
    -- are not (they are read on every call).
    PERFORM scim._policy_graph_changed(ARRAY(
        SELECT DISTINCT c.tenant_id FROM changed c WHERE c.member_type = 'Group'));
    FOR r IN
        -- Each recursive step looks its edges up per row (LATERAL: the
        -- members indexes), never joining the whole membership table: a
        -- hash join there made every membership write scan all tenants'
        -- memberships. `changed` joins in as edges too: removed ones are
        -- gone from scim.members but still count for this change.
        WITH RECURSIVE
        -- each changed edge's group and its ancestors
        up(tenant_id, root, id) AS (
            SELECT DISTINCT c.tenant_id, c.group_id, c.group_id FROM changed c
          UNION
            SELECT u.tenant_id, u.root, e.group_id
              FROM up u
             CROSS JOIN LATERAL (
                   SELECT m.group_id FROM scim.members m
                    WHERE m.tenant_id = u.tenant_id AND m.member_id = u.id
                   UNION ALL
                   SELECT c.group_id FROM changed c
                    WHERE c.tenant_id = u.tenant_id AND c.member_id = u.id) e),
        bound AS (
            SELECT DISTINCT u.tenant_id, u.root FROM up u
             WHERE EXISTS (SELECT 1 FROM scim.policy_bindings b
                            WHERE b.tenant_id = u.tenant_id AND b.group_id = u.id)
                OR scim._policy_group_has_terms(u.tenant_id, u.id)),
        -- everything below the members of those edges
        down(tenant_id, id, kind) AS (
            SELECT c.tenant_id, c.member_id, c.member_type
              FROM changed c JOIN bound b ON b.tenant_id = c.tenant_id AND b.root = c.group_id
          UNION
            SELECT d.tenant_id, e.member_id, e.member_type
              FROM down d
             CROSS JOIN LATERAL (
                   SELECT m.member_id, m.member_type FROM scim.members m
                    WHERE m.tenant_id = d.tenant_id AND m.group_id = d.id
                   UNION ALL
                   SELECT c.member_id, c.member_type FROM changed c
                    WHERE c.tenant_id = d.tenant_id AND c.group_id = d.id) e
             WHERE d.kind = 'Group')
        SELECT d.tenant_id, array_agg(DISTINCT d.id) AS users
          FROM down d
         WHERE d.kind = 'User'
           AND EXISTS (SELECT 1 FROM scim.users u WHERE u.tenant_id = d.tenant_id AND u.id = d.id)
         GROUP BY d.tenant_id
    LOOP
        PERFORM scim._policy_notify(r.tenant_id, r.users);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER members_policy_insert AFTER INSERT ON scim.members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_members_changed();
CREATE TRIGGER members_policy_delete AFTER DELETE ON scim.members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_members_changed();

-- groups: a deleted group takes its bindings and memberships with it.
CREATE FUNCTION scim._policy_group_deleting() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        WITH RECURSIVE up(id) AS (
            SELECT OLD.id
          UNION
            SELECT m.group_id FROM up JOIN scim.members m ON m.tenant_id = OLD.tenant_id AND m.member_id = up.id)
        SELECT 1 FROM up
         WHERE EXISTS (SELECT 1 FROM scim.policy_bindings b WHERE b.tenant_id = OLD.tenant_id AND b.group_id = up.id)
            OR scim._policy_group_has_terms(OLD.tenant_id, up.id))
    THEN
        PERFORM scim._policy_notify(OLD.tenant_id, scim._policy_users_below(OLD.tenant_id, ARRAY[OLD.id]));
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER groups_policy_delete BEFORE DELETE ON scim.groups
    FOR EACH ROW EXECUTE FUNCTION scim._policy_group_deleting();

-- policy_bindings: INSERT / DELETE.
CREATE FUNCTION scim._policy_bindings_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(SELECT DISTINCT c.tenant_id FROM changed c));
    FOR r IN
        SELECT c.tenant_id, array_agg(DISTINCT c.group_id) AS groups FROM changed c GROUP BY c.tenant_id
    LOOP
        PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_bindings_insert AFTER INSERT ON scim.policy_bindings
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_bindings_changed();
CREATE TRIGGER policy_bindings_delete AFTER DELETE ON scim.policy_bindings
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_bindings_changed();

-- policies: a changed document reaches the users of its bindings; the
-- default policy (changed, created under a dangling default name, deleted)
-- reaches everyone. Bindings of a deleted policy cascade (trigger above).
CREATE FUNCTION scim._policy_policies_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM scim._policy_graph_changed(ARRAY(SELECT DISTINCT n.tenant_id FROM new_rows n));
        FOR r IN
            SELECT n.tenant_id, array_agg(DISTINCT b.group_id) AS groups
              FROM new_rows n
              JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.name = n.name
              JOIN scim.policy_bindings b ON b.tenant_id = n.tenant_id AND b.policy = n.name
             WHERE n.document IS DISTINCT FROM o.document
             GROUP BY n.tenant_id
        LOOP
            PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
        END LOOP;
        FOR r IN
            SELECT DISTINCT n.tenant_id
              FROM new_rows n
              JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.name = n.name
              JOIN scim.tenants t ON t.id = n.tenant_id AND t.default_policy = n.name
             WHERE n.document IS DISTINCT FROM o.document
        LOOP
            PERFORM scim._policy_notify_all(r.tenant_id);
        END LOOP;
    ELSE
        PERFORM scim._policy_graph_changed(ARRAY(SELECT DISTINCT c.tenant_id FROM changed c));
        FOR r IN
            SELECT DISTINCT c.tenant_id
              FROM changed c JOIN scim.tenants t ON t.id = c.tenant_id AND t.default_policy = c.name
        LOOP
            PERFORM scim._policy_notify_all(r.tenant_id);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER policies_update AFTER UPDATE ON scim.policies
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_policies_changed();
CREATE TRIGGER policies_insert AFTER INSERT ON scim.policies
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_policies_changed();
CREATE TRIGGER policies_delete AFTER DELETE ON scim.policies
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_policies_changed();

-- TRUNCATE of a table the policy graph is read from: every tenant's graph.
CREATE FUNCTION scim._policy_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(SELECT t.id FROM scim.tenants t));
    RETURN NULL;
END
$$;
CREATE TRIGGER members_policy_truncate AFTER TRUNCATE ON scim.members
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_truncated();
CREATE TRIGGER policy_bindings_truncate AFTER TRUNCATE ON scim.policy_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_truncated();
CREATE TRIGGER policies_truncate AFTER TRUNCATE ON scim.policies
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_truncated();

-- tenants: a new default policy is part of the cached policy graph.
CREATE FUNCTION scim._policy_default_epoch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.default_policy IS DISTINCT FROM OLD.default_policy THEN
        NEW.policy_epoch := OLD.policy_epoch + 1;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER tenants_policy_epoch BEFORE UPDATE OF default_policy ON scim.tenants
    FOR EACH ROW EXECUTE FUNCTION scim._policy_default_epoch();

-- tenants: the default policy changed → everyone in the tenant.
CREATE FUNCTION scim._policy_default_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
         WHERE n.default_policy IS DISTINCT FROM o.default_policy
         ORDER BY n.id
    LOOP
        PERFORM scim._policy_notify_all(r.id);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_policy_default AFTER UPDATE ON scim.tenants
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_default_changed();

-- users: deleted, (de)activated, or created while a default policy applies
-- (scim._policy_users_changed, Rust: src/triggers/policy_users.rs).
CREATE TRIGGER users_policy_delete AFTER DELETE ON scim.users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_users_changed();
CREATE TRIGGER users_policy_insert AFTER INSERT ON scim.users
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_users_changed();
CREATE TRIGGER users_policy_update AFTER UPDATE ON scim.users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_users_changed();

--   storage
--   fold::scim_fold_text

-- Indexes whose best form depends on contrib extensions. Neither is
-- required, so a plain `CREATE EXTENSION scim_pg;` always works:
--   * btree_gin: the GIN indexes lead with tenant_id (its uuid operator
--     class). One index scan then carries both the tenant and the value, so
--     a lookup in a large tenant never intersects its match with a scan of
--     all that tenant's rows, and a small tenant never pays for the others'
--     entries (20x the email lookups/s in the largest of 1,000 tenants,
--     docs/scale.md "Indexes in a multi-tenant database"). Without it
--     users_email_values indexes the values alone: right, but a lookup in
--     a database of many tenants reads every tenant's entries for the value.
--   * pg_trgm: co/sw/ew on userName and displayName (users and groups) are
--     index-assisted; without it they scan the tenant's rows.
-- They are made at install with what is there (install btree_gin and
-- pg_trgm before scim_pg), and scim.scim_create_trigram_indexes() remakes
-- them in their best form after either is installed later. Indexes on
-- extension tables are not dumped by pg_dump: that explicit call is
-- recorded in scim.settings, and restoring the row makes them again
-- (trigger below); a restore that creates the contrib extensions first
-- gets the best forms at CREATE EXTENSION anyway.
CREATE FUNCTION scim._create_optional_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    ops  text;
    lead text := '';
    keys int := 1;
    ix   text;
    tbl  text;
    expr text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        lead := 'tenant_id, ';
        keys := 2;
    END IF;
    SELECT format('%I.gin_trgm_ops', n.nspname) INTO ops
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'pg_trgm';
    FOR ix, tbl, expr IN
        SELECT v.ix, v.tbl, v.expr FROM (VALUES
            ('users_email_values', 'users', 'email_values'),
            ('users_user_name_trgm', 'users', 'scim.fold(user_name) ' || ops),
            ('users_display_name_trgm', 'users', 'scim.fold(display_name) ' || ops),
            ('groups_display_name_trgm', 'groups', 'scim.fold(display_name) ' || ops)) v(ix, tbl, expr)
         WHERE v.expr IS NOT NULL
    LOOP
        -- An index made before btree_gin was there is made again, leading
        -- with the tenant.
        IF EXISTS (SELECT 1 FROM pg_index i
                    WHERE i.indexrelid = pg_catalog.to_regclass('scim.' || ix) AND i.indnkeyatts <> keys) THEN
            EXECUTE format('DROP INDEX scim.%I', ix);
        END IF;
        IF pg_catalog.to_regclass('scim.' || ix) IS NULL THEN
            EXECUTE format('CREATE INDEX %I ON scim.%I USING gin (%s%s)', ix, tbl, lead, expr);
        END IF;
    END LOOP;
    RETURN ops IS NOT NULL;
END
$$;
SELECT scim._create_optional_indexes();

-- Records the choice; the settings trigger below makes the indexes. True
-- when pg_trgm is installed (the trigram indexes exist).
CREATE FUNCTION scim.scim_create_trigram_indexes() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname IN ('pg_trgm', 'btree_gin')) THEN
        RETURN false;
    END IF;
    INSERT INTO scim.settings (name, value) VALUES ('trigram_indexes', 'true')
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
    RETURN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');
END
$$;

CREATE FUNCTION scim._settings_apply() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name = 'trigram_indexes' AND NEW.value = 'true' THEN
        PERFORM scim._create_optional_indexes();
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER settings_apply AFTER INSERT OR UPDATE ON scim.settings
    FOR EACH ROW EXECUTE FUNCTION scim._settings_apply();

CREATE  FUNCTION "policy_allows"(
	"user_ref" TEXT, /* Option < & str > */
	"domain" TEXT, /* Option < & str > */
	"item" TEXT /* Option < & str > */
) RETURNS bool /* bool */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'policy_allows_wrapper';

CREATE  FUNCTION "scim_build_info"() RETURNS TEXT /* String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_build_info_wrapper';

CREATE  FUNCTION "scim_bulk"(
	"request" jsonb /* JsonArg */
) RETURNS jsonb /* JsonB */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_bulk_wrapper';

CREATE  FUNCTION "scim_create_group"(
	"resource" jsonb /* JsonArg */
) RETURNS jsonb /* JsonbDatum */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_create_group_wrapper';

CREATE  FUNCTION "scim_create_user"(
	"resource" jsonb /* JsonArg */
) RETURNS jsonb /* JsonbDatum */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_create_user_wrapper';

CREATE  FUNCTION "scim_delete"(
	"resource_type" TEXT, /* & str */
	"id" TEXT, /* & str */
	"if_match" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS void
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_delete_wrapper';

CREATE  FUNCTION "scim_effective_policy"(
	"user_ref" TEXT /* Option < & str > */
) RETURNS jsonb /* JsonB */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_effective_policy_wrapper';

CREATE  FUNCTION "scim_effective_policy_explain"(
	"user_ref" TEXT /* Option < & str > */
) RETURNS jsonb /* JsonB */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_effective_policy_explain_wrapper';

CREATE  FUNCTION "scim_extension_schema_put"(
	"resource_type" TEXT, /* & str */
	"definition" jsonb, /* JsonArg */
	"required" bool DEFAULT false /* bool */
) RETURNS jsonb /* JsonB */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_extension_schema_put_wrapper';

CREATE  FUNCTION "scim_filter"(
	"filter" TEXT, /* & str */
	"resource_type" TEXT DEFAULT 'User' /* & str */
) RETURNS SETOF jsonb /* JsonB */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_filter_wrapper';

CREATE  FUNCTION "scim_filter_sql"(
	"filter" TEXT, /* & str */
	"resource_type" TEXT DEFAULT 'User' /* & str */
) RETURNS TEXT /* String */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_filter_sql_wrapper';

CREATE  FUNCTION "scim_fold_version"() RETURNS TEXT /* & '_ str */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_fold_version_wrapper';

--   storage
--   fold::scim_fold_text
--   fold::scim_fold_version

-- Case folding maintenance (README "Case-insensitive matching"). The
-- folding key scim.fold() is declared in storage.sql; what depends on it:
-- the unique indexes on userName and group displayName, the displayName
-- and trigram indexes, and the stored users.email_values. When the folding
-- changes (a library with a new scim_fold_version(), or an upgrade from
-- lower()), scim_fold_rebuild() brings them in line; the upgrade scripts
-- call it.

-- Resources whose keys collide under the current folding: what a new rule
-- reveals (e.g. 'straße' and 'STRASSE', or 'é' precomposed and decomposed,
-- stored while the index used lower()). One row per collision. Nothing is
-- merged: rename or delete all but one, then run scim_fold_rebuild().
-- Row Level Security applies: a superuser (or BYPASSRLS role) sees every
-- tenant, anyone else only the current one.
CREATE FUNCTION scim.scim_fold_duplicates()
RETURNS TABLE (tenant_id uuid, tenant text, resource_type text, attribute text,
               fold_key text, ids uuid[], names text[])
LANGUAGE sql STABLE AS $$
    SELECT d.* FROM (
        SELECT u.tenant_id, t.name AS tenant, 'User'::text AS resource_type, 'userName'::text AS attribute,
               scim.fold(u.user_name) AS fold_key,
               array_agg(u.id ORDER BY u.user_name COLLATE "C", u.id) AS ids,
               array_agg(u.user_name ORDER BY u.user_name COLLATE "C", u.id) AS names
          FROM scim.users u JOIN scim.tenants t ON t.id = u.tenant_id
         GROUP BY u.tenant_id, t.name, scim.fold(u.user_name)
        HAVING count(*) > 1
        UNION ALL
        SELECT g.tenant_id, t.name, 'Group', 'displayName', scim.fold(g.display_name),
               array_agg(g.id ORDER BY g.display_name COLLATE "C", g.id),
               array_agg(g.display_name ORDER BY g.display_name COLLATE "C", g.id)
          FROM scim.groups g JOIN scim.tenants t ON t.id = g.tenant_id
         GROUP BY g.tenant_id, t.name, scim.fold(g.display_name)
        HAVING count(*) > 1) d
     ORDER BY d.tenant COLLATE "C", d.resource_type, d.fold_key COLLATE "C"
$$;

-- Recompute everything stored or indexed by scim.fold(). Fails first, with
-- the collisions named and nothing changed, if the unique indexes could not
-- hold. Then: email_values recomputed; the three name indexes created anew
-- (their one definition is here; CREATE EXTENSION runs this function); any
-- other index on scim.users / scim.groups that uses scim.fold (trigram
-- indexes) rebuilt, and one still on lower() (0.1.0's trigram indexes)
-- replaced through scim_create_trigram_indexes(). Each index records the
-- folding version as its comment. Returns the number of indexes built.
-- The indexes on scim.users and scim.groups whose expressions call `fn`
-- (pg_depend records the function an index expression uses), oldest first.
CREATE FUNCTION scim._indexes_using(fn regprocedure) RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
    SELECT i.indexrelid::regclass
      FROM pg_index i JOIN pg_depend d
        ON d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid AND d.refclassid = 'pg_proc'::regclass
     WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass)
       AND d.refobjid = fn
     ORDER BY 1
$$;

CREATE FUNCTION scim.scim_fold_rebuild() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    collisions bigint;
    sample     text;
    ix         regclass;
    old_trgm   boolean := false;
    built      integer := 0;
BEGIN
    SELECT count(*), string_agg(format('tenant %s (%s): %s %s %L: ids %s',
                                       d.tenant, d.tenant_id, d.resource_type, d.attribute,
                                       d.fold_key, array_to_string(d.ids, ', ')), E'\n')
      INTO collisions, sample
      FROM scim.scim_fold_duplicates() d;
    IF collisions > 0 THEN
        RAISE EXCEPTION '% name(s) are held by more than one resource under the case folding "%"; nothing was changed',
                        collisions, scim.scim_fold_version()
            USING ERRCODE = 'unique_violation',
                  DETAIL = sample,
                  HINT = 'SELECT * FROM scim.scim_fold_duplicates() lists them; rename or delete all but one of each, then run scim.scim_fold_rebuild() again.';
    END IF;

    UPDATE scim.users u
       SET email_values = f.v
      FROM (SELECT x.tenant_id, x.id,
                   ARRAY(SELECT scim.fold(e.el->>'value')
                           FROM jsonb_array_elements(CASE jsonb_typeof(x.resource->'emails')
                                                     WHEN 'array' THEN x.resource->'emails' END)
                                WITH ORDINALITY AS e(el, n)
                          WHERE jsonb_typeof(e.el->'value') = 'string'
                          ORDER BY e.n) AS v
              FROM scim.users x) f
     WHERE u.tenant_id = f.tenant_id AND u.id = f.id AND u.email_values IS DISTINCT FROM f.v;

    DROP INDEX IF EXISTS scim.users_user_name_ci, scim.users_display_name_ci, scim.groups_display_name_ci;
    CREATE UNIQUE INDEX users_user_name_ci ON scim.users (tenant_id, scim.fold(user_name));
    CREATE INDEX users_display_name_ci ON scim.users (tenant_id, scim.fold(display_name));
    CREATE UNIQUE INDEX groups_display_name_ci ON scim.groups (tenant_id, scim.fold(display_name));

    FOR ix IN SELECT scim._indexes_using('pg_catalog.lower(text)') LOOP
        EXECUTE format('DROP INDEX %s', ix);
        old_trgm := true;
    END LOOP;
    IF old_trgm THEN
        PERFORM scim.scim_create_trigram_indexes();
    END IF;

    FOR ix IN SELECT scim._indexes_using('scim.fold(text)') LOOP
        IF ix::text NOT LIKE '%\_ci' THEN
            EXECUTE format('REINDEX INDEX %s', ix);
        END IF;
        EXECUTE format('COMMENT ON INDEX %s IS %L', ix, 'scim.fold ' || scim.scim_fold_version());
        built := built + 1;
    END LOOP;
    RETURN built;
END
$$;

-- The name indexes, built with the current folding.
SELECT scim.scim_fold_rebuild();

--   storage
--   fold

-- Per-tenant extension schemas (RFC 7643 §3.3, §7; README "Extension
-- schemas"). Registration (validation of the definition) is in Rust
-- (scim_extension_schema_put, src/store/extensions.rs); removal and the
-- per-attribute indexes are here. Values live in the resource's jsonb
-- under the schema URN, like the enterprise extension's.
CREATE TABLE scim.extension_schemas (
    tenant_id     uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    urn           text NOT NULL,
    resource_type text NOT NULL CHECK (resource_type IN ('User', 'Group')),
    -- schemaExtensions[].required: every resource must carry it
    required      boolean NOT NULL DEFAULT false,
    -- the canonical RFC 7643 §7 definition (scim_core::extension)
    definition    jsonb NOT NULL,
    created       timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, urn)
);
-- URNs compare case-insensitively (they are ASCII: lower() is exact).
CREATE UNIQUE INDEX extension_schemas_urn_ci ON scim.extension_schemas (tenant_id, lower(urn));

-- Indexes requested with scim_extension_index: one b-tree per (table,
-- URN, attribute), shared by the tenants that asked for it (tenant_id
-- leads), dropped when the last of them removes the schema.
-- A row is enough to (re)create its index (trigger below): pg_dump
-- restores the rows, and with them the indexes.
CREATE TABLE scim.extension_indexes (
    tenant_id  uuid NOT NULL,
    urn        text NOT NULL,
    attribute  text NOT NULL,
    table_name text NOT NULL CHECK (table_name IN ('users', 'groups')),
    case_exact boolean NOT NULL,
    index_name text NOT NULL,
    PRIMARY KEY (tenant_id, urn, attribute),
    FOREIGN KEY (tenant_id, urn) REFERENCES scim.extension_schemas (tenant_id, urn) ON DELETE CASCADE
);

-- The index for one (table, URN, attribute): exactly the expression the
-- filter compiler emits; names and URNs are quoted as literals.
CREATE FUNCTION scim._extension_index_create(tbl text, urn text, attribute text, case_exact boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE expr text; name text;
BEGIN
    expr := format('(resource -> %L) ->> %L', urn, attribute);
    expr := CASE WHEN case_exact THEN format('(%s)', expr) ELSE format('scim.fold(%s)', expr) END;
    name := format('%s_ext_%s', tbl, left(md5(expr), 16));
    IF to_regclass(format('scim.%I', name)) IS NULL THEN  -- shared with other tenants
        EXECUTE format('CREATE INDEX %I ON scim.%I (tenant_id, %s text_pattern_ops)', name, tbl, expr);
    END IF;
    RETURN name;
END
$$;
CREATE FUNCTION scim._extension_index_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._extension_index_create(NEW.table_name, NEW.urn, NEW.attribute, NEW.case_exact);
    RETURN NULL;
END
$$;
CREATE TRIGGER extension_indexes_create AFTER INSERT ON scim.extension_indexes
    FOR EACH ROW EXECUTE FUNCTION scim._extension_index_row();

-- Row Level Security: sql/rls.sql.
SELECT pg_catalog.pg_extension_config_dump('scim.extension_schemas', '');
SELECT pg_catalog.pg_extension_config_dump('scim.extension_indexes', '');

-- The current tenant's registered schemas.
CREATE FUNCTION scim.scim_extension_schemas()
RETURNS TABLE (urn text, resource_type text, required boolean, definition jsonb,
               created timestamptz, last_modified timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT e.urn, e.resource_type, e.required, e.definition, e.created, e.last_modified
      FROM scim.extension_schemas e
     WHERE e.tenant_id = tenant
     ORDER BY e.urn;
END
$$;

-- Remove a schema. Resources that still carry its data make this fail
-- (409) unless drop_data: then the data goes too (each such resource gets
-- a new version, and the change feed records it). Its indexes are dropped
-- when no other tenant uses them.
CREATE FUNCTION scim.scim_extension_schema_remove(urn text, drop_data boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    t    uuid := scim.current_tenant();
    e    scim.extension_schemas;
    tbl  text;
    n    bigint;
    idx  record;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_extension_schema_remove.urn)
     FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_extension_schema_remove.urn));
    END IF;
    tbl := CASE e.resource_type WHEN 'User' THEN 'users' ELSE 'groups' END;
    EXECUTE format('SELECT count(*) FROM scim.%I WHERE tenant_id = $1 AND resource ? $2', tbl)
       INTO n USING t, e.urn;
    IF n > 0 AND NOT coalesce(drop_data, false) THEN
        PERFORM scim._raise(409, 'mutability', format(
            'extension schema ''%s'' still has data on %s %s resource(s); remove it with drop_data => true to delete that data too',
            e.urn, n, e.resource_type));
    END IF;
    IF n > 0 THEN
        EXECUTE format(
            'UPDATE scim.%I SET resource = jsonb_set(resource - $2, ''{schemas}'', '
            'coalesce((SELECT jsonb_agg(s) FROM jsonb_array_elements(resource->''schemas'') s '
            'WHERE s <> to_jsonb($2)), ''[]''::jsonb)), version = version + 1, last_modified = clock_timestamp() '
            'WHERE tenant_id = $1 AND resource ? $2', tbl) USING t, e.urn;
    END IF;
    FOR idx IN SELECT i.index_name FROM scim.extension_indexes i
                WHERE i.tenant_id = t AND i.urn = e.urn LOOP
        DELETE FROM scim.extension_indexes i WHERE i.tenant_id = t AND i.urn = e.urn AND i.index_name = idx.index_name;
        IF NOT EXISTS (SELECT 1 FROM scim.extension_indexes i WHERE i.index_name = idx.index_name) THEN
            EXECUTE format('DROP INDEX IF EXISTS scim.%I', idx.index_name);
        END IF;
    END LOOP;
    DELETE FROM scim.extension_schemas x WHERE x.tenant_id = t AND x.urn = e.urn;
    RETURN n;
END
$$;

-- An index for eq/sw/ew-prefix filters (and sorting) on one registered
-- single-valued string attribute: the b-tree over exactly the expression
-- the filter compiler emits (scim_core::filter::sql::extension_text,
-- folded unless caseExact), text_pattern_ops so LIKE 'x%' uses it too.
-- Returns the index name. Takes a lock on the table while it builds.
CREATE FUNCTION scim.scim_extension_index(urn text, attribute text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t     uuid := scim.current_tenant();
    e     scim.extension_schemas;
    a     jsonb;
    tbl   text;
    name  text;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_extension_index.urn);
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_extension_index.urn));
    END IF;
    SELECT d INTO a FROM jsonb_array_elements(e.definition->'attributes') d
     WHERE lower(d->>'name') = lower(scim_extension_index.attribute);
    IF a IS NULL THEN
        PERFORM scim._raise(400, 'invalidValue', format('schema ''%s'' has no attribute ''%s''', e.urn, scim_extension_index.attribute));
    END IF;
    IF a->>'type' NOT IN ('string', 'reference') OR (a->>'multiValued')::boolean THEN
        PERFORM scim._raise(400, 'invalidValue', format(
            'only single-valued string attributes can be indexed; ''%s'' is %s%s', a->>'name',
            CASE WHEN (a->>'multiValued')::boolean THEN 'multi-valued ' ELSE '' END, a->>'type'));
    END IF;
    tbl := CASE e.resource_type WHEN 'User' THEN 'users' ELSE 'groups' END;
    name := scim._extension_index_create(tbl, e.urn, a->>'name', (a->>'caseExact')::boolean);
    INSERT INTO scim.extension_indexes VALUES (t, e.urn, a->>'name', tbl, (a->>'caseExact')::boolean, name)
        ON CONFLICT DO NOTHING;
    RETURN name;
END
$$;

--   extensions
--   policy_notify

-- Policy from group attributes (issue 13; README "Policy from group
-- attributes"). A tenant maps an attribute of one of its registered Group
-- extensions into the policy model; every group holding a value of it
-- then has that value as a policy bound to it (built with the policy
-- graph, src/policy/graph.rs, scim_core::policy::AttributeTerm):
--
--   allow   <domain>  string(s) → allow list of the domain (intersection)
--   limit   <name>    number    → limit (minimum wins)
--   require <name>    string(s) → required set (union)
--   rank    <name>    string    → ranked enum, `ranks` least restrictive
--                                 first; the most restrictive value wins (a
--                                 value not in `ranks` ranks above all)
CREATE TABLE scim.policy_attribute_maps (
    tenant_id uuid NOT NULL,
    urn       text NOT NULL,
    attribute text NOT NULL,      -- canonical name, as in the definition
    kind      text NOT NULL CHECK (kind IN ('allow', 'limit', 'require', 'rank')),
    target    text NOT NULL CHECK (target <> '' AND target = btrim(target)),
    ranks     jsonb CHECK ((kind = 'rank') = (ranks IS NOT NULL)),
    PRIMARY KEY (tenant_id, urn, attribute),
    FOREIGN KEY (tenant_id, urn) REFERENCES scim.extension_schemas (tenant_id, urn) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('scim.policy_attribute_maps', '');
-- Row Level Security: sql/rls.sql.

CREATE FUNCTION scim.scim_policy_attribute_map(urn text, attribute text, kind text, target text,
                                               ranks jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    t    uuid := scim.current_tenant();
    e    scim.extension_schemas;
    a    jsonb;
    k    text := lower(coalesce(scim_policy_attribute_map.kind, ''));
    ty   text;
    multi boolean;
    missing text;
BEGIN
    SELECT * INTO e FROM scim.extension_schemas x
     WHERE x.tenant_id = t AND lower(x.urn) = lower(scim_policy_attribute_map.urn);
    IF NOT FOUND THEN
        PERFORM scim._raise(404, NULL, format('no extension schema ''%s'' is registered', scim_policy_attribute_map.urn));
    END IF;
    IF e.resource_type <> 'Group' THEN
        PERFORM scim._raise(400, 'invalidValue', format('''%s'' extends %s; only Group attributes can carry policy', e.urn, e.resource_type));
    END IF;
    SELECT d INTO a FROM jsonb_array_elements(e.definition->'attributes') d
     WHERE lower(d->>'name') = lower(scim_policy_attribute_map.attribute);
    IF a IS NULL THEN
        PERFORM scim._raise(400, 'invalidValue', format('schema ''%s'' has no attribute ''%s''', e.urn, scim_policy_attribute_map.attribute));
    END IF;
    ty := a->>'type';
    multi := (a->>'multiValued')::boolean;
    IF k NOT IN ('allow', 'limit', 'require', 'rank') THEN
        PERFORM scim._raise(400, 'invalidValue', format('kind ''%s'' is not one of allow, limit, require, rank', scim_policy_attribute_map.kind));
    END IF;
    IF target IS NULL OR target = '' OR target <> btrim(target) THEN
        PERFORM scim._raise(400, 'invalidValue', 'target must be a non-empty name without leading or trailing spaces');
    END IF;
    IF (k IN ('allow', 'require') AND ty NOT IN ('string', 'reference'))
       OR (k = 'limit' AND (ty NOT IN ('integer', 'decimal') OR multi))
       OR (k = 'rank' AND (ty <> 'string' OR multi)) THEN
        PERFORM scim._raise(400, 'invalidValue', format(
            '%s needs %s; ''%s'' is %s%s', k,
            CASE k WHEN 'limit' THEN 'a single-valued integer or decimal attribute'
                   WHEN 'rank' THEN 'a single-valued string attribute'
                   ELSE 'a string attribute' END,
            a->>'name', CASE WHEN multi THEN 'multi-valued ' ELSE '' END, ty));
    END IF;
    IF k = 'rank' THEN
        IF jsonb_typeof(ranks) IS DISTINCT FROM 'array' OR jsonb_array_length(ranks) = 0
           OR EXISTS (SELECT 1 FROM jsonb_array_elements(ranks) r WHERE jsonb_typeof(r) <> 'string' OR r #>> '{}' = '')
           OR (SELECT count(DISTINCT lower(r #>> '{}')) FROM jsonb_array_elements(ranks) r) <> jsonb_array_length(ranks) THEN
            PERFORM scim._raise(400, 'invalidValue', 'ranks must be a non-empty array of distinct strings, least restrictive first');
        END IF;
        SELECT string_agg(c #>> '{}', ', ') INTO missing
          FROM jsonb_array_elements(coalesce(a->'canonicalValues', '[]')) c
         WHERE NOT EXISTS (SELECT 1 FROM jsonb_array_elements(ranks) r WHERE lower(r #>> '{}') = lower(c #>> '{}'));
        IF missing IS NOT NULL THEN
            PERFORM scim._raise(400, 'invalidValue', format('ranks must rank every canonical value of ''%s''; missing: %s', a->>'name', missing));
        END IF;
    ELSIF ranks IS NOT NULL THEN
        PERFORM scim._raise(400, 'invalidValue', 'ranks are only for kind rank');
    END IF;
    INSERT INTO scim.policy_attribute_maps AS m (tenant_id, urn, attribute, kind, target, ranks)
    VALUES (t, e.urn, a->>'name', k, target, CASE WHEN k = 'rank' THEN ranks END)
    ON CONFLICT ON CONSTRAINT policy_attribute_maps_pkey DO UPDATE
       SET kind = EXCLUDED.kind, target = EXCLUDED.target, ranks = EXCLUDED.ranks;
    RETURN jsonb_build_object('attribute', e.urn || ':' || (a->>'name'), 'kind', k, 'target', target,
                              'ranks', CASE WHEN k = 'rank' THEN ranks END);
END
$$;

CREATE FUNCTION scim.scim_policy_attribute_unmap(urn text, attribute text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM scim.policy_attribute_maps m
     WHERE m.tenant_id = scim.current_tenant() AND lower(m.urn) = lower(scim_policy_attribute_unmap.urn)
       AND lower(m.attribute) = lower(scim_policy_attribute_unmap.attribute);
    RETURN FOUND;
END
$$;

CREATE FUNCTION scim.scim_policy_attribute_maps()
RETURNS TABLE (urn text, attribute text, kind text, target text, ranks jsonb)
LANGUAGE plpgsql STABLE AS $$
DECLARE tenant uuid := scim.current_tenant();   -- resolved even with no rows
BEGIN
    RETURN QUERY
    SELECT m.urn, m.attribute, m.kind, m.target, m.ranks FROM scim.policy_attribute_maps m
     WHERE m.tenant_id = tenant ORDER BY m.urn, m.attribute;
END
$$;

-- A group whose attributes carry policy counts as bound for the change
-- notifications of sql/policy_notify.sql.
CREATE FUNCTION scim._policy_group_has_terms(tenant uuid, grp uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM scim.policy_attribute_maps m
                     JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = grp
                    WHERE m.tenant_id = tenant AND (g.resource -> m.urn) ? m.attribute)
$$;

-- Mapping added, changed or removed: the graph, and the users below the
-- groups holding a value of the attribute.
CREATE FUNCTION scim._policy_attribute_maps_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(SELECT DISTINCT c.tenant_id FROM changed c));
    FOR r IN
        SELECT c.tenant_id, array_agg(DISTINCT g.id) AS groups
          FROM changed c
          JOIN scim.groups g ON g.tenant_id = c.tenant_id AND (g.resource -> c.urn) ? c.attribute
         GROUP BY c.tenant_id
    LOOP
        PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER policy_attribute_maps_insert AFTER INSERT ON scim.policy_attribute_maps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();
CREATE TRIGGER policy_attribute_maps_update AFTER UPDATE ON scim.policy_attribute_maps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();
CREATE TRIGGER policy_attribute_maps_delete AFTER DELETE ON scim.policy_attribute_maps
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_attribute_maps_changed();

-- A group's mapped attribute changed (PATCH, PUT, schema removal with its
-- data): the graph, and the users below it, as for a binding change.
CREATE FUNCTION scim._policy_group_terms_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN
        SELECT n.tenant_id, array_agg(DISTINCT n.id) AS groups
          FROM new_rows n
          JOIN old_rows o ON o.tenant_id = n.tenant_id AND o.id = n.id
          JOIN scim.policy_attribute_maps m ON m.tenant_id = n.tenant_id
         WHERE (n.resource -> m.urn -> m.attribute) IS DISTINCT FROM (o.resource -> m.urn -> m.attribute)
         GROUP BY n.tenant_id
    LOOP
        PERFORM scim._policy_graph_changed(ARRAY[r.tenant_id]);
        PERFORM scim._policy_notify(r.tenant_id, scim._policy_users_below(r.tenant_id, r.groups));
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER groups_policy_terms_update AFTER UPDATE ON scim.groups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_group_terms_updated();

-- A new group with a mapped value: the graph (its members, added after,
-- are notified by the membership trigger, which counts it as bound).
CREATE FUNCTION scim._policy_group_terms_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM scim._policy_graph_changed(ARRAY(
        SELECT DISTINCT n.tenant_id FROM new_rows n
          JOIN scim.policy_attribute_maps m ON m.tenant_id = n.tenant_id
         WHERE (n.resource -> m.urn) ? m.attribute));
    RETURN NULL;
END
$$;
CREATE TRIGGER groups_policy_terms_insert AFTER INSERT ON scim.groups
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scim._policy_group_terms_inserted();

--   credentials
--   policy_notify
--   changes
--   provisioning_log
--   extensions
--   policy_attributes

-- Row Level Security: a role without BYPASSRLS sees only the current
-- tenant's rows, whatever it queries, and can write rows of that tenant
-- only. FORCE applies it to the tables' owner too (functions that run as
-- the owner stay inside the tenant they resolved). `(SELECT …)` makes the
-- tenant an init-plan, evaluated once per statement rather than per row.
-- Every tenant-keyed table is listed here, one policy each, written out so
-- that grep finds it; tests/pg_regress 11_rls_writes checks the writes and
-- 09_security that no tenant table is left without a policy.
--
-- scim.tenants itself has no RLS: current_tenant() reads it to resolve the
-- GUC, and a policy on it would recurse. scim.settings holds installation
-- settings, not tenant data.

-- scim.users (sql/storage.sql)
ALTER TABLE scim.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.users
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.groups (sql/storage.sql)
ALTER TABLE scim.groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.groups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.groups
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.members (sql/storage.sql)
ALTER TABLE scim.members ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.members FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.members
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.member_writes (sql/storage.sql)
ALTER TABLE scim.member_writes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.member_writes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.member_writes
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.tokens (sql/storage.sql)
ALTER TABLE scim.tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.tokens
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.policies (sql/storage.sql)
ALTER TABLE scim.policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.policies
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.policy_bindings (sql/storage.sql)
ALTER TABLE scim.policy_bindings ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.policy_bindings FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.policy_bindings
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.oauth_clients (sql/credentials.sql)
ALTER TABLE scim.oauth_clients ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.oauth_clients FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.oauth_clients
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.tenant_operations (sql/credentials.sql)
ALTER TABLE scim.tenant_operations ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.tenant_operations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.tenant_operations
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.policy_changes (sql/policy_notify.sql)
ALTER TABLE scim.policy_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.policy_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.policy_changes
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.changes (sql/changes.sql)
ALTER TABLE scim.changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.changes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.changes
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.provisioning_log (sql/provisioning_log.sql)
ALTER TABLE scim.provisioning_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.provisioning_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.provisioning_log
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.extension_schemas (sql/extensions.sql)
ALTER TABLE scim.extension_schemas ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.extension_schemas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.extension_schemas
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.extension_indexes (sql/extensions.sql)
ALTER TABLE scim.extension_indexes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.extension_indexes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.extension_indexes
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

-- scim.policy_attribute_maps (sql/policy_attributes.sql)
ALTER TABLE scim.policy_attribute_maps ENABLE ROW LEVEL SECURITY;
ALTER TABLE scim.policy_attribute_maps FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON scim.policy_attribute_maps
    USING (tenant_id = (SELECT scim.current_tenant()))
    WITH CHECK (tenant_id = (SELECT scim.current_tenant()));

CREATE  FUNCTION "scim_get"(
	"resource_type" TEXT, /* & str */
	"id" TEXT, /* & str */
	"attributes" TEXT DEFAULT NULL, /* Option < & str > */
	"excluded_attributes" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonbDatum */
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_get_wrapper';

-- requires:
--   http
CREATE  FUNCTION "scim_http"(
	"method" TEXT, /* & str */
	"path" TEXT, /* & str */
	"query" TEXT DEFAULT NULL, /* Option < & str > */
	"headers" jsonb DEFAULT '{}', /* Option < JsonArg > */
	"body" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS scim.http_response /* HttpResponseRow */

LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_http_wrapper';

CREATE  FUNCTION "scim_import"(
	"resources" jsonb[] /* Vec < Option < JsonB > > */
) RETURNS TABLE (
	"ordinality" INT,  /* i32 */
	"status" INT,  /* i32 */
	"id" uuid,  /* Option < pgrx :: Uuid > */
	"scim_type" TEXT,  /* Option < String > */
	"detail" TEXT  /* Option < String > */
)
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_import_wrapper';

CREATE  FUNCTION "scim_list"(
	"resource_type" TEXT DEFAULT 'User', /* & str */
	"filter" TEXT DEFAULT NULL, /* Option < & str > */
	"start_index" INT DEFAULT 1, /* i32 */
	"count" INT DEFAULT NULL, /* Option < i32 > */
	"sort_by" TEXT DEFAULT NULL, /* Option < & str > */
	"sort_order" TEXT DEFAULT NULL, /* Option < & str > */
	"attributes" TEXT DEFAULT NULL, /* Option < & str > */
	"excluded_attributes" TEXT DEFAULT NULL, /* Option < & str > */
	"cursor" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonbDatum */
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_list_wrapper';

CREATE  FUNCTION "scim_matches"(
	"resource" jsonb, /* JsonArg */
	"filter" TEXT /* & str */
) RETURNS bool /* bool */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_matches_wrapper';

CREATE  FUNCTION "scim_oauth_client_create"(
	"label" TEXT, /* & str */
	"token_lifetime" interval DEFAULT NULL, /* Option < Interval > */
	"admin" bool DEFAULT false /* bool */
) RETURNS TABLE (
	"client_id" uuid,  /* pgrx :: Uuid */
	"client_secret" TEXT  /* String */
)
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_oauth_client_create_wrapper';

CREATE  FUNCTION "scim_patch"(
	"resource_type" TEXT, /* & str */
	"id" TEXT, /* & str */
	"patch" jsonb, /* JsonArg */
	"if_match" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonbDatum */
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_patch_wrapper';

CREATE  FUNCTION "scim_policy_allows"(
	"user_ref" TEXT, /* Option < & str > */
	"domain" TEXT, /* Option < & str > */
	"item" TEXT /* Option < & str > */
) RETURNS bool /* bool */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_policy_allows_wrapper';

CREATE  FUNCTION "scim_policy_put"(
	"name" TEXT, /* & str */
	"document" jsonb /* JsonArg */
) RETURNS jsonb /* JsonB */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_policy_put_wrapper';

CREATE  FUNCTION "scim_replace"(
	"resource_type" TEXT, /* & str */
	"id" TEXT, /* & str */
	"resource" jsonb, /* JsonArg */
	"if_match" TEXT DEFAULT NULL /* Option < & str > */
) RETURNS jsonb /* JsonbDatum */
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_replace_wrapper';

CREATE  FUNCTION "scim_session"(
	"token" TEXT /* & str */
) RETURNS uuid /* pgrx :: Uuid */
STRICT
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_session_wrapper';

CREATE  FUNCTION "scim_token_issue"(
	"label" TEXT, /* & str */
	"expires_in" interval DEFAULT NULL, /* Option < Interval > */
	"admin" bool DEFAULT false /* bool */
) RETURNS TEXT /* String */
LANGUAGE c /* Rust */
AS 'scim_pg-0.2.0', 'scim_token_issue_wrapper';

-- Skipped due to `#[pgrx(sql = false)]`

-- Skipped due to `#[pgrx(sql = false)]`

-- Skipped due to `#[pgrx(sql = false)]`

-- Privileges and pinned search_paths (pgrx `finalize`: runs last, over
-- every function the script made).

-- Privileges (README "Security model") ------------------------------------
-- Nothing is executable by PUBLIC and no role gets any table privilege:
-- every write goes through the functions below, which run as the
-- extension owner (SECURITY DEFINER) and confine themselves to one tenant:
-- the token's (scim_web) or the GUC's (scim_app, scim_admin).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA scim FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA scim FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA scim FROM PUBLIC;
GRANT USAGE ON SCHEMA scim TO scim_admin, scim_app, scim_tenant_app, scim_web;

CREATE FUNCTION scim._grant(role text, functions text[], definer boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'scim'::regnamespace AND p.proname = ANY (functions)
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I', f, role);
        IF definer THEN
            EXECUTE pg_catalog.format('ALTER FUNCTION %s SECURITY DEFINER', f);
        END IF;
    END LOOP;
END
$$;
-- Pure functions: no table access, no need to run as the owner.
SELECT scim._grant(r, ARRAY['scim_build_info', 'scim_matches'], false)
  FROM unnest(ARRAY['scim_app', 'scim_tenant_app', 'scim_admin']) r;
-- Resources and policy queries of the current tenant (the GUC's, or the
-- token's after scim_session; scim_tenant_app must use scim_session).
SELECT scim._grant(r, ARRAY['scim_create_user', 'scim_create_group', 'scim_import', 'scim_get', 'scim_replace',
                            'scim_patch', 'scim_delete', 'scim_list', 'scim_filter', 'scim_filter_sql',
                            'scim_bulk', 'effective_policy', 'effective_policy_explain',
                            'policy_allows', 'scim_effective_policy', 'scim_effective_policy_explain',
                            'scim_policy_allows', 'scim_policy_changes', 'scim_session', 'scim_changes'], true)
  FROM unnest(ARRAY['scim_app', 'scim_tenant_app', 'scim_admin']) r;
-- Tenants, tokens, policies, settings.
SELECT scim._grant('scim_admin', ARRAY['scim_tenant_create', 'scim_token_issue', 'scim_token_revoke',
                                       'scim_tokens', 'scim_policy_put', 'scim_policy_bind',
                                       'scim_policy_unbind', 'scim_policy_set_default',
                                       'scim_policy_delete', 'scim_create_trigram_indexes',
                                       'scim_token_rotate', 'scim_oauth_client_create', 'scim_oauth_clients',
                                       'scim_oauth_client_revoke', 'scim_rate_limit_set',
                                       'scim_provisioning_log_configure', 'scim_tenant_operations',
                                       'scim_provisioning_log', 'scim_provisioning_log_export',
                                       'scim_provisioning_log_prune', 'scim_changes_prune',
                                       'scim_retention_set', 'scim_extension_schema_put',
                                       'scim_extension_schema_remove', 'scim_extension_index',
                                       'scim_extension_schemas', 'scim_policy_attribute_map',
                                       'scim_policy_attribute_unmap', 'scim_policy_attribute_maps'], true);
-- HTTP: the tenant comes from the bearer token.
SELECT scim._grant('scim_web', ARRAY['scim_http', 'scim_postgrest'], true);
DROP FUNCTION scim._grant(text, text[], boolean);

-- Every function has a fixed search_path, so no object a caller (or any
-- role with CREATE on a schema in someone's search_path) makes can stand
-- in for a builtin inside it. The exceptions: scim._ts, an inlined SQL
-- helper (a SET clause would stop inlining; it is schema-qualified
-- throughout instead, sql/render.sql) and scim.fold, a C function that runs no SQL
-- and is called per row by index builds, rechecks and sorts (a SET clause
-- would add a GUC save/restore to every call).
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'scim'::regnamespace AND p.prokind = 'f'
                AND p.oid NOT IN ('scim._ts(timestamptz)'::regprocedure,
                                  'scim.fold(text)'::regprocedure)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$$;
