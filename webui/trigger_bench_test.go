package webui

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// BenchmarkTriggeredResync is a re-triggered storm's resync of one phone, from the trigger to
// the result: GET /admin/resync on a connection of its own to the phone's web server on a
// fleet's hub, the phone fetching a plain profile it took already from a server that announces
// its length, the result event. Its allocations are the process's, the client's and the
// profile server's included: -memprofile tells the phone's and its server's apart.
func BenchmarkTriggeredResync(b *testing.B) {
	body := []byte("<flat-profile>\n<Station_Name>bench</Station_Name>\n" + strings.Repeat("\n", 10600) + "</flat-profile>\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	defaults := []config.Change{config.Set(config.ProfileRule, srv.URL+"/spa$MA.xml"), config.Set(config.ResyncRandomDelay, "0")}
	for n := 1; n <= 4; n++ {
		defaults = append(defaults, config.Set(config.ExtName(config.LineEnable, n), "No"))
	}
	u := testUnit(b, phone.Options{IP: "127.0.0.2", Defaults: defaults, Logger: zap.NewNop()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := u.Bus().Subscribe(ctx, 0)
	port := wildcardPort(b)
	s := NewServer(u, net.JoinHostPort("127.0.0.2", strconv.Itoa(port)), Options{Logger: zap.NewNop(), Hub: NewHub(nil)})
	ended := make(chan error, 1)
	s.Start(ctx, func(err error) { ended <- err })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	addr, err := s.WaitListening(wctx, 1)
	wcancel()
	if err != nil {
		b.Fatal(err)
	}
	// The boot's resync ends first: a trigger must find the phone idle, or it queues.
	for timeout := time.After(10 * time.Second); ; {
		if st := u.Status().Provisioning; st.ResyncCount >= 1 && st.State == "idle" {
			break
		}
		select {
		case <-events:
		case <-timeout:
			b.Fatal("the boot's resync did not end")
		}
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	trigger := func() {
		after := u.Bus().LastSeq() // a result before the request is an earlier resync's
		resp, err := client.Get("http://" + addr + "/admin/resync")
		if err != nil {
			b.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Resyncing...") {
			b.Fatalf("GET /admin/resync: %s: %s", resp.Status, page)
		}
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind != phone.EventResyncResult || e.Seq <= after {
					continue
				}
				if e.Data["result"] != "success" {
					b.Fatalf("resync: %v", e.Data)
				}
				return
			case <-timeout:
				b.Fatal("no resync result")
			}
		}
	}
	trigger() // the profile's memo made
	b.ReportAllocs()
	for b.Loop() {
		trigger()
	}
	b.StopTimer()
	cancel()
	if err := <-ended; err != nil {
		b.Fatal(err)
	}
}
