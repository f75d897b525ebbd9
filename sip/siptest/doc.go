// Package siptest runs real SIP peers for tests: Kamailio as registrar and proxy with digest
// authentication and no database ([StartKamailio]), SIPp scenarios ([RunSIPp]), and baresip
// as an independent user agent. Each peer listens on 127.0.0.1 on a port chosen at run time,
// lives in t.TempDir(), is ready when its Start function returns (checked with a real
// request, never a sleep) and is stopped in t.Cleanup by its process id.
//
// The process handling (starting a peer in its own process group, stopping it by its id,
// skipping or failing when it is not installed) is provisioning/provtest's: one place does
// it for every peer of the project. provtest imports nothing from the module, so this
// package's import of it creates no cycle; it is a test helper, outside the production
// layering that phone/deps_test.go checks for the product's packages.
//
// Who may import it: tests only (of sip, phone and cmd).
//
// Concurrency: each peer value is safe for concurrent use; helpers that take a testing.TB
// must be called from the test's goroutine.
package siptest
