// Package backup takes consistent online snapshots of a running hub's data
// directory and restores them: the store (SQLite VACUUM INTO on a read
// connection, so uploads go on), the audit log up to the head recorded at
// snapshot time, the keys, and the file-drop blobs the snapshot's store
// references. The store, the audit log and the keys are encrypted with age
// to the operators' recipients; blobs are already encrypted to the hub's
// own key and are copied as they are, once: later snapshots share them.
//
// # Layout in a target
//
//	blobs/<xx>/<file id>.age          shared by every snapshot that references it
//	snapshots/<name>/hub.db.age       the store
//	snapshots/<name>/audit.log.age    the audit log up to manifest.audit
//	snapshots/<name>/keys/<file>.age  keys/filedrop.agekey, keys/federation.key
//	snapshots/<name>/bundle-manifest.json  the bundle's manifest.json, if given
//	snapshots/<name>/manifest.json    written last: a snapshot without it is incomplete
//
// The engine knows targets only through Target (dirtarget, s3target).
package backup
