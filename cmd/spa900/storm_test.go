package main

// The storm harness of issue 10: a fleet against nginx serving per-MAC profiles, side by side
// with a bare Go client fetching the same files, in one run, interleaved (the machine is
// shared: figures taken minutes apart are not comparable, figures taken in one run are).
//
//	go test -run '^$' -bench 'Storm|FleetStart' -benchtime 1x ./cmd/spa900
//	SPA900_STORM_PHONES=10000 go test -run '^$' -bench Storm -benchtime 1x -timeout 30m ./cmd/spa900
//
// The fleet is `spa900 fleet` itself, run by the test binary as a child process (so that its
// CPU time is its own and its open files are counted apart), on the flags the issue names:
// --count N --set Profile_Rule=http://…/spa$MA.xml --set Resync_Random_Delay=0. Extra flags
// come from SPA900_STORM_FLAGS (space-separated), e.g. "--set Line_Enable_1_=No".

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/provtest"
)

// stormChildEnv, when set, makes the test binary the fleet: it runs spa900 with these
// arguments (JSON) until SIGTERM.
const stormChildEnv = "SPA900_STORM_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(stormChildEnv); args != "" {
		os.Exit(stormChild(args))
	}
	os.Exit(m.Run())
}

// stormChild is main, for the harness's child process.
func stormChild(argsJSON string) int {
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		fmt.Fprintln(os.Stderr, "storm child:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SPA900_STORM_PROFILE=DIR writes the fleet's CPU profile (cpu.pprof) and, at the end,
	// its allocations (allocs.pprof) there; at every SIGUSR1, its live heap (heap-N.pprof,
	// after a collection) and its goroutines (goroutine-N.pprof), which the steady-state
	// benchmark asks for at its end.
	if dir := os.Getenv("SPA900_STORM_PROFILE"); dir != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		go func() {
			for k := 1; ; k++ {
				<-usr1
				runtime.GC()
				name := filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", k))
				// Beside it, what the runtime holds (heap-N.mem): the heap profile shows the live
				// heap, not the stacks, the freed spans kept, or the goroutines.
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				mem := fmt.Sprintf("goroutines %d\nheap_alloc %d\nheap_inuse %d\nheap_idle %d\nheap_released %d\nstack_inuse %d\nsys %d\nnext_gc %d\nnum_gc %d\ngc_cpu_fraction %.3f\n",
					runtime.NumGoroutine(), ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.StackInuse, ms.Sys, ms.NextGC, ms.NumGC, ms.GCCPUFraction)
				os.WriteFile(name[:len(name)-len(".pprof")]+".mem", []byte(mem), 0o644)
				if g, err := os.Create(filepath.Join(dir, fmt.Sprintf("goroutine-%d.pprof", k))); err == nil {
					pprof.Lookup("goroutine").WriteTo(g, 0) // where the goroutines (and their stacks) are
					g.Close()
				}
				if h, err := os.Create(name + ".tmp"); err == nil {
					pprof.Lookup("heap").WriteTo(h, 0)
					h.Close()
					os.Rename(name+".tmp", name) // whole, for a reader that waits for it
				}
			}
		}()
		// At every SIGUSR2 (the harness sends one before each storm after the first), the CPU
		// profile so far is closed and the next one begins (cpu-N.pprof): a storm's own; the
		// allocations so far are written beside it (allocs-N.pprof: a storm's own are the
		// difference of two, go tool pprof -base), and the bytes and objects allocated and the
		// collections so far (gc-N.mem), which do not lag to the last collection as the
		// profile does.
		var mu sync.Mutex
		f, err := os.Create(filepath.Join(dir, "cpu.pprof"))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			usr2 := make(chan os.Signal, 1)
			signal.Notify(usr2, syscall.SIGUSR2)
			go func() {
				for k := 1; ; k++ {
					<-usr2
					mu.Lock()
					// What the collector did so far (gc-N.mem): a storm's own is the difference of two.
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					os.WriteFile(filepath.Join(dir, fmt.Sprintf("gc-%d.mem", k)), fmt.Appendf(nil, "total_alloc %d\nmallocs %d\nnum_gc %d\nheap_alloc %d\nnext_gc %d\ngc_cpu_fraction %.4f\n",
						ms.TotalAlloc, ms.Mallocs, ms.NumGC, ms.HeapAlloc, ms.NextGC, ms.GCCPUFraction), 0o644)
					if a, err := os.Create(filepath.Join(dir, fmt.Sprintf("allocs-%d.pprof", k))); err == nil {
						pprof.Lookup("allocs").WriteTo(a, 0)
						a.Close()
					}
					if f != nil {
						pprof.StopCPUProfile()
						f.Close()
						f = nil
						if g, err := os.Create(filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", k))); err == nil && pprof.StartCPUProfile(g) == nil {
							f = g
						}
					}
					mu.Unlock()
				}
			}()
			defer func() {
				mu.Lock()
				defer mu.Unlock()
				if f != nil {
					pprof.StopCPUProfile()
					f.Close()
				}
				if a, err := os.Create(filepath.Join(dir, "allocs.pprof")); err == nil {
					pprof.Lookup("allocs").WriteTo(a, 0)
					a.Close()
				}
			}()
		}
	}
	if err := run(ctx, args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "spa900:", err)
		return 1
	}
	return 0
}

