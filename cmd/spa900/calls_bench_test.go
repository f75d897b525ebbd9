package main

// The media benchmark of issue 12 in the issue's own form: two spa900 processes on loopback,
// each a fleet of N phones (`spa900 fleet`, run by the test binary as a child process as the
// storm harness runs it), phone i of the first calling phone i of the second by SIP URI
// through the calls API, the second answering through the API, every call G.711 µ-law at
// 20 ms with both phones playing a tone: N concurrent calls, 100·N RTP packets a second in
// all.
//
//	SPA900_CALLS=250 go test -run '^$' -bench FleetCalls -benchtime 1x -timeout 20m ./cmd/spa900
//
// SPA900_CALLS is N (250 by default), SPA900_CALLS_WINDOW the measured time (10s);
// SPA900_STORM_PROFILE=DIR writes each process's CPU profile to DIR/caller and DIR/callee. Per
// process it reports RTP packets per second over the window (expected: 100 per call, 50 sent
// and 50 received), packets lost (the far phones' Packets_Lost, over the calls' whole life),
// the far phones' RFC 3550 jitter (mean and worst over the calls, in the device's whole
// milliseconds: on loopback the receiver's kernel timestamps make it the sender's pacing
// error), and CPU per call and per packet from /proc/PID/stat (the kernel's accounting of the
// process's own time, which other processes' load on a shared machine does not inflate). The
// window's CPU is read with no API request in flight. The send-interval error's p99, which
// needs the engine's own histogram, is BenchmarkConcurrentCalls' (media), on the same
// scheduler code.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
)

// callsFleet is one of the benchmark's two processes.
type callsFleet struct {
	name string
	f    *stormFleet
	ips  []netip.Addr
}

// callsSnapshot is what a fleet's phones say at one moment.
type callsSnapshot struct {
	at                 time.Time
	sent, recv         uint64 // RTP packets, the phones' totals
	lost               int64  // Packets_Lost of the calls
	calls              int    // calls with media figures
	jitterSum, jitterW int64  // Jitter of the calls, ms
}

func BenchmarkFleetCalls(b *testing.B) {
	n := 250
	if s := os.Getenv("SPA900_CALLS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 60000 {
			b.Fatalf("SPA900_CALLS=%q: want a count", s)
		}
	}
	window := 10 * time.Second
	if s := os.Getenv("SPA900_CALLS_WINDOW"); s != "" {
		var err error
		if window, err = time.ParseDuration(s); err != nil {
			b.Fatalf("SPA900_CALLS_WINDOW=%q: %v", s, err)
		}
	}
	for range b.N {
		fleetCalls(b, n, window)
	}
}

