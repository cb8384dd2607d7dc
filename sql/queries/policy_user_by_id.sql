SELECT x.id, x.active FROM scim.users x WHERE x.tenant_id = $2 AND x.id = $1
