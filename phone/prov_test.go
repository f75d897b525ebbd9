package phone

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
)

// fakeNet serves files by canonical URL and records every request.
type fakeNet struct {
	mu      sync.Mutex
	files   map[string][]byte
	errs    map[string]error
	got     []string
	uploads map[string][]byte
}

func newFakeNet() *fakeNet {
	return &fakeNet{files: map[string][]byte{}, errs: map[string]error{}, uploads: map[string][]byte{}}
}

func (f *fakeNet) set(url string, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[url] = []byte(body)
	delete(f.errs, url)
}

func (f *fakeNet) fail(url string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[url] = err
}

func (f *fakeNet) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeNet) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := req.URL.String()
	f.got = append(f.got, u)
	if err, ok := f.errs[u]; ok {
		return fetched{}, err
	}
	if b, ok := f.files[u]; ok {
		return fetched{body: b, serverIP: req.URL.Host}, nil
	}
	return fetched{}, fmt.Errorf("fake: %s: %w", u, provisioning.ErrNotFound)
}

func (f *fakeNet) upload(ctx context.Context, u *provisioning.URL, body []byte, user, pwd string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads[u.String()] = body
	return nil
}

// provUnit starts a unit on a manual clock with a fake network.
func provUnit(t *testing.T, net *fakeNet, sets ...string) (*Unit, *ManualClock, <-chan Event) {
	t.Helper()
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	u, events := startUnit(t, Options{MAC: "000e08aabbcc", Defaults: defaults(sets...), Clock: clock, TFTPServer: "192.0.2.66"},
		func(u *Unit) { u.net = net })
	return u, clock, events
}

func profile(body string) string { return "<flat-profile>" + body + "</flat-profile>" }

func TestBootResyncThenPeriodic(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<Profile_Rule_B>http://prov.example/$PN/spa$MA.cfg</Profile_Rule_B>`))
	net.set("http://prov.example:80/SPA942/spa000e08aabbcc.cfg", profile(`<GPP_A>from B</GPP_A><Station_Name>Desk</Station_Name>`))
	u, clock, events := provUnit(t, net, config.ResyncRandomDelay, "0", config.ResyncPeriodic, "600")
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" || res.Data["prvst"] != prvstBoot {
		t.Fatalf("boot resync: %v", res.Data)
	}
	if got := net.requests(); len(got) != 2 {
		t.Fatalf("requests %v, want the default rule then Profile_Rule_B", got)
	}
	st := u.Status()
	if st.Config.Get("GPP_A") != "from B" || st.Config.Get("Station_Name") != "Desk" {
		t.Fatalf("profile not applied: GPP_A=%q", st.Config.Get("GPP_A"))
	}
	if st.Provisioning.NextResync == nil || st.Provisioning.NextResync.Sub(clock.Now()) != 600*time.Second {
		t.Fatalf("next resync %v, want in 600 s", st.Provisioning.NextResync)
	}
	clock.Advance(599 * time.Second)
	clock.Advance(time.Second)
	res = waitEvent(t, events, EventResyncResult)
	if res.Data["prvst"] != prvstPeriodic {
		t.Fatalf("periodic resync prvst = %v", res.Data["prvst"])
	}
}

