package main

import (
	"fmt"
	"runtime/debug"
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
// the CPU), rather than failing. 0 (the default) leaves the runtime's own policy (and
// GOMEMLIMIT, if set).
type memoryLimit int64

func (m *memoryLimit) String() string {
	if *m == 0 {
		return "0"
	}
	return strconv.FormatInt(int64(*m), 10)
}

// Set reads a size: bytes, or a number with KiB, MiB, GiB (1024s) or KB, MB, GB (1000s).
func (m *memoryLimit) Set(s string) error {
	n, err := parseMemorySize(s)
	if err != nil {
		return err
	}
	*m = memoryLimit(n)
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

// apply sets the limit, and says so; 0 leaves the runtime's.
func (m memoryLimit) apply(log *zap.Logger) {
	if m <= 0 {
		return
	}
	was := debug.SetMemoryLimit(int64(m))
	log.Info("memory limit", zap.Int64("bytes", int64(m)), zap.Int64("was", was),
		zap.String("reason", "--memory-limit: the collector runs as often as it must to stay under it"))
}
