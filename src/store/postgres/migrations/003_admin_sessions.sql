-- 003: admin dashboard sessions in the shared database, so signing out on one instance (revocation)
-- and the idle timeout hold on every instance behind the load balancer. Only a sha256 of the
-- session id is stored: a copy of this table cannot be replayed as a cookie.

CREATE TABLE admin_sessions (
  id_hash text COLLATE "C" PRIMARY KEY,
  created_at bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
);
-- Sign-in prunes expired sessions by this.
CREATE INDEX admin_sessions_by_expiry ON admin_sessions (expires_at);
