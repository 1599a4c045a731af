// Package federation carries file drops between the regions' hubs.
//
// A recipient logs in at the hub of their own region, so a drop for a
// user of another region is delivered to that region's hub (see
// filedrop's forward.go for the outbox). This package is the wire:
//
//   - Every hub publishes a peer document at /.well-known/hubkit-peer.json:
//     its region, its age recipient (the public half of the key its files
//     are encrypted to) and its Ed25519 signing key. It is fetched over
//     HTTPS from the domain in the region files, so it is trusted the way
//     an identity provider's discovery document is.
//   - The sending hub signs an envelope (the drop's metadata, the files'
//     sizes and SHA-256, who it is from and to, and when) and streams it,
//     followed by each file age-encrypted to the receiving hub's
//     recipient, as one multipart POST to /federation/v1/parcels. A proxy
//     that terminates TLS sees ciphertext only.
//   - The receiving hub checks the signature against the sender's peer
//     document before it reads a byte of the files, refuses envelopes
//     more than MaxClockSkew old or addressed elsewhere, decrypts each
//     file as it streams and stores it like an upload; the engine checks
//     every file against the signed SHA-256.
//   - A withdrawal is a signed envelope without files, POSTed to
//     /federation/v1/withdrawals.
//
// Replays are harmless: a parcel already received is not stored again,
// and a withdrawal of a withdrawn drop changes nothing.
package federation
