-- Statements OpenBao's database engine runs for Aria's roles (aria_actors/security/database.py).
-- Aria never executes them: OpenBao fills in {{name}}, {{password}} and {{expiration}}.

-- name: rotate
ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}';

-- name: create
CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';

-- name: revoke
DROP ROLE IF EXISTS "{{name}}";
