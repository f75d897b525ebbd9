package provtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TFTPD is a running tftpd-hpa serving Root on 127.0.0.1:Port.
//
// It runs as tftpd-hpa does in deployments: --secure (chrooted to Root, so "/spa942.cfg" and
// "spa942.cfg" are the same file) and as user nobody, so the files it serves must be
// world-readable; [TFTPD.WriteFile] takes care of that, and StartTFTPD makes what Root
// already holds readable. It also runs with --create, so a client may upload (WRQ) new files.
type TFTPD struct {
	// Root is the served directory.
	Root string
	// Host is the address it listens on, "127.0.0.1".
	Host string
	// Port is its UDP port.
	Port int
	// PID is the process id of in.tftpd.
	PID int

	proc *Process
}

// tftpdStartTimeout bounds how long StartTFTPD waits for the daemon to answer.
const tftpdStartTimeout = 10 * time.Second

// StartTFTPD starts tftpd-hpa (in.tftpd) on a free UDP port of 127.0.0.1 serving root, waits
// until it answers a real read request, and stops it when the test ends. in.tftpd must run
// as root (it chroots and changes its groups before every transfer); otherwise, as when the
// package is missing, the test is skipped, or failed under CI=true.
func StartTFTPD(t testing.TB, root string) *TFTPD {
	t.Helper()
	bin := RequirePeer(t, "in.tftpd", "tftpd-hpa")
	if os.Geteuid() != 0 {
		unavailable(t, "in.tftpd needs root: it chroots and sets its groups before each transfer")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	// Readable by nobody; writable too, for uploads with --create.
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	if err := worldReadable(root); err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	logDir := t.TempDir()
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port := FreeUDPPort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		proc, err := StartProcess(bin, []string{"--foreground", "--listen", "--address", addr,
			"--secure", "--create", root}, filepath.Join(logDir, fmt.Sprintf("tftpd-%d.log", attempt)))
		if err != nil {
			t.Fatalf("tftpd: start: %v", err)
		}
		if err = waitTFTP(addr, proc); err != nil {
			proc.Stop()
			lastErr = fmt.Errorf("%w; output: %s", err, proc.Output())
			continue // most likely the port was taken meanwhile
		}
		t.Cleanup(proc.Stop)
		return &TFTPD{Root: root, Host: "127.0.0.1", Port: port, PID: proc.cmd.Process.Pid, proc: proc}
	}
	t.Fatalf("tftpd: not ready: %v", lastErr)
	return nil
}

// Addr returns "127.0.0.1:port".
func (d *TFTPD) Addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.Port)) }

// WriteFile writes a file under Root, world-readable, creating directories as needed.
func (d *TFTPD) WriteFile(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(d.Root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
		t.Fatalf("tftpd: %v", err)
	}
}

// ReadFile reads a file under Root, such as one a client uploaded.
func (d *TFTPD) ReadFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(d.Root, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("tftpd: %v", err)
	}
	return b
}

// waitTFTP sends read requests for a file that does not exist until the daemon answers (an
// ERROR packet proves that the listener, the chroot and the privilege drop all work), the
// process exits, or the start timeout passes.
func waitTFTP(addr string, proc *Process) error {
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer conn.Close()
	rrq := binary.BigEndian.AppendUint16(nil, 1) // RRQ, RFC 1350 §5
	rrq = append(rrq, "/.provtest-readiness-probe\x00octet\x00"...)
	deadline := time.Now().Add(tftpdStartTimeout)
	buf := make([]byte, 1024)
	for time.Now().Before(deadline) {
		if proc.Exited() {
			return fmt.Errorf("in.tftpd exited: %v", proc.err)
		}
		if _, err := conn.WriteToUDP(rrq, raddr); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := conn.ReadFromUDP(buf)
		var ne net.Error
		switch {
		case err == nil && n >= 4 && binary.BigEndian.Uint16(buf) == 5: // ERROR
			return nil
		case err == nil:
			return fmt.Errorf("unexpected answer to the readiness probe: % x", buf[:n])
		case errors.As(err, &ne) && ne.Timeout():
			continue
		default:
			// ICMP port unreachable while the daemon binds: ask again.
			continue
		}
	}
	return errors.New("no answer within " + tftpdStartTimeout.String())
}

// worldReadable makes every directory under root searchable and every file readable by all.
func worldReadable(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode().Perm() | 0o444
		if d.IsDir() {
			mode |= 0o111
		}
		return os.Chmod(p, mode)
	})
}
