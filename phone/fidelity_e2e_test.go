package phone

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// The tests of issue 8: what real provisioning servers write must land as on a real phone.
// Each profile is written for the test in the shape the issue describes, served by a real
// server, and the test asserts the behaviour and the log line, which is the contract for a
// server developer reading the phone's log.

// observed is a logger that writes to the test log and records every entry.
func observed(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	return zap.New(zapcore.NewTee(testlog.New(t).Core(), core)), logs
}

// logLine returns the one entry with this message, failing when there is none or more.
func logLine(t *testing.T, logs *observer.ObservedLogs, msg string) observer.LoggedEntry {
	t.Helper()
	got := logs.FilterMessage(msg).AllUntimed()
	if len(got) != 1 {
		t.Fatalf("%d log lines %q, want 1 (all: %v)", len(got), msg, logs.AllUntimed())
	}
	return got[0]
}

// TestResyncSkipsValuesAndMatchesGMTOffsets is the first case: provisioner.net writes
// Time_Zone as GMT+1:00; it lands as GMT+01:00. A value its parameter cannot take is
// skipped with one log line naming parameter and value, listed in the resync result, the
// status and config_applied, and the rest of the profile applies (DECISIONS 8).
func TestResyncSkipsValuesAndMatchesGMTOffsets(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "spa000e08aabbcc.xml", []byte("<flat-profile>\n<Time_Zone>GMT+1:00</Time_Zone>\n"+
		"<Resync_Periodic>every day</Resync_Periodic>\n<Station_Name>Front desk</Station_Name>\n"+
		"<Password_1_ ua=\"na\">"+strings.Repeat("p", 1100)+"</Password_1_>\n</flat-profile>\n"))
	log, logs := observed(t)
	u, _, events := realUnit(t, t.TempDir(), Options{Logger: log},
		config.ProfileRule, ng.HTTPURL("/spa$MA.xml"), config.ResyncRandomDelay, "0")

	applied := waitEvent(t, events, EventConfigApplied)
	res := waitEvent(t, events, EventResyncResult)
	if res.Data["result"] != "success" {
		t.Fatalf("resync: %v", res.Data)
	}
	cfg := u.Status().Config
	def := config.NewSnapshot(cfg.Catalog())
	if cfg.Get("Time_Zone") != "GMT+01:00" || cfg.Get("Station_Name") != "Front desk" ||
		cfg.Get(config.ResyncPeriodic) != def.Get(config.ResyncPeriodic) || cfg.Get("Password_1_") != "" {
		t.Errorf("Time_Zone %q, Station_Name %q, Resync_Periodic %q: want GMT+01:00, the name, the old period",
			cfg.Get("Time_Zone"), cfg.Get("Station_Name"), cfg.Get(config.ResyncPeriodic))
	}
	if cfg.Access("Password_1_") != config.AccessNA {
		t.Error("the ua of a skipped value did not apply")
	}

	lines := logs.FilterMessage("profile value skipped").AllUntimed()
	if len(lines) != 2 {
		t.Fatalf("%d 'profile value skipped' lines, want 2", len(lines))
	}
	f := lines[0].ContextMap()
	if f["param"] != config.ResyncPeriodic || f["value"] != "every day" || f["line"] != int64(3) || f["url"] != ng.HTTPURL("/spa000e08aabbcc.xml") {
		t.Errorf("log line %v", f)
	}
	if f := lines[1].ContextMap(); f["param"] != "Password_1_" || f["value"] != "" {
		t.Errorf("a secret's value in the log: %v", f)
	}
	for _, e := range []Event{res, applied} {
		sk, _ := e.Data["skipped"].([]config.Skipped)
		if e.Data["skipped_count"] != 2 || len(sk) != 2 || sk[0].Name != config.ResyncPeriodic || sk[0].Value != "every day" {
			t.Errorf("%s event: skipped %v (%v)", e.Kind, e.Data["skipped"], e.Data["skipped_count"])
		}
	}
	ps := u.Status().Provisioning
	if ps.LastSkippedCount != 2 || len(ps.LastSkipped) != 2 || ps.LastSkipped[0].Reason == "" {
		t.Errorf("status: skipped %+v (%d)", ps.LastSkipped, ps.LastSkippedCount)
	}
}

