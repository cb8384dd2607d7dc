SELECT x.id, x.active FROM scim.users x WHERE x.tenant_id = $2 AND scim.fold(x.user_name) = scim.fold($1)
