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
CREATE TYPE scim.http_response AS (status int, headers jsonb, body jsonb);

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