// stormPhones is the fleet size: SPA900_STORM_PHONES, 1,000 by default.
func stormPhones(tb testing.TB) int {
	return envCount(tb, "SPA900_STORM_PHONES", 1000, 0)
}

// stormFirstMAC and stormFirstIP number the fleet's phones.
const (
	stormFirstMAC = "00:0e:08:10:00:00"
	stormFirstIP  = "127.0.0.2"
	stormProfile  = 10700 // bytes of each per-MAC profile, as in the issue
)

// stormMACs returns the $MA of the fleet's n phones, counted up from stormFirstMAC as the
// fleet counts them.
func stormMACs(n int) []string {
	mac, _ := phone.ParseMAC(stormFirstMAC)
	var b [8]byte
	copy(b[2:], mac)
	first := binary.BigEndian.Uint64(b[:])
	out := make([]string, n)
	for i := range out {
		binary.BigEndian.PutUint64(b[:], first+uint64(i))
		out[i] = hex.EncodeToString(b[2:])
	}
	return out
}

// stormIPs returns the fleet's n addresses.
func stormIPs(n int) []netip.Addr {
	ip := netip.MustParseAddr(stormFirstIP)
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = ip
		ip = ip.Next()
	}
	return out
}

// perMACProfile is a profile a provisioning server would send one phone: its station name and
// first extension's account, then the factory values of other tabs (tones, dial plans, phone
// and system settings) until it weighs stormProfile bytes. The Provisioning tab is left out
// (the fleet's Profile_Rule stays), and so are Line_Enable (a run may switch lines off).
func perMACProfile(cat *config.Catalog, mac string) []byte {
	var b bytes.Buffer
	b.WriteString("<flat-profile>\n")
	fmt.Fprintf(&b, "<Station_Name>spa%s</Station_Name>\n<User_ID_1_>%s</User_ID_1_>\n<Display_Name_1_>Phone %s</Display_Name_1_>\n", mac, mac[6:], mac[6:])
	skip := map[string]bool{"Station_Name": true, "User_ID_1_": true, "Display_Name_1_": true}
	for _, p := range cat.Params() {
		if b.Len() >= stormProfile-len("</flat-profile>\n") {
			break
		}
		if p.Tab() == "Provisioning" || strings.HasPrefix(p.Name, "Line_Enable_") || skip[p.Name] || p.Secret {
			continue
		}
		var v bytes.Buffer
		xml.EscapeText(&v, []byte(p.Default))
		line := fmt.Sprintf("<%s>%s</%s>\n", p.Name, v.String(), p.Name)
		if b.Len()+len(line) > stormProfile-len("</flat-profile>\n") {
			continue
		}
		b.WriteString(line)
	}
	for b.Len() < stormProfile-len("</flat-profile>\n") {
		b.WriteByte('\n')
	}
	b.WriteString("</flat-profile>\n")
	return b.Bytes()
}

