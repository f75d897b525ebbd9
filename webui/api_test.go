package webui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/internal/testlog"
	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// TestProfileAPI: a profile applies exactly as a resync applies it (DECISIONS 8): a malformed
// one is 400 and changes nothing; in a well-formed one a bad value is skipped and reported,
// and the rest applies.
func TestProfileAPI(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	gppA, gppB := gpp(t, "a"), gpp(t, "b")
	mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "before"), noCred, 200, nil)

	tests := []struct {
		name   string
		body   string
		want   int
		reason string
	}{
		{name: "malformed XML", body: "<flat-profile><" + gppA + ">after</" + gppB + ">", want: 400},
		{name: "not XML", body: "GPP_A \"after\" ;", want: 400},
		{name: "empty", body: "", want: 400, reason: "empty"},
		{name: "too large", body: "<flat-profile>" + strings.Repeat(" ", maxProfileBody) + "</flat-profile>", want: 413, reason: "larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fetch(t, "POST", srv.URL+"/api/v1/profile", tt.body, noCred)
			if code != tt.want || !strings.Contains(body, `"error":"`) || !strings.Contains(body, tt.reason) {
				t.Errorf("POST profile = %d %s, want %d with an error naming %q", code, body, tt.want, tt.reason)
			}
			if got := u.Status().Config.Get(gppA); got != "before" {
				t.Errorf("%s = %q after a refused profile, want it unchanged", gppA, got)
			}
		})
	}

	var res phone.ApplyResult
	mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "after", "No_Such_Param", "x"), noCred, 200, &res)
	if fmt.Sprint(res.Changed) != "["+gppA+"]" || fmt.Sprint(res.Unknown) != "[No_Such_Param]" || res.Elements != 2 || res.Restart {
		t.Errorf("result = %+v", res)
	}
	if got := u.Status().Config.Get(gppA); got != "after" {
		t.Errorf("%s = %q, want after", gppA, got)
	}

	// A value its parameter cannot take is skipped; the rest applies (as a resync).
	res = phone.ApplyResult{}
	mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "again", config.ResyncPeriodic, "soon"), noCred, 200, &res)
	if res.SkippedCount != 1 || len(res.Skipped) != 1 || res.Skipped[0].Name != config.ResyncPeriodic || res.Skipped[0].Value != "soon" {
		t.Errorf("skipped %+v (%d)", res.Skipped, res.SkippedCount)
	}
	cfg := u.Status().Config
	if cfg.Get(gppA) != "again" || cfg.Get(config.ResyncPeriodic) != config.NewSnapshot(cfg.Catalog()).Get(config.ResyncPeriodic) {
		t.Errorf("%s = %q, %s = %q: want the valid value applied and the bad one skipped", gppA, cfg.Get(gppA), config.ResyncPeriodic, cfg.Get(config.ResyncPeriodic))
	}
}

// TestSmallRequests: the JSON bodies of the small POSTs.
func TestSmallRequests(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	tests := []struct {
		name string
		path string
		body string
		want int
	}{
		{name: "hook without field", path: "/api/v1/hook", body: `{}`, want: 400},
		{name: "hook without body", path: "/api/v1/hook", body: ``, want: 400},
		{name: "hook wrong type", path: "/api/v1/hook", body: `{"offhook": "yes"}`, want: 400},
		{name: "hook trailing data", path: "/api/v1/hook", body: `{"offhook": true} {}`, want: 400},
		{name: "hook truncated", path: "/api/v1/hook", body: `{"offhook": tr`, want: 400},
		{name: "hook too large", path: "/api/v1/hook", body: `{"offhook": true, "x": "` + strings.Repeat("a", maxJSONBody) + `"}`, want: 413},
		{name: "reboot with a body", path: "/api/v1/reboot", body: `{"now": true}`, want: 400},
		{name: "restart with junk", path: "/api/v1/restart", body: `junk`, want: 400},
		{name: "hook on", path: "/api/v1/hook", body: `{"offhook": true}`, want: 200},
		{name: "restart deferred", path: "/api/v1/restart", body: ``, want: 202},
		{name: "hook off", path: "/api/v1/hook", body: `{"offhook": false}`, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := fetch(t, "POST", srv.URL+tt.path, tt.body, noCred)
			if code != tt.want {
				t.Errorf("POST %s %q = %d %s, want %d", tt.path, tt.body, code, body, tt.want)
			}
			if code >= 400 && !strings.HasPrefix(body, `{"error":"`) {
				t.Errorf("error body %q is not a JSON error", body)
			}
		})
	}
}

