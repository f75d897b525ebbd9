package phone

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

func fleetOptions(tb testing.TB, n int) []Options {
	dir := tb.TempDir()
	opts := make([]Options, n)
	for i := range opts {
		opts[i] = Options{
			Flash: config.NewFileFlash(filepath.Join(dir, fmt.Sprint(i), "flash.json")),
			MAC:   fmt.Sprintf("000e0810%04x", i), IP: "127.0.0.1",
			Defaults: append(freeSIPPorts(tb, ""), config.Set(config.ResyncOnReset, "No")),
		}
	}
	return opts
}

// waitFleetBooted waits until every unit of the fleet has booted.
func waitFleetBooted(tb testing.TB, ctx context.Context, f *Fleet) {
	for _, u := range f.Units() {
		if u.Status().State == StateRunning {
			continue
		}
		events := u.Bus().Subscribe(ctx, 0)
		for u.Status().State != StateRunning {
			select {
			case <-events:
			case <-ctx.Done():
				tb.Fatal("fleet did not boot")
			}
		}
	}
}

func TestFleetRunsUnits(t *testing.T) {
	f, err := NewFleet(fleetOptions(t, 20), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	waitFleetBooted(t, ctx, f)
	seen := map[string]bool{}
	for _, u := range f.Units() {
		st := u.Status()
		if seen[st.MAC] || st.BootCount != 1 {
			t.Errorf("unit %s: duplicate MAC or boot count %d", st.MAC, st.BootCount)
		}
		seen[st.MAC] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkFleetBoot boots 100 phones from fresh flashes and reports the memory an idle
// phone holds.
func BenchmarkFleetBoot(b *testing.B) {
	const n = 100
	for b.Loop() {
		b.StopTimer()
		opts := fleetOptions(b, n)
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		f, err := NewFleet(opts, zap.NewNop())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		waitFleetBooted(b, ctx, f)
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/phone")
		cancel()
		<-done
		b.StartTimer()
	}
}

// TestLimiter: n transfers at once; the next waits for a slot or gives up with its context.
func TestLimiter(t *testing.T) {
	l := NewLimiter(2)
	ctx := t.Context()
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.acquire(short); err == nil {
		t.Fatal("third transfer got a slot of two")
	}
	got := make(chan error, 1)
	go func() { got <- l.acquire(ctx) }()
	l.release()
	if err := <-got; err != nil {
		t.Fatalf("waiting transfer: %v", err)
	}
	var nilLimiter *Limiter
	if err := nilLimiter.acquire(short); err != nil || l.Size() != 2 {
		t.Errorf("nil limiter: %v; size %d", err, l.Size())
	}
	nilLimiter.release()
}

// TestFleetSharesFactoryDefaults: units of a fleet with the same model and --set values hold
// one snapshot of their factory defaults; a unit with values of its own holds its own.
func TestFleetSharesFactoryDefaults(t *testing.T) {
	dir := t.TempDir()
	set := []config.Change{config.Set(config.ResyncOnReset, "No"), config.Set(config.ExtName(config.LineEnable, 1), "No")}
	opts := make([]Options, 4)
	for i := range opts {
		opts[i] = Options{Flash: config.NewFileFlash(filepath.Join(dir, fmt.Sprint(i), "flash.json")),
			MAC: fmt.Sprintf("000e0811%04x", i), IP: "127.0.0.1", Defaults: append([]config.Change(nil), set...)}
	}
	opts[3].Defaults = append(opts[3].Defaults, config.Set(config.StationName, "own"))
	f, err := NewFleet(opts, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	u := f.Units()
	if u[0].defaults != u[1].defaults || u[1].defaults != u[2].defaults {
		t.Error("units with the same defaults hold copies of them")
	}
	if u[3].defaults == u[0].defaults || u[3].defaults.Get(config.StationName) != "own" || u[0].defaults.Get(config.StationName) == "own" {
		t.Errorf("a unit with defaults of its own shares another's: Station_Name %q, %q", u[3].defaults.Get(config.StationName), u[0].defaults.Get(config.StationName))
	}
	if got := u[0].defaults.Get(config.ExtName(config.LineEnable, 1)); got != "No" {
		t.Errorf("shared defaults: Line_Enable_1_ = %q, want No", got)
	}
}
