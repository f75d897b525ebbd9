package main

import (
	"bytes"
	"context"
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
