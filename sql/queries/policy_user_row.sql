-- The policy engine's resolution row for the user found by the lookup `u`
-- (columns id, active; at most one row; the lookup is spliced in front as
-- `WITH u AS (…)`, see policy_user_by_*.sql): tenant, user id, active,
-- the tenant row's xmin and policy_epoch (the policy graph's version), and
-- the user's direct groups. The user columns are NULL (and the groups
-- empty) when there is no such user. $2 is the tenant.
SELECT t.id, u.id, coalesce(u.active, true), t.xmin::text::int8, t.policy_epoch,
       ARRAY(SELECT m.group_id FROM scim.members m WHERE m.tenant_id = t.id AND m.member_id = u.id)
  FROM scim.tenants t
  LEFT JOIN u ON true
 WHERE t.id = $2