// stormServer starts nginx with a profile per MAC, able to hold a connection from every
// phone at once: a fleet whose transfers are not bounded (the open file budget leaves room
// for all) connects all its phones within a second or two, and on a busy machine its phones
// send their requests late, so that nginx at 8,192 connections closed the ones beyond it
// unanswered (a thousand phones of 10,000, "http_get failed", in 2 of some 20 boot storms).
func stormServer(b *testing.B, macs []string) *provtest.Nginx {
	ng := provtest.StartNginx(b, provtest.Options{WorkerConnections: max(8192, len(macs)+1024)})
	m, _ := config.LookupModel(config.DefaultModel)
	cat := config.CatalogFor(m)
	for _, mac := range macs {
		if err := os.WriteFile(filepath.Join(ng.Docroot, "spa"+mac+".xml"), perMACProfile(cat, mac), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return ng
}

// accessCounter counts the profile fetches nginx answered with 200, from its access log.
type accessCounter struct {
	f     *os.File
	rd    *bufio.Reader
	off   int64 // bytes of whole lines read
	count int
}

func newAccessCounter(b *testing.B, path string) *accessCounter {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return &accessCounter{f: f, rd: bufio.NewReaderSize(f, 1<<20)}
}

// poll reads the lines written since the last poll.
func (a *accessCounter) poll() {
	for {
		line, err := a.rd.ReadBytes('\n')
		if err != nil { // a partial line is read again with the rest of it
			a.f.Seek(a.off, io.SeekStart)
			a.rd.Reset(a.f)
			return
		}
		a.off += int64(len(line))
		if bytes.Contains(line, []byte(`"uri":"/spa`)) && bytes.Contains(line, []byte(`"status":200`)) {
			a.count++
		}
	}
}

// waitFor polls until count reaches n or the timeout passes; it returns when the count first
// passed from (the storm's first fetch) and when it reached n.
func (a *accessCounter) waitFor(from, n int, timeout time.Duration) (first, at time.Time, ok bool) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		a.poll()
		if first.IsZero() && a.count > from {
			first = time.Now()
		}
		if a.count >= n {
			return first, time.Now(), true
		}
		if time.Now().After(deadline) {
			return first, time.Now(), false
		}
		<-tick.C
	}
}

// bareFetch fetches every URL once with Go's HTTP client, a new connection each (as the
// phones do), from the phones' own addresses, conc at a time; it returns fetches per second.
func bareFetch(b *testing.B, urls []string, ips []netip.Addr, conc int) float64 {
	var next atomic.Int64
	var failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			clients := map[netip.Addr]*http.Client{}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				c := clients[ips[i]]
				if c == nil {
					d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ips[i].AsSlice()}, KeepAlive: -1}
					c = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true, DisableCompression: true}}
					clients[ips[i]] = c
				}
				resp, err := c.Get(urls[i])
				if err != nil {
					failed.Add(1)
					continue
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	if n := failed.Load(); n > 0 {
		b.Fatalf("bare client: %d of %d fetches failed", n, len(urls))
	}
	return float64(len(urls)) / d.Seconds()
}

// cpuSeconds is the CPU time (user and system) of pid and its children's threads so far:
// /proc/pid/stat utime and stime, in clock ticks of 1/100 s.
func cpuSeconds(pid int) float64 {
	read := func(pid int) float64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		return (u + k) / 100
	}
	total := read(pid)
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, k := range strings.Fields(string(kids)) {
			if n, err := strconv.Atoi(k); err == nil {
				total += read(n)
			}
		}
	}
	return total
}

// rssBytes is the resident set of pid (/proc/pid/status VmRSS).
func rssBytes(pid int) int64 { return procStatusBytes(pid, "VmRSS:") }

// procStatusBytes is a size in /proc/pid/status: VmRSS:, VmHWM: (the peak resident set).
func procStatusBytes(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// fleetWebPort returns a port for a fleet's web servers, chosen at run time below the
// kernel's ephemeral range (ip_local_port_range) and free on every address, since the
// fleet's phones share one wildcard listener (webui.Hub). A port of the ephemeral range is
// taken now and then between the choice and the fleet's bind by any socket of the machine
// that connects unbound or binds ":0" (the phones' own fetches, the bare client, other
// tests): a web server that starts after one of them took its port cannot listen ("address
// already in use": 2 of 10,000 phones once, the re-triggered storm's refused requests; a
// fleet test that waited for its third phone's pages).
func fleetWebPort(t testing.TB) int {
	t.Helper()
	low := provtest.EphemeralLow()
	if low <= 10000 {
		return provtest.FreeTCPPort(t) // no room below the range: the kernel's choice
	}
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatalf("no free port below %d", low)
	return 0
}

// stormFleet is the fleet child process.
type stormFleet struct {
	cmd *exec.Cmd
	out lockedBuffer
}

// startStormFleet runs `spa900 fleet` with args as a child process; the test stops it.
func startStormFleet(b *testing.B, args []string) *stormFleet {
	// The fleet refuses to start when its phones' files do not fit its open file limit: ten
	// thousand SPA942s with four lines and a call each need 70,000. Raised where the process
	// may; where it may not (a container without CAP_SYS_RESOURCE: 20,000 here), the fleet
	// starts anyway and its phones beyond the limit fail with "too many open files", as
	// before the budget refused.
	raiseFileLimit(b, 1<<20)
	args = append(args, "--overcommit-files")
	if extra := os.Getenv("SPA900_STORM_FLAGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	js, _ := json.Marshal(args)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), stormChildEnv+"="+string(js))
	f := &stormFleet{cmd: cmd}
	cmd.Stdout, cmd.Stderr = &f.out, &f.out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.stop(b) })
	return f
}

