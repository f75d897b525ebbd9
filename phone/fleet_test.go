package phone

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
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

// TestFleetPlanFiles: the budget counts each phone's web server, a SIP socket per enabled
// extension and the calls' RTP and RTCP sockets; the transfers get what is left, and a fleet
// that does not fit is refused with how many phones would.
func TestFleetPlanFiles(t *testing.T) {
	dir := t.TempDir()
	opts := make([]Options, 10)
	for i := range opts {
		opts[i] = Options{Flash: config.NewFileFlash(filepath.Join(dir, fmt.Sprint(i), "flash.json")), MAC: fmt.Sprintf("000e0820%04x", i),
			// SPA942: four extensions, two of them switched off.
			Defaults: []config.Change{config.Set(config.ExtName(config.LineEnable, 3), "No"), config.Set(config.ExtName(config.LineEnable, 4), "No")}}
	}
	f, err := NewFleet(opts, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	budget := FileBudget{Limit: 100, Reserve: 20, WebListeners: 1, Calls: -1, MinTransfers: 4}
	// 1 shared web listener + 10 × (2 SIP + 2 for a call each) = 41, + 20 reserved: 39 left
	// for transfers.
	p, err := f.PlanFiles(budget)
	if err != nil {
		t.Fatal(err)
	}
	if p.SIP != 20 || p.Web != 1 || p.CallFiles != 20 || p.Extensions != 2 || p.PerPhone != 4 || p.Transfers != 39 || p.Fit != 18 {
		t.Errorf("plan %+v", p)
	}
	if tr := f.Units()[0].opts.Transfers; tr != nil {
		t.Errorf("transfers bounded to %d with files for every phone's", tr.Size())
	}
	budget.Limit = 65 // 4 transfers left: bounded
	if p, err = f.PlanFiles(budget); err != nil || p.Transfers != 4 {
		t.Fatalf("plan %+v: %v", p, err)
	}
	for _, u := range f.Units() {
		if u.opts.Transfers == nil || u.opts.Transfers.Size() != 4 || u.opts.Transfers != f.Units()[0].opts.Transfers {
			t.Fatal("the units do not share a limiter of 4 transfers")
		}
	}
	budget.Limit = 64 // (64 - 20 - 1 - 4) / 4
	p, err = f.PlanFiles(budget)
	// What it leaves the extensions and calls of a fleet started anyway: 64 - 1 - 20 - 4.
	if !errors.Is(err, ErrOpenFiles) || p.Fit != 9 || !strings.Contains(err.Error(), "9 such phones fit") || p.PhoneRoom != 39 {
		t.Errorf("limit 64: %+v, %v", p, err)
	}
	budget.Calls = 0 // a fleet that never calls: 2 files a phone
	if p, err = f.PlanFiles(budget); err != nil || p.PerPhone != 2 || p.Transfers != 64-1-20-20 {
		t.Errorf("no calls: %+v, %v", p, err)
	}
}

// TestFleetPlanFilesNoLines: a phone with every extension off has no line to call on, so
// the default budget (Calls -1) keeps no RTP or RTCP sockets for it, only for the phones with
// a line: a storm fleet of 10,000 SPA942s with their lines off, under a 20,000 file limit, was
// bounded to 16 transfers at once for the 20,000 sockets of calls it cannot make.
func TestFleetPlanFilesNoLines(t *testing.T) {
	dir := t.TempDir()
	off := []config.Change{}
	for n := 1; n <= 4; n++ {
		off = append(off, config.Set(config.ExtName(config.LineEnable, n), "No"))
	}
	opts := make([]Options, 10)
	for i := range opts {
		opts[i] = Options{Flash: config.NewFileFlash(filepath.Join(dir, fmt.Sprint(i), "flash.json")), MAC: fmt.Sprintf("000e0822%04x", i)}
		if i >= 3 { // seven phones with their lines off, three with one line on
			opts[i].Defaults = off
		} else {
			opts[i].Defaults = off[1:]
		}
	}
	f, err := NewFleet(opts, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	budget := FileBudget{Limit: 40, Reserve: 20, WebListeners: 1, Calls: -1, MinTransfers: 4}
	// 1 web listener + 3 SIP sockets + 3 calls of 2 files + 20 reserved = 30: 10 transfers.
	p, err := f.PlanFiles(budget)
	if err != nil {
		t.Fatal(err)
	}
	if p.Calls != 3 || p.CallFiles != 6 || p.SIP != 3 || p.Transfers != 10 {
		t.Errorf("plan %+v", p)
	}
	if tr := f.Units()[0].opts.Transfers; tr != nil {
		t.Errorf("transfers bounded to %d with files for every phone's", tr.Size())
	}
	budget.Calls = 10 // told: the calls budgeted whatever the lines
	if p, err = f.PlanFiles(budget); !errors.Is(err, ErrOpenFiles) || p.CallFiles != 20 {
		t.Errorf("10 calls: %+v, %v", p, err)
	}
}

// TestUnitSIPFiles: an extension on UDP holds its socket; on TCP or TLS its listener and a
// connection per destination (SIP_Transport_n_, sip/stream.go).
func TestUnitSIPFiles(t *testing.T) {
	set := config.Set
	tests := []struct {
		name string
		set  []config.Change
		want int
	}{
		{"four lines on UDP", nil, 4},
		{"TCP, its proxy and another voice mail server", []config.Change{
			set(config.ExtName(config.SIPTransport, 1), "TCP"), set(config.ExtName(config.Proxy, 1), "pbx.example.com"), set(config.ExtName(config.VoiceMailServer, 1), "vm.example.com"),
			set(config.ExtName(config.LineEnable, 2), "No"), set(config.ExtName(config.LineEnable, 3), "No"), set(config.ExtName(config.LineEnable, 4), "No")}, 3},
		{"TLS through an outbound proxy, voice mail on the proxy", []config.Change{
			set(config.ExtName(config.SIPTransport, 1), "TLS"), set(config.ExtName(config.Proxy, 1), "pbx.example.com"), set(config.ExtName(config.UseOutboundProxy, 1), "Yes"),
			set(config.ExtName(config.OutboundProxy, 1), "sbc.example.com"), set(config.ExtName(config.VoiceMailServer, 1), "sbc.example.com"),
			set(config.ExtName(config.LineEnable, 2), "No"), set(config.ExtName(config.LineEnable, 3), "No"), set(config.ExtName(config.LineEnable, 4), "No")}, 2},
		{"TCP before any proxy is provisioned, and a UDP line", []config.Change{
			set(config.ExtName(config.SIPTransport, 1), "TCP"), set(config.ExtName(config.LineEnable, 3), "No"), set(config.ExtName(config.LineEnable, 4), "No")}, 2 + 1},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUnit(Options{Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json")),
				MAC: fmt.Sprintf("000e0821%04x", i), Defaults: tc.set, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			if got := u.SIPFiles(); got != tc.want {
				t.Errorf("SIPFiles = %d, want %d", got, tc.want)
			}
			if got := u.OpenFiles(); got != tc.want+1 {
				t.Errorf("OpenFiles = %d, want %d (and a provisioning transfer)", got, tc.want+1)
			}
		})
	}
}

// TestFleetLimitPhoneFiles: a fleet bounded to fewer SIP files than its extensions need (a
// fleet started past its open file limit) binds as many extensions as the bound holds; the
// others are out of service with "too many open files", which they stand for, and the files
// come back when the phones' agents close: after a power cycle as many are in service again.
func TestFleetLimitPhoneFiles(t *testing.T) {
	opts := fleetOptions(t, 2) // SPA942s: four extensions each, on UDP
	for i := range opts {
		opts[i].Clock = NewManualClock(voiceStart) // no bind retried meanwhile
	}
	f, err := NewFleet(opts, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	f.LimitPhoneFiles(6)
	ctx, cancel := context.WithCancel(t.Context())
	buses := make([]<-chan Event, 2)
	for i, u := range f.Units() {
		buses[i] = followBus(ctx, u.Bus())
	}
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	inService := func(boot int) {
		t.Helper()
		n := 0
		for i, u := range f.Units() {
			for {
				if ev := waitEvent(t, buses[i], EventBoot); ev.Data["boot_count"] == boot {
					break
				}
			}
			for _, e := range u.Status().Extensions {
				switch {
				case e.SIPAddr != "":
					n++
				case !strings.Contains(e.LastError, "too many open files"):
					t.Errorf("boot %d, phone %d: extension %+v out of service without the file bound's reason", boot, i, e)
				}
			}
		}
		if n != 6 {
			t.Errorf("boot %d: %d extensions in service, want the bound's 6", boot, n)
		}
	}
	inService(1)
	f.PowerCycle()
	inService(2)
}
