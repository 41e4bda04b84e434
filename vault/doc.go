// Package vault owns Plexus's persistent state: the bbolt data file and the
// master key that seals every secret in it.
//
// A Vault is opened once per process by the daemon (plexus serve). Open takes
// bbolt's exclusive file lock, obtains the master key, checks it against a
// sealed canary and applies schema migrations. The master key comes, in
// order, from the OS keyring (go-keyring, service "plexus"; created there on
// first start), PLEXUS_MASTER_KEY (base64 of 32 bytes), a passphrase
// (PLEXUS_PASSPHRASE or Config.Passphrase; Argon2id), or a plain key file
// the user asked for explicitly (Config.KeyFile). The vault records which
// source made it, so a later run never silently creates a second key.
//
// # Records
//
// The file holds tenants, users, user tokens, MCP sessions and session
// values, and (schema version 2) per-tenant OAuth providers, registered
// users' credentials (OAuth token sets and API keys), pending OAuth
// authorizations (the single-use `state`, with its PKCE verifier) and tool
// settings. Tenant-scoped records are keyed "tenant\x00…" (tool settings by
// the tenant id, OAuth states by the state string), and DeleteTenant removes
// everything a tenant owns in one transaction. Guests never get credential
// records: their tokens live in session values and die with the session.
// Expired sessions and OAuth states are removed by SweepSessions.
//
// # Secrets
//
// No secret is written in the clear. Tokens, host-app secrets and (schema
// version 3) MCP session ids are stored as SHA-256 hashes only; values (session values, credentials) are sealed
// with AES-256-GCM under a data key derived from the master key with
// HKDF-SHA256, and so are OAuth client secrets and PKCE verifiers. The
// additional authenticated data names the record ("session-value|<tenant>|
// <sid>|<key>", "credential|<tenant>|<user>|<kind>|<provider>",
// "oauth-provider|<tenant>|<name>", "oauth-state|<state>"), so a sealed
// value copied to another tenant's, user's, session's or provider's record
// fails to open with ErrDecrypt.
// Error strings and log lines never contain secret values.
//
// # Caveats
//
// Nothing outside this package may touch the bbolt file or the keyring:
// bbolt allows one writer process, and the master key must never leave the
// vault. Every operation is one managed bbolt transaction (View or Update),
// so a failed operation leaves no half-written record; commits are durable
// once a method returns.
//
// Open never waits forever: the file lock is bounded by Config.LockTimeout
// (ErrLocked), and every system keyring call is bounded by a timeout because
// a desktop keyring may block on an unlock prompt.
package vault
