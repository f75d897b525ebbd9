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
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
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
	if err := run(ctx, args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "spa900:", err)
		return 1
	}
	return 0
}

// stormPhones is the fleet size: SPA900_STORM_PHONES, 1,000 by default.
func stormPhones(tb testing.TB) int {
	n := 1000
	if s := os.Getenv("SPA900_STORM_PHONES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			tb.Fatalf("SPA900_STORM_PHONES=%q: want a count", s)
		}
	}
	return n
}

// stormFirstMAC and stormFirstIP number the fleet's phones.
const (
	stormFirstMAC = "00:0e:08:10:00:00"
	stormFirstIP  = "127.0.0.2"
	stormProfile  = 10700 // bytes of each per-MAC profile, as in the issue
)

// stormMACs returns the $MA of the fleet's n phones.
func stormMACs(n int) []string {
	mac, _ := phone.ParseMAC(stormFirstMAC)
	first := macNumber(mac)
	out := make([]string, n)
	for i := range out {
		out[i] = strings.ReplaceAll(macString(first+uint64(i)), ":", "")
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

// stormServer starts nginx with a profile per MAC.
func stormServer(b *testing.B, macs []string) *provtest.Nginx {
	ng := provtest.StartNginx(b, provtest.Options{WorkerConnections: 8192})
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
			if len(line) > 0 {
				a.f.Seek(-int64(len(line)), io.SeekCurrent)
				a.rd.Reset(a.f)
			}
			return
		}
		if bytes.Contains(line, []byte(`"uri":"/spa`)) && bytes.Contains(line, []byte(`"status":200`)) {
			a.count++
		}
	}
}

// waitFor polls until count reaches n or the timeout passes; it returns when it got there.
func (a *accessCounter) waitFor(n int, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		a.poll()
		if a.count >= n {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Now(), false
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

// stormFleet is the fleet child process.
type stormFleet struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	mu  *sync.Mutex
}

// startStormFleet runs `spa900 fleet` with args as a child process; the test stops it.
func startStormFleet(b *testing.B, args []string) *stormFleet {
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
	f := &stormFleet{cmd: cmd, out: new(bytes.Buffer), mu: new(sync.Mutex)}
	w := &lockedWriter{w: f.out, mu: f.mu}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.stop(b) })
	return f
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// output returns what the fleet printed so far.
func (f *stormFleet) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
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

