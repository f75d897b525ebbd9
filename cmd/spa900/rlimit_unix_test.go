//go:build unix

package main

import (
	"syscall"
	"testing"
)

// raiseFileLimit makes sure this process (and the peers and fleets it starts, which inherit
// it) may open want files, raising the hard limit where it is lower (root may); a fleet
// that still does not fit refuses to start and says how many phones would.
func raiseFileLimit(tb testing.TB, want uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if uint64(lim.Max) >= want {
		return
	}
	raised := syscall.Rlimit{Cur: want, Max: want}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
		tb.Logf("open file limit %d, want %d: %v (the fleet will say what fits)", lim.Max, want, err)
		return
	}
	tb.Logf("open file limit raised from %d to %d for the fleet and its peers", lim.Max, want)
}
