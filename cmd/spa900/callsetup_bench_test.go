package main

// The call-rate benchmark of issue 11: two spa900 processes (`spa900 fleet`, children of the
// test binary as in the storm harness), N phones each, all registered with digest to one
// Kamailio on loopback. Caller phone i calls callee phone i through Kamailio again and again,
// as fast as it can: dial through the calls API (the INVITE is challenged 407 by Kamailio and
// answered), the call set up with SDP and a media session at both ends (RTP flowing), hung
// up through the API (BYE), and the next one dialled once the caller's event stream says the
// call ended. The callee answers without an API request: the caller dials with
// Media_Loopback_Code (*03) and the callee's Accept_Media_Loopback_Request is automatic, a
// device feature that answers at once (RFC 6849 loopback: the callee mirrors what it gets).
//
//	SPA900_SETUP_PHONES=50 go test -run '^$' -bench CallSetup -benchtime 1x -timeout 10m ./cmd/spa900
//
// SPA900_SETUP_PHONES is N (50 by default), SPA900_SETUP_WINDOW the measured time (10s). It
// reports completed calls (setup and teardown) per second over the window, the failures, and
// the CPU both processes used per call (/proc/PID/stat).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spa900/spa900/sip/siptest"
)

func BenchmarkCallSetup(b *testing.B) {
	n := envCount(b, "SPA900_SETUP_PHONES", 50, 1000)
	window := envDuration(b, "SPA900_SETUP_WINDOW", 10*time.Second)
	for range b.N {
		callSetup(b, n, window)
	}
}

func callSetup(b *testing.B, n int, window time.Duration) {
	var users []siptest.User
	for i := range n {
		users = append(users, siptest.User{Name: strconv.Itoa(3000 + i), Password: "pw" + strconv.Itoa(3000+i)},
			siptest.User{Name: strconv.Itoa(5000 + i), Password: "pw" + strconv.Itoa(5000+i)})
	}
	k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: users})
	start := func(name, firstIP string, user int, sets map[string]string) (*stormFleet, []netip.AddrPort) {
		var yml strings.Builder
		fmt.Fprintf(&yml, "phones:\n  - count: %d\n    ip: %s\n    set:\n", n, firstIP)
		all := map[string]string{
			"Proxy_1_": k.Addr, "User_ID_1_": fmt.Sprintf("{{%d+index}}", user), "Password_1_": fmt.Sprintf("pw{{%d+index}}", user),
			"SIP_Port_1_": "5060", "Line_Enable_2_": "No", "Line_Enable_3_": "No", "Line_Enable_4_": "No",
			"RTP_Packet_Size": "0.020",
		}
		for k, v := range sets {
			all[k] = v
		}
		for k, v := range all {
			fmt.Fprintf(&yml, "      %s: %q\n", k, v)
		}
		path := filepath.Join(b.TempDir(), name+".yaml")
		if err := os.WriteFile(path, []byte(yml.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		port := fleetWebPort(b) // a fleet's own: its phones share a wildcard listener
		f := startStormFleet(b, []string{"fleet", "--file", path, "--http-port", strconv.Itoa(port), "--data", b.TempDir(), "--log-format", "json",
			"--log-level", "warn", "--boot-time", "0s"})
		webs := make([]netip.AddrPort, n)
		ip := netip.MustParseAddr(firstIP)
		for i := range webs {
			webs[i], ip = netip.AddrPortFrom(ip, uint16(port)), ip.Next()
		}
		return f, webs
	}
	caller, callers := start("caller", "127.71.0.2", 3000, map[string]string{"Dial_Plan_1_": "(xxxx)"})
	callee, _ := start("callee", "127.72.0.2", 5000, map[string]string{"Accept_Media_Loopback_Request": "automatic"})
	for deadline := time.Now().Add(3 * time.Minute); len(k.Bindings(b)) < 2*n; {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d phones registered", len(k.Bindings(b)), 2*n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2, MaxIdleConns: 4 * n}}
	defer c.CloseIdleConnections()

	var done, failed atomic.Int64
	var measuring atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i, web := range callers {
		wg.Go(func() {
			if err := callLoop(c, web, strconv.Itoa(5000+i), stop, &measuring, &done, &failed); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	time.Sleep(2 * time.Second) // every phone in its loop
	cpu0 := procCPU(b, caller.cmd.Process.Pid) + procCPU(b, callee.cmd.Process.Pid)
	t0 := time.Now()
	measuring.Store(true)
	time.Sleep(window)
	measuring.Store(false)
	elapsed := time.Since(t0)
	cpu := procCPU(b, caller.cmd.Process.Pid) + procCPU(b, callee.cmd.Process.Pid) - cpu0
	close(stop)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Logf("first failure: %v", err)
	}
	calls := done.Load()
	if calls == 0 {
		b.Fatalf("no call completed (%d failed)", failed.Load())
	}
	b.ReportMetric(float64(calls)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(failed.Load()), "failed")
	b.ReportMetric(float64(cpu.Microseconds())/float64(calls), "cpu-µs/call")
}

// callLoop places calls from the phone at ip to callee until stop: dial, wait for Connected
// on the phone's event stream, hang up, wait for Ended. Calls that end within the window
// while measuring count in done; a call that fails (ends before it was connected) in failed.
func callLoop(c *http.Client, web netip.AddrPort, callee string, stop <-chan struct{}, measuring *atomic.Bool, done, failed *atomic.Int64) error {
	req, err := http.NewRequest(http.MethodGet, "http://"+web.String()+"/api/v1/events", nil)
	if err != nil {
		return err
	}
	stream := &http.Client{} // no timeout: the stream lasts the run
	resp, err := stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	events := bufio.NewReader(resp.Body)
	// next returns the call and state of the next call event.
	next := func() (string, string, error) {
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				return "", "", err
			}
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok {
				continue
			}
			var e struct {
				Kind  string `json:"kind"`
				Call  string `json:"call"`
				State string `json:"state"`
			}
			if json.Unmarshal([]byte(data), &e) == nil && e.Kind == "call" {
				return e.Call, e.State, nil
			}
		}
	}
	body := []byte(`{"extension":1,"to":"*03` + callee + `"}`)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		raw, err := apiJSON(c, http.MethodPost, web, "/api/v1/calls", body)
		if err != nil {
			failed.Add(1)
			return err
		}
		var placed struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &placed); err != nil || placed.ID == "" {
			return fmt.Errorf("dial answered %s", raw)
		}
		connected := false
		for {
			id, state, err := next()
			if err != nil {
				return err
			}
			if id != placed.ID {
				continue
			}
			if state == "Connected" && !connected {
				connected = true
				if _, err := apiJSON(c, http.MethodPost, web, "/api/v1/calls/"+id+"/hangup", nil); err != nil {
					failed.Add(1)
					return err
				}
			}
			if state == "Ended" {
				break
			}
		}
		if measuring.Load() {
			if connected {
				done.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}
}
