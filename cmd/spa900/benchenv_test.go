package main

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// envCount reads a benchmark's size from the environment variable name: def when it is unset,
// a failure naming the variable when it is not a count from 1 to max (0: no upper bound).
func envCount(tb testing.TB, name string, def, max int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || (max > 0 && n > max) {
		if max > 0 {
			tb.Fatalf("%s=%q: want a count from 1 to %d", name, s, max)
		}
		tb.Fatalf("%s=%q: want a count", name, s)
	}
	return n
}

// envDuration reads a benchmark's duration from the environment variable name (Go syntax:
// "90s", "5m"): def when it is unset, a failure naming the variable when it does not parse.
func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%q: want a duration such as 90s", name, s)
	}
	return d
}

// lockedBuffer collects a child process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
