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
CREATE SCHEMA scim;
SET LOCAL search_path TO scim, pg_catalog;

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

CREATE TABLE scim.tenants (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name           text NOT NULL UNIQUE CHECK (name <> ''),
    default_policy text,
    -- Bumped (in the changing transaction) by every change to the tenant's
    -- group nesting, policy bindings, policies or default policy: backends
    -- keep that graph in memory while (xmin, policy_epoch) of this row is
    -- unchanged (src/policy/graph.rs, triggers in sql/policy_notify.sql).
    policy_epoch   bigint NOT NULL DEFAULT 0,
    created        timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The default tenant: single-tenant use needs no configuration at all.
INSERT INTO scim.tenants (id, name) VALUES ('00000000-0000-0000-0000-000000000000', 'default');

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

CREATE TABLE scim.users (
    tenant_id     uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    user_name     text NOT NULL,
    external_id   text,
    display_name  text,
    active        boolean,
    email_values  text[] NOT NULL DEFAULT '{}',   -- scim.fold() of emails[].value
    created       timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified timestamptz NOT NULL DEFAULT clock_timestamp(),
    version       bigint NOT NULL DEFAULT 1,
    resource      jsonb NOT NULL,
    password_hash text,
    PRIMARY KEY (tenant_id, id)
);
-- userName is unique per tenant, case-insensitively (RFC 7643
-- caseExact=false): index users_user_name_ci on scim.fold(user_name),
-- created with the other scim.fold() indexes by sql/fold.sql.
CREATE INDEX users_external_id ON scim.users (tenant_id, external_id);
-- users_email_values (GIN, tenant-leading when btree_gin is installed):
-- sql/optional_indexes.sql.
CREATE INDEX users_created ON scim.users (tenant_id, created);
CREATE INDEX users_last_modified ON scim.users (tenant_id, last_modified);

CREATE TABLE scim.groups (
    tenant_id     uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    display_name  text NOT NULL,
    external_id   text,
    created       timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_modified timestamptz NOT NULL DEFAULT clock_timestamp(),
    version       bigint NOT NULL DEFAULT 1,
    resource      jsonb NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- groups_display_name_ci (unique, scim.fold): sql/fold.sql.
CREATE INDEX groups_external_id ON scim.groups (tenant_id, external_id);
CREATE INDEX groups_created ON scim.groups (tenant_id, created);
CREATE INDEX groups_last_modified ON scim.groups (tenant_id, last_modified);
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
CREATE TABLE scim.members (
    tenant_id    uuid NOT NULL,
    group_id     uuid NOT NULL,
    member_id    uuid NOT NULL,
    member_type  text NOT NULL CHECK (member_type IN ('User', 'Group')),
    member_user  uuid GENERATED ALWAYS AS (CASE WHEN member_type = 'User' THEN member_id END) STORED,
    member_group uuid GENERATED ALWAYS AS (CASE WHEN member_type = 'Group' THEN member_id END) STORED,
    PRIMARY KEY (tenant_id, group_id, member_id),
    FOREIGN KEY (tenant_id, group_id) REFERENCES scim.groups (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT members_user_same_tenant FOREIGN KEY (tenant_id, member_user)
        REFERENCES scim.users (tenant_id, id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT members_group_same_tenant FOREIGN KEY (tenant_id, member_group)
        REFERENCES scim.groups (tenant_id, id) DEFERRABLE INITIALLY DEFERRED
);
-- A user's groups, in group id order: rendering reads them in this order
-- with no sort per user (src/store/render.rs).
CREATE INDEX members_member ON scim.members (tenant_id, member_id, group_id);
-- What the member foreign keys look up when a user or group is deleted
-- (no remaining membership may name it): without these, every delete
-- scanned all tenants' memberships. Partial: each row is in one of them.
CREATE INDEX members_member_user ON scim.members (tenant_id, member_user) WHERE member_user IS NOT NULL;
CREATE INDEX members_member_group ON scim.members (tenant_id, member_group) WHERE member_group IS NOT NULL;
-- Group-in-group edges only (the policy graph loads them per tenant).
CREATE INDEX members_nested ON scim.members (tenant_id) WHERE member_type = 'Group';

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
CREATE TABLE scim.tokens (
    tenant_id   uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    label       text NOT NULL,
    secret_hash bytea NOT NULL,
    created     timestamptz NOT NULL DEFAULT clock_timestamp(),
    revoked     timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX tokens_id ON scim.tokens (id);

-- Policies: a named document per tenant, bound to groups.
CREATE TABLE scim.policies (
    tenant_id uuid NOT NULL REFERENCES scim.tenants (id) ON DELETE CASCADE,
    name      text NOT NULL CHECK (name <> ''),
    document  jsonb NOT NULL,
    updated   timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, name)
);
CREATE TABLE scim.policy_bindings (
    tenant_id uuid NOT NULL,
    group_id  uuid NOT NULL,
    policy    text NOT NULL,
    PRIMARY KEY (tenant_id, group_id, policy),
    FOREIGN KEY (tenant_id, group_id) REFERENCES scim.groups (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, policy) REFERENCES scim.policies (tenant_id, name) ON DELETE CASCADE
);
CREATE INDEX policy_bindings_policy ON scim.policy_bindings (tenant_id, policy);

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