// lastLines returns the last n lines the fleet printed, for failure messages.
func (f *stormFleet) lastLines(n int) string {
	lines := strings.Split(strings.TrimSpace(f.output()), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// getAll sends GET to every URL, conc at a time, and returns how many failed.
func getAll(urls []string, ips []netip.Addr, conc int) int {
	var next, failed atomic.Int64
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
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(failed.Load())
}

// BenchmarkProvisioningStorm is issue 10's table, on this machine, in one run: the bare
// client, the boot storm of a fresh fleet, the bare client, a re-triggered storm (every
// phone's /admin/resync), the bare client again. Resyncs per second count the profile
// fetches nginx answered; the ratio divides by the mean of the bare client's runs.
func BenchmarkProvisioningStorm(b *testing.B) {
	n := stormPhones(b)
	macs, ips := stormMACs(n), stormIPs(n)
	ng := stormServer(b, macs)
	urls := make([]string, n)
	for i, mac := range macs {
		urls[i] = ng.HTTPURL("/spa" + mac + ".xml")
	}
	webPort := provtest.FreeTCPPort(b)
	for b.Loop() {
		counter := newAccessCounter(b, ng.AccessLogFile)
		var bare []float64
		bareRun := func() {
			bare = append(bare, bareFetch(b, urls, ips, 64))
			counter.poll()
			counter.count -= n // the bare client's fetches are not the fleet's
		}
		bareRun()

		ngCPU0 := cpuSeconds(ng.PID)
		start := time.Now()
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", stormFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-level", "warn",
			"--set", "Profile_Rule=" + ng.HTTPURL("/spa$MA.xml"), "--set", "Resync_Random_Delay=0"})
		at, ok := counter.waitFor(n, 5*time.Minute)
		if !ok {
			b.Fatalf("boot storm: %d of %d phones fetched; fleet said:\n%s", counter.count, n, fleet.lastLines(20))
		}
		bootRate := float64(n) / at.Sub(start).Seconds()
		bootCPU, bootNg := cpuSeconds(fleet.cmd.Process.Pid), cpuSeconds(ng.PID)-ngCPU0
		bareRun()

		resync := make([]string, n)
		for i, ip := range ips {
			resync[i] = "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(webPort)) + "/admin/resync"
		}
		ngCPU0, cpu0 := cpuSeconds(ng.PID), cpuSeconds(fleet.cmd.Process.Pid)
		start = time.Now()
		if failed := getAll(resync, ips, 64); failed > 0 {
			b.Fatalf("re-trigger: %d of %d /admin/resync requests failed", failed, n)
		}
		at, ok = counter.waitFor(2*n, 5*time.Minute)
		if !ok {
			b.Fatalf("re-triggered storm: %d of %d phones fetched; fleet said:\n%s", counter.count-n, n, fleet.lastLines(20))
		}
		againRate := float64(n) / at.Sub(start).Seconds()
		againCPU, againNg := cpuSeconds(fleet.cmd.Process.Pid)-cpu0, cpuSeconds(ng.PID)-ngCPU0
		bareRun()
		fleet.stop(b)

		mean := (bare[0] + bare[1] + bare[2]) / 3
		b.ReportMetric(bootRate, "boot-resyncs/s")
		b.ReportMetric(againRate, "retrigger-resyncs/s")
		b.ReportMetric(mean, "bare-fetches/s")
		b.ReportMetric(bootRate/mean, "boot/bare")
		b.ReportMetric(againRate/mean, "retrigger/bare")
		b.Logf("%d phones: bare %.0f, %.0f, %.0f fetches/s; boot storm %.0f resyncs/s (%.2f of bare; fleet %.1f CPU-s : nginx %.2f); "+
			"re-triggered %.0f resyncs/s (%.2f of bare; fleet %.1f CPU-s : nginx %.2f)",
			n, bare[0], bare[1], bare[2], bootRate, bootRate/mean, bootCPU, bootNg, againRate, againRate/mean, againCPU, againNg)
	}
}

// BenchmarkFleetStart is the time from starting `spa900 fleet` on a fresh data directory
// until every phone serves its pages (GET / answers 200), swept from outside.
func BenchmarkFleetStart(b *testing.B) {
	n := stormPhones(b)
	ips := stormIPs(n)
	webPort := provtest.FreeTCPPort(b)
	pages := make([]string, n)
	for i, ip := range ips {
		pages[i] = "http://" + net.JoinHostPort(ip.String(), strconv.Itoa(webPort)) + "/"
	}
	for b.Loop() {
		start := time.Now()
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", stormFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-level", "warn", "--set", "Provision_Enable=No"})
		todo := pages
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		for len(todo) > 0 && ctx.Err() == nil {
			var mu sync.Mutex
			var left []string
			var next atomic.Int64
			var wg sync.WaitGroup
			for range 64 {
				wg.Go(func() {
					c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
					for {
						i := int(next.Add(1) - 1)
						if i >= len(todo) {
							return
						}
						resp, err := c.Get(todo[i])
						if err == nil {
							io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						if err != nil || resp.StatusCode != http.StatusOK {
							mu.Lock()
							left = append(left, todo[i])
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			todo = left
		}
		cancel()
		if len(todo) > 0 {
			b.Fatalf("%d of %d phones do not serve their pages after 2 minutes; fleet said:\n%s", len(todo), n, fleet.lastLines(20))
		}
		d := time.Since(start)
		fleet.stop(b)
		b.ReportMetric(d.Seconds(), "s-to-serve")
		b.Logf("%d fresh phones serve their pages %.2f s after the start", n, d.Seconds())
	}
}
