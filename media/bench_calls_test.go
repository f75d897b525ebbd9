package media

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	benchCalls    = flag.Int("media.calls", 0, "BenchmarkConcurrentCalls: concurrent calls (0: 100, 500 and 1000)")
	benchDuration = flag.Duration("media.duration", 10*time.Second, "BenchmarkConcurrentCalls: measured time after a 2 s warm-up")
	benchAnalyze  = flag.Bool("media.analyze", true, "BenchmarkConcurrentCalls: run the audio analysis on every call")
	benchPacers   = flag.Int("media.pacers", 0, "BenchmarkConcurrentCalls: pacing goroutines per engine (0: GOMAXPROCS)")
	benchRT       = flag.Int("media.rt", 0, "BenchmarkConcurrentCalls: SCHED_FIFO priority of the pacer threads (0: the default policy)")
	benchYield    = flag.String("media.yield", "unlocked", "BenchmarkConcurrentCalls: how the pacers pass through the Go scheduler between slots: none (the runtime preempts them), locked (Gosched on their thread) or unlocked (Gosched unlocked)")
	benchWait     = flag.String("media.wait", "nanosleep", "BenchmarkConcurrentCalls: how the pacers wait for a deadline: timer, nanosleep, nanosleep-holdp (keeping the P while asleep) or spin")
)

// benchWaitMode maps -media.wait to the engine's wait mode.
func benchWaitMode() (int, error) {
	switch *benchWait {
	case "timer":
		return waitTimer, nil
	case "nanosleep":
		return waitNanosleep, nil
	case "spin":
		return waitSpin, nil
	case "nanosleep-holdp":
		return waitNanosleepHoldP, nil
	}
	return 0, fmt.Errorf("-media.wait=%q: want timer, nanosleep, nanosleep-holdp or spin", *benchWait)
}

// benchYieldMode maps -media.yield to the scheduler's yield mode.
func benchYieldMode() (int, error) {
	switch *benchYield {
	case "none":
		return yieldNone, nil
	case "locked":
		return yieldLocked, nil
	case "unlocked":
		return yieldUnlocked, nil
	}
	return 0, fmt.Errorf("-media.yield=%q: want none, locked or unlocked", *benchYield)
}

// benchReport is what each side of the benchmark measured over the window.
type benchReport struct {
	Sent, Recv, Lost, Overruns, Stalls uint64
	Pacing                             [pacingBuckets]uint64
	PacingMax                          time.Duration
	Arrival, Woke, Lag                 [pacingBuckets]uint64 // the receiver's view, the pacers' wake-up lateness, their slots' lateness
	ArrivalMax, WokeMax, LagMax        time.Duration
	RunDelay                           time.Duration // the pacer threads' run-queue wait (schedstat)
	Realtime, Procs                    int           // pacers at the real-time priority; GOMAXPROCS
	Moved                              uint64        // yields after which a pacer resumed on another thread
	GCs                                uint64
	GCPause                            time.Duration // stop-the-world time (runtime/metrics)
	CPU                                time.Duration // user + system of the process
	Switches                           int64         // the process's context switches, voluntary and not (getrusage)
	Faults                             int64         // the process's page faults, minor and major (getrusage)
	Wall                               time.Duration
}

// benchSide is one process of the benchmark: an engine with n sessions sending 1 kHz at
// -20 dBFS to the other process.
type benchSide struct {
	e        *Engine
	sessions []*Session
}

func newBenchSide(n int, base uint16) (*benchSide, error) {
	mode, err := benchWaitMode()
	if err != nil {
		return nil, err
	}
	e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + uint16(4*n) + 200,
		Session: SessionConfig{Analyze: *benchAnalyze}, Seed: uint64(base), Pacers: *benchPacers, RealtimePriority: *benchRT})
	if err != nil {
		return nil, err
	}
	e.sched.waitMode = mode
	if e.sched.yield, err = benchYieldMode(); err != nil {
		e.Close()
		return nil, err
	}
	bs := &benchSide{e: e}
	for i := 0; i < n; i++ {
		s, err := e.Open()
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("session %d: %w", i, err)
		}
		s.Play(NewTestTone(1000, -20), "bench")
		bs.sessions = append(bs.sessions, s)
	}
	return bs, nil
}

