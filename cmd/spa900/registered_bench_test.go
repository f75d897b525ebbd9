package main

// Issue 13's scale figures: a fleet provisioned over HTTP from nginx and registered to
// Kamailio with digest authentication, and a power-cycle storm with the device's default
// Resync_Random_Delay. The fleet is `spa900 fleet` as a child process (storm_test.go's
// harness), so that its memory and CPU time are its own.
//
//	SPA900_STORM_PHONES=10000 go test -run '^$' -bench RegisteredFleet -benchtime 1x -timeout 30m ./cmd/spa900
//	SPA900_STORM_PHONES=1000 go test -run '^$' -bench PowerCycleSpread -benchtime 1x -timeout 30m ./cmd/spa900

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// benchFirstIP is the first address of these benchmarks' fleets: a range of their own, away
// from the storm harness's and the tests' (other fleets on the machine take 5060 on theirs).
const benchFirstIP = "127.64.0.2"

// registeredProfile is one phone's profile: its account on the registrar, one line.
func registeredProfile(mac, registrar string) []byte {
	user := mac[6:]
	return fmt.Appendf(nil, `<flat-profile>
<Station_Name>spa%s</Station_Name>
<Proxy_1_>%s</Proxy_1_>
<User_ID_1_>%s</User_ID_1_>
<Password_1_>pw-%s</Password_1_>
<Display_Name_1_>Phone %s</Display_Name_1_>
<Register_Expires_1_>3600</Register_Expires_1_>
</flat-profile>
`, mac, registrar, user, user, user)
}

