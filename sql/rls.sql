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