func (bs *benchSide) ports() string {
	var b strings.Builder
	for _, s := range bs.sessions {
		b.WriteString(" " + strconv.Itoa(int(s.LocalAddr().Port())))
	}
	return b.String()
}

func (bs *benchSide) start(ports []string) error {
	if len(ports) != len(bs.sessions) {
		return fmt.Errorf("%d ports for %d sessions", len(ports), len(bs.sessions))
	}
	for i, p := range ports {
		port, err := strconv.Atoi(p)
		if err != nil {
			return err
		}
		n := pcmu20
		n.Remote = netip.AddrPortFrom(loopback, uint16(port))
		n.RemoteRTCP = netip.AddrPortFrom(loopback, uint16(port+1))
		if err := bs.sessions[i].Start(n); err != nil {
			return err
		}
		// Spread the calls' phases over the packet time, as calls set up over time are.
		time.Sleep(20 * time.Millisecond / time.Duration(len(ports)))
	}
	return nil
}

// snapshot reads the counters the report subtracts.
func (bs *benchSide) snapshot() benchReport {
	var r benchReport
	for _, s := range bs.sessions {
		st := s.Stats()
		r.Sent += st.PacketsSent
		r.Recv += st.PacketsRecv
		r.Lost += uint64(max(st.PacketsLost, 0))
		r.Overruns += st.Overruns
		r.Stalls += st.Stalls
	}
	r.Pacing, r.PacingMax = bs.e.sched.pacingCounts()
	r.Arrival, r.ArrivalMax = bs.e.sched.histCounts(func(pc *pacer) *pacingHist { return &pc.arrival })
	r.Woke, r.WokeMax = bs.e.sched.histCounts(func(pc *pacer) *pacingHist { return &pc.woke })
	r.Lag, r.LagMax = bs.e.sched.histCounts(func(pc *pacer) *pacingHist { return &pc.lag })
	r.RunDelay = bs.e.sched.runDelay()
	r.GCs, r.GCPause = gcFigures()
	r.Realtime, r.Procs = bs.e.sched.Stats().Realtime, runtime.GOMAXPROCS(0)
	for _, pc := range bs.e.sched.pacers {
		r.Moved += pc.moved.Load()
	}
	r.CPU, r.Switches, r.Faults = cpuTime()
	r.Wall = time.Duration(time.Now().UnixNano())
	return r
}

func (r benchReport) minus(o benchReport) benchReport {
	d := benchReport{Sent: r.Sent - o.Sent, Recv: r.Recv - o.Recv, Lost: r.Lost - o.Lost, Overruns: r.Overruns - o.Overruns,
		Stalls: r.Stalls - o.Stalls, PacingMax: r.PacingMax, CPU: r.CPU - o.CPU, Switches: r.Switches - o.Switches, Faults: r.Faults - o.Faults, Wall: r.Wall - o.Wall,
		ArrivalMax: r.ArrivalMax, WokeMax: r.WokeMax, LagMax: r.LagMax, RunDelay: r.RunDelay - o.RunDelay, GCs: r.GCs - o.GCs, GCPause: r.GCPause - o.GCPause,
		Realtime: r.Realtime, Procs: r.Procs, Moved: r.Moved - o.Moved}
	for i := range d.Pacing {
		d.Pacing[i] = r.Pacing[i] - o.Pacing[i]
		d.Arrival[i] = r.Arrival[i] - o.Arrival[i]
		d.Woke[i] = r.Woke[i] - o.Woke[i]
		d.Lag[i] = r.Lag[i] - o.Lag[i]
	}
	return d
}

func (r benchReport) quantile(q float64) time.Duration {
	return histQuantile(&r.Pacing, q, r.PacingMax)
}

// histQuantile is the upper bound of the bucket holding quantile q.
func histQuantile(h *[pacingBuckets]uint64, q float64, maxErr time.Duration) time.Duration {
	var total uint64
	for _, c := range h {
		total += c
	}
	want := uint64(math.Ceil(q * float64(total)))
	var run uint64
	for i, c := range h {
		run += c
		if run >= want {
			return time.Duration(i+1) * pacingBucket
		}
	}
	return maxErr
}

