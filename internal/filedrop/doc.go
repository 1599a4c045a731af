// Package filedrop is the engine of the hub's secure file drop: case
// material (special-category personal data) passed between consultants,
// resource persons and municipal professionals, and uploaded by people
// without a municipal login through upload links. The HTTP handlers and
// the UI sit on top of this API; every access check is in here, so they
// cannot forget one.
//
// # Model
//
// A drop is a set of files from one sender to named recipients, bound to
// a case reference, a purpose (legal basis) and a retain-until date
// within the region's policy. Its life:
//
//	CreateDrop ─► draft ─► AddFile / BeginUpload…FinishUpload ─► Seal ─► sealed
//	                 │                                                    │
//	                 └─ Withdraw, or 24 h idle ─► withdrawn/abandoned ◄───┤ Withdraw
//	                                                expired ◄─────────────┘ retain-until
//
// A draft is seen by its sender only. Seal makes it visible to the
// recipients in one transaction, and only with at least one file and no
// upload still open, so a recipient never sees a drop that is still
// filling up. A sealed drop never changes. At its end (withdrawn by the
// sender, expired at its retain-until date, abandoned as a draft) a drop
// disappears at once and its blobs are deleted (see Sweep for what is
// kept). Expiry is also checked on every read, so nothing is served past
// its date even before the sweeper runs.
//
// Recipients are named by login identity ("851:sub", "tid:oid") or by
// e-mail address; an address is bound to the identity that first logs in
// with it (ResolveRecipient, called by the login handler).
//
// # Access control
//
// Every call takes an Actor (ActorFromSession). A drop is visible to its
// sender and, once sealed, to its recipients; to anyone else every id,
// existing or not, well-formed or not, is ErrNotFound, so the API is no
// oracle for which drops exist. Ids are 128 random bits and are validated
// before any lookup; they never reach a file path unchecked. Only the
// sender adds files, seals and withdraws; only the creator of a link
// lists and revokes it; creating links needs Options.LinkRole.
//
// # Storage
//
// Metadata lives in the hub's SQLite store (WAL, synchronous=FULL). Each
// file is encrypted with filippo.io/age to the hub's own X25519 identity
// (LoadOrCreateIdentity: <data>/keys/filedrop.agekey, 0600, created on
// first start, never inside a bundle). Plaintext exists only in memory,
// in flight: uploads and downloads stream with constant memory, the
// plaintext's SHA-256 is computed on the way in and checked on the way out.
//
// A blob is <data>/blobs/<first 2 hex digits of the file id>/<file id>.age:
//
//	blob    = magic segment { segment }
//	magic   = "hubkit-filedrop-blob v1\n"            (24 bytes)
//	segment = length age-file
//	length  = uint64, big-endian: the byte length of age-file (> 0)
//	age-file = a complete age encryption (header and STREAM payload) of
//	          one piece of the plaintext, to the hub's recipient
//
// The file's plaintext is the concatenation of its segments' plaintexts.
// A single-shot upload (AddFile, link uploads) writes one segment; a
// resumable upload writes one per stored chunk, so a chunk can be
// appended without re-reading or holding what came before. Every segment
// has its own file key; age authenticates each, and the SHA-256 recorded
// in the store covers their number, order and content as a whole. An
// operator holding the key file can recover a file without hubkit by
// splitting the blob at the length prefixes and running age -d on each.
//
// # Crash safety
//
// A blob is written under a temporary name (<id>.age.tmp-<random>, or
// <id>.age.part for resumable uploads), flushed (fsync), renamed to
// <id>.age, the directory flushed, and only then is its row committed,
// in the same transaction as its audit record. A crash at any point leaves
// the file either committed or invisible, and Recover (run by Open)
// deletes what a crash left half-done; see Recover for each case. Ending a
// drop works the other way round: first the state change is committed
// (invisible at once), then blobs are deleted, then metadata reduced.
// The audit record of an action is written inside the transaction that
// commits it, before the commit: a crash between the two can leave a
// record of an upload that did not happen, never an upload without a record.
//
// # Resumable uploads
//
// BeginUpload, WriteChunk, UploadOffset, FinishUpload and AbortUpload are
// the engine half of a tus-like protocol; see resumable.go. The running
// SHA-256 state survives interruptions (age-encrypted in the
// upload_sessions row, since it holds up to 63 bytes of plaintext), so a
// resumed upload never needs plaintext already sent.
//
// # Malware scanning and types
//
// With Options.Scanner set, every file goes through clamd (INSTREAM):
// single-shot uploads are teed to clamd while they are encrypted,
// resumable ones are decrypted and streamed to clamd once at FinishUpload.
// Scanning fails closed: a virus, an unreachable clamd or one that refuses
// the stream means the file is not stored. Names with executable
// extensions (Options.RefusedExtensions) and content that is a program
// (PE, ELF, Mach-O) are refused regardless of scanning; the media type is
// sniffed from the content, never taken from the client.
//
// # Tables
//
// Component "filedrop" in the store (schema.go): drops, drop_files,
// drop_recipients, recipient_identities, upload_links, upload_sessions.
// The hourly notification limit lives in package notify's
// notifications_sent.
//
// # Audit
//
// Every create, upload, seal and delivery, download, withdrawal, expiry,
// recipient binding, link creation, use and revocation is appended to the
// hub's hash-chained audit log, refusals included (Outcome failure with a
// Reason). Case is the case reference and Actor the user key (or
// "link:<id>", or SystemActor), so `hubctl audit export --case REF` and
// `--person KEY` find them; see the Event constants.
package filedrop
