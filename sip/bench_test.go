package sip_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/sip"
	"github.com/spa900/spa900/sip/siptest"
)

// benchUsers are 1,000 accounts: 250 phones of 4 extensions each.
func benchUsers() []siptest.User {
	us := make([]siptest.User, 1000)
	for i := range us {
		us[i] = siptest.User{Name: fmt.Sprint(20000 + i), Password: fmt.Sprint("pw", 20000+i)}
	}
	return us
}

// benchAgents starts one agent per user, sharing a counter set per phone of four.
func benchAgents(b *testing.B, k *siptest.Kamailio, users []siptest.User) []*sip.Agent {
	b.Helper()
	agents := make([]*sip.Agent, len(users))
	var counters *sip.Counters
	for i, u := range users {
		if i%4 == 0 {
			counters = &sip.Counters{}
		}
		a, err := sip.NewAgent(sip.Config{Ext: i%4 + 1, IP: netip.MustParseAddr("127.0.0.1"), Proxy: k.Addr,
			UserID: u.Name, Password: u.Password, UserAgent: "Linksys/SPA942-5.1.10", Counters: counters,
			TimerF: 16 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			b.Fatal(err)
		}
		go a.Run(context.Background())
		b.Cleanup(func() { a.Close() })
		agents[i] = a
	}
	return agents
}

// BenchmarkRegisterKamailio: REGISTER with digest (401, then 200) per second from one process
// against Kamailio on loopback, 1,000 extensions of 250 phones registering concurrently.
//
//	go test -run '^$' -bench BenchmarkRegister -benchtime 20000x ./sip/
func BenchmarkRegisterKamailio(b *testing.B) {
	k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: benchUsers()})
	agents := benchAgents(b, k, benchUsers())
	var next, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if _, err := a.Register(context.Background(), time.Hour); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "reg/s")
	b.ReportMetric(float64(failed.Load()), "failed")
}

// BenchmarkRegisterSIPp is the same exchange driven by SIPp against the same Kamailio setup,
// for comparison: -r 10000 and up to 1,000 registrations in flight.
func BenchmarkRegisterSIPp(b *testing.B) {
	users := benchUsers()
	k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: users})
	var csv strings.Builder
	csv.WriteString("SEQUENTIAL\n")
	for _, u := range users {
		fmt.Fprintf(&csv, "%s;[authentication username=%s password=%s]\n", u.Name, u.Name, u.Password)
	}
	inf := filepath.Join(b.TempDir(), "users.csv")
	if err := os.WriteFile(inf, []byte(csv.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	res := siptest.RunSIPp(b, siptest.SIPpRun{Scenario: "register.xml", Target: k.Addr, Calls: b.N,
		Args: []string{"-inf", inf, "-r", "10000", "-l", "1000"}, Timeout: 10 * time.Minute})
	el := time.Since(start)
	b.StopTimer()
	if res.Err != nil {
		b.Fatalf("sipp: %v\n%s", res.Err, res.Output)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "reg/s")
	b.ReportMetric(float64(res.CPU.Microseconds())/float64(b.N), "cpu-µs/reg")
}

// BenchmarkIdleExtension measures what one idle registered extension costs: heap and
// goroutines per agent, 1,000 agents registered to Kamailio.
//
//	go test -run '^$' -bench BenchmarkIdleExtension -benchtime 1x ./sip/
func BenchmarkIdleExtension(b *testing.B) {
	users := benchUsers()
	k := siptest.StartKamailio(b, siptest.KamailioOptions{Users: users})
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		agents := benchAgents(b, k, users)
		for _, a := range agents {
			if _, err := a.Register(context.Background(), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		g1 := runtime.NumGoroutine()
		n := float64(len(agents))
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc+m1.StackInuse-m0.StackInuse)/n, "B/ext")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/ext")
		for _, a := range agents {
			a.Close()
		}
	}
}

// BenchmarkIdleLine measures what one enabled extension without a proxy costs while nothing
// reaches it (the factory default of a fleet's lines: each still listens for direct IP
// calls): heap and stack in use and goroutines per agent, 1,000 agents serving, each on a
// goroutine of its own (Run) or all waiting in one IdleWatch (Start, as in a fleet).
//
//	go test -run '^$' -bench BenchmarkIdleLine -benchtime 1x ./sip/
func BenchmarkIdleLine(b *testing.B) {
	b.Run("run", func(b *testing.B) { benchIdleLines(b, nil) })
	b.Run("watched", func(b *testing.B) {
		w, err := sip.NewIdleWatch()
		if err != nil {
			b.Skip(err)
		}
		defer w.Close()
		benchIdleLines(b, w)
	})
}

func benchIdleLines(b *testing.B, w *sip.IdleWatch) {
	const n = 1000
	ip := netip.MustParseAddr("127.0.0.1")
	for range b.N {
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		g0 := runtime.NumGoroutine()
		agents := make([]*sip.Agent, n)
		ended := make(chan error, n)
		var counters *sip.Counters
		for i := range agents {
			if i%4 == 0 {
				counters = &sip.Counters{}
			}
			a, err := sip.NewAgent(sip.Config{Ext: i%4 + 1, IP: ip, UserID: fmt.Sprint(20000 + i),
				UserAgent: "Linksys/SPA942-5.1.10", Counters: counters, Idle: w, Logger: zap.NewNop()})
			if err != nil {
				b.Fatal(err)
			}
			if w != nil {
				a.Start(func(err error) { ended <- err })
			} else {
				go a.Run(context.Background())
			}
			agents[i] = a
		}
		for w == nil && runtime.NumGoroutine() < g0+n {
			runtime.Gosched() // every agent's Run started: its goroutine counted, not waited on by time
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		g1 := runtime.NumGoroutine()
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc+m1.StackInuse-m0.StackInuse)/n, "B/line")
		b.ReportMetric(float64(m1.StackInuse-m0.StackInuse)/n, "stack-B/line")
		b.ReportMetric(float64(g1-g0)/n, "goroutines/line")
		for _, a := range agents {
			a.Close()
		}
	}
}