// output returns what the fleet printed so far.
func (f *stormFleet) output() string {
	return f.out.String()
}

// stop ends the fleet (SIGTERM, as a user's Ctrl-C) and waits for it.
func (f *stormFleet) stop(b *testing.B) {
	if f.cmd.ProcessState != nil {
		return
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		f.cmd.Process.Kill()
		<-done
		b.Errorf("fleet did not stop within 30 s of SIGTERM")
	}
}

// dump asks the fleet for its goroutines (SIGQUIT), waits for it to end and writes all it
// printed to a file, whose name it returns: for a storm that did not finish.
func (f *stormFleet) dump(b *testing.B) string {
	f.cmd.Process.Signal(syscall.SIGQUIT)
	f.cmd.Wait()
	name := filepath.Join(os.TempDir(), fmt.Sprintf("spa900-storm-%d.log", f.cmd.Process.Pid))
	os.WriteFile(name, []byte(f.output()), 0o644)
	return name
}

// lastLines returns the last n lines the fleet printed, for failure messages.
func (f *stormFleet) lastLines(n int) string {
	lines := strings.Split(strings.TrimSpace(f.output()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// getAll sends GET to every URL, conc at a time, and returns how many failed (and why the
// first did, in lastGetFailure).
func getAll(urls []string, ips []netip.Addr, conc int) int {
	n, _ := getAllWhy(urls, conc)
	return n
}

func getAllWhy(urls []string, conc int) (int, string) {
	var next, failed atomic.Int64
	var why atomic.Pointer[string]
	fail := func(s string) {
		failed.Add(1)
		why.CompareAndSwap(nil, &s)
	}
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				resp, err := c.Get(urls[i])
				if err != nil {
					fail(err.Error())
					continue
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					fail(urls[i] + ": " + resp.Status + ": " + string(body))
				}
			}
		})
	}
	wg.Wait()
	w := ""
	if p := why.Load(); p != nil {
		w = *p
	}
	return int(failed.Load()), w
}

// triggerAll sends each URL one HTTP GET on a connection of its own, conc at a time, as a
// provisioning server triggers its phones' resyncs, and returns how many failed and why the
// first did. A request is the bytes Go's client sends for it (GET, Host, User-Agent,
// Accept-Encoding, "Connection: close", in that order); the response's status line, header
// and body are read by net/http (http.ReadResponse), the body to its end, and the connection
// is closed. What it leaves out is the client's Transport: for every request a goroutine
// that dials, a reader and a writer goroutine, their channels and buffers, a pool's
// bookkeeping for a connection it never reuses, and the Client's timer. The trigger runs on
// the machine the fleet and nginx share, so its own CPU counts against the storm's rate,
// where a provisioning server's would not: SPA900_STORM_TRIGGER=client sends the requests
// with Go's client instead (getAllWhy), to compare.
func triggerAll(urls []string, conc int) (int, string) {
	if os.Getenv("SPA900_STORM_TRIGGER") == "client" {
		return getAllWhy(urls, conc)
	}
	var next, failed atomic.Int64
	var why atomic.Pointer[string]
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
			br := bufio.NewReaderSize(nil, 4096)
			var req []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				var err error
				if req, err = triggerOne(d, br, req, urls[i]); err != nil {
					failed.Add(1)
					s := urls[i] + ": " + err.Error()
					why.CompareAndSwap(nil, &s)
				}
			}
		})
	}
	wg.Wait()
	w := ""
	if p := why.Load(); p != nil {
		w = *p
	}
	return int(failed.Load()), w
}

// triggerOne sends one trigger request to raw, reading its response with br and writing the
// request in buf, which it returns for the next request.
func triggerOne(d *net.Dialer, br *bufio.Reader, buf []byte, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return buf, err
	}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return buf, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	buf = append(buf[:0], "GET "...)
	buf = append(buf, u.RequestURI()...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, u.Host...)
	buf = append(buf, "\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"...)
	if _, err := c.Write(buf); err != nil {
		return buf, err
	}
	br.Reset(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return buf, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if err != nil {
		return buf, err
	}
	if resp.StatusCode >= 300 {
		return buf, fmt.Errorf("%s: %s", resp.Status, body[:min(len(body), 512)])
	}
	return buf, nil
}

