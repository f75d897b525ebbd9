package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// labEvent is an event of a phone's /api/v1/events stream.
type labEvent struct {
	Kind  string `json:"kind"`
	State string `json:"state"`
	Call  string `json:"call"`
	Dir   string `json:"direction"`
}

// labEvents follows a phone's event stream from its first kept event.
func labEvents(t *testing.T, ctx context.Context, web string) <-chan labEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+web+"/api/v1/events?after=0", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("%s events: %s", web, res.Status)
	}
	ch := make(chan labEvent, 256)
	go func() {
		defer res.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e labEvent
			if json.Unmarshal([]byte(data), &e) == nil {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}

func waitLabEvent(t *testing.T, ctx context.Context, ch <-chan labEvent, what string, ok func(labEvent) bool) labEvent {
	t.Helper()
	for {
		select {
		case e, open := <-ch:
			if !open {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			if ok(e) {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitLabRegistered waits until each phone's stream reports its registration.
func waitLabRegistered(t *testing.T, ctx context.Context, events []<-chan labEvent) {
	t.Helper()
	for i, ch := range events {
		waitLabEvent(t, ctx, ch, fmt.Sprintf("phone %d registered", i+1), func(e labEvent) bool {
			return e.Kind == "registration" && e.State == "Registered"
		})
	}
}

// labCall dials number from phone from (an index into webs and events) through the API,
// answers where phone to rings, and waits until both see the call connected. It returns the
// caller's and the callee's call ids.
func labCall(t *testing.T, ctx context.Context, webs []string, events []<-chan labEvent, from, to int, number string) (caller, callee string) {
	t.Helper()
	res := postJSON(t, "http://"+webs[from]+"/api/v1/calls", `{"extension":1,"to":"`+number+`"}`)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("dial %s: %s %s", number, res.Status, body)
	}
	ring := waitLabEvent(t, ctx, events[to], fmt.Sprintf("phone %d ringing", to+1), func(e labEvent) bool {
		return e.Kind == "call" && e.State == "Ringing"
	})
	res = postJSON(t, "http://"+webs[to]+"/api/v1/calls/"+ring.Call+"/answer", `{}`)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("answer: %s %s", res.Status, body)
	}
	c := waitLabEvent(t, ctx, events[from], fmt.Sprintf("phone %d connected", from+1), func(e labEvent) bool {
		return e.Kind == "call" && e.State == "Connected"
	})
	waitLabEvent(t, ctx, events[to], fmt.Sprintf("phone %d connected", to+1), func(e labEvent) bool {
		return e.Kind == "call" && e.Call == ring.Call && e.State == "Connected"
	})
	return c.Call, ring.Call
}

func postJSON(t *testing.T, url, body string) *http.Response {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestLab runs `spa900 lab` with two phones: it prints where everything is, the phones fetch
// their own profiles from its provisioning server, register to its registrar with digest
// authentication, and phone 1 calls phone 2, which answers; both see the call connected,
// and the hang-up ends it on both.
func TestLab(t *testing.T) {
	// An address range of its own: the phones' SIP sockets take port 5060 on their
	// addresses, and other tests of the machine may run phones on 127.0.0.2 and on.
	ip := fmt.Sprintf("127.%d.%d.1", 100+rand.IntN(150), rand.IntN(250))
	port := strconv.Itoa(fleetWebPort(t))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	logs, done := runLogged(runCtx, []string{"lab", "--phones", "2", "--ip", ip, "--http-port", port, "--sip", "127.0.0.1:0",
		"--prov", "127.0.0.1:0", "--listen", freeAddr(t), "--data", t.TempDir(), "--log-format", "json"}, pw)
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("lab: %v", err)
		}
		if t.Failed() {
			t.Logf("lab log:\n%s", logs.String())
		}
	})

	// The printout: the servers, then a line a phone with its MAC, web server and extension.
	phoneLine := regexp.MustCompile(`phone (\d+) +([0-9A-F]{12})  http://([^/]+)/ ext 1: (\d+)`)
	var out strings.Builder
	var webs, exts []string
	sc := bufio.NewScanner(pr)
	for len(webs) < 2 && sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if m := phoneLine.FindStringSubmatch(sc.Text()); m != nil {
			webs, exts = append(webs, m[3]), append(exts, m[4])
		}
	}
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "answer it") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if len(webs) != 2 || exts[0] != "1001" || exts[1] != "1002" || !strings.Contains(out.String(), "registrar            sip:127.0.0.1:") ||
		!strings.Contains(out.String(), `"to":"1002"`) {
		t.Fatalf("printout:\n%s", out.String())
	}

	// The web servers start with the fleet, after the printout.
	events := make([]<-chan labEvent, 2)
	for i, web := range webs {
		logs.waitFor(t, `"addr":"`+web+`","boot_count"`, 30*time.Second) // the web server listening
		events[i] = labEvents(t, ctx, web)
	}
	waitLabRegistered(t, ctx, events)
	caller, _ := labCall(t, ctx, webs, events, 0, 1, "1002")
	res := postJSON(t, "http://"+webs[0]+"/api/v1/calls/"+caller+"/hangup", `{}`)
	res.Body.Close()
	for i, ch := range events {
		waitLabEvent(t, ctx, ch, fmt.Sprintf("phone %d's call ended", i+1), func(e labEvent) bool {
			return e.Kind == "call" && e.State == "Ended"
		})
	}
}

// TestLabProfiles: `spa900 lab profiles` writes a profile a phone and Kamailio's users.
func TestLabProfiles(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	if err := run(t.Context(), []string{"lab", "profiles", "--phones", "3", "--out", dir, "--registrar", "kamailio:5060",
		"--kamailio-users", filepath.Join(dir, "users.cfg")}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	prof, err := os.ReadFile(filepath.Join(dir, "spa000e081ab003.cfg"))
	if err != nil {
		t.Fatalf("%v (out: %s)", err, out.String())
	}
	if !strings.Contains(string(prof), "<User_ID_1_>1003</User_ID_1_>") || !strings.Contains(string(prof), "<Proxy_1_>kamailio:5060</Proxy_1_>") {
		t.Errorf("profile of phone 3:\n%s", prof)
	}
	users, _ := os.ReadFile(filepath.Join(dir, "users.cfg"))
	if !strings.Contains(string(users), `$sht(users=>1003) = "lab-1003";`) {
		t.Errorf("users:\n%s", users)
	}
	if err := run(t.Context(), []string{"lab", "--ip", "auto"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "an address each") {
		t.Errorf("--ip auto: %v", err)
	}
	if err := run(t.Context(), []string{"lab", "--phones", "1"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "2 to 100") {
		t.Errorf("--phones 1: %v", err)
	}
}
