package siptest

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
)

//go:embed scenarios/*.xml
var scenarios embed.FS

// Scenario writes the embedded SIPp scenario name (e.g. "notify.xml") into a temporary
// directory and returns its path. Each "@KEY@" of replace is replaced by its value first,
// for what SIPp's own [keys] cannot carry (a response code to expect).
func Scenario(t testing.TB, name string, replace map[string]string) string {
	t.Helper()
	data, err := scenarios.ReadFile("scenarios/" + name)
	if err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	for k, v := range replace {
		data = bytes.ReplaceAll(data, []byte("@"+k+"@"), []byte(v))
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("scenario %s: %v", name, err)
	}
	return p
}

// SIPpRun describes one SIPp run of [RunSIPp].
type SIPpRun struct {
	// Scenario is an embedded scenario's name ("notify.xml") or a path.
	Scenario string
	// Target is the remote host:port (empty for a UAS).
	Target string
	// Service is -s, the user part of the Request-URI.
	Service string
	// Keys are -key name value pairs the scenario reads as [name].
	Keys map[string]string
	// Replace fills the scenario's @KEY@ placeholders (see [Scenario]).
	Replace map[string]string
	// AuthUser and AuthPass answer challenges (-au, -ap).
	AuthUser, AuthPass string
	// Calls is -m (default 1).
	Calls int
	// Args are further arguments.
	Args []string
	// Timeout bounds the run (default 20 s; -timeout is set from it too).
	Timeout time.Duration
}

// SIPpResult is how a SIPp run ended.
type SIPpResult struct {
	// Err is nil when every call of the scenario passed (exit status 0).
	Err error
	// Output is SIPp's console output and its error trace, for failure messages.
	Output string
	// CPU is the user and system time SIPp used (RunSIPp only).
	CPU time.Duration
}

// RunSIPp runs SIPp on 127.0.0.1 (a free port) to completion, or skips the test (fails under
// CI) when SIPp is not installed.
func RunSIPp(t testing.TB, r SIPpRun) SIPpResult {
	t.Helper()
	bin := provtest.RequirePeer(t, "sipp", "sip-tester")
	dir := t.TempDir()
	sf := r.Scenario
	if filepath.Base(sf) == sf {
		sf = Scenario(t, sf, r.Replace)
	}
	if r.Calls == 0 {
		r.Calls = 1
	}
	if r.Timeout == 0 {
		r.Timeout = 20 * time.Second
	}
	args := []string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(provtest.FreeUDPPort(t)),
		"-m", strconv.Itoa(r.Calls), "-nostdin", "-timeout", fmt.Sprintf("%ds", int(r.Timeout/time.Second)),
		"-timeout_error", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
	if r.Service != "" {
		args = append(args, "-s", r.Service)
	}
	for k, v := range r.Keys {
		args = append(args, "-key", k, v)
	}
	if r.AuthUser != "" {
		args = append(args, "-au", r.AuthUser, "-ap", r.AuthPass)
	}
	args = append(args, r.Args...)
	if r.Target != "" {
		args = append(args, r.Target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.Timeout+10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
	res := SIPpResult{Output: string(out) + "\n" + string(errs)}
	if ps := cmd.ProcessState; ps != nil {
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		res.Err = fmt.Errorf("sipp exit status %d", ee.ExitCode())
	} else if err != nil {
		res.Err = err
	}
	return res
}

// SIPpProc is a SIPp started in the background ([StartSIPp]).
type SIPpProc struct {
	// Addr is where it listens: "127.0.0.1:port".
	Addr string
	proc *provtest.Process
	dir  string
}

// StartSIPp starts SIPp on 127.0.0.1 in the background (a UAS waiting for the phone, say);
// [SIPpProc.Wait] waits for it to end. It is stopped when the test ends.
func StartSIPp(t testing.TB, r SIPpRun) *SIPpProc {
	t.Helper()
	bin := provtest.RequirePeer(t, "sipp", "sip-tester")
	dir := t.TempDir()
	sf := r.Scenario
	if filepath.Base(sf) == sf {
		sf = Scenario(t, sf, r.Replace)
	}
	if r.Calls == 0 {
		r.Calls = 1
	}
	if r.Timeout == 0 {
		r.Timeout = 20 * time.Second
	}
	port := provtest.FreeUDPPort(t)
	args := []string{"-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-mi", "127.0.0.1",
		"-mp", strconv.Itoa(provtest.FreeUDPPort(t)), "-m", strconv.Itoa(r.Calls), "-nostdin",
		"-timeout", fmt.Sprintf("%ds", int(r.Timeout/time.Second)), "-timeout_error", "-trace_err",
		"-error_file", filepath.Join(dir, "errors.log")}
	if r.Service != "" {
		args = append(args, "-s", r.Service)
	}
	for k, v := range r.Keys {
		args = append(args, "-key", k, v)
	}
	args = append(args, r.Args...)
	if r.Target != "" {
		args = append(args, r.Target)
	}
	proc, err := provtest.StartProcess(bin, args, filepath.Join(dir, "sipp.out"))
	if err != nil {
		t.Fatalf("sipp: %v", err)
	}
	t.Cleanup(proc.Stop)
	return &SIPpProc{Addr: "127.0.0.1:" + strconv.Itoa(port), proc: proc, dir: dir}
}

// Wait waits for SIPp to end, at most d.
func (s *SIPpProc) Wait(d time.Duration) SIPpResult {
	select {
	case <-s.proc.Done():
	case <-time.After(d):
		s.proc.Stop()
	}
	errs, _ := os.ReadFile(filepath.Join(s.dir, "errors.log"))
	res := SIPpResult{Output: s.proc.Output() + "\n" + string(errs)}
	if err := s.proc.Err(); err != nil {
		res.Err = fmt.Errorf("sipp: %w", err)
	}
	return res
}

// Done is closed when SIPp has ended.
func (s *SIPpProc) Done() <-chan struct{} { return s.proc.Done() }

// Stop stops SIPp now.
func (s *SIPpProc) Stop() { s.proc.Stop() }