// waitOutput waits until the fleet has printed k lines holding s.
func (f *stormFleet) waitOutput(b *testing.B, s string, k int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for strings.Count(f.output(), s) < k {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d lines %s within %v; the fleet's output and goroutines: %s", strings.Count(f.output(), s), k, s, timeout, f.dump(b))
		}
		<-tick.C
	}
}

// waitStormDone waits until the fleet has written its k-th "storm done" report (a storm is
// over when every phone has booted and ended its boot resync) and returns the report line.
func (f *stormFleet) waitStormDone(b *testing.B, k int, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		out := f.output()
		if strings.Count(out, `"msg":"storm done"`) >= k {
			i := strings.LastIndex(out, `"msg":"storm done"`)
			line := out[strings.LastIndexByte(out[:i], '\n')+1:]
			return line[:strings.IndexByte(line, '\n')+1]
		}
		<-tick.C
	}
	b.Fatalf("no storm report %d within %v; the fleet's output and goroutines: %s", k, timeout, f.dump(b))
	return ""
}

// BenchmarkProvisioningStorm is issue 10's table, on this machine, in one run: the bare
// client, the boot storm of a fresh fleet, the bare client, a re-triggered storm (every
// phone's /admin/resync once the boot storm is over), the bare client, a power-cycle storm
// (SIGHUP: every phone boots again on its provisioned flash), the bare client again.
// Resyncs per second count the profile fetches nginx answered, from a storm's first fetch to
// its last; each ratio divides by the mean of the bare client's runs before and after it.
func BenchmarkProvisioningStorm(b *testing.B) {
	n := stormPhones(b)
	macs, ips := stormMACs(n), stormIPs(n)
	ng := stormServer(b, macs)
	urls := make([]string, n)
	for i, mac := range macs {
		urls[i] = ng.HTTPURL("/spa" + mac + ".xml")
	}
	webPort := fleetWebPort(b)
	for b.Loop() {
		counter := newAccessCounter(b, ng.AccessLogFile)
		var bare, bareCPU []float64 // fetches/s and CPU-s a fetch (the client's and nginx's) of each run
		fetched := 0                // the fleet's fetches so far
		bareRun := func() {
			self0, ng0 := selfCPUSeconds(), cpuSeconds(ng.PID)
			bare = append(bare, bareFetch(b, urls, ips, 64))
			bareCPU = append(bareCPU, (selfCPUSeconds()-self0+cpuSeconds(ng.PID)-ng0)/float64(n))
			counter.poll()
			counter.count -= n // the bare client's fetches are not the fleet's
		}
		type storm struct {
			name          string
			rate, cpu, ng float64
			self          float64 // this process's CPU from the trigger to the storm's last fetch: the trigger's (and the access log's polling)
			report        string
		}
		var storms []storm
		var fleet *stormFleet   // started by the first trigger
		var fetchedAt time.Time // when the boot storm's last fetch was seen
		// A storm's rate counts from its first fetch, or from its trigger when the trigger
		// is the requests that start it (sent before the fetches are counted).
		measure := func(name string, k int, fromTrigger bool, trigger func()) {
			ngCPU0 := cpuSeconds(ng.PID)
			var cpu0 float64
			if fleet != nil {
				if os.Getenv("SPA900_STORM_PROFILE") != "" {
					fleet.cmd.Process.Signal(syscall.SIGUSR2) // this storm's own CPU profile
				}
				cpu0 = cpuSeconds(fleet.cmd.Process.Pid)
			}
			began, self0 := time.Now(), selfCPUSeconds()
			trigger()
			first, at, ok := counter.waitFor(fetched, fetched+n, 5*time.Minute)
			self := selfCPUSeconds() - self0
			if fromTrigger {
				first = began
			}
			if !ok {
				ngLog := filepath.Join(os.TempDir(), fmt.Sprintf("spa900-storm-nginx-%d.log", os.Getpid())) // kept: the test's directory goes
				if raw, err := os.ReadFile(ng.ErrorLogFile); err == nil {
					os.WriteFile(ngLog, raw, 0o644)
				}
				b.Fatalf("%s: %d of %d phones fetched; the fleet's output and goroutines: %s; nginx's error log: %s", name, counter.count-fetched, n, fleet.dump(b), ngLog)
			}
			fetched += n
			// The fleet reports its boot storms (the power-on, every power cycle), the k-th
			// for this one; a re-trigger (k 0) boots nothing and has no report of its own.
			report := "(none)"
			if os.Getenv("SPA900_STORM_BEFORE") == "" && k > 0 {
				report = fleet.waitStormDone(b, k, 5*time.Minute)
			} else {
				// A fleet from before the storm report (SPA900_STORM_BEFORE=1, to measure the
				// code before issue 10): its last applies land within a couple of seconds.
				time.Sleep(3 * time.Second)
			}
			storms = append(storms, storm{name, float64(n) / at.Sub(first).Seconds(), cpuSeconds(fleet.cmd.Process.Pid) - cpu0, cpuSeconds(ng.PID) - ngCPU0, self, report})
			if name == "boot storm" {
				fetchedAt = at
			}
			bareRun()
		}
		bareRun()
		start := time.Now()
		measure("boot storm", 1, false, func() {
			fleet = startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", stormFirstIP, "--mac", stormFirstMAC,
				"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-format", "json",
				"--set", "Profile_Rule=" + ng.HTTPURL("/spa$MA.xml"), "--set", "Resync_Random_Delay=0"})
		})
		startToDone := fetchedAt.Sub(start) // not the bare client's run after it
		// SPA900_STORM_ONLY=boot stops after the boot storm: its profile (SPA900_STORM_PROFILE)
		// is then the boot storm's alone.
		bootOnly := os.Getenv("SPA900_STORM_ONLY") == "boot"
		resync := make([]string, n)
		for i, ip := range ips {
			resync[i] = "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(webPort)) + "/admin/resync"
		}
		if !bootOnly {
			measure("re-triggered storm", 0, true, func() {
				// Every web server listens first: the boot storm is over when the phones have
				// resynced, and a web server starting late on a loaded machine refuses the
				// re-trigger's request (1 of 10,000, once).
				fleet.waitOutput(b, `"msg":"web server listening"`, n, time.Minute)
				if failed, why := triggerAll(resync, 64); failed > 0 {
					b.Fatalf("re-trigger: %d of %d /admin/resync requests failed; the first: %s", failed, n, why)
				}
			})
		}
		if os.Getenv("SPA900_STORM_BEFORE") == "" && !bootOnly {
			measure("power-cycle storm", 2, false, func() { fleet.cmd.Process.Signal(syscall.SIGHUP) })
		}
		if bootOnly { // what the boot storm left to pay after its report (a collection), and its peak
			b.Logf("fleet after the boot storm and the bare client's run: %.1f CPU-s, peak RSS %d MiB",
				cpuSeconds(fleet.cmd.Process.Pid), procStatusBytes(fleet.cmd.Process.Pid, "VmHWM:")>>20)
		}
		fleet.stop(b)
		if dir := os.Getenv("SPA900_STORM_LOG"); dir != "" { // what the fleet logged, to count its lines
			os.WriteFile(filepath.Join(dir, "storm-fleet.log"), []byte(fleet.output()), 0o644)
			if b, err := os.ReadFile(ng.ErrorLogFile); err == nil { // what nginx refused, if anything
				os.WriteFile(filepath.Join(dir, "storm-nginx-error.log"), b, 0o644)
			}
		}

		b.Logf("%d phones; bare client %v fetches/s, %v µs of CPU a fetch (its own and nginx's); boot storm's last fetch %.2f s after the start",
			n, mibsF(bare), microsF(bareCPU), startToDone.Seconds())
		for i, s := range storms {
			ref := (bare[i] + bare[i+1]) / 2
			// The same ratio from CPU time, which load does not distort: on a machine the
			// two saturate, a resync costs the fleet and nginx what a fetch costs the client
			// and nginx, so rates are in the inverse ratio of CPU per operation.
			refCPU := (bareCPU[i] + bareCPU[i+1]) / 2
			perResync := (s.cpu + s.ng) / float64(n)
			b.Logf("%s: %.0f resyncs/s, %.2f of the bare client's %.0f around it; fleet %.1f CPU-s : nginx %.2f CPU-s; "+
				"%.0f µs of CPU a resync against %.0f a bare fetch: %.2f by CPU; this process (the trigger, the log's polling) %.2f CPU-s until the last fetch; fleet's report: %s",
				s.name, s.rate, s.rate/ref, ref, s.cpu, s.ng, perResync*1e6, refCPU*1e6, refCPU/perResync, s.self, strings.TrimSpace(s.report))
			unit := strings.ReplaceAll(strings.TrimSuffix(s.name, " storm"), " ", "-")
			b.ReportMetric(s.rate, unit+"-resyncs/s")
			b.ReportMetric(s.rate/ref, unit+"/bare")
			b.ReportMetric(refCPU/perResync, unit+"/bare-by-CPU")
		}
	}
}

