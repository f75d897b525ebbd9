package phone

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// benchProfile is the full SPA962 configuration, gzip-compressed and encrypted as a
// provisioning server would serve it.
func benchProfile(b *testing.B, changes ...config.Change) []byte {
	cat := config.CatalogFor(mustModelB(b, "SPA962"))
	var xml bytes.Buffer
	s, _, err := config.NewSnapshot(cat).Apply(append(changes, config.Set("GPP_A", "bench")), config.ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	s.WriteXML(&xml, config.ExportOptions{Info: &config.Info{}})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(xml.Bytes())
	zw.Close()
	enc, err := provisioning.Encrypt(gz.Bytes(), "k", rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return enc
}

func mustModelB(b *testing.B, name string) config.Model {
	m, err := config.LookupModel(name)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchServer(b *testing.B, body *[]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(*body) }))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkResyncHTTP is a whole resync of an SPA962: fetch over HTTP, decrypt, gunzip,
// parse and apply a 1,300-element profile, and the loop's bookkeeping.
func BenchmarkResyncHTTP(b *testing.B) {
	var body []byte
	srv := benchServer(b, &body)
	// The profile carries every parameter, SIP ports included: the phone's free ones.
	defaults := append(freeSIPPorts(b, "SPA962"), config.Set(config.ProfileRule, "[--key k] "+srv.URL+"/spa$MA.cfg"), config.Set(config.ResyncOnReset, "No"))
	body = benchProfile(b, defaults...)
	u, err := NewUnit(Options{
		Flash: config.NewFileFlash(filepath.Join(b.TempDir(), "flash.json")), Model: "SPA962",
		Defaults: defaults, IP: "127.0.0.1", Logger: zap.NewNop(),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := u.Bus().Subscribe(ctx, 0)
	go u.Run(ctx)
	waitKind(b, events, EventBoot)
	p, _ := u.Phone()
	for b.Loop() {
		benchResync(ctx, b, p, events)
	}
}

// benchResync asks p for a resync and waits for its result, which must be a success (as
// resyncOnce of the tests does, without a timeout context of its own in the measured loop).
func benchResync(ctx context.Context, b *testing.B, p *Phone, events <-chan Event) {
	b.Helper()
	if _, err := p.RequestResync(ctx, "", ""); err != nil {
		b.Fatal(err)
	}
	if e := waitKind(b, events, EventResyncResult); e.Data["result"] != "success" {
		b.Fatalf("resync: %v", e.Data)
	}
}

// BenchmarkBareFetch fetches the same bytes with Go's HTTP client: the floor of a resync.
func BenchmarkBareFetch(b *testing.B) {
	body := benchProfile(b)
	srv := benchServer(b, &body)
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/spa.cfg")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func waitKind(b *testing.B, events <-chan Event, kind string) Event {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			b.Fatalf("no %s event", kind)
		}
	}
}

// BenchmarkResyncStorm is the resync of a storm's phone, as the storm harness has it: an
// SPA942 with its lines off in a fleet's shape (the fleet's lender), resyncing a 10.7 KB
// plain per-MAC profile from a server that announces its length, as nginx does. The first
// resync applies the profile; the ones measured fetch the same bytes again (the re-triggered
// and power-cycle storms). Its allocations are the garbage a storm's collector pays for.
func BenchmarkResyncStorm(b *testing.B) {
	cat := config.CatalogFor(mustModelB(b, config.DefaultModel))
	var prof bytes.Buffer
	prof.WriteString("<flat-profile>\n<Station_Name>spa000e08100000</Station_Name>\n<User_ID_1_>100000</User_ID_1_>\n")
	for _, p := range cat.Params() {
		if prof.Len() >= 10700-len("</flat-profile>\n") {
			break
		}
		if p.Tab() == "Provisioning" || strings.HasPrefix(p.Name, "Line_Enable_") || p.Name == "Station_Name" || p.Name == "User_ID_1_" || p.Secret {
			continue
		}
		var v bytes.Buffer
		xml.EscapeText(&v, []byte(p.Default))
		prof.WriteString("<" + p.Name + ">" + v.String() + "</" + p.Name + ">\n")
	}
	prof.WriteString("</flat-profile>\n")
	body := prof.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	defaults := []config.Change{config.Set(config.ProfileRule, srv.URL+"/spa$MA.xml"), config.Set(config.ResyncRandomDelay, "0")}
	for n := 1; n <= 4; n++ {
		defaults = append(defaults, config.Set(config.ExtName(config.LineEnable, n), "No"))
	}
	u, err := NewUnit(Options{
		Flash: config.NewFileFlash(filepath.Join(b.TempDir(), "flash.json")), Defaults: defaults,
		IP: "127.0.0.1", Logger: zap.NewNop(), lend: new(lender), rules: new(ruleCache),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := u.Bus().Subscribe(ctx, 0)
	go u.Run(ctx)
	if e := waitKind(b, events, EventResyncResult); e.Data["result"] != "success" { // the boot's
		b.Fatalf("boot resync: %v", e.Data)
	}
	p, _ := u.Phone()
	benchResync(ctx, b, p, events) // the profile's memo made
	b.ReportAllocs()
	for b.Loop() {
		benchResync(ctx, b, p, events)
	}
}
