package phone

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// startUnit builds a unit from opts (a fresh flash in a test directory unless opts.Flash is
// set, the test's logger unless set), lets prepare adjust it before it runs (nil: nothing),
// runs it until the test ends and waits for its first boot. Every unit test starts its phone here.
func startUnit(t *testing.T, opts Options, prepare func(*Unit)) (*Unit, <-chan Event) {
	t.Helper()
	if opts.Flash == nil {
		opts.Flash = config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json"))
	}
	if opts.Logger == nil {
		opts.Logger = testlog.New(t)
	}
	if opts.IP != "" {
		opts.Defaults = append(freeSIPPorts(t, opts.Model), opts.Defaults...)
	}
	u, err := NewUnit(opts)
	if err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(u)
	}
	ctx, cancel := context.WithCancel(t.Context())
	events := followBus(ctx, u.Bus())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitEvent(t, events, EventBoot)
	return u, events
}

// followBus is every event of b in order, until ctx ends, however slowly the test reads: the
// bus drops a subscriber that falls behind (a test descheduled on a loaded machine while its
// phones are in a call), and followBus then subscribes again from the last event it has,
// replayed from the bus's history, and keeps what it read in a queue of its own.
func followBus(ctx context.Context, b *Bus) <-chan Event {
	out := make(chan Event)
	in := b.Subscribe(ctx, 0) // before the phone runs: its first events are new ones
	go func() {
		var queue []Event
		var last uint64
		for {
			var send chan<- Event
			var next Event
			if len(queue) > 0 {
				send, next = out, queue[0]
			}
			select {
			case e, ok := <-in:
				if !ok {
					if ctx.Err() != nil {
						return
					}
					in = b.Subscribe(ctx, last)
					continue
				}
				last = e.Seq
				queue = append(queue, e)
			case send <- next:
				queue = queue[1:]
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// freeSIPPorts are factory defaults that put every extension of model ("" is the default
// model) on a free port of 127.0.0.1. A test phone with an IP binds its extensions, and the
// factory 5060, 5061, … may be anybody's: a SIP server on a CI host, another package's test.
// Put them first, so that a test's own SIP_Port_n_ wins.
func freeSIPPorts(tb testing.TB, model string) []config.Change {
	tb.Helper()
	if model == "" {
		model = config.DefaultModel
	}
	m, err := config.LookupModel(model)
	if err != nil {
		tb.Fatal(err)
	}
	cs := make([]config.Change, 0, m.Extensions)
	for n := 1; n <= m.Extensions; n++ {
		cs = append(cs, config.Set(config.ExtName(config.SIPPort, n), strconv.Itoa(provtest.FreeUDPPort(tb))))
	}
	return cs
}

// defaults turns name, value pairs into factory-default changes.
func defaults(sets ...string) []config.Change {
	var cs []config.Change
	for i := 0; i+1 < len(sets); i += 2 {
		cs = append(cs, config.Set(sets[i], sets[i+1]))
	}
	return cs
}

// testUnit starts a unit with its flash in dir (a fresh directory if empty).
func testUnit(t *testing.T, dir string, opts Options) *Unit {
	t.Helper()
	if dir != "" {
		opts.Flash = config.NewFileFlash(filepath.Join(dir, "flash.json"))
	}
	u, _ := startUnit(t, opts, nil)
	return u
}

// waitEvent reads events until one of kind arrives.
// waitOpEvent waits for an event of kind about op (its "op" field), skipping the others.
func waitOpEvent(t *testing.T, events <-chan Event, kind, op string) Event {
	t.Helper()
	for {
		if e := waitEvent(t, events, kind); e.Data["op"] == op {
			return e
		}
	}
}

func waitEvent(t *testing.T, events <-chan Event, kind string) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event stream closed waiting for %s", kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", kind)
		}
	}
}

