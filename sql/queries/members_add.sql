-- Add members $3 (uuid[]) to group $2 of tenant $1, all or nothing: the
-- first id that is neither a User nor a Group of the tenant (or NULL), and
-- the number of memberships added (existing ones are left alone).
WITH wanted AS (SELECT DISTINCT unnest($3::uuid[]) AS id),
     -- KEY SHARE: a concurrent DELETE of a member waits for us (and its
     -- trigger then removes the new membership), or has already removed
     -- the row (and the id is unknown here). Adders never block each
     -- other on it.
     users_found AS (SELECT u.id FROM scim.users u
                      WHERE u.tenant_id = $1 AND u.id = ANY($3::uuid[])
                      ORDER BY u.id FOR KEY SHARE),
     groups_found AS (SELECT g.id FROM scim.groups g
                       WHERE g.tenant_id = $1 AND g.id = ANY($3::uuid[])
                       ORDER BY g.id FOR KEY SHARE),
     typed AS (
       SELECT w.id,
              CASE WHEN w.id IN (SELECT id FROM users_found) THEN 'User'
                   WHEN w.id IN (SELECT id FROM groups_found) THEN 'Group'
              END AS kind
         FROM wanted w),
     ins AS (
       INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
       SELECT $1, $2, id, kind FROM typed
        WHERE kind IS NOT NULL AND NOT EXISTS (SELECT 1 FROM typed WHERE kind IS NULL)
       ON CONFLICT DO NOTHING
       RETURNING 1)
SELECT (SELECT min(id::text) FROM typed WHERE kind IS NULL), (SELECT count(*) FROM ins)
