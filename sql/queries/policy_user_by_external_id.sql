-- Only when unique in the tenant: an ambiguous externalId names nobody.
SELECT (array_agg(x.id))[1] AS id, bool_and(coalesce(x.active, true)) AS active
  FROM scim.users x
 WHERE x.tenant_id = $2 AND x.external_id = $1
HAVING count(*) = 1
