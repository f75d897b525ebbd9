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
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/spa900/spa900/provisioning/provtest"
)

// callsFleet is one of the benchmark's two processes.
type callsFleet struct {
	name string
	f    *stormFleet
	ips  []netip.Addr
	port uint16 // of the phones' web servers: a fleet's own, since its phones share a wildcard listener
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
	n := envCount(b, "SPA900_CALLS", 250, 60000)
	window := envDuration(b, "SPA900_CALLS_WINDOW", 10*time.Second)
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
		port := fleetWebPort(b)
		args := []string{"fleet", "--count", strconv.Itoa(n), "--ip", firstIP, "--http-port", strconv.Itoa(port), "--data", b.TempDir(),
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
		return &callsFleet{name: name, f: startStormFleet(b, args), ips: ips, port: uint16(port)}
	}
	// Addresses of their own, away from the storm harness's 127.0.0.x.
	caller, callee := start("caller", "127.61.0.2", "1000"), start("callee", "127.62.0.2", "700")
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxIdleConns: 4 * n}}
	defer c.CloseIdleConnections()
	t0 := time.Now()
	for _, fl := range []*callsFleet{caller, callee} {
		fl.each(b, func(i int, web netip.AddrPort) error {
			for deadline := time.Now().Add(2 * time.Minute); ; {
				_, err := apiJSON(c, http.MethodGet, web, "/api/v1/calls", nil)
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
	caller.each(b, func(i int, web netip.AddrPort) error {
		body := fmt.Sprintf(`{"extension":1,"uri":"sip:100@%s:5060"}`, callee.ips[i])
		_, err := apiJSON(c, http.MethodPost, web, "/api/v1/calls", []byte(body))
		return err
	})
	callee.each(b, func(i int, web netip.AddrPort) error {
		for deadline := time.Now().Add(time.Minute); ; {
			var l struct{ Calls []struct{ ID, State string } }
			raw, err := apiJSON(c, http.MethodGet, web, "/api/v1/calls", nil)
			if err == nil && json.Unmarshal(raw, &l) == nil && len(l.Calls) > 0 && l.Calls[0].State == "Ringing" {
				_, err = apiJSON(c, http.MethodPost, web, "/api/v1/calls/"+l.Calls[0].ID+"/answer", nil)
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("callee phone %d: no ringing call (%s, %v)", i, raw, err)
			}
			time.Sleep(20 * time.Millisecond) // polling the API as a test driving phones would
		}
	})
	for _, fl := range []*callsFleet{caller, callee} {
		fl.each(b, func(i int, web netip.AddrPort) error {
			for deadline := time.Now().Add(time.Minute); ; {
				var l struct{ Calls []struct{ State string } }
				raw, err := apiJSON(c, http.MethodGet, web, "/api/v1/calls", nil)
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
func (fl *callsFleet) each(b *testing.B, fn func(i int, web netip.AddrPort) error) {
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
				if err := fn(i, netip.AddrPortFrom(fl.ips[i], fl.port)); err != nil {
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
	fl.each(b, func(i int, web netip.AddrPort) error {
		raw, err := apiJSON(c, http.MethodGet, web, "/api/v1/status", nil)
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

// apiJSON sends one request to the API of the phone whose web server is at web and returns
// the body of a 2xx answer.
func apiJSON(c *http.Client, method string, web netip.AddrPort, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, "http://"+web.String()+path, bytes.NewReader(body))
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

// BenchmarkSIPpCalls is the comparison the issue asks for, on the same box: SIPp (its
// rtpstream, the feature a QA engineer would use for RTP today) carrying N G.711 calls at
// 20 ms between a SIPp caller and a SIPp answerer, both streaming a tone. The answerer's SDP
// points the caller's streams at an RTP counter in the benchmark process (one socket, kernel
// receive timestamps), which measures every stream's send-interval error (p99), packets per
// second and sequence gaps; CPU per process from /proc/PID/stat as for BenchmarkFleetCalls.
// SIPp does not receive RTP, so its figures are for sending only.
//
//	SPA900_CALLS=250 go test -run '^$' -bench SIPpCalls -benchtime 1x ./cmd/spa900
func BenchmarkSIPpCalls(b *testing.B) {
	bin := provtest.RequirePeer(b, "sipp", "sip-tester")
	n := envCount(b, "SPA900_CALLS", 250, 0)
	window := envDuration(b, "SPA900_CALLS_WINDOW", 10*time.Second)
	for range b.N {
		sippCalls(b, bin, n, window)
	}
}

func sippCalls(b *testing.B, bin string, n int, window time.Duration) {
	dir := b.TempDir()
	tone := make([]byte, 8000) // 1 s of 1 kHz at -20 dBFS, µ-law
	for i := range tone {
		tone[i] = g711.EncodeUlawFrame(int16(3277 * math.Sin(2*math.Pi*1000*float64(i)/8000)))
	}
	if err := os.WriteFile(filepath.Join(dir, "tone.ulaw"), tone, 0o644); err != nil {
		b.Fatal(err)
	}
	ctr, err := newRTPCounter(netip.MustParseAddr("127.63.0.3"))
	if err != nil {
		b.Fatal(err)
	}
	defer ctr.close()
	scen := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	sipPort := provtest.FreeUDPPort(b)
	hold := window + 30*time.Second // the calls outlive the ramp, the warm-up and the window
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append(args, "-nostdin", "-max_socket", strconv.Itoa(4*n+100))...)
		cmd.Dir = dir
		var out lockedBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			if b.Failed() {
				b.Logf("%s:\n%s", args[0], out.String())
			}
		})
		return cmd
	}
	uas := start("-sf", scen("sipp-rtp-uas.xml"), "-i", "127.63.0.1", "-p", strconv.Itoa(sipPort), "-mi", "127.63.0.1",
		"-key", "counter_ip", ctr.addr.Addr().String(), "-key", "counter_port", strconv.Itoa(int(ctr.addr.Port())))
	uac := start("127.63.0.1:"+strconv.Itoa(sipPort), "-sf", scen("sipp-rtp-uac.xml"), "-s", "100", "-i", "127.63.0.2",
		"-p", strconv.Itoa(provtest.FreeUDPPort(b)), "-mi", "127.63.0.2", "-l", strconv.Itoa(n), "-m", strconv.Itoa(n),
		"-r", "200", "-d", strconv.Itoa(int(hold.Milliseconds())))
	deadline := time.Now().Add(time.Minute)
	for ctr.streams() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d SIPp streams arrived", ctr.streams(), n)
		}
		time.Sleep(50 * time.Millisecond) // streams arriving have no event of their own
	}
	time.Sleep(2 * time.Second) // warm-up: the benchmark measures steady state
	c0 := ctr.snapshot()
	cpu0 := [2]time.Duration{procCPU(b, uac.Process.Pid), procCPU(b, uas.Process.Pid)}
	w0 := time.Now()
	b.ResetTimer()
	time.Sleep(window)
	cpu1 := [2]time.Duration{procCPU(b, uac.Process.Pid), procCPU(b, uas.Process.Pid)}
	wall := time.Since(w0)
	c1 := ctr.snapshot()
	b.StopTimer()
	d := c1.minus(c0)
	rate := float64(d.pkts) / wall.Seconds()
	b.ReportMetric(rate, "uac-rtp-pkts/s")
	b.ReportMetric(float64(d.quantile(0.99))/1e3, "uac-p99-µs")
	b.ReportMetric(float64(d.gaps), "uac-lost")
	for k, name := range []string{"uac", "uas"} {
		cpu := (cpu1[k] - cpu0[k]).Seconds() / wall.Seconds()
		b.ReportMetric(cpu*100/float64(n), name+"-%cpu/call")
		b.ReportMetric(cpu/(rate/1e6), name+"-cpu-µs/packet-sent")
		b.Logf("SIPp %s: %d calls, CPU %.1f%% of a core (%.3f%% per call, %.1f µs per packet sent)", name, n, cpu*100, cpu*100/float64(n), cpu/(rate/1e6))
	}
	b.Logf("SIPp caller's streams: %d of %d, %.0f RTP packets/s (%d expected), sequence gaps %d; send-interval error p50 %v p99 %v max %v",
		c1.n, n, rate, 50*n, d.gaps, d.quantile(0.5), d.quantile(0.99), d.max)
}

// rtpCounter receives RTP streams on one socket and keeps, per SSRC, the last sequence
// number and kernel receive time; over all streams, packets, sequence gaps and a histogram of
// send-interval errors |interval − 20 ms| in 50 µs buckets (on loopback the receive timestamp
// is the send time: sendto runs the receiver's input inline).
type rtpCounter struct {
	conn *net.UDPConn
	addr netip.AddrPort
	done chan struct{}

	mu   sync.Mutex
	per  map[uint32]*rtpStream // by SSRC: SIPp sends every call's stream from one port
	tot  rtpTotals
	stop bool
}

type rtpStream struct {
	seq  uint16
	last time.Time
}

type rtpTotals struct {
	n          int
	pkts, gaps uint64
	hist       [401]uint64
	max        time.Duration
}

func newRTPCounter(ip netip.Addr) (*rtpCounter, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, err
	}
	conn.SetReadBuffer(16 << 20)
	rc, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) })
	if serr != nil {
		conn.Close()
		return nil, serr
	}
	c := &rtpCounter{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), done: make(chan struct{}), per: map[uint32]*rtpStream{}}
	go c.run()
	return c, nil
}

func (c *rtpCounter) run() {
	defer close(c.done)
	buf, oob := make([]byte, 1500), make([]byte, 128)
	for {
		n, oobn, _, _, err := c.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		if n < 12 {
			continue
		}
		at := time.Now()
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SO_TIMESTAMPNS && len(m.Data) >= 16 {
					sec := int64(binary.NativeEndian.Uint64(m.Data))
					nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
					at = time.Unix(sec, nsec)
				}
			}
		}
		seq, ssrc := binary.BigEndian.Uint16(buf[2:]), binary.BigEndian.Uint32(buf[8:])
		c.mu.Lock()
		s := c.per[ssrc]
		if s == nil {
			c.per[ssrc] = &rtpStream{seq: seq, last: at}
			c.tot.n++
			c.tot.pkts++
			c.mu.Unlock()
			continue
		}
		c.tot.pkts++
		if d := seq - s.seq; d > 1 && d < 1000 {
			c.tot.gaps += uint64(d - 1)
		}
		e := (at.Sub(s.last) - 20*time.Millisecond).Abs()
		c.tot.hist[min(int(e/(50*time.Microsecond)), len(c.tot.hist)-1)]++
		c.tot.max = max(c.tot.max, e)
		s.seq, s.last = seq, at
		c.mu.Unlock()
	}
}

func (c *rtpCounter) streams() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tot.n
}

func (c *rtpCounter) snapshot() rtpTotals {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tot
}

func (c *rtpCounter) close() {
	c.conn.Close()
	<-c.done
}

// minus is the window between two snapshots (max: the later one's, over the whole run).
func (t rtpTotals) minus(o rtpTotals) rtpTotals {
	d := rtpTotals{n: t.n, pkts: t.pkts - o.pkts, gaps: t.gaps - o.gaps, max: t.max}
	for i := range d.hist {
		d.hist[i] = t.hist[i] - o.hist[i]
	}
	return d
}

func (t rtpTotals) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range t.hist {
		total += c
	}
	want := uint64(math.Ceil(q * float64(total)))
	var run uint64
	for i, c := range t.hist {
		run += c
		if run >= want {
			return time.Duration(i+1) * 50 * time.Microsecond
		}
	}
	return t.max
}
