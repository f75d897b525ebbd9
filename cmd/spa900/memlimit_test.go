package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMemorySize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "524288000": 524288000, "300MiB": 300 << 20, "1.5GiB": 3 << 29,
		"2GB": 2e9, "64KiB": 64 << 10, "10 MB": 1e7, "100B": 100} {
		if got, err := parseMemorySize(in); err != nil || got != want {
			t.Errorf("parseMemorySize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1MiB", "3TiB", "1e30"} {
		if _, err := parseMemorySize(in); err == nil {
			t.Errorf("parseMemorySize(%q): no error", in)
		}
	}
}

func TestFleetMemoryLimitFlag(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"fleet", "--memory-limit", "lots", "--count", "1"}, new(bytes.Buffer), &stderr)
	if err == nil || !strings.Contains(stderr.String()+err.Error(), "memory-limit") {
		t.Errorf("--memory-limit lots: err %v, stderr %q; want a usage error naming the flag", err, stderr.String())
	}
}

// The container's memory limit is read as cgroup v2 and v1 keep it, at the process's own
// cgroup or at the root a container sees; no limit is 0.
func TestCgroupMemoryLimit(t *testing.T) {
	write := func(t *testing.T, path, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, self string
		files      map[string]string
		want       int64
	}{
		{"v2 at its path", "0::/system.slice/fleet.service\n", map[string]string{"system.slice/fleet.service/memory.max": "1073741824\n"}, 1 << 30},
		{"v2 unlimited", "0::/system.slice/fleet.service\n", map[string]string{"system.slice/fleet.service/memory.max": "max\n"}, 0},
		{"v2 namespaced root", "0::/\n", map[string]string{"memory.max": "536870912\n"}, 512 << 20},
		{"v2 path unseen, root", "0::/../outside\n", map[string]string{"memory.max": "268435456\n"}, 256 << 20},
		{"v1", "12:cpu,cpuacct:/docker/ab\n9:memory:/docker/ab\n", map[string]string{"memory/docker/ab/memory.limit_in_bytes": "209715200\n"}, 200 << 20},
		{"v1 unlimited", "9:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"none", "0::/\n", nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range c.files {
				write(t, filepath.Join(root, "fs", name), body)
			}
			self := filepath.Join(root, "self")
			write(t, self, c.self)
			got, err := cgroupMemoryLimit(filepath.Join(root, "fs"), self)
			if err != nil || got != c.want {
				t.Errorf("got %d, %v; want %d", got, err, c.want)
			}
		})
	}
	root := t.TempDir()
	write(t, filepath.Join(root, "fs", "memory.max"), "lots\n")
	write(t, filepath.Join(root, "self"), "0::/\n")
	if _, err := cgroupMemoryLimit(filepath.Join(root, "fs"), filepath.Join(root, "self")); err == nil {
		t.Error("memory.max of lots: no error")
	}
}

func TestMemoryLimitFlagValues(t *testing.T) {
	var m memoryLimit
	if m.String() != "auto" {
		t.Errorf("unset: %q, want auto", m.String())
	}
	for in, want := range map[string]memoryLimit{"0": {0, true}, "300MiB": {300 << 20, true}, "auto": {}} {
		m := memoryLimit{bytes: 7, set: true}
		if err := m.Set(in); err != nil || m != want {
			t.Errorf("Set(%q) = %+v, %v; want %+v", in, m, err, want)
		}
	}
}
