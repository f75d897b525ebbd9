// Package webui is the embedded web server of an emulated phone: the device's own pages and
// action URLs, and the JSON automation API with its event stream.
//
// Only cmd/spa900 (and tests) should import this package; it imports phone and
// provisioning/config, never the other way round.
//
// # What it serves
//
//   - The device's URLs (SPA-BEHAVIOUR §5): the user pages at /, the admin pages at /admin/,
//     /admin/spacfg.xml (the configuration as <flat-profile>, §5.3), and the action URLs
//     /admin/reboot, /admin/resync[?URL], /admin/upgrade?URL and /upgrade?URL (§5.4), which
//     answer at once with a short page and queue the action through the phone's idle gate
//     (DECISIONS 17). The query string of resync and upgrade is the URL itself, in any of the
//     device's forms; a URL without a server means the host that sent the request.
//   - The automation API under /api/v1/ (an extension: the device has none): GET status,
//     config and events (server-sent events, resumable with Last-Event-ID or ?after=), POST
//     hook, reboot, restart, profile, factory-reset, resync, upgrade and report. Errors are
//     JSON objects {"error": "..."} with the matching status code.
//
// # Accounts
//
// Two accounts with fixed names, admin (Admin_Passwd) and user (User_Password); a password is
// asked only when it is set (SPA-BEHAVIOUR §5.2, DECISIONS 16). HTTP Digest (MD5, qop=auth)
// and Basic are both accepted. The admin URLs and the API need the admin account: 401 without
// it, never a page. As an extension, /admin/spacfg.xml requested with the user account's
// credentials returns the user's view (no parameter with access na, no secret).
// Enable_Web_Admin_Access=No refuses the admin URLs with 403; the user pages and the API
// (which is not the device's) still answer.
//
// # Hardening
//
// The server answers only requests whose Host names the phone, and the API only requests a
// browser does not mark as cross-origin, with the right Content-Type (guard.go); it bounds
// connections, read and write times and uploads (limits.go), throttles logins by client
// address (throttle.go) and refuses Digest replays (auth.go). Refusals that repeat are logged
// as a rate.
//
// # Lifecycle
//
// [New] returns the http.Handler of one unit. [Server] runs it the way the device does: it
// listens only while the phone runs, closes its listener when the phone shuts down for a
// reboot and listens again when it has booted (DECISIONS 21), honouring Enable_Web_Server and
// Web_Server_Port at each boot (SPA-BEHAVIOUR §5.1).
//
// # Concurrency
//
// The handler and the Server's methods are safe for concurrent use. The handler keeps little
// state of its own, all of it bounded: a random key that signs Digest nonces and the nonce
// counts seen, the recent login failures by client, and a cache of the pages' parameter tabs
// rendered from the last configuration snapshot of each view (immutable snapshots make it
// exact). It reads the unit's status snapshots and sends requests to the phone's event loop.
package webui
