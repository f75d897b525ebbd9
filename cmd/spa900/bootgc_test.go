package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// gcPercent reads the collector's goal without changing it.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// The collector's goal is raised for a fleet's power-on and put back once, whichever of the
// storm's end and the fleet's stop comes first; each decision is one line.
func TestBootGCRaisesAndRestores(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the fleet keeps it (TestBootGCKeepsGOGC)")
	}
	was := debug.SetGCPercent(70) // not the default, to see it come back
	t.Cleanup(func() { debug.SetGCPercent(was) })
	core, logs := observer.New(zap.DebugLevel)
	g := raiseBootGC(zap.New(core))
	if got := gcPercent(); got != bootGCPercent {
		t.Fatalf("goal while booting = %d, want %d", got, bootGCPercent)
	}
	g.restore("storm done", true)
	if got := gcPercent(); got != 70 {
		t.Fatalf("goal after the storm = %d, want 70", got)
	}
	debug.SetGCPercent(90) // the user's change after the storm stands
	g.restore("fleet stopped", false)
	if got := gcPercent(); got != 90 {
		t.Errorf("goal after a second restore = %d, want 90 (restored once)", got)
	}
	var msgs []string
	for _, e := range logs.All() {
		msgs = append(msgs, e.Message)
	}
	if len(msgs) != 2 || msgs[0] != "collector goal raised while the fleet boots" || msgs[1] != "collector goal restored" {
		t.Errorf("lines %q, want the raise and one restore", msgs)
	}
	if r := logs.All()[1].ContextMap()["reason"]; r != "storm done" {
		t.Errorf("restore reason %v, want storm done", r)
	}
}

// With GOGC in the environment the fleet leaves the collector's goal alone.
func TestBootGCKeepsGOGC(t *testing.T) {
	t.Setenv("GOGC", "80")
	was := debug.SetGCPercent(80)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	g := raiseBootGC(zap.NewNop())
	if got := gcPercent(); got != 80 {
		t.Errorf("goal with GOGC=80 = %d, want 80", got)
	}
	g.restore("storm done", true)
	if got := gcPercent(); got != 80 {
		t.Errorf("goal after the storm with GOGC=80 = %d, want 80", got)
	}
}

// Two fleets of one process booting at once: the second finds the goal raised and leaves
// it to the first, so that the goal comes back to what it was whichever storm ends first.
func TestBootGCTwoFleets(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the fleet keeps it (TestBootGCKeepsGOGC)")
	}
	was := debug.SetGCPercent(70)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	for _, firstEnds := range []bool{true, false} {
		a := raiseBootGC(zap.NewNop())
		b := raiseBootGC(zap.NewNop())
		if got := gcPercent(); got != bootGCPercent {
			t.Fatalf("goal while both boot = %d, want %d", got, bootGCPercent)
		}
		if firstEnds {
			a.restore("storm done", true)
			b.restore("storm done", true)
		} else {
			b.restore("storm done", true)
			a.restore("storm done", true)
		}
		if got := gcPercent(); got != 70 {
			t.Errorf("first fleet's storm ending first: %v; goal after both = %d, want 70", firstEnds, got)
		}
	}
}

// The storm's end collects at once what the storm left (one collection more, on a goroutine
// of its own, said in the restore's line); the fleet's stop does not.
func TestBootGCCollectsAfterTheStorm(t *testing.T) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		t.Skip("GOGC is set: the fleet keeps it (TestBootGCKeepsGOGC)")
	}
	was := debug.SetGCPercent(70)
	t.Cleanup(func() { debug.SetGCPercent(was) })
	stopped := raiseBootGC(zap.NewNop())
	stopped.restore("fleet stopped", false)
	select {
	case <-stopped.collected:
		t.Error("the fleet's stop collected")
	default:
	}
	core, logs := observer.New(zap.DebugLevel)
	g := raiseBootGC(zap.New(core))
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g.restore("storm done", true)
	select {
	case <-g.collected:
	case <-time.After(time.Minute):
		t.Fatal("no collection within a minute of the storm's end")
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if after.NumGC <= before.NumGC {
		t.Errorf("%d collections after the storm's end, want more than %d", after.NumGC, before.NumGC)
	}
	if c := logs.FilterMessage("collector goal restored").All(); len(c) != 1 || c[0].ContextMap()["collect"] != true {
		t.Errorf("restore lines %v, want one that says it collects", c)
	}
}
