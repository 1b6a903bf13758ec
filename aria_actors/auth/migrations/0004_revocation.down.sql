DROP TRIGGER IF EXISTS users_lock ON users;
DROP TRIGGER IF EXISTS clients_deleted ON clients;
DROP TRIGGER IF EXISTS clients_disabled ON clients;
DROP TRIGGER IF EXISTS sessions_deleted ON sessions;
DROP TRIGGER IF EXISTS sessions_revoked ON sessions;
DROP FUNCTION IF EXISTS record_lock();
DROP FUNCTION IF EXISTS record_client_end();
DROP FUNCTION IF EXISTS record_session_end();
DROP TABLE IF EXISTS revocations;
