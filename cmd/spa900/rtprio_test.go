package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/media"
)

func TestRTPPriorityFlagOutOfRange(t *testing.T) {
	for _, args := range [][]string{{}, {"fleet", "--count", "1"}} { // a phone, a fleet
		var stderr bytes.Buffer
		err := run(context.Background(), append(args, "--rtp-priority", "100", "--data", t.TempDir()), new(bytes.Buffer), &stderr)
		if err == nil || !strings.Contains(err.Error(), "--rtp-priority") {
			t.Errorf("%q --rtp-priority 100: err %v; want a usage error naming the flag", args, err)
		}
	}
}

// TestRTPScheduler: real-time pacers where the kernel allows them, with GOMAXPROCS doubled
// so that they keep their slot; the default policy and GOMAXPROCS as it was where it does
// not, said in one line either way.
func TestRTPScheduler(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	if s, err := rtpScheduler(0, zap.NewNop()); s != nil || err != nil {
		t.Fatalf("priority 0: %v, %v; want no scheduler of the process", s, err)
	}
	core, logs := observer.New(zap.InfoLevel)
	sched, err := rtpScheduler(10, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Close()
	allowed := media.RealtimeAllowed(10)
	want, procs, pacers := "rtp pacing on the default policy", was, was
	if allowed {
		want, procs, pacers = "rtp pacing real-time", 2*was, max(1, was/2)
	}
	if got := sched.Stats().Pacers; got != pacers {
		t.Errorf("%d pacers; want %d (GOMAXPROCS was %d, real-time allowed: %v)", got, pacers, was, allowed)
	}
	if got := logs.All(); len(got) != 1 || got[0].Message != want {
		t.Errorf("log %v; want one line %q (real-time allowed: %v)", got, want, allowed)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Errorf("GOMAXPROCS %d; want %d (was %d, real-time allowed: %v)", got, procs, was, allowed)
	}
}