// fleetMetric reads one series of the fleet listener's /metrics (-1 when absent).
func fleetMetric(url, series string) float64 {
	res, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// fleetMetricSum sums the series of /metrics that start with prefix (a name and "{") and says
// which of them were not 0 ("reason=\"timeout\" 3, …").
func fleetMetricSum(url, prefix string) (float64, string) {
	res, err := http.Get(url)
	if err != nil {
		return -1, err.Error()
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	var sum float64
	var parts []string
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		labels, v, _ := strings.Cut(rest, "} ")
		f, _ := strconv.ParseFloat(v, 64)
		if f != 0 {
			sum += f
			parts = append(parts, labels+" "+v)
		}
	}
	return sum, strings.Join(parts, ", ")
}

// BenchmarkRegisteredFleet boots SPA900_STORM_PHONES phones (1,000 by default) on a fresh
// flash, each resyncing at once (Resync_Random_Delay 0) to its per-MAC profile on nginx, which
// gives it an account on Kamailio; it reports the time from the start until every phone is
// registered (the fleet's spa900_registrations, which Kamailio's usrloc count confirms),
// then, the fleet idle, its resident memory per phone and its CPU over 20 s.
func BenchmarkRegisteredFleet(b *testing.B) {
	n := stormPhones(b)
	macs := stormMACs(n)
	users := make([]siptest.User, n)
	for i, mac := range macs {
		users[i] = siptest.User{Name: mac[6:], Password: "pw-" + mac[6:]}
	}
	// Each phone: its web server, a SIP socket, a call's RTP and RTCP (the fleet's default
	// budget), and a transfer in the storm; the limit is raised before the peers start, so
	// that nginx may hold a connection from every phone at once.
	raiseFileLimit(b, uint64(5*n+8192))
	// 10,000 REGISTERs and their challenged repeats come within seconds of each other: with
	// two workers and the default 256 KiB of receive buffer a loaded machine's Kamailio
	// dropped enough of them (and of their retransmissions) that 133-338 phones had no answer
	// in Timer F (32 s) and retried 30 s later. A registrar sized for a building: 8 workers, a
	// 4 MiB buffer (this machine's net.core.rmem_max).
	k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: users, MaxExpires: 3600, PkgMemoryMB: 16 + n/200,
		Children: 8, ReceiveBuffer: 4 << 20})
	// A connection from every phone at once: a worker that runs out of connections closes
	// the new ones, and the phones read "connection closed".
	ng := provtest.StartNginx(b, provtest.Options{WorkerConnections: max(8192, n+1024)})
	for _, mac := range macs {
		if err := os.WriteFile(filepath.Join(ng.Docroot, "spa"+mac+".xml"), registeredProfile(mac, k.Addr), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	webPort := fleetWebPort(b)
	listen := fmt.Sprintf("127.0.0.1:%d", provtest.FreeTCPPort(b))
	for b.Loop() {
		start := time.Now()
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", benchFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-format", "json", "--log-level", "warn",
			"--listen", listen, "--boot-time", "0",
			// An idle fleet that places no calls: no RTP files budgeted, so that 10,000
			// phones fit a hard limit of 20,000 (one web listener, a SIP socket each).
			"--max-calls", "0",
			// A fetch the storm fails is tried again 10 s later, not the factory hour.
			"--set", "Resync_Error_Retry_Delay=10",
			"--set", "Profile_Rule=" + ng.HTTPURL("/spa$MA.xml"), "--set", "Resync_Random_Delay=0",
			"--set", "Line_Enable_2_=No", "--set", "Line_Enable_3_=No", "--set", "Line_Enable_4_=No"})
		metricsURL := "http://" + listen + "/metrics"
		deadline := time.Now().Add(10 * time.Minute)
		var took time.Duration
		var settleCPU float64 // the fleet's CPU time from its start until then
		// Until every phone has registered, or has failed to (its extension Failed: it would
		// try again only after Reg_Retry_Intvl), which the report then counts.
		for {
			reg := fleetMetric(metricsURL, `spa900_registrations{state="registered"}`)
			if reg+max(fleetMetric(metricsURL, `spa900_registrations{state="failed"}`), 0) >= float64(n) {
				took = time.Since(start)
				settleCPU = cpuSeconds(fleet.cmd.Process.Pid)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("not every phone registered in 10 minutes: %v registered; last lines:\n%s",
					fleetMetric(metricsURL, `spa900_registrations{state="registered"}`), fleet.lastLines(20))
			}
			time.Sleep(100 * time.Millisecond) // the scrape is the measurement's own clock
		}
		// The registrar's own count: a dump of thousands of bindings is more than kamcmd's
		// reply can carry (ctl's binrpc_max_body_size).
		registered, contacts := k.Stat(b, "usrloc:registered_users"), k.Stat(b, "usrloc:location_contacts")
		// Idle: nothing is due for an hour (Register_Expires 3600, no periodic resync).
		time.Sleep(5 * time.Second)
		pid := fleet.cmd.Process.Pid
		cpu0, t0 := cpuSeconds(pid), time.Now()
		time.Sleep(20 * time.Second)
		cpu := (cpuSeconds(pid) - cpu0) / time.Since(t0).Seconds()
		rss := rssBytes(pid)
		failed := fleetMetric(metricsURL, `spa900_registration_attempts_total{result="failed"}`)
		regFailed := fleetMetric(metricsURL, `spa900_registrations{state="failed"}`)
		var why []string
		if regFailed > 0 {
			res, err := http.Get("http://" + listen + "/api/v1/fleet?state=failed")
			if err == nil {
				var f struct {
					Phones []struct {
						MAC string `json:"mac"`
					} `json:"phones"`
				}
				json.NewDecoder(res.Body).Decode(&f)
				res.Body.Close()
				for _, p := range f.Phones[:min(len(f.Phones), 3)] {
					st, _ := http.Get("http://" + listen + "/phones/" + p.MAC + "/api/v1/status")
					if st != nil {
						var s struct {
							Extensions []struct {
								LastError string `json:"last_error"`
							} `json:"extensions"`
						}
						json.NewDecoder(st.Body).Decode(&s)
						st.Body.Close()
						if len(s.Extensions) > 0 {
							why = append(why, p.MAC+": "+s.Extensions[0].LastError)
						}
					}
				}
			}
		}
		resyncFailed, byReason := fleetMetricSum(metricsURL, "spa900_resync_failures_total{")
		out := fleet.output()
		firstFailure := ""
		if i := strings.Index(out, `"msg":"resync failed"`); i >= 0 {
			firstFailure = out[strings.LastIndexByte(out[:i], '\n')+1:]
			firstFailure = firstFailure[:strings.IndexByte(firstFailure, '\n')+1]
		}
		fleet.stop(b)
		if byCode, first := registrationFailures(out); first != "" {
			b.Logf("failed registration attempts by code (0: no answer): %v; the first: %s", byCode, first)
		}
		if resyncFailed > 0 {
			b.Logf("%v boot resyncs failed (%s; tried again 10 s later); a failure: %s", resyncFailed, byReason, strings.TrimSpace(firstFailure))
		}
		if regFailed > 0 {
			b.Logf("%v phones failed to register: %s", regFailed, strings.Join(why, "; "))
		}
		b.Logf("%d phones settled %.1f s after the start on %.1f CPU-s (Kamailio: %d users registered, %d contacts; %v failed registration attempts, %v failed resyncs); idle: %.0f KiB RSS a phone (%.0f MiB), %.1f%% of a core",
			n, took.Seconds(), settleCPU, registered, contacts, failed, resyncFailed, float64(rss)/float64(n)/1024, float64(rss)/(1<<20), cpu*100)
		if registered != int64(n) || regFailed > 0 {
			b.Errorf("Kamailio holds %d registered users, the fleet %v failed registrations; want %d and none", registered, regFailed, n)
		}
		b.ReportMetric(took.Seconds(), "s-to-registered")
		b.ReportMetric(settleCPU, "cpu-s-to-registered")
		b.ReportMetric(float64(rss)/float64(n)/1024, "KiB/phone")
		b.ReportMetric(cpu*100, "%core-idle")
	}
}