// TestStatusAPI: the status carries the identity, the extensions and the live Info values
// the export shows.
func TestStatusAPI(t *testing.T) {
	u := testUnit(t, phone.Options{Model: "SPA962"})
	_, srv := testHandler(t, u)
	var st struct {
		Model      string                       `json:"model"`
		MAC        string                       `json:"mac"`
		BootCount  int                          `json:"boot_count"`
		Extensions []phone.ExtensionStatus      `json:"extensions"`
		Info       map[string]map[string]string `json:"info"`
	}
	mustJSON(t, "GET", srv.URL+"/api/v1/status", "", noCred, 200, &st)
	if st.Model != "SPA962" || st.BootCount != 1 || len(st.Extensions) != 6 {
		t.Errorf("status = %+v", st)
	}
	if got := st.Info["Product_Information"]["MAC_Address"]; got != st.MAC || got == "" {
		t.Errorf("info MAC_Address = %q, want %q", got, st.MAC)
	}
	if got := st.Info["Ext_6_Status"]["Registration_State"]; got != "Not Registered" {
		t.Errorf("info Ext_6_Status Registration_State = %q", got)
	}
	if len(st.Info["Line_6_Call_2_Status"]) == 0 {
		t.Errorf("info lacks Line_6_Call_2_Status: %v", st.Info)
	}
}

// TestFactoryResetAPI: back to the defaults after the reboot it asks for.
func TestFactoryResetAPI(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	gppA := gpp(t, "a")
	mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "gone after reset"), noCred, 200, nil)
	events := u.Bus().Subscribe(t.Context(), u.Bus().LastSeq())
	var out outcomeResponse
	mustJSON(t, "POST", srv.URL+"/api/v1/factory-reset", "", noCred, 202, &out)
	if out != (outcomeResponse{Op: "factory-reset", Outcome: "started"}) {
		t.Errorf("outcome = %+v", out)
	}
	waitEvent(t, events, phone.EventBoot)
	settle(t, u)
	if got := u.Status().Config.Get(gppA); got != "" {
		t.Errorf("%s = %q after factory reset", gppA, got)
	}
}

