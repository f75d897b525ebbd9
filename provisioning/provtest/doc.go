// Package provtest runs real provisioning servers for tests: tftpd-hpa ([StartTFTPD]) and nginx
// with plain HTTP, HTTPS with required client certificates, failure answers and an upload
// sink ([StartNginx]), with a throw-away PKI made at test time ([NewPKI]).
//
// Every server listens on 127.0.0.1 on ports chosen at run time, lives in t.TempDir(), is
// ready when the Start function returns (checked with a real request or connection, never a
// sleep) and is stopped in t.Cleanup by its process id.
//
// A missing peer binary skips the test with the command that installs it, except under
// CI=true, where it fails the test instead ([RequirePeer]).
//
// Who may import it: tests only (of provisioning, phone, cmd and webui). It imports nothing
// from this module, so that package provisioning's own tests can use it.
//
// Concurrency: each server value is safe for concurrent use by the test and by the code under
// test; helpers that take a testing.TB must be called from the test's goroutine.
package provtest