// registrationFailures counts the fleet's "registration failed" lines by SIP status code
// and returns the first line.
func registrationFailures(out string) (map[int]int, string) {
	byCode := map[int]int{}
	first := ""
	for line := range strings.Lines(out) {
		if !strings.Contains(line, `"msg":"registration failed"`) {
			continue
		}
		var l struct {
			Code int `json:"code"`
		}
		json.Unmarshal([]byte(line), &l)
		byCode[l.Code]++
		if first == "" {
			first = strings.TrimSpace(line)
		}
	}
	return byCode, first
}

// BenchmarkPowerCycleSpread powers a provisioned fleet off and on (SIGHUP) with the device's
// default Resync_Random_Delay (2: a delay drawn up to 40 s, SPA-BEHAVIOUR §4.4) and reports how
// the profile fetches spread over the seconds after the power came back: a histogram of 2 s
// bins, each fetch timed as the harness reads it from nginx's access log (5 ms polls).
func BenchmarkPowerCycleSpread(b *testing.B) {
	n := stormPhones(b)
	macs := stormMACs(n)
	ng := stormServer(b, macs)
	webPort := fleetWebPort(b)
	for b.Loop() {
		log, err := os.Open(ng.AccessLogFile)
		if err != nil {
			b.Fatal(err)
		}
		rd := bufio.NewReaderSize(log, 1<<20)
		var off int64
		// fetches returns the times of the profile fetches read since its last call.
		fetches := func() (ts []time.Time) {
			for {
				line, err := rd.ReadBytes('\n')
				if err != nil {
					log.Seek(off, io.SeekStart)
					rd.Reset(log)
					return ts
				}
				off += int64(len(line))
				if bytes.Contains(line, []byte(`"uri":"/spa`)) && bytes.Contains(line, []byte(`"status":200`)) {
					ts = append(ts, time.Now())
				}
			}
		}
		wait := func(what string, from time.Time) []time.Time {
			var all []time.Time
			deadline := time.Now().Add(3 * time.Minute)
			for len(all) < n {
				all = append(all, fetches()...)
				if time.Now().After(deadline) {
					b.Fatalf("%s: %d of %d phones fetched", what, len(all), n)
				}
				time.Sleep(5 * time.Millisecond)
			}
			return all
		}
		start := time.Now()
		fleet := startStormFleet(b, []string{"fleet", "--count", strconv.Itoa(n), "--ip", benchFirstIP, "--mac", stormFirstMAC,
			"--http-port", strconv.Itoa(webPort), "--data", b.TempDir(), "--log-format", "json", // info: the storm reports
			"--set", "Profile_Rule=" + ng.HTTPURL("/spa$MA.xml")})
		boot := wait("boot", start)
		fleet.waitStormDone(b, 1, 5*time.Minute)
		cycle := time.Now()
		fleet.cmd.Process.Signal(syscall.SIGHUP)
		after := wait("power cycle", cycle)
		fleet.waitStormDone(b, 2, 5*time.Minute)
		fleet.stop(b)
		log.Close()
		for _, s := range []struct {
			name string
			from time.Time
			ts   []time.Time
		}{{"first boot", start, boot}, {"power cycle", cycle, after}} {
			const bin = 2 * time.Second
			hist := make([]int, 0, 24)
			var last time.Duration
			for _, t := range s.ts {
				d := t.Sub(s.from)
				last = max(last, d)
				i := int(d / bin)
				for len(hist) <= i {
					hist = append(hist, 0)
				}
				hist[i]++
			}
			var sb strings.Builder
			peak := 0
			for _, c := range hist {
				peak = max(peak, c)
			}
			for i, c := range hist {
				fmt.Fprintf(&sb, "\n  %2d-%2d s %5d %s", i*2, i*2+2, c, strings.Repeat("#", c*50/max(peak, 1)))
			}
			b.Logf("%s: %d fetches over %.1f s (Resync_Random_Delay 2: up to 40 s, plus the boot):%s", s.name, len(s.ts), last.Seconds(), sb.String())
			if s.name == "power cycle" {
				b.ReportMetric(last.Seconds(), "s-spread")
			}
		}
	}
}