// TestEventsStart: where a stream starts, and what it refuses.
func TestEventsStart(t *testing.T) {
	u := testUnit(t, phone.Options{})
	_, srv := testHandler(t, u)
	gppA := gpp(t, "a")
	mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "1"), noCred, 200, nil)
	applied := u.Bus().LastSeq()

	for _, bad := range []string{"?after=x", "?after=-1", "?after="} {
		if code, body := fetch(t, "GET", srv.URL+"/api/v1/events"+bad, "", noCred); code != 400 {
			t.Errorf("GET events%s = %d %s, want 400", bad, code, body)
		}
	}
	t.Run("after", func(t *testing.T) {
		s, stop := openEvents(t, srv.URL+"/api/v1/events?after="+strconv.FormatUint(applied-1, 10), noCred, "")
		defer stop()
		if e, ok := s.next(); !ok || e.kind != phone.EventConfigApplied || e.id != strconv.FormatUint(applied, 10) {
			t.Fatalf("first event = %+v, want config_applied #%d", e, applied)
		}
	})
	t.Run("Last-Event-ID wins over after", func(t *testing.T) {
		s, stop := openEvents(t, srv.URL+"/api/v1/events?after=0", noCred, strconv.FormatUint(applied-1, 10))
		defer stop()
		if e, ok := s.next(); !ok || e.id != strconv.FormatUint(applied, 10) {
			t.Fatalf("first event = %+v, want #%d", e, applied)
		}
	})
	t.Run("new events only", func(t *testing.T) {
		s, stop := openEvents(t, srv.URL+"/api/v1/events", noCred, "")
		defer stop()
		mustJSON(t, "POST", srv.URL+"/api/v1/profile", profile(gppA, "2"), noCred, 200, nil)
		e, ok := s.next()
		if !ok || e.kind != phone.EventConfigApplied || e.data["source"] != "api" || e.data["seq"] != float64(applied+1) {
			t.Fatalf("first event = %+v, want the new config_applied", e)
		}
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(e.data["time"])); err != nil {
			t.Errorf("time %v: %v", e.data["time"], err)
		}
	})
	t.Run("Last-Event-ID from another run", func(t *testing.T) {
		s, stop := openEvents(t, srv.URL+"/api/v1/events", noCred, "999999")
		defer stop()
		if e, ok := s.next(); !ok || e.kind != phone.EventBoot || e.id != "1" {
			t.Fatalf("first event = %+v, want the first kept one, the boot", e)
		}
	})
	t.Run("bad Last-Event-ID", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1/events", nil)
		req.Header.Set("Last-Event-ID", "abc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
}

// TestEventsHeartbeat: comment lines keep an idle stream open.
func TestEventsHeartbeat(t *testing.T) {
	u := testUnit(t, phone.Options{})
	h := newHandler(u, Options{Logger: testlog.New(t)})
	h.heartbeat = time.Millisecond
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp := request(t, "GET", srv.URL+"/api/v1/events", nil, noCred)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == ": heartbeat\n" {
			return
		}
	}
}

// TestEventsClientGoes: a stream ends when its client goes away, and its subscription too.
func TestEventsClientGoes(t *testing.T) {
	u := testUnit(t, phone.Options{})
	h := newHandler(u, Options{Logger: testlog.New(t)})
	ctx, cancel := context.WithCancel(t.Context())
	req := httptest.NewRequest("GET", "/api/v1/events", nil).WithContext(ctx)
	done := make(chan struct{})
	pr, pw := io.Pipe()
	go func() {
		defer close(done)
		defer pw.Close()
		h.ServeHTTP(&pipeWriter{h: http.Header{}, w: pw}, req)
	}()
	if _, err := bufio.NewReader(pr).ReadString('\n'); err != nil { // "retry: 1000"
		t.Fatal(err)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	<-done
}

type pipeWriter struct {
	h http.Header
	w io.Writer
}

func (p *pipeWriter) Header() http.Header         { return p.h }
func (p *pipeWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeWriter) WriteHeader(int)             {}
func (p *pipeWriter) Flush()                      {}

// TestErrorStatus: the one error→status table of the package (STYLE §12).
func TestErrorStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "invalid request", err: fmt.Errorf("apply: %w", phone.ErrInvalidRequest), want: 400},
		{name: "provisioning disabled", err: fmt.Errorf("resync: %w", phone.ErrProvisioningDisabled), want: 403},
		{name: "upgrade disabled", err: phone.ErrUpgradeDisabled, want: 403},
		{name: "booting", err: phone.ErrBooting, want: 503},
		{name: "stopped", err: phone.ErrClosed, want: 503},
		{name: "body too large", err: fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), want: 413},
		{name: "explicit", err: httpError(http.StatusConflict, nil, "busy"), want: 409},
		{name: "other", err: errors.New("disk full"), want: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorStatus(tt.err); got != tt.want {
				t.Errorf("errorStatus(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

// BenchmarkStatusAPI is GET /api/v1/status of a SPA962 through the handler, authentication
// (Basic, admin password set) included.
func BenchmarkStatusAPI(b *testing.B) {
	u := testUnit(b, phone.Options{Model: "SPA962", Logger: zap.NewNop(),
		Defaults: []config.Change{config.Set(config.AdminPasswd, "pw")}})
	h := newHandler(u, Options{})
	req := httptest.NewRequest("GET", "/api/v1/status", nil).WithContext(context.Background())
	req.SetBasicAuth("admin", "pw")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("status %d", rec.Code)
	}
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(&discard{h: http.Header{}}, req)
	}
}