// gcFigures reads the number of GC cycles and the total stop-the-world pause time.
func gcFigures() (uint64, time.Duration) {
	ms := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/sched/pauses/total/gc:seconds"}}
	metrics.Read(ms)
	var pause float64
	if ms[1].Value.Kind() == metrics.KindFloat64Histogram {
		h := ms[1].Value.Float64Histogram()
		for i, c := range h.Counts {
			lo, hi := h.Buckets[i], h.Buckets[i+1]
			if math.IsInf(hi, 1) {
				hi = lo
			}
			if math.IsInf(lo, -1) {
				lo = hi
			}
			pause += float64(c) * (lo + hi) / 2
		}
	}
	var n uint64
	if ms[0].Value.Kind() == metrics.KindUint64 {
		n = ms[0].Value.Uint64()
	}
	return n, time.Duration(pause * 1e9)
}

// cpuTime is the process's CPU time (user + system), its context switches (a pacer's every
// sleep is one, and each hand-off of a P between threads, the runtime taking the P of a pacer
// asleep in a system call, then giving one back, adds more) and its page faults (a page
// touched for the first time, or given back to the kernel and touched again, stalls whoever
// touches it: on the pacer, the slot).
func cpuTime() (time.Duration, int64, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw, ru.Minflt + ru.Majflt
}

// TestBenchPeer is the far process of BenchmarkConcurrentCalls (it runs only when the
// benchmark starts it).
func TestBenchPeer(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SPA900_MEDIA_BENCH_PEER"))
	if n == 0 {
		t.Skip("the far process of BenchmarkConcurrentCalls; started by it")
	}
	bs, err := newBenchSide(n, 30000)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.e.Close()
	fmt.Println("PORTS" + bs.ports())
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	var start benchReport
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) > 0 && f[0] == "PORTS":
			if err := bs.start(f[1:]); err != nil {
				t.Fatal(err)
			}
			fmt.Println("STARTED")
		case len(f) > 0 && f[0] == "MARK":
			start = bs.snapshot()
			fmt.Println("MARKED")
		case len(f) > 0 && f[0] == "STOP":
			b, _ := json.Marshal(bs.snapshot().minus(start))
			fmt.Println("REPORT " + string(b))
			return
		}
	}
}

// BenchmarkConcurrentCalls runs N calls between this process and a second one on loopback,
// G.711 µ-law at 20 ms, each side sending a 1 kHz tone with the audio analysis on, and reports
// per side the p99 and maximum send-interval error, packets lost, and CPU per call and per
// packet (sent or received), and the process's context switches a second (switches/s).
// Flags choose the pacers (-media.pacers), how they wait (-media.wait
// timer|nanosleep|nanosleep-holdp|spin) and the analysis (-media.analyze). The send-interval
// error is a wall-clock measure: on a machine whose cores other processes hold it measures
// them; CPU per packet (getrusage) does not, and BenchmarkSyscallFloor gives the floor.
//
// The send-interval error is measured twice per side: by the sender, the distance between a
// stream's consecutive packets as each goes to the kernel, minus the packet time (near/far
// p99); and by the receiver, between the kernel's receive timestamps (SO_TIMESTAMPNS) of
// consecutive packets of a stream (the next sequence number, one packet time later in RTP
// time), minus the packet time (rx-p99: what the far side's sender did, as a receiver sees
// it). Each side also logs the evidence for where the error comes from: how late its pacers
// woke for their slots, how long their threads waited runnable for a CPU (schedstat), and the
// GC cycles and stop-the-world time in the window.
//
// -media.rt=N runs the pacers real-time (SCHED_FIFO N, [Scheduler.SetRealtimePriority]);
// with -test.cpu=4 -media.pacers=2 they keep their P while they sleep:
//
//	go test -run '^$' -bench ConcurrentCalls -benchtime 1x ./media -args -media.calls=1000 -media.duration=10s -media.analyze=false
//	go test -run '^$' -bench ConcurrentCalls -benchtime 1x -cpu 4 ./media -args -media.calls=500 -media.pacers=2 -media.rt=10
func BenchmarkConcurrentCalls(b *testing.B) {
	counts := []int{100, 500, 1000}
	if *benchCalls > 0 {
		counts = []int{*benchCalls}
	}
	for _, n := range counts {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for range b.N {
				benchCalls1(b, n)
			}
		})
	}
}