// selfCPUSeconds is the CPU time (user and system) of this process so far.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func microsF(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x * 1e6)
	}
	return out
}

func mibsF(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

// BenchmarkFleetStart is the time from starting `spa900 fleet` on a fresh data directory
// until every phone's web server listens (the fleet's "web server listening" lines, counted as
// they come), then a check from outside that the phones serve their pages (GET / of a sample
// of 200, every one must answer 200: rendering a page costs 10-30 ms of CPU here, so a sweep of
// every page of 10,000 phones would measure the sweep). It reports the RSS a phone holds
// when idle with its web server on, before and after its pages were served once.
func BenchmarkFleetStart(b *testing.B) {
	n := stormPhones(b)
	ips := stormIPs(n)
	webPort := fleetWebPort(b)
	for b.Loop() {
		start := time.Now()
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", stormFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-format", "json", "--set", "Provision_Enable=No"})
		deadline := time.Now().Add(2 * time.Minute)
		tick := time.NewTicker(2 * time.Millisecond)
		listening := 0
		for listening < n && time.Now().Before(deadline) {
			<-tick.C
			listening = strings.Count(fleet.output(), `"msg":"web server listening"`)
		}
		tick.Stop()
		d := time.Since(start)
		cpu := cpuSeconds(fleet.cmd.Process.Pid) // the machine is shared: the CPU the start took is the steadier figure
		if listening < n {
			b.Fatalf("%d of %d web servers listen after 2 minutes; fleet said:\n%s", listening, n, fleet.lastLines(20))
		}
		time.Sleep(2 * time.Second) // the boot's garbage collected: a measurement, not a wait for an event
		idle := rssBytes(fleet.cmd.Process.Pid)
		sample := make([]string, 0, 200)
		for i := 0; i < n && len(sample) < 200; i += max(1, n/200) {
			sample = append(sample, "http://"+net.JoinHostPort(ips[i].String(), strconv.Itoa(webPort))+"/")
		}
		if failed, why := getAllWhy(sample, 8); failed > 0 {
			b.Fatalf("%d of %d sampled phones do not serve their pages (%s)", failed, len(sample), why)
		}
		browsed := rssBytes(fleet.cmd.Process.Pid)
		fleet.stop(b)
		perIdle := float64(idle) / float64(n) / 1024
		perBrowsed := float64(browsed-idle) / float64(len(sample)) / 1024
		b.ReportMetric(d.Seconds(), "s-to-listen")
		b.ReportMetric(cpu, "CPU-s-to-listen")
		b.ReportMetric(perIdle, "RSS-KiB/idle-phone")
		b.ReportMetric(perBrowsed, "RSS-KiB/browsed-phone")
		b.Logf("%d fresh phones: every web server listens %.2f s after the start (the fleet used %.1f CPU-s until then), a sample of %d serves its pages; "+
			"RSS %.1f MiB, %.0f KiB a phone; %.0f KiB more a phone once its page was served", n, d.Seconds(), cpu, len(sample),
			float64(idle)/(1<<20), perIdle, perBrowsed)
	}
}

