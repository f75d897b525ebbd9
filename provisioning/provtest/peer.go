package provtest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
// Start functions retry with a new port when that happens. The port is one the kernel does
// not hand out by itself (see [freePort]), so that only another explicit choice can take it.
func FreeTCPPort(t testing.TB) int {
	t.Helper()
	return freePort(t, bindTCP)
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago (see [FreeTCPPort]).
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return freePort(t, bindUDP)
}

// FreeUDPRange returns the first of n consecutive UDP ports of 127.0.0.1, an even one, that
// were all free a moment ago, below the kernel's ephemeral range (see [FreeTCPPort]): for a
// phone's RTP_Port_Min..RTP_Port_Max in a test.
func FreeUDPRange(t testing.TB, n int) int {
	t.Helper()
	return freeRange(t, n, bindUDP)
}

// FreeTCPRange returns the first of n consecutive TCP ports of 127.0.0.1, an even one, that
// were all free a moment ago, below the kernel's ephemeral range (see [FreeTCPPort]): for a
// range of ports published at once, such as a Compose file's.
func FreeTCPRange(t testing.TB, n int) int {
	t.Helper()
	return freeRange(t, n, bindTCP)
}

// bindTCP and bindUDP bind addr, close at once and return the port bound.
func bindTCP(addr string) (int, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func bindUDP(addr string) (int, error) {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

func freeRange(t testing.TB, n int, bind func(addr string) (int, error)) int {
	t.Helper()
	low := EphemeralLow()
	if low-freeLowest <= 2*n {
		t.Fatalf("no room for %d ports between %d and the ephemeral range at %d", n, freeLowest, low)
	}
	for range 100 {
		first := freeLowest + 2*rand.IntN((low-freeLowest-n)/2)
		var held []*os.File
		free := true
		for p := first; p < first+n && free; p++ {
			f, ok := reserve(p)
			if ok {
				held = append(held, f)
				_, err := bind(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
				ok = err == nil
			}
			free = ok
		}
		if free {
			t.Cleanup(func() { closeAll(held) })
			return first
		}
		closeAll(held)
	}
	t.Fatalf("no %d consecutive free ports below %d", n, low)
	return 0
}

// freeLowest is the lowest port the Free functions choose: above RTP_Port_Min..RTP_Port_Max's
// defaults (16384-16482).
const freeLowest = 20000

// EphemeralLow is the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), 32768 where it cannot be read.
func EphemeralLow() int {
	if r, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(r)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// freePort picks a port of 127.0.0.1 at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range) and above the phones' default RTP range, free when bind
// tried it. A port of the ephemeral range, the kernel's own choice for ":0", was taken now and
// then between the choice and the program's bind: every socket on the machine that binds
// ":0" or connects unbound (other packages' tests, other programs) gets a port of that
// range; below it only another explicit bind can. Two tests' explicit choices (the packages
// of `go test ./...` run as parallel processes) are kept apart by [reserve]: a port chosen
// here is held until the test ends. With no room below the range (or no free port found
// there), the kernel's choice.
func freePort(t testing.TB, bind func(addr string) (int, error)) int {
	t.Helper()
	lowest, low := freeLowest, EphemeralLow()
	for i := 0; low-lowest >= 1000 && i < 100; i++ {
		port := lowest + rand.IntN(low-lowest)
		f, ok := reserve(port)
		if !ok {
			continue
		}
		if _, err := bind(net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return port
	}
	port, err := bind("127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return port
}

// reserve holds port for this process until the file it returns is closed: an exclusive
// flock(2) on a file named after the port in a directory of the temporary one, which every
// test process of the module shares. A port that another test (in this process or another)
// chose and has not yet bound, which bind alone would find free, is not chosen twice; the
// kernel drops the lock of a process that dies. ok is false while another holds it. Without
// the directory (a read-only /tmp) every port counts as unheld: the bind check alone.
func reserve(port int) (f *os.File, ok bool) {
	dir := filepath.Join(os.TempDir(), "spa900-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDONLY, 0o666)
	if err != nil {
		return nil, true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// closeAll closes the files of held reservations.
func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// Process is a started peer program: its own process group, its output in a file, its exit
// observed, and a reaper that kills the group if the test binary dies without stopping it.
// The SIP peers of sip/siptest use it too: one place handles peer processes.
type Process struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // the exit status, valid after done
	out    string        // file with stdout and stderr
	reaper *reaper
}

// StartProcess starts bin with args in a new process group, in the directory of outFile,
// with its standard output and error written to outFile. Stop it with [Process.Stop].
//
// If the test binary is killed first (a -timeout, a stopped CI job, kill -9), the group is
// killed too: see [reaper].
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
	r, err := startReaper(cmd.Process.Pid)
	if err != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("guard %s: %w", filepath.Base(bin), err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), out: outFile, reaper: r}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// reaper is a small shell process that kills a peer's process group when the test binary
// dies. It blocks reading a pipe whose only write end the test binary holds: the kernel closes
// that end when the binary exits for any reason, the read sees end of file, and the reaper
// kills the group. A normal [Process.Stop] first writes a line, which disarms it.
//
// A parent-death signal (Pdeathsig) is not used: Linux sends it when the OS thread that forked
// the child exits, not the process, and goroutines that lock their thread (the media pacers)
// end their thread when they return, which would kill a peer in the middle of a test. A pipe
// also covers the whole group (nginx's and Kamailio's workers, tftpd's transfers), where
// Pdeathsig would reach only the leader.
type reaper struct {
	w    *os.File
	cmd  *exec.Cmd
	done chan struct{}
}

func startReaper(pgid int) (*reaper, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// dash's kill takes a negative pid after -9, not after -s KILL.
	cmd := exec.Command("/bin/sh", "-c", `if read _; then exit 0; fi; kill -9 "-$1" 2>/dev/null`, "reaper", strconv.Itoa(pgid))
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, err
	}
	rp := &reaper{w: w, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(rp.done)
	}()
	return rp, nil
}

// disarm tells the reaper that the group was stopped on purpose and waits for it to exit.
func (r *reaper) disarm() {
	_, _ = r.w.WriteString("stopped\n")
	_ = r.w.Close()
	<-r.done
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
	defer p.reaper.disarm()
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