func benchCalls1(b *testing.B, n int) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchPeer$", "-test.v=false", "-media.analyze="+strconv.FormatBool(*benchAnalyze),
		"-media.pacers="+strconv.Itoa(*benchPacers), "-media.rt="+strconv.Itoa(*benchRT), "-media.wait="+*benchWait, "-media.yield="+*benchYield)
	cmd.Env = append(os.Environ(), "SPA900_MEDIA_BENCH_PEER="+strconv.Itoa(n), "GOMAXPROCS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	out.Buffer(make([]byte, 1<<20), 1<<20)
	expect := func(prefix string) string {
		for out.Scan() {
			if line := out.Text(); strings.HasPrefix(line, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(line, prefix))
			}
		}
		b.Fatalf("far process ended before %s", prefix)
		return ""
	}
	bs, err := newBenchSide(n, 20000)
	if err != nil {
		b.Fatal(err)
	}
	defer bs.e.Close()
	far := strings.Fields(expect("PORTS"))
	fmt.Fprintln(stdin, "PORTS"+bs.ports())
	if err := bs.start(far); err != nil {
		b.Fatal(err)
	}
	expect("STARTED")
	time.Sleep(2 * time.Second) // warm-up: the benchmark measures steady state
	fmt.Fprintln(stdin, "MARK")
	expect("MARKED")
	start := bs.snapshot()
	b.ResetTimer()
	time.Sleep(*benchDuration)
	near := bs.snapshot().minus(start)
	fmt.Fprintln(stdin, "STOP")
	var farRep benchReport
	if err := json.Unmarshal([]byte(expect("REPORT")), &farRep); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	secs := near.Wall.Seconds()
	for _, side := range []struct {
		name string
		r    benchReport
	}{{"near", near}, {"far", farRep}} {
		r := side.r
		b.ReportMetric(float64(r.Sent+r.Recv)/secs, side.name+"-pkts/s")
		b.ReportMetric(float64(r.quantile(0.99))/1e3, side.name+"-p99-µs")
		b.ReportMetric(float64(histQuantile(&r.Arrival, 0.99, r.ArrivalMax))/1e3, side.name+"-rx-p99-µs")
		b.ReportMetric(float64(r.Lost), side.name+"-lost")
		b.ReportMetric(float64(r.CPU)/float64(r.Wall)/float64(n)*100, side.name+"-%cpu/call")
		b.ReportMetric(float64(r.CPU.Nanoseconds())/1e3/float64(max(r.Sent+r.Recv, 1)), side.name+"-cpu-µs/packet")
		b.ReportMetric(float64(r.Switches)/r.Wall.Seconds(), side.name+"-switches/s")
		b.ReportMetric(float64(r.LagMax)/1e3, side.name+"-lag-max-µs")
		b.Logf("%s: %d calls, sent %d recv %d in %.1fs; lost %d, overruns %d, stalls %d; send-interval error p50 %v p99 %v max %v; CPU %.1f%% of a core (%.3f%% per call)",
			side.name, n, r.Sent, r.Recv, r.Wall.Seconds(), r.Lost, r.Overruns, r.Stalls, r.quantile(0.5), r.quantile(0.99), r.PacingMax,
			100*float64(r.CPU)/float64(r.Wall), 100*float64(r.CPU)/float64(r.Wall)/float64(n))
		b.Logf("%s: as received (kernel timestamps of the other side's packets): p50 %v p99 %v max %v; pacer wake-up lateness p50 %v p99 %v p99.9 %v max %v; slot work began late p99 %v p99.9 %v max %v; %d pacers (%d real-time, GOMAXPROCS %d, yield %s, moved %d) runnable-waiting %v (%.1f%% of wall per thread); %d GCs, %v stopped; %d page faults",
			side.name, histQuantile(&r.Arrival, 0.5, r.ArrivalMax), histQuantile(&r.Arrival, 0.99, r.ArrivalMax), r.ArrivalMax,
			histQuantile(&r.Woke, 0.5, r.WokeMax), histQuantile(&r.Woke, 0.99, r.WokeMax), histQuantile(&r.Woke, 0.999, r.WokeMax), r.WokeMax,
			histQuantile(&r.Lag, 0.99, r.LagMax), histQuantile(&r.Lag, 0.999, r.LagMax), r.LagMax,
			len(bs.e.sched.pacers), r.Realtime, r.Procs, *benchYield, r.Moved, r.RunDelay, 100*float64(r.RunDelay)/float64(r.Wall)/float64(len(bs.e.sched.pacers)), r.GCs, r.GCPause, r.Faults)
	}
}