func TestResyncRetrySchedule(t *testing.T) {
	net := newFakeNet()
	net.fail("tftp://192.0.2.66:69/spa942.cfg", fmt.Errorf("timeout: %w", context.DeadlineExceeded))
	u, clock, events := provUnit(t, net, config.ResyncRandomDelay, "0", config.ResyncErrorRetryDelay, "30,60")
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "failure" || res.Data["next_in_seconds"] != int64(30) {
		t.Fatalf("first failure: %v", res.Data)
	}
	clock.Advance(30 * time.Second)
	res = waitEvent(t, events, EventResyncResult)
	if res.Data["prvst"] != prvstRetry || res.Data["next_in_seconds"] != int64(60) {
		t.Fatalf("retry 1: %v", res.Data)
	}
	clock.Advance(60 * time.Second)
	res = waitEvent(t, events, EventResyncResult)
	if res.Data["next_in_seconds"] != int64(60) {
		t.Fatalf("retry 2 (last step repeats): %v", res.Data)
	}
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<GPP_B>ok</GPP_B>`))
	clock.Advance(60 * time.Second)
	res = waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" || u.Status().Provisioning.RetryIndex != 0 {
		t.Fatalf("recovery: %v retry index %d", res.Data, u.Status().Provisioning.RetryIndex)
	}
}

func TestResyncFileNotFound(t *testing.T) {
	tests := []struct {
		name, fnf, want string
	}{
		{"fails", "Yes", "failure"},
		{"counts as success", "No", "success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, events := provUnit(t, newFakeNet(), config.ResyncRandomDelay, "0", config.ResyncFailsOnFNF, tt.fnf)
			if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != tt.want {
				t.Fatalf("result %v, want %s", res.Data, tt.want)
			}
		})
	}
}

func TestResyncSequenceStopsAtFailure(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/a.cfg", profile(`<GPP_A>a</GPP_A>`))
	net.set("tftp://192.0.2.66:69/b.cfg", `<flat-profile><GPP_B>b</GPP_B>`) // malformed
	net.set("tftp://192.0.2.66:69/c.cfg", profile(`<GPP_C>c</GPP_C>`))
	u, _, events := provUnit(t, net, config.ResyncRandomDelay, "0",
		config.ProfileRule, "/a.cfg", config.ProfileRuleB, "/b.cfg", config.ProfileRuleC, "/c.cfg")
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "failure" || res.Data["err"] != "corrupt file (line 1: <flat-profile> is not closed)" {
		t.Fatalf("result %v", res.Data)
	}
	cfg := u.Status().Config
	if cfg.Get("GPP_A") != "a" || cfg.Get("GPP_B") != "" || cfg.Get("GPP_C") != "" {
		t.Errorf("GPP A/B/C = %q/%q/%q: want the first profile kept and the sequence stopped", cfg.Get("GPP_A"), cfg.Get("GPP_B"), cfg.Get("GPP_C"))
	}
}

func TestResyncForcedWhileBusy(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<GPP_A>x</GPP_A>`))
	u, clock, events := provUnit(t, net, config.ResyncOnReset, "No", config.ForcedResyncDelay, "100")
	p := mustPhone(t, u)
	p.SetHook(t.Context(), true)
	if out, err := p.RequestResync(t.Context(), "", "192.0.2.9"); err != nil || out != OutcomeDeferred {
		t.Fatalf("RequestResync = %v, %v", out, err)
	}
	waitEvent(t, events, EventDeferred)
	clock.Advance(99 * time.Second)
	if len(net.requests()) != 0 {
		t.Fatal("resync ran while busy before Forced_Resync_Delay")
	}
	clock.Advance(time.Second)
	if ev := waitEvent(t, events, EventStarted); ev.Data["op"] != "resync" || ev.Data["forced"] != true {
		t.Fatalf("started %v", ev.Data)
	}
	waitEvent(t, events, EventResyncResult)
}

