package provtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphanEnv makes TestOrphanHelper start a peer and wait to be killed.
const orphanEnv = "SPA900_PROVTEST_ORPHAN_DIR"

// TestOrphanHelper is the test binary that TestPeerDiesWithTestBinary kills: it starts a
// long-running peer, prints its pid and blocks. Without the environment variable it does
// nothing.
func TestOrphanHelper(t *testing.T) {
	dir := os.Getenv(orphanEnv)
	if dir == "" {
		return
	}
	p, err := StartProcess("/bin/sleep", []string{"300"}, filepath.Join(dir, "sleep.out"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pid=%d\n", p.Pid())
	select {} // until killed
}

func TestPeerDiesWithTestBinary(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), orphanEnv+"="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper printed no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid=")))
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper printed %q", line)
	}
	if !alive(pid) {
		t.Fatalf("peer %d is not running before the kill", pid)
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs in the helper
	_ = cmd.Wait()

	// The reaper acts as soon as the kernel closes the dead binary's pipe; 10 s is only
	// the point where the test gives up, not a wait.
	giveUp := time.NewTimer(10 * time.Second)
	defer giveUp.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-giveUp.C:
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("peer %d outlived the killed test binary", pid)
		case <-tick.C:
		}
	}
}

func TestStopDisarmsReaper(t *testing.T) {
	p, err := StartProcess("/bin/sleep", []string{"300"}, filepath.Join(t.TempDir(), "sleep.out"))
	if err != nil {
		t.Fatal(err)
	}
	reaperPid := p.reaper.cmd.Process.Pid
	p.Stop()
	select {
	case <-p.reaper.done:
	default:
		t.Fatalf("reaper %d still running after Stop", reaperPid)
	}
	if !p.Exited() {
		t.Fatal("peer still running after Stop")
	}
}

// alive reports whether pid is a live process: present and not a zombie waiting for an init
// that does not reap.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself hold spaces.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestFreePortsHeldUntilTheTestEnds: a port a test chose is not chosen again (by this
// process or another test process) until that test ends, though nothing has bound it yet;
// then it is free to choose again.
func TestFreePortsHeldUntilTheTestEnds(t *testing.T) {
	var port, first int
	t.Run("choose", func(t *testing.T) {
		port = FreeUDPPort(t)
		if f, ok := reserve(port); ok {
			f.Close()
			t.Fatalf("port %d chosen and not bound, yet another reservation of it succeeded", port)
		}
		first = FreeUDPRange(t, 4)
		for p := first; p < first+4; p++ {
			if f, ok := reserve(p); ok {
				f.Close()
				t.Fatalf("port %d of the range %d-%d reserved twice", p, first, first+3)
			}
		}
	})
	for _, p := range []int{port, first, first + 3} {
		f, ok := reserve(p)
		if !ok {
			t.Fatalf("port %d still held after its test ended", p)
		}
		f.Close()
	}
}
