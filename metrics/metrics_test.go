package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/webui"
)

// TestCollector runs two phones of one fleet (one Counters) against a provisioning server
// that serves one and fails the other, and reads the registry: counts summed over the fleet,
// the failure's reason, the fetch latency histogram, phones by state, HTTP requests.
func TestCollector(t *testing.T) {
	prov := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok.cfg" {
			w.Write([]byte("<flat-profile><GPP_A>x</GPP_A></flat-profile>"))
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	t.Cleanup(prov.Close)
	shared := new(phone.Counters)
	var units []*phone.Unit
	for i, path := range []string{"/ok.cfg", "/fail.cfg"} {
		u, err := phone.NewUnit(phone.Options{
			Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json")),
			MAC:   fmt.Sprintf("00:0e:08:00:00:%02x", i+1), IP: "127.0.0.1", Counters: shared,
			Defaults: []config.Change{config.Set(config.ProfileRule, prov.URL+path), config.Set(config.ResyncRandomDelay, "0")},
		})
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var results []<-chan phone.Event
	for _, u := range units {
		results = append(results, u.Bus().Subscribe(ctx, 0))
	}
	go func() {
		defer close(done)
		errc := make(chan error, len(units))
		for _, u := range units {
			go func() { errc <- u.Run(ctx) }()
		}
		for range units {
			<-errc
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	for _, ch := range results {
		waitKind(t, ch, phone.EventResyncResult)
	}
	var httpc webui.HTTPCounters
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", webui.HealthPath, nil)
	req.Host = "127.0.0.1:8080" // the phone answers only to its own names and addresses
	webui.New(units[0], webui.Options{HTTP: &httpc}).ServeHTTP(rec, req)

	reg := Registry(New(Options{Units: units, HTTP: &httpc, PerPhone: true}))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := index(fams)
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`spa900_resync_attempts_total{trigger="boot"}`, 2},
		{`spa900_resync_attempts_total{trigger="periodic"}`, 0},
		{`spa900_resync_successes_total`, 1},
		{`spa900_resync_failures_total{reason="http_status"}`, 1},
		{`spa900_resync_failures_total{reason="timeout"}`, 0},
		{`spa900_boots_total`, 2},
		{`spa900_phones{model="SPA942",state="running"}`, 2},
		{`spa900_provisioning_phones{state="idle"}`, 2},
		{`spa900_http_requests_total{code="200",route="health"}`, 1},
		{`spa900_phone_info{ip="127.0.0.1",mac="000E08000001",model="SPA942",software="5.1.10"}`, 1},
	} {
		got, ok := m[c.series]
		if !ok {
			t.Errorf("no series %s", c.series)
		} else if got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	h := histogram(t, fams, "spa900_fetch_duration_seconds", `result="ok",scheme="http"`)
	if h.GetSampleCount() != 1 || h.GetSampleSum() <= 0 || len(h.GetBucket()) != len(phone.LatencyBuckets) {
		t.Errorf("fetch histogram (http, ok): %v", h)
	}
	if h := histogram(t, fams, "spa900_fetch_duration_seconds", `result="error",scheme="http"`); h.GetSampleCount() != 1 {
		t.Errorf("fetch histogram (http, error): %v", h)
	}
}

// TestSeriesBounded: the number of series does not grow with the phones (without the
// per-phone info series).
func TestSeriesBounded(t *testing.T) {
	count := func(n int) int {
		shared := new(phone.Counters)
		var units []*phone.Unit
		for i := range n {
			u, err := phone.NewUnit(phone.Options{Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json")),
				MAC: fmt.Sprintf("00:0e:08:00:01:%02x", i), Counters: shared})
			if err != nil {
				t.Fatal(err)
			}
			units = append(units, u)
		}
		fams, err := Registry(New(Options{Units: units, HTTP: new(webui.HTTPCounters)})).Gather()
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, f := range fams {
			if strings.HasPrefix(f.GetName(), "spa900_") {
				total += len(f.GetMetric())
			}
		}
		return total
	}
	if a, b := count(1), count(40); a != b {
		t.Errorf("series: %d for 1 phone, %d for 40", a, b)
	}
}

func TestFailureReason(t *testing.T) {
	if got := phone.FailureReason(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
	if got := phone.FailureReason(context.Canceled); got != phone.ReasonCanceled {
		t.Errorf("canceled: %q", got)
	}
	if got := phone.FailureReason(fmt.Errorf("x: %w", context.DeadlineExceeded)); got != phone.ReasonTimeout {
		t.Errorf("deadline: %q", got)
	}
	// A fleet above its open file limit: the metric says so, not "other".
	if got := phone.FailureReason(&net.OpError{Op: "dial", Err: os.NewSyscallError("socket", syscall.EMFILE)}); got != phone.ReasonOpenFiles {
		t.Errorf("EMFILE: %q", got)
	}
	if got := phone.FailureReason(fmt.Errorf("get: %w", io.EOF)); got != phone.ReasonConnection {
		t.Errorf("closed before an answer: %q", got)
	}
}

// BenchmarkCollect1000 is a scrape of a 1000-phone fleet (booting units: the status read is
// the same).
func BenchmarkCollect1000(b *testing.B) {
	shared := new(phone.Counters)
	dir := b.TempDir()
	var units []*phone.Unit
	for i := range 1000 {
		u, err := phone.NewUnit(phone.Options{Flash: config.NewFileFlash(filepath.Join(dir, fmt.Sprint(i), "flash.json")),
			MAC: fmt.Sprintf("00:0e:08:00:%02x:%02x", i/256, i%256), Counters: shared})
		if err != nil {
			b.Fatal(err)
		}
		units = append(units, u)
	}
	reg := Registry(New(Options{Units: units, HTTP: new(webui.HTTPCounters)}))
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

func waitKind(t *testing.T, ch <-chan phone.Event, kind string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("event stream closed")
			}
			if e.Kind == kind {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s event", kind)
		}
	}
}

// index maps every counter and gauge series, as name{labels sorted}, to its value.
func index(fams []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			if lp := m.GetLabel(); len(lp) > 0 {
				var parts []string
				for _, l := range lp {
					parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

func histogram(t *testing.T, fams []*dto.MetricFamily, name, labels string) *dto.Histogram {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if strings.Join(parts, ",") == labels {
				return m.GetHistogram()
			}
		}
	}
	t.Fatalf("no %s{%s}", name, labels)
	return nil
}