func TestResyncRequestURLAndGate(t *testing.T) {
	net := newFakeNet()
	net.set("http://192.0.2.9:80/one.cfg", profile(`<GPP_D>one</GPP_D>`))
	u, _, events := provUnit(t, net, config.ResyncOnReset, "No")
	p := mustPhone(t, u)
	// A URL without a server, even after a scheme, goes to the host that asked (§5.4).
	if _, err := p.RequestResync(t.Context(), "http:///one.cfg", "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" || res.Data["url"] != "http://192.0.2.9:80/one.cfg" {
		t.Fatalf("serverless request: %v", res.Data)
	}
	if _, err := p.RequestResync(t.Context(), "http://192.0.2.9/one.cfg", "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" || res.Data["prvst"] != prvstRequest || u.Status().Config.Get("GPP_D") != "one" {
		t.Fatalf("result %v", res.Data)
	}
	p.Apply(t.Context(), "test", []config.Change{config.Set(config.ProvisionEnable, "No")}, config.ApplyOptions{})
	if _, err := p.RequestResync(t.Context(), "", ""); err != ErrProvisioningDisabled {
		t.Fatalf("err = %v, want ErrProvisioningDisabled", err)
	}
}

func TestUpgradeRule(t *testing.T) {
	img := func(model, version string) string {
		b, err := firmware.Build(firmware.Image{Models: []string{model}, Version: version, Built: time.Unix(1700000000, 0), Payload: []byte("fw")}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	net := newFakeNet()
	net.set("http://fw.example:80/spa942-5-1-18.bin", img("SPA942", "5.1.18"))
	net.set("http://fw.example:80/spa962.bin", img("SPA962", "5.1.18"))
	net.set("http://fw.example:80/old.bin", img("SPA942", "5.1.5"))
	u, _, events := provUnit(t, net, config.ResyncOnReset, "No", config.DowngradeRevLimit, "5.1.8",
		config.UpgradeRule, "($SWVER ne 5.1.18)? http://fw.example/spa942-5-1-18.bin")
	p := mustPhone(t, u)

	// Refusals first, through the upgrade URL, each with $UPGERR and a retry.
	for _, tt := range []struct{ url, err string }{
		{"http://fw.example/spa962.bin", "wrong model"},
		{"http://fw.example/old.bin", "below Downgrade_Rev_Limit"},
		{"https://fw.example/x.bin", "https not supported"},
	} {
		if _, err := p.RequestUpgrade(t.Context(), tt.url, ""); err != nil {
			t.Fatal(err)
		}
		res := waitEvent(t, events, EventUpgradeResult)
		if e, _ := res.Data["err"].(string); res.Data["result"] != "failure" || !strings.Contains(e, tt.err) {
			t.Fatalf("%s: %v, want %q", tt.url, res.Data, tt.err)
		}
		if u.Status().Upgrade.UPGST != 2 || u.Status().Upgrade.NextRetry == nil {
			t.Fatalf("after failure: %+v", u.Status().Upgrade)
		}
	}
	// The rule: off-hook first, nothing is downloaded until on-hook.
	p.SetHook(t.Context(), true)
	if _, err := p.RequestUpgrade(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	before := len(net.requests())
	p.SetHook(t.Context(), false)
	waitEvent(t, events, EventShutdown)
	boot := waitEvent(t, events, EventBoot)
	if boot.Data["software"] != "5.1.18" {
		t.Fatalf("booted %v", boot.Data)
	}
	if res := waitEvent(t, events, EventUpgradeResult); res.Data["result"] != "success" || res.Data["from"] != "5.1.10" {
		t.Fatalf("upgrade result %v", res.Data)
	}
	n := 0
	for _, got := range net.requests()[before:] {
		if got == "http://fw.example:80/spa942-5-1-18.bin" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("image downloaded %d times after on-hook: %v", n, net.requests()[before:])
	}
	st := u.Status()
	if st.Software != "5.1.18" || st.UserAgent != "Linksys/SPA-942-5.1.18 ("+st.Serial+")" {
		t.Fatalf("after upgrade: %s %s", st.Software, st.UserAgent)
	}
}

// TestResyncTrigger: Resync_Trigger_1 set by a profile starts a resync within a second of
// becoming true, "as if the periodic timer had expired" (SPA-BEHAVIOUR §4.1).
func TestResyncTrigger(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<GPP_A>x</GPP_A>`))
	u, clock, events := provUnit(t, net, config.ResyncOnReset, "No")
	p := mustPhone(t, u)
	if _, err := p.ApplyProfile(t.Context(), "api", []byte(profile(`<GPP_B>no</GPP_B><Resync_Trigger_1>"$B" eq "go"</Resync_Trigger_1>`))); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Second)
	if n := len(net.requests()); n != 0 {
		t.Fatalf("%d fetches while the trigger is false", n)
	}
	p.ApplyProfile(t.Context(), "api", []byte(profile(`<GPP_B>go</GPP_B>`)))
	clock.Advance(time.Second)
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" || res.Data["prvst"] != prvstPeriodic {
		t.Fatalf("triggered resync: %v", res.Data)
	}
}

// TestResyncPeriodicChangeAppliesLive: a new Resync_Periodic moves the pending periodic resync.
func TestResyncPeriodicChangeAppliesLive(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<GPP_A>x</GPP_A>`))
	u, clock, events := provUnit(t, net, config.ResyncRandomDelay, "0", config.ResyncPeriodic, "3600")
	waitEvent(t, events, EventResyncResult)
	done := clock.Now()
	if _, err := mustPhone(t, u).Apply(t.Context(), "web", []config.Change{config.Set(config.ResyncPeriodic, "60")}, config.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if next := u.Status().Provisioning.NextResync; next == nil || !next.Equal(done.Add(60*time.Second)) {
		t.Fatalf("next resync %v, want 60 s after the last success", next)
	}
	clock.Advance(60 * time.Second)
	if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstPeriodic {
		t.Fatalf("%v", res.Data)
	}
	mustPhone(t, u).Apply(t.Context(), "web", []config.Change{config.Set(config.ResyncPeriodic, "0")}, config.ApplyOptions{})
	if next := u.Status().Provisioning.NextResync; next != nil {
		t.Fatalf("Resync_Periodic 0 left a resync at %v", next)
	}
}

// TestProgressIsTheStatus: the Progress a storm report reads, and the Config, Model and
// HostName a web request reads, hold what the status says, after a failed resync and after
// a successful one (which changes the configuration).
func TestProgressIsTheStatus(t *testing.T) {
	net := newFakeNet()
	net.fail("tftp://192.0.2.66:69/spa942.cfg", fmt.Errorf("timeout: %w", context.DeadlineExceeded))
	u, clock, events := provUnit(t, net, config.ResyncRandomDelay, "0", config.ResyncErrorRetryDelay, "30")
	check := func(when string) {
		t.Helper()
		st, pr := u.Status(), u.Progress()
		p := st.Provisioning
		want := Progress{State: st.State, BootCount: st.BootCount, Provisioning: p.State, NextReason: p.NextReason,
			ResyncCount: p.ResyncCount, LastResult: p.LastResult, LastError: p.LastError}
		for _, e := range st.Extensions {
			if e.Enabled && e.SIPAddr == "" && e.LastError != "" {
				want.SIPDown = append(want.SIPDown, e.LastError)
			}
		}
		if len(want.SIPDown) == 0 {
			want.SIPDown = pr.SIPDown[:0:0]
		}
		if !pr.equal(&want) || len(pr.SIPDown) != len(want.SIPDown) {
			t.Errorf("%s: progress %+v, status says %+v", when, pr, want)
		}
		if host, domain := u.HostName(); u.Config() != st.Config || u.Model() != st.Model || host != st.Info.HostName || domain != st.Info.Domain {
			t.Errorf("%s: Config, Model, HostName differ from the status's: %q %q %q, status %q %q %q", when, u.Model(), host, domain,
				st.Model, st.Info.HostName, st.Info.Domain)
		}
	}
	if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "failure" {
		t.Fatalf("first resync: %v", res.Data)
	}
	check("after a failure")
	if pr := u.Progress(); pr.LastResult != "failure" || pr.NextReason != "retry" || pr.ResyncCount != 1 || pr.State != StateRunning {
		t.Errorf("after a failure: %+v", pr)
	}
	net.set("tftp://192.0.2.66:69/spa942.cfg", profile(`<GPP_B>ok</GPP_B>`))
	clock.Advance(30 * time.Second)
	if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" {
		t.Fatalf("retry: %v", res.Data)
	}
	check("after a success")
	if pr := u.Progress(); pr.LastResult != "success" || pr.LastError != "" || pr.ResyncCount != 2 || pr.Provisioning != "idle" {
		t.Errorf("after a success: %+v", pr)
	}
}
