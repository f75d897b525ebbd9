package main

// The registration benchmarks of issue 11 from a full phone process: `spa900 fleet` (a child
// of the test binary, as in the storm harness) of 250 SPA942s with their 4 extensions each,
// 1,000 accounts registering with digest to one Kamailio on loopback.
//
//	go test -run '^$' -bench 'FleetRegister|FleetIdleExtension' -benchtime 1x -timeout 10m ./cmd/spa900
//
// BenchmarkFleetRegister drives the registrations as fast as the phones make them: the
// fleet's policy clock runs SPA900_REG_CLOCK times fast (60000 by default), so each extension
// refreshes its 3600 s registration every 0.06 s of real time, far more than one process can
// send; the rate is Kamailio's count of accepted registrations over the window, and the CPU
// is the fleet process's per accepted registration. A phone's refresh answers the last
// challenge again (sip.Config.ReuseNonce), one REGISTER and its 200, where SIPp's scenario
// (sip's BenchmarkRegisterSIPp, on the same Kamailio configuration) sends a REGISTER, takes
// the 401 and sends the REGISTER with digest every time; SPA900_SIP_FRESH_NONCE=1 (the
// fleet's --sip-fresh-nonce) makes the fleet do the same, for a like-for-like comparison.
//
// BenchmarkFleetIdleExtension is what an idle registered extension costs in the full phone:
// the fleet's goroutines and heap in use (its /metrics) with the 1,000 extensions registered,
// less the same fleet with every extension off, per extension.

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/provtest"
	"github.com/spa900/spa900/sip/siptest"
)

// regFleetUsers are the fleet's 1,000 accounts: 250 phones of 4 extensions.
func regFleetUsers() []siptest.User {
	us := make([]siptest.User, 1000)
	for i := range us {
		us[i] = siptest.User{Name: strconv.Itoa(20000 + i), Password: "pw" + strconv.Itoa(20000+i)}
	}
	return us
}

// startRegFleet starts 250 phones whose extensions register to k (all off when !lines);
// listen is the fleet's /metrics address ("" for none).
func startRegFleet(b *testing.B, k *siptest.Kamailio, firstIP string, lines bool, clock, listen string) *stormFleet {
	var yml strings.Builder
	fmt.Fprintf(&yml, "phones:\n  - count: 250\n    ip: %s\n    set:\n", firstIP)
	fmt.Fprintf(&yml, "      Provision_Enable: \"No\"\n      Resync_On_Reset: \"No\"\n")
	for n := 1; n <= 4; n++ {
		if !lines {
			fmt.Fprintf(&yml, "      Line_Enable_%d_: \"No\"\n", n)
			continue
		}
		fmt.Fprintf(&yml, "      Proxy_%d_: %q\n      User_ID_%d_: \"{{20000+4*index+%d}}\"\n      Password_%d_: \"pw{{20000+4*index+%d}}\"\n",
			n, k.Addr, n, n-1, n, n-1)
	}
	path := filepath.Join(b.TempDir(), "fleet.yaml")
	if err := os.WriteFile(path, []byte(yml.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	args := []string{"fleet", "--file", path, "--data", b.TempDir(), "--log-format", "json", "--log-level", "warn",
		"--boot-time", "0s", "--clock-speed", clock}
	if listen != "" {
		args = append(args, "--listen", listen)
	}
	return startStormFleet(b, args)
}

// waitBindings waits until Kamailio has n users registered (its usrloc statistic: a dump of
// a thousand bindings is too big for kamcmd).
func waitBindings(b *testing.B, k *siptest.Kamailio, n int) {
	for deadline := time.Now().Add(3 * time.Minute); k.Stat(b, "usrloc:registered_users") < int64(n); {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d extensions registered", k.Stat(b, "usrloc:registered_users"), n)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func BenchmarkFleetRegister(b *testing.B) {
	clock := "60000"
	if s := os.Getenv("SPA900_REG_CLOCK"); s != "" {
		clock = s
	}
	window := 10 * time.Second
	for range b.N {
		k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: regFleetUsers()})
		f := startRegFleet(b, k, "127.81.0.2", true, clock, "")
		waitBindings(b, k, 1000)
		time.Sleep(2 * time.Second) // past the boot's first registrations, into the refreshes
		cpu0, n0, t0 := procCPU(b, f.cmd.Process.Pid), k.Stat(b, "registrar:accepted_regs"), time.Now()
		time.Sleep(window)
		n1, el, cpu := k.Stat(b, "registrar:accepted_regs"), time.Since(t0), procCPU(b, f.cmd.Process.Pid)-cpu0
		if n0 < 0 || n1 <= n0 {
			b.Fatalf("accepted registrations %d then %d", n0, n1)
		}
		b.ReportMetric(float64(n1-n0)/el.Seconds(), "reg/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n1-n0), "cpu-µs/reg")
	}
}

func BenchmarkFleetIdleExtension(b *testing.B) {
	for range b.N {
		k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: regFleetUsers()})
		measure := func(ip string, lines bool) map[string]float64 {
			listen := "127.0.0.1:" + strconv.Itoa(provtest.FreeTCPPort(b))
			f := startRegFleet(b, k, ip, lines, "1", listen)
			if lines {
				waitBindings(b, k, 1000)
			}
			time.Sleep(5 * time.Second) // settled: boots done, the registrations' transactions over
			m := fleetMetrics(b, listen)
			f.cmd.Process.Kill()
			f.cmd.Wait()
			return m
		}
		on := measure("127.82.0.2", true)
		off := measure("127.83.0.2", false)
		b.ReportMetric((on["go_memstats_heap_inuse_bytes"]-off["go_memstats_heap_inuse_bytes"])/1000, "heap-B/ext")
		b.ReportMetric((on["go_goroutines"]-off["go_goroutines"])/1000, "goroutines/ext")
		b.ReportMetric((on["process_resident_memory_bytes"]-off["process_resident_memory_bytes"])/1000, "rss-B/ext")
	}
}

// fleetMetrics reads the fleet's gauges without labels from its /metrics.
func fleetMetrics(b *testing.B, listen string) map[string]float64 {
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if resp, err = http.Get("http://" + listen + "/metrics"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("fleet /metrics: %v", err)
		}
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") && !strings.Contains(f[0], "{") {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				m[f[0]] = v
			}
		}
	}
	return m
}
