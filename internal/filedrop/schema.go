package filedrop

// migrations are the file drop's tables in the hub store (component
// "filedrop"). Append steps; never edit a released one (see store.Migrate).
//
// Times are Unix nanoseconds, UTC; 0 means "not yet". Ids are 32 lower-case
// hex digits (128 random bits).
var migrations = []string{
	// 1: drops, their files and recipients, upload links, resumable uploads.
	`CREATE TABLE drops (
		id             TEXT PRIMARY KEY,
		state          TEXT NOT NULL CHECK (state IN ('draft', 'sealed', 'withdrawn', 'expired', 'abandoned')),
		sender_key     TEXT NOT NULL,              -- user key, or 'link:<id>' for a link upload
		sender_name    TEXT NOT NULL DEFAULT '',
		sender_email   TEXT NOT NULL DEFAULT '',
		sender_kommune INTEGER NOT NULL DEFAULT 0,
		link_id        TEXT NOT NULL DEFAULT '',   -- the upload link it came through, if any
		case_ref       TEXT NOT NULL,
		purpose        TEXT NOT NULL,
		purpose_text   TEXT NOT NULL DEFAULT '',
		message        TEXT NOT NULL DEFAULT '',
		created_at     INTEGER NOT NULL,
		sealed_at      INTEGER NOT NULL DEFAULT 0,
		retain_until   INTEGER NOT NULL,
		ended_at       INTEGER NOT NULL DEFAULT 0, -- withdrawn, expired or abandoned
		purged_at      INTEGER NOT NULL DEFAULT 0, -- blobs deleted and metadata reduced
		file_count     INTEGER NOT NULL DEFAULT 0,
		total_bytes    INTEGER NOT NULL DEFAULT 0
	) WITHOUT ROWID;
	CREATE INDEX drops_by_sender ON drops (sender_key, state);
	CREATE INDEX drops_unpurged ON drops (retain_until) WHERE purged_at = 0;

	CREATE TABLE drop_files (
		id         TEXT PRIMARY KEY,               -- names the blob: blobs/<id[:2]>/<id>.age
		drop_id    TEXT NOT NULL REFERENCES drops (id),
		name       TEXT NOT NULL,                  -- sanitised (SanitizeName)
		size       INTEGER NOT NULL,               -- plaintext bytes
		sha256     TEXT NOT NULL,                  -- of the plaintext, lower-case hex
		media_type TEXT NOT NULL,                  -- sniffed from the content
		segments   INTEGER NOT NULL,
		blob_bytes INTEGER NOT NULL,               -- size of the blob file
		created_at INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX drop_files_by_drop ON drop_files (drop_id);

	CREATE TABLE drop_recipients (
		drop_id  TEXT NOT NULL REFERENCES drops (id),
		named    TEXT NOT NULL,                    -- as the sender named them: user key or e-mail
		user_key TEXT NOT NULL DEFAULT '',         -- the login identity; '' while an e-mail is unresolved
		email    TEXT NOT NULL DEFAULT '',         -- lower case; for notifications and resolving
		PRIMARY KEY (drop_id, named)
	) WITHOUT ROWID;
	CREATE INDEX drop_recipients_by_user ON drop_recipients (user_key) WHERE user_key <> '';
	CREATE INDEX drop_recipients_pending ON drop_recipients (email) WHERE user_key = '';

	-- Which login identity an e-mail address belongs to: the first login
	-- that presented it (ResolveRecipient). Later drops to the address go to
	-- that identity at once.
	CREATE TABLE recipient_identities (
		email      TEXT PRIMARY KEY,
		user_key   TEXT NOT NULL,
		first_seen INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX recipient_identities_by_user ON recipient_identities (user_key);

	CREATE TABLE upload_links (
		id              TEXT PRIMARY KEY,
		token_hash      BLOB NOT NULL UNIQUE,      -- sha256 of the token; the token is never stored
		owner_key       TEXT NOT NULL,             -- the consultant whose inbox receives the drop
		owner_name      TEXT NOT NULL DEFAULT '',
		owner_email     TEXT NOT NULL DEFAULT '',
		owner_kommune   INTEGER NOT NULL DEFAULT 0,
		case_ref        TEXT NOT NULL,
		purpose         TEXT NOT NULL,
		purpose_text    TEXT NOT NULL DEFAULT '',
		retention_days  INTEGER NOT NULL,
		max_files       INTEGER NOT NULL,
		max_bytes       INTEGER NOT NULL,          -- all files of the submission together
		pass_hash       TEXT NOT NULL DEFAULT '',  -- argon2id, PHC string; '' = no passphrase
		failed_attempts INTEGER NOT NULL DEFAULT 0,
		created_at      INTEGER NOT NULL,
		expires_at      INTEGER NOT NULL,
		claimed_at      INTEGER NOT NULL DEFAULT 0, -- a submission is under way
		spent_at        INTEGER NOT NULL DEFAULT 0, -- submitted; the link is used up
		revoked_at      INTEGER NOT NULL DEFAULT 0,
		drop_id         TEXT NOT NULL DEFAULT ''
	) WITHOUT ROWID;
	CREATE INDEX upload_links_by_owner ON upload_links (owner_key);

	CREATE TABLE upload_sessions (
		id              TEXT PRIMARY KEY,
		drop_id         TEXT NOT NULL REFERENCES drops (id),
		owner_key       TEXT NOT NULL,
		file_id         TEXT NOT NULL UNIQUE,      -- names the part file: blobs/<id[:2]>/<id>.age.part
		name            TEXT NOT NULL,
		total_size      INTEGER NOT NULL,          -- declared plaintext size
		committed       INTEGER NOT NULL,          -- plaintext bytes safely stored
		blob_bytes      INTEGER NOT NULL,          -- bytes of the part file that hold whole segments
		segments        INTEGER NOT NULL,
		hash_state      BLOB NOT NULL,             -- SHA-256 state after committed bytes, age-encrypted
		created_at      INTEGER NOT NULL,
		updated_at      INTEGER NOT NULL
	) WITHOUT ROWID;
	CREATE INDEX upload_sessions_by_drop ON upload_sessions (drop_id);`,
	// 2: drafts whose files all arrive in the request that made them (the
	// plain form); a restart finds such a draft interrupted and abandons it.
	`ALTER TABLE drops ADD COLUMN one_shot INTEGER NOT NULL DEFAULT 0;`,
	// 3: drops across regions (forward.go). A recipient of another region
	// is kept here by name only, with that region; a drop received from
	// another region's hub records where it came from.
	`ALTER TABLE drop_recipients ADD COLUMN region TEXT NOT NULL DEFAULT ''; -- '' = this hub's user
	ALTER TABLE drops ADD COLUMN origin TEXT NOT NULL DEFAULT '';         -- region of the sending hub
	ALTER TABLE drops ADD COLUMN origin_id TEXT NOT NULL DEFAULT '';      -- the drop's id there
	CREATE UNIQUE INDEX drops_by_origin ON drops (origin, origin_id) WHERE origin <> '' AND state IN ('draft', 'sealed');

	CREATE TABLE forwards (
		drop_id      TEXT NOT NULL REFERENCES drops (id),
		region       TEXT NOT NULL,
		state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'withdrawing', 'done')),
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_try     INTEGER NOT NULL DEFAULT 0,
		last_error   TEXT NOT NULL DEFAULT '',
		delivered_at INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (drop_id, region)
	) WITHOUT ROWID;
	CREATE INDEX forwards_due ON forwards (next_try) WHERE state IN ('pending', 'withdrawing');`,
	// 4: blobs installed under their final name whose commit has not
	// happened yet. The row is written before the rename and removed in the
	// commit's transaction, so Recover can prove that a blob without a
	// drop_files row is the orphan of an unfinished upload, and deletes
	// nothing it cannot prove (see recover.go).
	`CREATE TABLE pending_blobs (
		file_id    TEXT PRIMARY KEY,
		created_at INTEGER NOT NULL
	) WITHOUT ROWID;`,
}