// TestResyncBoundsSkippedValues: a hostile profile with thousands of bad values cannot blow
// up the logs or the events: 20 listed and counted (the same bound as unknown names).
func TestResyncBoundsSkippedValues(t *testing.T) {
	net := newFakeNet()
	net.set("tftp://192.0.2.66:69/many.cfg", profile(strings.Repeat("<Resync_Periodic>x</Resync_Periodic>", 5000)+"<GPP_A>ok</GPP_A>"))
	log, logs := observed(t)
	clock := NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	u, events := startUnit(t, Options{MAC: "000e08aabbcc", Logger: log, Clock: clock, TFTPServer: "192.0.2.66",
		Defaults: defaults(config.ResyncRandomDelay, "0", config.ProfileRule, "/many.cfg")}, func(u *Unit) { u.net = net })
	res := waitEvent(t, events, EventResyncResult)
	if sk, _ := res.Data["skipped"].([]config.Skipped); res.Data["skipped_count"] != 5000 || len(sk) != maxNamesShown {
		t.Errorf("skipped %d listed, count %v", len(sk), res.Data["skipped_count"])
	}
	if n := logs.FilterMessage("profile value skipped").Len(); n != maxNamesShown {
		t.Errorf("%d lines, want %d", n, maxNamesShown)
	}
	if f := logLine(t, logs, "profile values skipped").ContextMap(); f["count"] != int64(5000) || f["not_logged"] != int64(5000-maxNamesShown) {
		t.Errorf("summary line %v", f)
	}
	if u.Status().Config.Get("GPP_A") != "ok" {
		t.Error("the valid rest did not apply")
	}
}

// TestResyncLatin1Profile is the second case: Wazo's legacy plugin writes "Répertoire" with
// the Latin-1 byte 0xE9 and no declaration; the profile applies, read as ISO-8859-1, with a
// warning in the log and the resync result (DECISIONS 8).
func TestResyncLatin1Profile(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "latin1.xml", []byte("<flat-profile>\n<Station_Name>R\xe9pertoire</Station_Name>\n</flat-profile>\n"))
	log, logs := observed(t)
	u, _, events := realUnit(t, t.TempDir(), Options{Logger: log},
		config.ProfileRule, ng.HTTPURL("/latin1.xml"), config.ResyncRandomDelay, "0")
	res := waitEvent(t, events, EventResyncResult)
	const warning = "not valid UTF-8 and no encoding declared: read as ISO-8859-1"
	if res.Data["result"] != "success" || fmt.Sprint(res.Data["warnings"]) != "["+warning+"]" {
		t.Fatalf("resync: %v", res.Data)
	}
	if got := u.Status().Config.Get("Station_Name"); got != "R\u00e9pertoire" {
		t.Errorf("Station_Name = %q, want Répertoire", got)
	}
	if f := logLine(t, logs, "profile encoding").ContextMap(); f["warning"] != warning || f["read_as"] != "ISO-8859-1" {
		t.Errorf("log line %v", f)
	}
	if w := u.Status().Provisioning.LastWarnings; len(w) != 1 || w[0] != warning {
		t.Errorf("status warnings %q", w)
	}
}

// TestResyncMismatchedEndTag is the third case: Elastix's template closes
// <Display_Name_2_> with </Display_Name_1_> as soon as a phone has two accounts. The file
// fails as on the device; $ERR, the log and the status say the line, the element opened and
// the tag that closed it; nothing is applied.
func TestResyncMismatchedEndTag(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "elastix.xml", []byte("<flat-profile>\n<Display_Name_1_>Alice</Display_Name_1_>\n"+
		"<Display_Name_2_>Bob</Display_Name_1_>\n</flat-profile>\n"))
	log, logs := observed(t)
	u, _, events := realUnit(t, t.TempDir(), Options{Logger: log},
		config.ProfileRule, ng.HTTPURL("/elastix.xml"), config.ResyncRandomDelay, "0")
	res := waitEvent(t, events, EventResyncResult)
	const want = "corrupt file (line 3: <Display_Name_2_> closed by </Display_Name_1_>)"
	if res.Data["result"] != "failure" || res.Data["err"] != want {
		t.Fatalf("resync: %v, want $ERR %q", res.Data, want)
	}
	if f := logLine(t, logs, "resync failed").ContextMap(); f["err"] != want {
		t.Errorf("log line %v", f)
	}
	st := u.Status()
	if st.Provisioning.LastError != want || st.Config.Get("Display_Name_1_") != "" {
		t.Errorf("status $ERR %q, Display_Name_1_ %q: want the error and nothing applied", st.Provisioning.LastError, st.Config.Get("Display_Name_1_"))
	}
}

