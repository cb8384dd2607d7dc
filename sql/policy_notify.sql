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
