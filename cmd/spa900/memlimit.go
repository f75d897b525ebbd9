package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// memoryLimit is the --memory-limit flag of a fleet: a soft limit on the memory the Go runtime
// holds (runtime/debug.SetMemoryLimit, GOMEMLIMIT's knob), so that a fleet of thousands of
// phones, whose live heap is a fraction of what the collector's default pacing lets it grow
// to (the heap doubles between collections: 3,000 phones resyncing every second held 300 MB
// live and 800 MB resident), stays near a budget its host sets. It is soft: a fleet whose
// live memory exceeds it goes on, collecting more often (the runtime caps that at about half
// the CPU), rather than failing.
//
// Unset (the default: "auto"), a fleet in a container with a memory limit (cgroup v2
// memory.max, v1 memory.limit_in_bytes: docker --memory, a Kubernetes limit) takes 90% of
// that limit, the rest left to what the runtime does not count (the kernel's buffers of
// thousands of sockets, the page cache of the flashes): Go does not read the container's
// limit itself, and a fleet whose heap doubles past it is killed by the kernel rather than
// collected. Without a container limit, or with GOMEMLIMIT set, the runtime's own policy
// stands. "0" says so explicitly.
type memoryLimit struct {
	bytes int64
	set   bool // given: bytes is the limit, 0 the runtime's own policy
}

func (m *memoryLimit) String() string {
	if !m.set {
		return "auto"
	}
	return strconv.FormatInt(m.bytes, 10)
}

// Set reads "auto" or a size: bytes, or a number with KiB, MiB, GiB (1024s) or KB, MB, GB (1000s).
func (m *memoryLimit) Set(s string) error {
	if strings.TrimSpace(s) == "auto" {
		*m = memoryLimit{}
		return nil
	}
	n, err := parseMemorySize(s)
	if err != nil {
		return err
	}
	*m = memoryLimit{bytes: n, set: true}
	return nil
}

// parseMemorySize reads "300MiB", "1.5GB", "524288000".
func parseMemorySize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := float64(1)
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("want a size such as 300MiB, 2GB or a number of bytes, got %q", s)
	}
	return int64(v * mult), nil
}

// apply sets the limit, and says so; 0 leaves the runtime's, and so does auto outside a
// container with a memory limit or with GOMEMLIMIT set.
func (m memoryLimit) apply(log *zap.Logger) {
	limit, reason := m.bytes, "--memory-limit: the collector runs as often as it must to stay under it"
	if !m.set {
		if os.Getenv("GOMEMLIMIT") != "" {
			return
		}
		cg, err := cgroupMemoryLimit("/sys/fs/cgroup", "/proc/self/cgroup")
		if err != nil {
			log.Debug("no container memory limit", zap.Error(err))
		}
		if cg <= 0 {
			return
		}
		limit = cg / 10 * 9
		reason = fmt.Sprintf("--memory-limit auto: 90%% of the container's memory limit of %d bytes", cg)
	}
	if limit <= 0 {
		return
	}
	was := debug.SetMemoryLimit(limit)
	log.Info("memory limit", zap.Int64("bytes", limit), zap.Int64("was", was), zap.String("reason", reason))
}

// cgroupMemoryLimit returns the memory limit of the cgroup the process runs in, read below
// root (/sys/fs/cgroup) for the paths self (/proc/self/cgroup) names: cgroup v2's memory.max,
// or v1's memory/…/memory.limit_in_bytes; at the path, or at the root of the hierarchy when
// the container sees its own cgroup as the root. 0 when there is none ("max", v1's page-
// rounded 2^63, no such files).
func cgroupMemoryLimit(root, self string) (int64, error) {
	b, err := os.ReadFile(self)
	if err != nil {
		return 0, err
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		switch {
		case f[0] == "0" && f[1] == "": // v2
			files = append(files, filepath.Join(root, f[2], "memory.max"), filepath.Join(root, "memory.max"))
		case slices.Contains(strings.Split(f[1], ","), "memory"): // v1
			files = append(files, filepath.Join(root, "memory", f[2], "memory.limit_in_bytes"),
				filepath.Join(root, "memory", "memory.limit_in_bytes"))
		}
	}
	for _, name := range files {
		v, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		t := strings.TrimSpace(string(v))
		if t == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		if n <= 0 || n >= 1<<62 { // v1 without a limit: 2^63 rounded down to a page
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}
