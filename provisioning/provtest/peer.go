package provtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// RequirePeer returns the path of the peer program binary. When it is not installed the test
// is skipped with the command that installs aptPackage, or, when the environment variable CI
// is "true", failed: CI must run every test.
func RequirePeer(t testing.TB, binary, aptPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(binary); err == nil {
		return p
	}
	// Daemons live in sbin, which is often missing from a user's PATH.
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, binary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	unavailable(t, fmt.Sprintf("%s not found: install it with `sudo apt-get install %s`", binary, aptPackage))
	return ""
}

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: peers are required)")
	}
	t.Skip(msg)
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago, for programs that
// must be told their port. Another process may take it before the program binds it; the
// Start functions retry with a new port when that happens.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free tcp port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago (see [FreeTCPPort]).
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free udp port: %v", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Process is a started peer program: its own process group, its output in a file, its exit
// observed. The SIP peers of sip/siptest use it too: one place handles peer processes.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // the exit status, valid after done
	out  string        // file with stdout and stderr
}

// StartProcess starts bin with args in a new process group, in the directory of outFile,
// with its standard output and error written to outFile. Stop it with [Process.Stop].
func StartProcess(bin string, args []string, outFile string) (*Process, error) {
	out, err := os.Create(outFile)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = filepath.Dir(outFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), out: outFile}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited; [Process.Err] is its exit status then.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns the exit status once [Process.Done] is closed (nil for status 0).
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Pid returns the process id (the process group's id too).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the process group the process leads: SIGTERM, then SIGKILL if it is still there
// after a grace period. Only the group started by StartProcess is signalled, by its id.
func (p *Process) Stop() {
	pgid := p.cmd.Process.Pid
	if !p.Exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	}
	// Children of the group (tftpd's per-transfer processes) may outlive the leader.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return
	}
	<-p.done
}

// Output returns what the process printed, for failure messages.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.out)
	if err != nil {
		return ""
	}
	return string(b)
}