func fleetCalls(b *testing.B, n int, window time.Duration) {
	profDir := os.Getenv("SPA900_STORM_PROFILE")
	start := func(name, firstIP, tone string) *callsFleet {
		ip := netip.MustParseAddr(firstIP)
		ips := make([]netip.Addr, n)
		for i := range ips {
			ips[i] = ip
			ip = ip.Next()
		}
		args := []string{"fleet", "--count", strconv.Itoa(n), "--ip", firstIP, "--data", b.TempDir(),
			"--log-format", "json", "--log-level", "warn", "--audio-source", "tone:" + tone, "--boot-time", "0s",
			"--set", "Register_1_=No", "--set", "RTP_Packet_Size=0.020"}
		for ext := 2; ext <= 4; ext++ {
			args = append(args, "--set", fmt.Sprintf("Line_Enable_%d_=No", ext))
		}
		if profDir != "" { // each process's profiles in a directory of its own
			dir := filepath.Join(profDir, name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			b.Setenv("SPA900_STORM_PROFILE", dir)
		}
		return &callsFleet{name: name, f: startStormFleet(b, args), ips: ips}
	}
	// Addresses of their own, away from the storm harness's 127.0.0.x.
	caller, callee := start("caller", "127.61.0.2", "1000"), start("callee", "127.62.0.2", "700")
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxIdleConns: 4 * n}}
	defer c.CloseIdleConnections()
	t0 := time.Now()
	for _, fl := range []*callsFleet{caller, callee} {
		fl.each(b, func(i int, ip netip.Addr) error {
			for deadline := time.Now().Add(2 * time.Minute); ; {
				_, err := apiJSON(c, http.MethodGet, ip, "/api/v1/calls", nil)
				if err == nil {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s phone %d: %w\n%s", fl.name, i, err, fl.f.lastLines(20))
				}
				time.Sleep(50 * time.Millisecond) // a web server that is not up yet has no event to wait on
			}
		})
	}
	b.Logf("%d + %d phones serving in %v", n, n, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	caller.each(b, func(i int, ip netip.Addr) error {
		body := fmt.Sprintf(`{"extension":1,"uri":"sip:100@%s:5060"}`, callee.ips[i])
		_, err := apiJSON(c, http.MethodPost, ip, "/api/v1/calls", []byte(body))
		return err
	})
	callee.each(b, func(i int, ip netip.Addr) error {
		for deadline := time.Now().Add(time.Minute); ; {
			var l struct{ Calls []struct{ ID, State string } }
			raw, err := apiJSON(c, http.MethodGet, ip, "/api/v1/calls", nil)
			if err == nil && json.Unmarshal(raw, &l) == nil && len(l.Calls) > 0 && l.Calls[0].State == "Ringing" {
				_, err = apiJSON(c, http.MethodPost, ip, "/api/v1/calls/"+l.Calls[0].ID+"/answer", nil)
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("callee phone %d: no ringing call (%s, %v)", i, raw, err)
			}
			time.Sleep(20 * time.Millisecond) // polling the API as a test driving phones would
		}
	})
	for _, fl := range []*callsFleet{caller, callee} {
		fl.each(b, func(i int, ip netip.Addr) error {
			for deadline := time.Now().Add(time.Minute); ; {
				var l struct{ Calls []struct{ State string } }
				raw, err := apiJSON(c, http.MethodGet, ip, "/api/v1/calls", nil)
				if err == nil && json.Unmarshal(raw, &l) == nil && len(l.Calls) == 1 && l.Calls[0].State == "Connected" {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s phone %d: call not connected (%s, %v)", fl.name, i, raw, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	b.Logf("%d calls connected in %v", n, time.Since(t0).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // warm-up: the benchmark measures steady state
	s0 := [2]callsSnapshot{caller.snapshot(b, c), callee.snapshot(b, c)}
	cpu0 := [2]time.Duration{procCPU(b, caller.f.cmd.Process.Pid), procCPU(b, callee.f.cmd.Process.Pid)}
	w0 := time.Now()
	b.ResetTimer()
	time.Sleep(window)
	cpu1 := [2]time.Duration{procCPU(b, caller.f.cmd.Process.Pid), procCPU(b, callee.f.cmd.Process.Pid)}
	wall := time.Since(w0)
	b.StopTimer()
	s1 := [2]callsSnapshot{caller.snapshot(b, c), callee.snapshot(b, c)}
	for k, fl := range []*callsFleet{caller, callee} {
		pkts := float64(s1[k].sent+s1[k].recv-s0[k].sent-s0[k].recv) / s1[k].at.Sub(s0[k].at).Seconds()
		cpu := cpu1[k] - cpu0[k]
		share := cpu.Seconds() / wall.Seconds()
		perPkt := cpu.Seconds() / (pkts * wall.Seconds()) * 1e6
		jMean := float64(s1[k].jitterSum) / float64(max(s1[k].calls, 1))
		b.ReportMetric(pkts, fl.name+"-pkts/s")
		b.ReportMetric(float64(s1[k].lost), fl.name+"-lost")
		b.ReportMetric(share*100/float64(n), fl.name+"-%cpu/call")
		b.ReportMetric(perPkt, fl.name+"-cpu-µs/packet")
		b.ReportMetric(jMean, fl.name+"-rx-jitter-ms")
		b.Logf("%s: %d calls, %.0f RTP packets/s (%.0f expected), lost %d; jitter heard mean %.2f ms, worst %d ms; CPU %.1f%% of a core (%.3f%% per call, %.1f µs per packet)",
			fl.name, n, pkts, 100*float64(n), s1[k].lost, jMean, s1[k].jitterW, share*100, share*100/float64(n), perPkt)
	}
}

// each runs fn for every phone of the fleet, 32 at a time, and fails the benchmark on the
// first error.
func (fl *callsFleet) each(b *testing.B, fn func(i int, ip netip.Addr) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(fl.ips) {
					return
				}
				if err := fn(i, fl.ips[i]); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(len(fl.ips)))
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

// snapshot reads every phone's RTP totals and its call's figures.
func (fl *callsFleet) snapshot(b *testing.B, c *http.Client) callsSnapshot {
	var mu sync.Mutex
	var s callsSnapshot
	t0 := time.Now()
	fl.each(b, func(i int, ip netip.Addr) error {
		raw, err := apiJSON(c, http.MethodGet, ip, "/api/v1/status", nil)
		if err != nil {
			return err
		}
		var st struct {
			Info map[string]map[string]string `json:"info"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		num := func(v string) int64 { x, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64); return x }
		mu.Lock()
		defer mu.Unlock()
		for section, m := range st.Info {
			if v, ok := m["RTP_Packets_Sent"]; ok {
				s.sent += uint64(num(v))
				s.recv += uint64(num(m["RTP_Packets_Recv"]))
			}
			if strings.HasPrefix(section, "Line_1_Call_1") && m["Packets_Recv"] != "" && m["Packets_Recv"] != "0" {
				s.calls++
				s.lost += num(m["Packets_Lost"])
				j := num(m["Jitter"])
				s.jitterSum += j
				s.jitterW = max(s.jitterW, j)
			}
		}
		return nil
	})
	s.at = t0.Add(time.Since(t0) / 2)
	if s.calls != len(fl.ips) {
		b.Errorf("%s: %d of %d calls report media", fl.name, s.calls, len(fl.ips))
	}
	return s
}

// apiJSON sends one request to a phone's API and returns the body of a 2xx answer.
func apiJSON(c *http.Client, method string, ip netip.Addr, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+netip.AddrPortFrom(ip, 8080).String()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return raw, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	return raw, nil
}

// procCPU is a process's user and system time from /proc/PID/stat (in clock ticks of 10 ms).
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces: the fields after it start past the last ')'.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of proc(5)
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
