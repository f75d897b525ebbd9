package deploy

import (
	"bufio"
	crand "crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerRootPattern names the roots of the test's private engines in the temporary directory.
const dockerRootPattern = "spa900-docker-*"

// sweepStaleDockerRoots removes what a container test that was killed left behind: its
// engine's roots in the temporary directory and the mounts under them (the network
// namespace, the containers' overlays) and the bridges of its networks on the host (see
// recordBridge), which nothing else ever removes. A root whose dockerd
// still runs is another test's and is left alone, and so is a root made in the last few
// minutes that has no pid file yet (an engine starting). It returns what it swept.
func sweepStaleDockerRoots(t *testing.T) []string {
	t.Helper()
	roots, _ := filepath.Glob(filepath.Join(os.TempDir(), dockerRootPattern))
	var swept []string
	for _, root := range roots {
		fi, err := os.Lstat(root)
		if err != nil || !fi.IsDir() {
			continue
		}
		if engineAlive(root, fi.ModTime()) {
			continue
		}
		removeBridges(t, root)
		for _, m := range mountsUnder(root) { // deepest first
			if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				t.Logf("stale engine root %s: umount %s: %v", root, m, err)
			}
		}
		if err := os.RemoveAll(root); err != nil {
			t.Logf("stale engine root %s: %v", root, err)
			continue
		}
		swept = append(swept, root)
	}
	if len(swept) > 0 {
		t.Logf("removed the roots of %d engines a killed test left behind: %s", len(swept), strings.Join(swept, " "))
	}
	return swept
}

// bridgesFile lists, in an engine's root, the host bridges of the networks made on it (one
// name a line), so that the bridges of an engine killed before it removed them can go.
const bridgesFile = "bridges"

// recordBridge adds a network's bridge to the list of the engine at root.
func recordBridge(root, bridge string) error {
	f, err := os.OpenFile(filepath.Join(root, bridgesFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, bridge)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// removeBridges deletes from the host the bridges the dead engine at root recorded that are
// still there (a bridge name is br- and 12 hex digits of its network's random ID: another
// engine's bridge never has it).
func removeBridges(t *testing.T, root string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, bridgesFile))
	if err != nil {
		return
	}
	for _, name := range strings.Fields(string(b)) {
		if _, err := net.InterfaceByName(name); err != nil {
			continue
		}
		if out, err := exec.Command("ip", "link", "delete", name).CombinedOutput(); err != nil {
			t.Logf("stale engine root %s: ip link delete %s: %v %s", root, name, err, out)
		} else {
			t.Logf("stale engine root %s: removed its bridge %s", root, name)
		}
	}
}

// engineAlive reports whether root may still be in use: its dockerd (pid file) runs, or it
// has no pid file and was made less than five minutes ago.
func engineAlive(root string, made time.Time) bool {
	b, err := os.ReadFile(filepath.Join(root, "docker.pid"))
	if err != nil {
		return time.Since(made) < 5*time.Minute
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	// A pid reused by another program is not the engine.
	return err == nil && strings.Contains(string(cmdline), "dockerd") && strings.Contains(string(cmdline), root)
}

// mountsUnder lists the mount points at or below root, deepest first.
func mountsUnder(root string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var ms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		// The mount point, with spaces and the like octal-escaped.
		mp := unescapeMount(fields[4])
		if mp == root || strings.HasPrefix(mp, root+"/") {
			ms = append(ms, mp)
		}
	}
	slices.SortFunc(ms, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return ms
}

func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// TestSweepStaleDockerRoots: the roots of dead engines go, with the mounts under them; a
// live engine's root and one being made stay.
func TestSweepStaleDockerRoots(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	old := time.Now().Add(-time.Hour)
	mk := func(name, pid string) string {
		root := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(root, "exec", "netns"), 0o755); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			os.WriteFile(filepath.Join(root, "docker.pid"), []byte(pid), 0o644)
		}
		os.Chtimes(root, old, old)
		return root
	}
	dead := mk("spa900-docker-1", "999999999") // no such process
	reused := mk("spa900-docker-2", strconv.Itoa(os.Getpid()))
	nopid := mk("spa900-docker-3", "")
	starting := mk("spa900-docker-4", "")
	os.Chtimes(starting, time.Now(), time.Now())
	other := filepath.Join(tmp, "not-ours")
	os.Mkdir(other, 0o755)
	mounted := ""
	if os.Geteuid() == 0 { // a mount left under a dead engine's root
		mounted = mk("spa900-docker-5", "")
		ns := filepath.Join(mounted, "exec", "netns")
		if err := syscall.Mount("tmpfs", ns, "tmpfs", 0, "size=1m"); err != nil {
			t.Logf("no tmpfs mount here (%v): the unmount is not tried", err)
			mounted = ""
		} else {
			t.Cleanup(func() { syscall.Unmount(ns, syscall.MNT_DETACH) })
		}
	}
	bridge := ""
	if os.Geteuid() == 0 { // a bridge left by a dead engine's network
		b := make([]byte, 6)
		crand.Read(b)
		bridge = fmt.Sprintf("br-%x", b)
		if out, err := exec.Command("ip", "link", "add", bridge, "type", "bridge").CombinedOutput(); err != nil {
			t.Logf("no bridge made here (%v %s): its removal is not tried", err, out)
			bridge = ""
		} else {
			t.Cleanup(func() { exec.Command("ip", "link", "delete", bridge).Run() })
			if err := recordBridge(dead, bridge); err != nil {
				t.Fatal(err)
			}
			if err := recordBridge(starting, bridge+"x"); err != nil { // a live engine's: never touched
				t.Fatal(err)
			}
		}
	}
	swept := sweepStaleDockerRoots(t)
	if bridge != "" {
		if _, err := net.InterfaceByName(bridge); err == nil {
			t.Errorf("the dead engine's bridge %s is left", bridge)
		}
	}
	want := []string{dead, reused, nopid}
	if mounted != "" {
		want = append(want, mounted)
	}
	slices.Sort(swept)
	if !slices.Equal(swept, want) {
		t.Errorf("swept %v, want %v", swept, want)
	}
	for _, keep := range []string{starting, other} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	if mounted != "" && len(mountsUnder(mounted)) > 0 {
		t.Errorf("a mount under %s is left", mounted)
	}
}