// BenchmarkSteadyResync is issue 10's steady state: SPA900_STORM_PHONES phones (3,000 by
// default here) each resyncing once a second (--clock-speed 60, Resync_Periodic=60) against
// nginx for SPA900_STEADY_DURATION (5m by default), the fleet's RSS sampled every 10 s after
// a minute of warm-up. It reports the resyncs per second reached (the target is one per
// phone), and the RSS's mean, spread (max-min over mean) and peak.
//
//	SPA900_STORM_PHONES=3000 go test -run '^$' -bench SteadyResync -benchtime 1x -timeout 30m ./cmd/spa900
func BenchmarkSteadyResync(b *testing.B) {
	n := envCount(b, "SPA900_STORM_PHONES", 3000, 0)
	dur := envDuration(b, "SPA900_STEADY_DURATION", 5*time.Minute)
	macs := stormMACs(n)
	ng := stormServer(b, macs)
	webPort := fleetWebPort(b)
	for b.Loop() {
		counter := newAccessCounter(b, ng.AccessLogFile)
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", stormFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-level", "warn", "--clock-speed", "60",
			"--set", "Profile_Rule=" + ng.HTTPURL("/spa$MA.xml"), "--set", "Resync_Random_Delay=0", "--set", "Resync_Periodic=60"})
		if _, _, ok := counter.waitFor(0, n, 5*time.Minute); !ok {
			b.Fatalf("boot: %d of %d phones fetched; fleet said:\n%s", counter.count, n, fleet.lastLines(20))
		}
		warm := time.NewTimer(time.Minute)
		<-warm.C // warm-up: a measurement window, not a wait for an event
		tick := time.NewTicker(10 * time.Second)
		var rss []float64
		counter.poll()
		from, fromCount, cpu0 := time.Now(), counter.count, cpuSeconds(fleet.cmd.Process.Pid)
		ngCPU0 := cpuSeconds(ng.PID)
		for time.Since(from) < dur {
			<-tick.C
			counter.poll()
			rss = append(rss, float64(rssBytes(fleet.cmd.Process.Pid)))
			if fleet.cmd.ProcessState != nil {
				b.Fatalf("fleet ended:\n%s", fleet.lastLines(20))
			}
		}
		tick.Stop()
		counter.poll()
		if dir := os.Getenv("SPA900_STORM_PROFILE"); dir != "" {
			fleet.cmd.Process.Signal(syscall.SIGUSR1) // its live heap, written as it runs
			for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				if _, err := os.Stat(filepath.Join(dir, "heap-1.pprof")); err == nil {
					break
				}
			}
		}
		if dir := os.Getenv("SPA900_STEADY_LOG"); dir != "" {
			os.WriteFile(filepath.Join(dir, "steady-fleet.log"), []byte(fleet.output()), 0o644)
			if b, err := os.ReadFile(ng.AccessLogFile); err == nil {
				os.WriteFile(filepath.Join(dir, "steady-access.log"), b, 0o644)
			}
		}
		rate := float64(counter.count-fromCount) / time.Since(from).Seconds()
		cpu, ngCPU := cpuSeconds(fleet.cmd.Process.Pid)-cpu0, cpuSeconds(ng.PID)-ngCPU0
		fleet.stop(b)
		lo, hi, sum := rss[0], rss[0], 0.0
		for _, r := range rss {
			lo, hi, sum = min(lo, r), max(hi, r), sum+r
		}
		mean := sum / float64(len(rss))
		b.ReportMetric(rate, "resyncs/s")
		b.ReportMetric(rate/float64(n), "of-target")
		b.ReportMetric(mean/(1<<20), "RSS-MiB")
		b.ReportMetric((hi-lo)/mean, "RSS-spread")
		b.ReportMetric(hi/(1<<20), "RSS-peak-MiB")
		b.Logf("%d phones for %v: %.0f resyncs/s (%.2f of one a phone a second); fleet %.0f%% of a core, nginx %.0f%%; RSS mean %.0f MiB, %.0f-%.0f (spread %.1f%%), samples %v",
			n, dur, rate, rate/float64(n), 100*cpu/time.Since(from).Seconds(), 100*ngCPU/time.Since(from).Seconds(),
			mean/(1<<20), lo/(1<<20), hi/(1<<20), 100*(hi-lo)/mean, mibs(rss))
	}
}

