package phone

import (
	"context"
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/spa900/spa900/provisioning/config"
)

// heldNet is a fakeNet whose fetches of one URL wait for a release when asked to.
type heldNet struct {
	*fakeNet
	url     string
	hold    chan struct{} // non-nil: the next fetch of url waits for it to close
	reached chan struct{}
}

func (h *heldNet) fetch(ctx context.Context, req fetchRequest) (fetched, error) {
	h.fakeNet.mu.Lock()
	hold, reached := h.hold, h.reached
	h.hold = nil
	h.fakeNet.mu.Unlock()
	if hold != nil && req.URL.String() == h.url {
		close(reached)
		<-hold
	}
	return h.fakeNet.fetch(ctx, req)
}

// memoOf reads the phone's profile memo on its loop.
func memoOf(t *testing.T, p *Phone) *profileMemo {
	t.Helper()
	var m *profileMemo
	if err := p.do(t.Context(), func(st *state) error { m = st.p.memo.Load(); return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

// resyncOnce requests a resync and returns its config_applied (zero if none) and
// resync_result events.
func resyncOnce(t *testing.T, p *Phone, events <-chan Event) (applied, result Event) {
	t.Helper()
	if _, err := p.RequestResync(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case e := <-events:
			switch e.Kind {
			case EventConfigApplied:
				applied = e
			case EventResyncResult:
				return applied, e
			}
		case <-ctx.Done():
			t.Fatal("no resync_result event")
		}
	}
}

// TestResyncMemoIsExact: a resync that fetches the bytes of the last profile it applied, to
// the configuration that profile left, takes that outcome (no decode) and says so as a
// decoded one does: the same events, status and configuration; other bytes, or a
// configuration that moved, are read again, also when it moves during the fetch.
func TestResyncMemoIsExact(t *testing.T) {
	const url = "tftp://192.0.2.66:69/spa942.cfg"
	hn := &heldNet{fakeNet: newFakeNet(), url: url}
	body := profile(`<GPP_A>from profile</GPP_A><Station_Name>Desk</Station_Name><No_Such_Param>x</No_Such_Param>`)
	hn.set(url, body)
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	u, events := startUnit(t, Options{MAC: "000e08aabbcc", Defaults: defaults(config.ResyncOnReset, "No"), Clock: clock, TFTPServer: "192.0.2.66"},
		func(u *Unit) { u.net = hn })
	p, _ := u.Phone()

	a1, r1 := resyncOnce(t, p, events) // the profile changes the configuration: remembered
	if r1.Data["result"] != "success" || len(a1.Data["changed"].([]string)) != 2 {
		t.Fatalf("first resync: %v %v", a1.Data, r1.Data)
	}
	m1 := memoOf(t, p)
	if m1 == nil || m1.changes != 2 || len(m1.unknown) != 1 || m1.snap != u.Status().Config {
		t.Fatalf("memo after the first resync: %+v", m1)
	}
	resyncOnce(t, p, events) // taken from the memo
	if m := memoOf(t, p); m != m1 {
		t.Fatalf("second resync read the profile again (memo %p, was %p)", m, m1)
	}
	// An edit elsewhere moves the configuration: the profile is read again (and changes
	// nothing), then taken from the memo: both say the same.
	if _, err := p.Apply(t.Context(), "web", []config.Change{config.Set("GPP_C", "web")}, config.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	a2, r2 := resyncOnce(t, p, events)
	m2 := memoOf(t, p)
	if m2 == nil || m2 == m1 {
		t.Fatalf("memo after an edit and a resync: %+v (was %p)", m2, m1)
	}
	st2 := u.Status()
	a3, r3 := resyncOnce(t, p, events)
	if m3 := memoOf(t, p); m3 != m2 {
		t.Fatalf("resync after the edit's read the profile again (memo %p, was %p)", m3, m2)
	}
	if !reflect.DeepEqual(a2.Data, a3.Data) || !reflect.DeepEqual(r2.Data, r3.Data) {
		t.Fatalf("memo's events differ:\n%v\n%v\n%v\n%v", a2.Data, a3.Data, r2.Data, r3.Data)
	}
	st3 := u.Status()
	if st2.Config != st3.Config {
		t.Fatalf("the configuration moved after a memo's resync")
	}
	ps2, ps3 := st2.Provisioning, st3.Provisioning
	ps2.LastAttempt, ps3.LastAttempt, ps2.LastSuccess, ps3.LastSuccess, ps2.NextResync, ps3.NextResync = nil, nil, nil, nil, nil, nil
	ps2.ResyncCount++
	if !reflect.DeepEqual(ps2, ps3) {
		t.Fatalf("provisioning status differs:\n%+v\n%+v", ps2, ps3)
	}

	// The configuration moves while the memo's resync is fetching: the held bytes are read
	// and applied to what is in force, as a decoded profile's changes are.
	hn.mu.Lock()
	hn.hold, hn.reached = make(chan struct{}), make(chan struct{})
	hold, reached := hn.hold, hn.reached
	hn.mu.Unlock()
	if _, err := p.RequestResync(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	<-reached
	if _, err := p.Apply(t.Context(), "web", []config.Change{config.Set("GPP_A", "edited"), config.Set("GPP_B", "web")}, config.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	close(hold)
	for e := waitEvent(t, events, EventConfigApplied); e.Data["source"] != "resync"; e = waitEvent(t, events, EventConfigApplied) {
	}
	if r := waitEvent(t, events, EventResyncResult); r.Data["result"] != "success" {
		t.Fatalf("resync over an edit: %v", r.Data)
	}
	if c := u.Status().Config; c.Get("GPP_A") != "from profile" || c.Get("GPP_B") != "web" {
		t.Fatalf("after a memo's resync over an edit: GPP_A=%q GPP_B=%q", c.Get("GPP_A"), c.Get("GPP_B"))
	}
	if m := memoOf(t, p); m != nil {
		t.Fatalf("memo kept after a resync that changed the configuration: %+v", m)
	}

	// New bytes are read (and remembered).
	resyncOnce(t, p, events)
	m5 := memoOf(t, p)
	hn.set(url, profile(`<GPP_A>new</GPP_A><Station_Name>Desk</Station_Name><No_Such_Param>x</No_Such_Param>`))
	a6, _ := resyncOnce(t, p, events)
	if got := a6.Data["changed"]; !reflect.DeepEqual(got, []string{"GPP_A"}) || u.Status().Config.Get("GPP_A") != "new" {
		t.Fatalf("new bytes: changed %v, GPP_A=%q", got, u.Status().Config.Get("GPP_A"))
	}
	if m := memoOf(t, p); m == nil || m5 == nil || m == m5 || m.snap != u.Status().Config {
		t.Fatalf("memo around new bytes: %+v then %+v", m5, m)
	}
}

// TestResyncMemoAcrossPowerCycle: the memo outlives a power cut: the boot resync that
// fetches the same bytes for the configuration built again from the flash (the same values,
// another snapshot) takes it, and says what a decoded one says.
func TestResyncMemoAcrossPowerCycle(t *testing.T) {
	const url = "tftp://192.0.2.66:69/spa942.cfg"
	net := newFakeNet()
	net.set(url, profile(`<GPP_A>from profile</GPP_A><No_Such_Param>x</No_Such_Param>`))
	u, _, events := provUnit(t, net, config.ResyncRandomDelay, "0")
	if r := waitEvent(t, events, EventResyncResult); r.Data["result"] != "success" {
		t.Fatalf("boot resync: %v", r.Data)
	}
	p, _ := u.Phone()
	m1 := memoOf(t, p)
	if m1 == nil || m1.snap != u.Status().Config {
		t.Fatalf("memo after the boot resync: %+v", m1)
	}
	u.PowerCycle(0)
	waitEvent(t, events, EventBoot)
	a := waitEvent(t, events, EventConfigApplied)
	if r := waitEvent(t, events, EventResyncResult); r.Data["result"] != "success" {
		t.Fatalf("resync after the power cycle: %v", r.Data)
	}
	if !reflect.DeepEqual(a.Data["changed"], []string{}) || !reflect.DeepEqual(a.Data["unknown"], []string{"No_Such_Param"}) ||
		a.Data["unknown_count"] != 1 {
		t.Fatalf("config_applied after the power cycle: %v", a.Data)
	}
	p, _ = u.Phone()
	m2 := memoOf(t, p)
	if m2 == nil || m2.snap == m1.snap || m2.snap != u.Status().Config || u.Status().Config.Get("GPP_A") != "from profile" {
		t.Fatalf("memo after the power cycle: %+v (was %+v)", m2, m1)
	}
	if unsafe.SliceData(m2.unknown) != unsafe.SliceData(m1.unknown) {
		t.Fatal("the resync after the power cycle read the profile again")
	}
}
