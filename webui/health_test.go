package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// TestHealthAndMetricsRoutes: /healthz answers without credentials even with an admin
// password; /metrics needs the admin account, as the API does; every request is counted by
// route class and status code.
func TestHealthAndMetricsRoutes(t *testing.T) {
	const adminPw = "s3cret"
	u := testUnit(t, phone.Options{Defaults: []config.Change{config.Set(config.AdminPasswd, adminPw)}})
	var counters HTTPCounters
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("spa900_up 1\n")) })
	srv := httptest.NewServer(New(u, Options{HTTP: &counters, Metrics: metrics}))
	t.Cleanup(srv.Close)

	code, body := fetch(t, "GET", srv.URL+HealthPath, "", noCred)
	if code != 200 || !strings.Contains(body, `"state":"running"`) || !strings.Contains(body, u.Status().MAC) {
		t.Errorf("healthz: %d %s", code, body)
	}
	if code, _ := fetch(t, "GET", srv.URL+"/metrics", "", noCred); code != 401 {
		t.Errorf("/metrics without credentials: %d, want 401", code)
	}
	if code, body := fetch(t, "GET", srv.URL+"/metrics", "", basic("admin", adminPw)); code != 200 || body != "spa900_up 1\n" {
		t.Errorf("/metrics as admin: %d %q", code, body)
	}
	fetch(t, "GET", srv.URL+"/api/v1/status", "", digestC("admin", adminPw))
	fetch(t, "GET", srv.URL+"/nope", "", noCred)

	got := map[string]uint64{}
	counters.Each(func(c RouteClass, code string, n uint64) { got[c.String()+" "+code] += n })
	// /metrics: a 401 and a 200; the API: Digest's 401 challenge then 200.
	want := map[string]uint64{"health 200": 1, "metrics 401": 1, "metrics 200": 1, "api 401": 1, "api 200": 1, "page 404": 1}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("count %q = %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

// TestHealthWhileBooting: a unit that has not booted is not healthy.
func TestHealthWhileBooting(t *testing.T) {
	u, err := phone.NewUnit(phone.Options{Flash: config.NewFileFlash(t.TempDir() + "/flash.json")})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", HealthPath, nil)
	req.Host = "127.0.0.1:8080" // the phone answers only to its own names and addresses
	New(u, Options{}).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"state":"booting"`) {
		t.Errorf("healthz while booting: %d %s", rec.Code, rec.Body.String())
	}
}

func TestRouteClass(t *testing.T) {
	for path, want := range map[string]RouteClass{
		"/": RouteClassPage, "/admin/advanced": RouteClassPage, "/admin/bsipura.spa": RouteClassPage,
		"/admin/resync": RouteClassAction, "/upgrade": RouteClassAction, "/admin/spacfg.xml": RouteClassExport,
		"/api/v1/status": RouteClassAPI, "/api/v1/events": RouteClassEvents, "/healthz": RouteClassHealth,
		"/metrics": RouteClassMetrics, stylePath: RouteClassStatic, "/x/../../etc": RouteClassPage,
	} {
		if got := classify(path); got != want {
			t.Errorf("classify(%q) = %v, want %v", path, got, want)
		}
	}
	for c := RouteClass(0); c < numRouteClasses; c++ {
		if c.String() == "unknown" || c.String() == "" {
			t.Errorf("class %d has no name", c)
		}
	}
}