func mibs(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x / (1 << 20))
	}
	return out
}

// TestTriggerAllSendsWhatGoClientSends: the storm's trigger sends a phone the bytes Go's
// client sends for the same URL, each on a connection of its own, and counts a request whose
// answer is not a success as failed, with the answer.
func TestTriggerAllSendsWhatGoClientSends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	heads := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				head.WriteString(line)
				if err != nil || line == "\r\n" {
					break
				}
			}
			heads <- head.String()
			status := "200 OK"
			if strings.Contains(head.String(), "/refused") {
				status = "403 Forbidden"
			}
			fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status)
			c.Close()
		}
	}()
	u := "http://" + ln.Addr().String() + "/admin/resync"
	if failed, why := getAllWhy([]string{u}, 1); failed != 0 {
		t.Fatalf("Go's client: %d failed: %s", failed, why)
	}
	want := <-heads
	if failed, why := triggerAll([]string{u, u}, 1); failed != 0 {
		t.Fatalf("trigger: %d failed: %s", failed, why)
	}
	for range 2 {
		if got := <-heads; got != want {
			t.Errorf("trigger sent %q, Go's client %q", got, want)
		}
	}
	failed, why := triggerAll([]string{"http://" + ln.Addr().String() + "/refused"}, 1)
	<-heads
	if failed != 1 || !strings.Contains(why, "403 Forbidden: ok") {
		t.Errorf("a refused trigger: %d failed (%q), want 1 with its answer", failed, why)
	}
}