func mustPhone(t *testing.T, u *Unit) *Phone {
	t.Helper()
	p, err := u.Phone()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRebootWaitsForIdle is the foundation's acceptance scenario: off-hook, reboot request,
// still up with the reboot pending; on-hook, it reboots and comes back with its flash.
func TestRebootWaitsForIdle(t *testing.T) {
	u := testUnit(t, "", Options{})
	ctx := t.Context()
	p := mustPhone(t, u)
	if _, err := p.Apply(ctx, "test", []config.Change{config.Set("Station_Name", "Reception")}, config.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	events := u.Bus().Subscribe(ctx, 0)
	if err := p.SetHook(ctx, true); err != nil {
		t.Fatal(err)
	}
	out, err := p.RequestReboot(ctx, "test")
	if err != nil || out != OutcomeDeferred {
		t.Fatalf("RequestReboot = %v, %v; want deferred", out, err)
	}
	ev := waitEvent(t, events, EventDeferred)
	if ev.Data["reason"] != "handset off-hook" {
		t.Errorf("deferred reason = %v", ev.Data["reason"])
	}
	st := u.Status()
	if st.State != StateRunning || st.Idle || len(st.Pending) == 0 || st.Pending[0].Op != "reboot" {
		t.Fatalf("status = %s idle=%v pending=%v; want running, busy, reboot pending", st.State, st.Idle, st.Pending)
	}
	bootCount := st.BootCount
	if err := p.SetHook(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, EventShutdown)
	boot := waitEvent(t, events, EventBoot)
	if got := boot.Data["boot_count"]; got != bootCount+1 {
		t.Errorf("boot_count = %v, want %d", got, bootCount+1)
	}
	p2 := mustPhone(t, u)
	if p2 == p {
		t.Fatal("the phone was not rebuilt")
	}
	if got := p2.Status().Config.Get("Station_Name"); got != "Reception" {
		t.Errorf("after reboot Station_Name = %q: flash lost", got)
	}
}

func TestRebootWhenIdleIsImmediate(t *testing.T) {
	u := testUnit(t, "", Options{})
	events := u.Bus().Subscribe(t.Context(), 0)
	out, err := mustPhone(t, u).RequestReboot(t.Context(), "test")
	if err != nil || out != OutcomeStarted {
		t.Fatalf("RequestReboot = %v, %v; want started", out, err)
	}
	waitEvent(t, events, EventBoot)
}

func TestApplyProfileRestartsWhenIdle(t *testing.T) {
	u := testUnit(t, "", Options{})
	ctx := t.Context()
	p := mustPhone(t, u)
	events := u.Bus().Subscribe(ctx, 0)
	p.SetHook(ctx, true)
	res, err := p.ApplyProfile(ctx, "api", []byte(`<flat-profile><Line_Enable_2_>No</Line_Enable_2_><GPP_A>x</GPP_A><Foo/></flat-profile>`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Restart || len(res.Changed) != 2 || len(res.Unknown) != 1 {
		t.Fatalf("result = %+v", res)
	}
	// The boot resync may be deferred by the same off-hook (and start once on-hook), before
	// or after the restart: the restart's own events are awaited.
	waitOpEvent(t, events, EventDeferred, "restart")
	p.SetHook(ctx, false)
	waitOpEvent(t, events, EventStarted, "restart")
	// Only provisioning values: applied live, no restart.
	res, err = p.ApplyProfile(ctx, "api", []byte(`<flat-profile><GPP_B>y</GPP_B></flat-profile>`))
	if err != nil || res.Restart {
		t.Fatalf("provisioning change: %+v, %v; want live", res, err)
	}
}

func TestApplyProfileRejectsAndKeepsConfig(t *testing.T) {
	u := testUnit(t, "", Options{})
	p := mustPhone(t, u)
	for _, bad := range []string{`<flat-profile><GPP_A>x</GPP_A>`, `<flat-profile><GPP_A>x</GPP_B></flat-profile>`} {
		if _, err := p.ApplyProfile(t.Context(), "api", []byte(bad)); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("ApplyProfile(%q) err = %v, want ErrInvalidRequest", bad, err)
		}
	}
	if got := p.Status().Config.Get("GPP_A"); got != "" {
		t.Errorf("GPP_A = %q after rejected profiles", got)
	}
}

func TestFactoryDefaultsAndReset(t *testing.T) {
	dir := t.TempDir()
	defaults := []config.Change{config.Set("Station_Name", "Lab")}
	u := testUnit(t, dir, Options{Defaults: defaults, MAC: "00:0e:08:12:34:56"})
	ctx := t.Context()
	p := mustPhone(t, u)
	if got := p.Status().Config.Get("Station_Name"); got != "Lab" {
		t.Fatalf("--set default not applied: %q", got)
	}
	p.Apply(ctx, "test", []config.Change{config.Set("Station_Name", "Changed"), config.Set("GPP_C", "z")}, config.ApplyOptions{})
	events := u.Bus().Subscribe(ctx, 0)
	if _, err := u.FactoryReset(ctx); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, EventBoot)
	st := mustPhone(t, u).Status()
	if st.Config.Get("Station_Name") != "Lab" || st.Config.Get("GPP_C") != "" {
		t.Errorf("after factory reset: Station_Name %q, GPP_C %q", st.Config.Get("Station_Name"), st.Config.Get("GPP_C"))
	}
	if st.MAC != "000E08123456" {
		t.Errorf("identity lost: MAC %s", st.MAC)
	}
}

func TestIdentity(t *testing.T) {
	u := testUnit(t, "", Options{Model: "SPA962", MAC: "000e08aabbcc", Software: "5.1.15(aSC)"})
	st := u.Status()
	if st.Model != "SPA962" || st.MAC != "000E08AABBCC" || st.Software != "5.1.15(aSC)" {
		t.Fatalf("identity %+v", st)
	}
	if st.UserAgent != "Linksys/SPA-962-5.1.15(aSC) ("+st.Serial+")" {
		t.Errorf("HTTP UA = %q", st.UserAgent)
	}
	if st.SIPAgent != "Linksys/SPA962-5.1.15(aSC)" {
		t.Errorf("SIP version = %q", st.SIPAgent)
	}
	if len(st.Serial) != 12 || st.Serial != SerialFromMAC(mustMAC(t, "000e08aabbcc")) {
		t.Errorf("serial %q", st.Serial)
	}
	if len(st.Extensions) != 6 || st.Extensions[0].Registration != "Not Registered" {
		t.Errorf("extensions %+v", st.Extensions)
	}
}

func mustMAC(t *testing.T, s string) []byte {
	m, err := ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGeneratedMACIsKept(t *testing.T) {
	dir := t.TempDir()
	fl := config.NewFileFlash(filepath.Join(dir, "flash.json"))
	u1, err := NewUnit(Options{Flash: fl})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := NewUnit(Options{Flash: fl})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := u1.Status().MAC, u2.Status().MAC; a != b || a[:6] != "000E08" {
		t.Errorf("MACs %s and %s: want the same, in the Linksys OUI", a, b)
	}
}

// BenchmarkBoot measures a boot from flash to a running phone (no emulated boot time).
func BenchmarkBoot(b *testing.B) {
	dir := b.TempDir()
	fl := config.NewFileFlash(filepath.Join(dir, "flash.json"))
	for b.Loop() {
		u, err := NewUnit(Options{Flash: fl})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		events := u.Bus().Subscribe(ctx, 0)
		done := make(chan error, 1)
		go func() { done <- u.Run(ctx) }()
		for e := range events {
			if e.Kind == EventBoot {
				break
			}
		}
		cancel()
		<-done
	}
}

// TestStatusClocksMove: the status read between events shows the time of the read.
func TestStatusClocksMove(t *testing.T) {
	clock := NewManualClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	u := testUnit(t, "", Options{Clock: clock})
	clock.Advance(90 * time.Second)
	st := u.Status()
	if st.UptimeSec != 90 || st.Info.Elapsed != 90*time.Second || !st.Now.Equal(clock.Now()) {
		t.Errorf("uptime %d, elapsed %v, now %v; want 90 s at %v", st.UptimeSec, st.Info.Elapsed, st.Now, clock.Now())
	}
}

func TestBusRingKeepsTheNewest(t *testing.T) {
	b := NewBus(1 << 30) // the count bound, not the size bound
	for i := 0; i < busMaxEvents+10; i++ {
		b.Publish("k", time.Time{}, nil)
	}
	got := b.Since(0)
	if len(got) != busMaxEvents || got[0].Seq != 11 || got[len(got)-1].Seq != busMaxEvents+10 {
		t.Fatalf("ring holds %d events, %d..%d", len(got), got[0].Seq, got[len(got)-1].Seq)
	}
	if tail := b.Since(busMaxEvents + 5); len(tail) != 5 || tail[0].Seq != busMaxEvents+6 {
		t.Fatalf("Since: %d events from %d", len(tail), tail[0].Seq)
	}
}