// TestResyncSHA256Profile is the fourth case: a file made by `openssl enc` of OpenSSL >= 1.1
// without -md md5 decrypts only with SHA-256 key derivation. A real SPA942 5.1 fails it, and
// so does spa900 by default, with an error that names the fix; --accept-sha256-profiles
// takes it (DECISIONS 6).
func TestResyncSHA256Profile(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, "sha256.cfg", opensslEncrypt(t, []byte(`<flat-profile><Station_Name>Encrypted</Station_Name></flat-profile>`), "k3y", "sha256"))
	rule := "[--key k3y] " + ng.HTTPURL("/sha256.cfg")
	const want = "corrupt file (key derived with SHA-256: encrypt with openssl enc -md md5)"

	t.Run("refused by default", func(t *testing.T) {
		log, logs := observed(t)
		u, _, events := realUnit(t, t.TempDir(), Options{Logger: log}, config.ProfileRule, rule, config.ResyncRandomDelay, "0")
		res := waitEvent(t, events, EventResyncResult)
		if res.Data["result"] != "failure" || res.Data["err"] != want {
			t.Fatalf("resync: %v, want $ERR %q", res.Data, want)
		}
		if f := logLine(t, logs, "resync failed").ContextMap(); f["err"] != want {
			t.Errorf("log line %v", f)
		}
		if u.Status().Config.Get("Station_Name") != "" {
			t.Error("applied")
		}
	})
	t.Run("accepted with --accept-sha256-profiles", func(t *testing.T) {
		u, _, events := realUnit(t, t.TempDir(), Options{Provisioning: ProvisioningOptions{AcceptSHA256: true}},
			config.ProfileRule, rule, config.ResyncRandomDelay, "0")
		if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" {
			t.Fatalf("resync: %v", res.Data)
		}
		if got := u.Status().Config.Get("Station_Name"); got != "Encrypted" {
			t.Errorf("Station_Name = %q", got)
		}
	})
}

// slowServer is a real HTTP server whose /slow.cfg answers only when release is closed;
// entered gets a value when a request for it has arrived. It records every path asked.
type slowServer struct {
	*httptest.Server
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	paths   []string
}

func startSlowServer(t *testing.T) *slowServer {
	t.Helper()
	s := &slowServer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		if r.URL.Path == "/slow.cfg" {
			s.entered <- struct{}{}
			select {
			case <-s.release:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "<flat-profile><GPP_A>%s</GPP_A></flat-profile>", strings.TrimPrefix(r.URL.Path, "/"))
	}))
	t.Cleanup(func() {
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		s.Close()
	})
	return s
}

func (s *slowServer) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.paths...)
}

// TestResyncRequestDuringRunningResync is the fifth case: /admin/resync?URL while a slow
// resync runs used to answer 200 and vanish. It is queued (one slot, the latest request
// wins), shown in the status's pending operations, logged when queued and when released, and
// runs when the running resync ends (DECISIONS 8).
func TestResyncRequestDuringRunningResync(t *testing.T) {
	srv := startSlowServer(t)
	log, logs := observed(t)
	u, _, events := realUnit(t, t.TempDir(), Options{Logger: log},
		config.ProfileRule, srv.URL+"/slow.cfg", config.ResyncRandomDelay, "0")
	select {
	case <-srv.entered:
	case <-time.After(time.Minute): // t.Context ends only after the test returns
		t.Fatal("the boot resync never reached the server")
	}
	p := mustPhone(t, u)
	for _, path := range []string{"/first.cfg", "/second.cfg"} {
		out, err := p.RequestResync(t.Context(), srv.URL+path, "")
		if err != nil || out != OutcomeQueued {
			t.Fatalf("RequestResync(%s) = %v, %v; want queued", path, out, err)
		}
		if ev := waitEvent(t, events, EventDeferred); ev.Data["op"] != "resync" || ev.Data["reason"] != "a resync is running" {
			t.Fatalf("deferred event %v", ev.Data)
		}
	}
	queued := logs.FilterMessage("resync queued").AllUntimed()
	if len(queued) != 2 || queued[1].ContextMap()["url"] != srv.URL+"/second.cfg" || queued[1].ContextMap()["replaced_url"] != srv.URL+"/first.cfg" {
		t.Fatalf("'resync queued' lines %v", queued)
	}
	var waiting []Pending
	for _, pd := range u.Status().Pending {
		if pd.Op == "resync" && pd.WaitsFor != "" {
			waiting = append(waiting, pd)
		}
	}
	if len(waiting) != 1 || waiting[0].Reason != "request" || waiting[0].WaitsFor != "the running resync" {
		t.Fatalf("pending %+v, want one resync request waiting for the running one", u.Status().Pending)
	}

	close(srv.release)
	if res := waitEvent(t, events, EventResyncResult); res.Data["url"] != srv.URL+"/slow.cfg" || res.Data["result"] != "success" {
		t.Fatalf("first resync: %v", res.Data)
	}
	if res := waitEvent(t, events, EventResyncResult); res.Data["url"] != srv.URL+"/second.cfg" || res.Data["result"] != "success" || res.Data["prvst"] != prvstRequest {
		t.Fatalf("queued resync: %v", res.Data)
	}
	if f := logLine(t, logs, "queued resync released").ContextMap(); f["url"] != srv.URL+"/second.cfg" || f["trigger"] != "request" {
		t.Errorf("release line %v", f)
	}
	if got := u.Status().Config.Get("GPP_A"); got != "second.cfg" {
		t.Errorf("GPP_A = %q, want the queued request's profile", got)
	}
	if got := fmt.Sprint(srv.requested()); got != "[/slow.cfg /second.cfg]" {
		t.Errorf("server saw %s, want the running resync and the latest request only", got)
	}
	for _, pd := range u.Status().Pending {
		if pd.Op == "resync" {
			t.Errorf("still pending: %+v", pd)
		}
	}
}
