// Package vault owns Plexus's persistent state: the bbolt data file and the
// master key that seals every secret in it.
//
// A Vault is opened once per process by the daemon (plexus serve). Open takes
// bbolt's exclusive file lock, obtains the master key, checks it against a
// sealed canary and applies schema migrations. A new vault's master key
// comes from what the user gave explicitly (PLEXUS_MASTER_KEY, base64 of 32
// bytes; PLEXUS_PASSPHRASE, Argon2id; or Config.KeyFile), and then the OS
// keyring is not touched; else from the OS keyring (go-keyring, service
// "plexus"; created there); else from a passphrase typed at a terminal
// (Config.NewPassphrase); else, with none of these, a generated key in
// <dir>/plexus.key (mode 0600). The vault records which source made it (and
// the key file's path), so a later run opens it the same way and never
// silently creates a second key. KeyInfo and Inspect tell where it is.
//
// # Locked vaults and key moves
//
// OpenOrLock is Open for a daemon that nobody can answer at a terminal (the
// desktop window started it): where Open would fail for want of a
// passphrase, or (LockOptions.NewPassphrase) give a new vault a generated
// key file, it returns a Locked vault instead. A Locked vault holds the
// file lock and waits for Unlock (a wrong passphrase is answered after a
// growing wait, with no limit on attempts) or, for a new vault, Create or
// UseKeyFile; meanwhile it keeps the admin UI's login in memory so a
// window can sign in to type the passphrase.
//
// A vault whose key is in a key file can move it without touching any
// sealed value: MoveKeyToKeyring stores the same key in the OS keyring,
// ProtectWithPassphrase wraps it under a passphrase (keymove.go says why
// wrapping, not re-sealing). Either records the new place in one
// transaction after proving it opens the vault, and only then removes the
// key file.
//
// # Records
//
// The file holds tenants, users, user tokens, MCP sessions and session
// values, and (schema version 2) per-tenant OAuth providers, registered
// users' credentials (OAuth token sets and API keys), pending OAuth
// authorizations (the single-use `state`, with its PKCE verifier; and,
// schema version 3, single-use consent links) and tool settings, and
// (schema version 5) the upstream MCP servers tenants mount: configuration
// only, whose credentials are references to the calling user's own
// ("the API key of provider openai into OPENAI_API_KEY"), never values.
// Tenant-scoped records are keyed "tenant\x00…" (tool settings by the
// tenant id, OAuth states and consent links by their SHA-256), and DeleteTenant removes
// everything a tenant owns in one transaction. Guests never get credential
// records: their tokens live in session values and die with the session.
// Expired sessions and OAuth states are removed by SweepSessions.
//
// A user's persistent id is the host application's user id (as in MCP
// Plexus); users created by an older Plexus keep their random UUID ids,
// found through the by-host index. Ids from outside follow
// ValidateHostUserID, which reserves the local owner's ids (the local owner
// is reachable only through the daemon's local token, via
// EnsureLocalOwner) and refuses an id that is already another user's
// persistent id. DeleteUser removes a user with everything that is theirs,
// so a user registered again under the same id inherits nothing.
//
// # Changes
//
// The vault is the only writer of its records, so it announces every
// committed write that a reader may have cached (token revoked, user or
// tenant deleted, tool settings, providers, credentials, upstreams) to the functions
// registered with Subscribe: synchronously, after the commit, before the
// writing method returns. Caches that subscribe need no expiry, and a
// revocation takes effect on the very next request.
//
// # Secrets
//
// No secret is written in the clear. Tokens, host-app secrets, MCP session
// ids (schema version 4), OAuth states, consent link ids and browser
// bindings are stored as SHA-256 hashes only (and compared as digests, in
// constant time: see SecretDigest, which every secret comparison in Plexus
// uses); values (session values, credentials) are sealed
// with AES-256-GCM under a data key derived from the master key with
// HKDF-SHA256, and so are OAuth client secrets, PKCE verifiers and TOTP
// gates' secrets ("gate|<tenant>|<tool set>", gates.go). The
// additional authenticated data names the record ("session-value|<tenant>|
// <sid>|<key>", "credential|<tenant>|<user>|<kind>|<provider>",
// "oauth-provider|<tenant>|<name>|<binding>", "oauth-state|<state>"), so a
// sealed value copied to another tenant's, user's, session's or provider's
// record fails to open with ErrDecrypt. Where a secret goes is part of the
// secret: an OAuth client secret's AAD, and its users' token sets' (after
// "credential|…|oauth|<provider>"), end with the provider's Binding(), a
// digest of its endpoints, client id and API origins, so a provider edited
// in the file opens neither. Credentials carry a version for
// compare-and-swap writes (PutCredentialIf, DeleteCredentialIf).
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
// a desktop keyring may block on an unlock prompt. Without a D-Bus session
// bus the keyring counts as unavailable and is not called, because godbus
// would otherwise autolaunch a dbus-daemon that outlives the process.
package vault
