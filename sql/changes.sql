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
