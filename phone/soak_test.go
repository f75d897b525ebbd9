package phone

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// The soak: a fleet of phones on manual policy clocks lives through simulated days of
// periodic resyncs and retries against a provisioning server that answers badly on purpose
// (404, 500, stalls, truncated bodies, garbage) from a seeded plan. The server notes every
// request at the phone's policy time; afterwards every interval between two attempts is
// checked against what the device's rules predict from the attempt before it
// (SPA-BEHAVIOUR §2.3, §4.3, §4.4): Resync_Periodic after a success, Resync_Error_Retry_Delay
// at the retry index after a failure, the index reset by a success, Resync_Random_Delay before
// the first. After every attempt the phone must hold the values of the last good answers
// (DECISIONS 8: a bad answer changes nothing), and goroutines and heap are sampled at fixed
// simulated intervals and must stay flat.
//
// Each phone has its own manual clock, driven by its own goroutine: the driver moves the
// clock to the instant the phone says its next resync is due, waits for that resync's
// result and reads the status (which waits for the loop's turn, so the phone's timer is
// armed again before the clock moves). Policy time stands still during a fetch, so an
// interval is exactly the schedule's delay, to the second, and a server stall (which the
// phone ends by its real-time fetch timeout) delays only its own phone's timeline. The rule
// URLs carry $UPGTMR (seconds since boot: no upgrade runs), which names the attempt a request
// belongs to however late it reaches the server; an answer the phone gave up on although the
// server sent it (a machine too loaded for the fetch timeout) counts as what the phone lived
// through, a timeout, and is reported as "lost to load".

// soakFault is what the server answers to one request.
type soakFault int

const (
	faultGood soakFault = iota
	faultNotFound
	faultServerError
	faultStall
	faultTruncated
	faultGarbage
	// faultLost is an answer the phone gave up on before it had it all, although the
	// server sent it: a machine too loaded for the fetch timeout. The phone's timeout is
	// then what it lived through, and the rules are checked against that.
	faultLost
	soakFaults // the number of kinds
)

func (f soakFault) String() string {
	switch f {
	case faultGood:
		return "good"
	case faultNotFound:
		return "404"
	case faultServerError:
		return "500"
	case faultStall:
		return "stall"
	case faultTruncated:
		return "truncated"
	case faultGarbage:
		return "garbage"
	case faultLost:
		return "lost to load"
	}
	return "fault" + strconv.Itoa(int(f))
}

// soakConfig sizes a soak.
type soakConfig struct {
	phones int
	length time.Duration // of policy time
	sample time.Duration // heap and goroutines are sampled this often (policy time)
	seed   uint64
	// weights of each kind of answer, in any unit.
	weights [soakFaults]int
	// fetchTimeout is the phones' real-time fetch timeout: how long a stall costs.
	fetchTimeout time.Duration
	// parallel bounds the phones in an attempt at once, so that a fetch's real time stays far
	// below fetchTimeout however many phones there are (a fetch that times out on a good
	// answer is one the server cannot tell from its stall).
	parallel int
}

// soakStep is one element of a schedule: Base seconds plus up to Random more (SPA-BEHAVIOUR
// §4.3).
type soakStep struct{ base, random int }

// soakSchedule is a pair of schedules a phone runs: Resync_Periodic and
// Resync_Error_Retry_Delay, each a list whose last element repeats.
type soakSchedule struct{ periodic, retry []soakStep }

func formatSteps(steps []soakStep) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = strconv.Itoa(s.base)
		if s.random > 0 {
			parts[i] += "+" + strconv.Itoa(s.random)
		}
	}
	return strings.Join(parts, ",")
}

// soakSchedules are the schedules phones start with and good profiles switch between: exact
// ones (an interval must match to the second) and ones with random parts (an interval must
// fall within the element's range, in whole seconds).
func soakSchedules() []soakSchedule {
	return []soakSchedule{
		{periodic: []soakStep{{3600, 0}}, retry: []soakStep{{30, 0}, {60, 0}, {120, 0}, {300, 0}, {600, 0}}},
		{periodic: []soakStep{{1800, 0}, {3600, 0}, {7200, 0}}, retry: []soakStep{{300, 0}}},
		{periodic: []soakStep{{3600, 600}}, retry: []soakStep{{60, 30}, {300, 60}, {900, 0}}},
		{periodic: []soakStep{{900, 0}}, retry: []soakStep{{45, 0}, {90, 0}, {180, 0}, {3600, 60}}},
		{periodic: []soakStep{{7200, 0}}, retry: []soakStep{{120, 0}, {240, 0}, {480, 0}, {960, 0}, {1920, 0}}},
	}
}

// soakRequest is one request the server answered.
type soakRequest struct {
	at time.Time // the phone's policy time as the server read it
	// tag is the attempt the phone says the request is of: its $UPGTMR, seconds since boot
	// (no upgrade runs), which the rules put in the URL. A request the phone gave up on
	// may reach the server after the attempt's result: the tag files it where it belongs.
	tag   int
	file  byte // 'a' (Profile_Rule) or 'b' (Profile_Rule_B)
	fault soakFault
	// gpp and sched are what a good answer carried: the GPP_A or GPP_B value and (file a)
	// the schedules (an index in soakSchedules).
	gpp   string
	sched int
}

// soakRecord is what the server knows of one phone.
type soakRecord struct {
	clock *ManualClock
	boot  time.Time // when it booted, on its clock
	rrd   int       // the phone's Resync_Random_Delay
	// requests are those of the attempt running now: the driver checks them as it ends and
	// forgets them, so that the server's memory stays flat as the phones' must.
	requests []soakRequest
	served   int // requests answered in all
	// The values of the last good answers the phone had: what it must hold.
	gppA, gppB string

	// What the device's rules make of the attempts so far (see check).
	attempts              int
	sched                 int // the schedules in force; at boot the phone's defaults
	periodicIdx, retryIdx int
	prev                  time.Time
	prevOK                bool
}

// soakServer is the hostile provisioning server. Its plan is a function of the seed, the
// phone and the request's number, so a run is the same whatever the goroutines' order.
type soakServer struct {
	cfg   soakConfig
	total int
	ctx   context.Context // ends the stalls of a test that stops

	mu     sync.Mutex
	phones map[string]*soakRecord // by MAC; the map is built before the server runs
	faults [soakFaults]int
}

func (s *soakServer) pick(rng *rand.Rand) soakFault {
	n := rng.IntN(s.total)
	for f, w := range s.cfg.weights {
		if n < w {
			return soakFault(f)
		}
		n -= w
	}
	return faultGood
}

// ServeHTTP answers GET /{mac}/{a|b}.xml.
func (s *soakServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mac, file, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	tag, err := strconv.Atoi(r.URL.Query().Get("t"))
	s.mu.Lock()
	rec := s.phones[mac]
	if rec == nil || (file != "a.xml" && file != "b.xml") || err != nil {
		s.mu.Unlock()
		http.Error(w, "not a soak phone", http.StatusBadRequest)
		return
	}
	n := rec.served
	rec.served++
	rng := rand.New(rand.NewPCG(s.cfg.seed, macSeedString(mac)<<20|uint64(n)))
	req := soakRequest{at: rec.clock.Now(), tag: tag, file: file[0], fault: s.pick(rng), sched: rec.sched}
	var body []byte
	if req.fault == faultGood {
		// Most good answers repeat the values the phone has; a third bring new ones, and one
		// in twenty of Profile_Rule's other schedules.
		req.gpp = fmt.Sprintf("%c%d", req.file, n)
		if req.file == 'a' {
			if rng.IntN(3) != 0 && rec.gppA != "" {
				req.gpp = rec.gppA
			}
			if rng.IntN(20) == 0 {
				req.sched = rng.IntN(len(soakSchedules()))
			}
			sch := soakSchedules()[req.sched]
			body = fmt.Appendf(nil, "<flat-profile>\n<GPP_A>%s</GPP_A>\n<Resync_Periodic>%s</Resync_Periodic>\n<Resync_Error_Retry_Delay>%s</Resync_Error_Retry_Delay>\n</flat-profile>\n",
				req.gpp, formatSteps(sch.periodic), formatSteps(sch.retry))
		} else {
			if rng.IntN(3) != 0 && rec.gppB != "" {
				req.gpp = rec.gppB
			}
			body = fmt.Appendf(nil, "<flat-profile><GPP_B>%s</GPP_B></flat-profile>\n", req.gpp)
		}
	}
	rec.requests = append(rec.requests, req)
	s.faults[req.fault]++
	s.mu.Unlock()

	switch req.fault {
	case faultGood:
		w.Header().Set("Content-Type", "text/xml")
		w.Write(body)
	case faultNotFound:
		http.NotFound(w, r)
	case faultServerError:
		http.Error(w, "internal server error", http.StatusInternalServerError)
	case faultStall:
		if rng.IntN(2) == 0 { // headers and part of the body, then nothing
			w.Header().Set("Content-Length", "4096")
			w.Write([]byte("<flat-profile><GPP_A>stall"))
			w.(http.Flusher).Flush()
		}
		select { // until the phone gives up
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	case faultTruncated:
		full := []byte(`<flat-profile><GPP_A>truncated</GPP_A><GPP_B>truncated</GPP_B></flat-profile>`)
		w.Header().Set("Content-Length", strconv.Itoa(len(full)))
		w.Write(full[:len(full)/2]) // the server closes the connection after a short body
	case faultGarbage:
		w.Header().Set("Content-Type", "text/xml")
		w.Write(soakGarbage(rng))
	}
}

// soakGarbage is a 200 answer that is no profile: random bytes, XML with mismatched tags,
// a web server's HTML page, or a gzip stream cut short.
func soakGarbage(rng *rand.Rand) []byte {
	switch rng.IntN(4) {
	case 0:
		b := make([]byte, 64+rng.IntN(2048))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	case 1:
		return []byte(`<flat-profile><GPP_A>garbage</GPP_B></flat-profile>`)
	case 2:
		return []byte("<html><head><title>Welcome to nginx!</title></head><body><h1>Welcome</h1></body></html>\n")
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte(`<flat-profile><GPP_A>garbage</GPP_A></flat-profile>`), 40))
	zw.Close()
	return buf.Bytes()[:buf.Len()/2]
}

func macSeedString(mac string) uint64 {
	m, err := ParseMAC(mac)
	if err != nil {
		return 0
	}
	return macSeed(m)
}

// soakSample is the process at one instant of the soak.
type soakSample struct {
	at                   time.Duration // of policy time since the start
	goroutines           int
	heapAlloc, heapInuse uint64
	attempts, requests   int
	elapsed              time.Duration // real time since the phones booted
	busBytes, busEvents  int           // what the phones' event buses keep, together
}

// soakReport is what a soak measured.
type soakReport struct {
	samples       []soakSample
	attempts      int
	exact, ranged int // intervals checked to the second, and within a random range
	afterFailure  int // of those, retries after a failure
	faults        [soakFaults]int
	configChecks  int
	late          int // requests that reached the server after their attempt's result
	wall          time.Duration
	errors        []string
}

// runSoak runs a soak and checks it; its failures are in the report's errors.
func runSoak(tb testing.TB, cfg soakConfig) *soakReport {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	srv := &soakServer{cfg: cfg, ctx: ctx, phones: map[string]*soakRecord{}}
	for _, w := range cfg.weights {
		srv.total += w
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	db, err := config.OpenFlashDB(filepath.Join(tb.TempDir(), "flash.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	scheds := soakSchedules()
	opts := make([]Options, cfg.phones)
	macs := make([]string, cfg.phones)
	for i := range opts {
		mac := fmt.Sprintf("000e08%06x", 0x500000+i)
		rec := &soakRecord{clock: NewManualClock(start), boot: start, rrd: i % 7, sched: i % len(scheds), prev: start}
		srv.phones[mac] = rec
		macs[i] = mac
		sch := scheds[rec.sched]
		sets := []string{
			config.ProfileRule, hs.URL + "/$MA/a.xml?t=$UPGTMR",
			config.ProfileRuleB, hs.URL + "/$MA/b.xml?t=$UPGTMR",
			config.ResyncRandomDelay, strconv.Itoa(rec.rrd),
			config.ResyncPeriodic, formatSteps(sch.periodic),
			config.ResyncErrorRetryDelay, formatSteps(sch.retry),
		}
		for n := 1; n <= 4; n++ { // provisioning only: no SIP sockets, no registrar
			sets = append(sets, config.ExtName(config.LineEnable, n), "No")
		}
		opts[i] = Options{
			Flash: db.Flash(mac), MAC: mac, IP: "127.0.0.1", Clock: rec.clock, Seed: cfg.seed + uint64(i) + 1,
			Defaults: defaults(sets...), BootTime: time.Millisecond, EventHistoryBytes: 32 << 10,
			Provisioning: ProvisioningOptions{FetchTimeout: cfg.fetchTimeout},
		}
	}
	f, err := NewFleet(opts, zap.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	rep := &soakReport{}
	var errMu sync.Mutex
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(rep.errors) < 50 {
			rep.errors = append(rep.errors, fmt.Sprintf(format, args...))
		}
	}
	// Subscribed before the phones run: a phone without a boot delay resyncs as it boots.
	subs := make([]<-chan Event, cfg.phones)
	for i, u := range f.Units() {
		subs[i] = u.Bus().SubscribeQueue(ctx, 0, 64)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- f.Run(ctx) }()

	samples := int(cfg.length / cfg.sample)
	arrived := make(chan struct{}, cfg.phones)
	release := make([]chan struct{}, samples)
	for i := range release {
		release[i] = make(chan struct{})
	}
	var drivers sync.WaitGroup
	slots := make(chan struct{}, max(cfg.parallel, 1))
	realStart := time.Now()
	for i, u := range f.Units() {
		drivers.Go(func() {
			d := &soakDriver{u: u, rec: srv.phones[macs[i]], srv: srv, events: subs[i], ctx: ctx, fail: fail, rep: rep, slots: slots,
				timeout: 20*time.Second + 4*cfg.fetchTimeout}
			d.run(start, cfg.sample, samples, arrived, release)
		})
	}
	for k := range samples {
		for range cfg.phones {
			select {
			case <-arrived:
			case <-time.After(10 * time.Minute):
				tb.Fatalf("soak: the phones did not reach %v of policy time", time.Duration(k+1)*cfg.sample)
			}
		}
		rep.samples = append(rep.samples, srv.sample(time.Duration(k+1)*cfg.sample, f, time.Since(realStart)))
		close(release[k])
	}
	drivers.Wait()
	rep.wall = time.Since(realStart)
	cancel()
	if err := <-runDone; err != nil {
		fail("fleet: %v", err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	lost := rep.faults[faultLost]
	rep.faults = srv.faults
	rep.faults[faultLost] = lost
	for _, mac := range macs {
		// What the phone keeps over a reboot is what it holds: the last good values.
		rec := srv.phones[mac]
		fl, err := db.Flash(mac).Load()
		switch {
		case err != nil:
			fail("%s: flash: %v", mac, err)
		case fl.Values["GPP_A"] != rec.gppA || fl.Values["GPP_B"] != rec.gppB:
			fail("%s: flash holds GPP_A %q GPP_B %q, the last good answers gave %q %q", mac, fl.Values["GPP_A"], fl.Values["GPP_B"], rec.gppA, rec.gppB)
		}
	}
	return rep
}

// sample measures the process with every phone standing at the same policy instant and no
// fetch running.
func (s *soakServer) sample(at time.Duration, f *Fleet, elapsed time.Duration) soakSample {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	sm := soakSample{at: at, goroutines: runtime.NumGoroutine(), heapAlloc: ms.HeapAlloc, heapInuse: ms.HeapInuse, elapsed: elapsed}
	for _, u := range f.Units() {
		b, n := u.Bus().KeptBytes()
		sm.busBytes += b
		sm.busEvents += n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.phones {
		sm.requests += rec.served
		sm.attempts += rec.attempts
	}
	return sm
}

// soakDriver moves one phone through the soak.
type soakDriver struct {
	u       *Unit
	rec     *soakRecord
	srv     *soakServer
	events  <-chan Event
	last    uint64
	ctx     context.Context
	fail    func(string, ...any)
	rep     *soakReport   // counted into under the server's lock
	slots   chan struct{} // one taken for each attempt (soakConfig.parallel)
	timeout time.Duration // real time a resync may take (a stall's fetch timeout included)
}

// run drives the phone through samples periods of policy time, stopping at the end of each
// until release says go on.
func (d *soakDriver) run(start time.Time, period time.Duration, samples int, arrived chan<- struct{}, release []chan struct{}) {
	mac := d.u.Status().MAC
	clock := d.rec.clock
	reached := 0
	defer func() { // a driver that gave up still counts at every sample, so that the soak ends
		for ; reached < samples; reached++ {
			arrived <- struct{}{}
		}
	}()
	if err := d.waitFor(func(e Event) bool { return e.Kind == EventBoot }); err != nil {
		d.fail("%s: %v", mac, err)
		return
	}
	for k := range samples {
		end := start.Add(time.Duration(k+1) * period)
		for {
			st := d.u.Status() // waits for the loop's turn: its timer is armed
			ps := st.Provisioning
			due := ps.State != "idle" || (ps.NextResync != nil && !ps.NextResync.After(end))
			if !due {
				if ps.NextResync == nil {
					d.fail("%s: no resync scheduled at %v (last result %s)", mac, clock.Now().Sub(start), ps.LastResult)
					return
				}
				break
			}
			d.slots <- struct{}{}
			if ps.State == "idle" {
				clock.Advance(ps.NextResync.Sub(clock.Now()))
			}
			var res Event
			err := d.waitFor(func(e Event) bool {
				if e.Kind == EventResyncResult {
					res = e
					return true
				}
				return false
			})
			<-d.slots
			if err != nil {
				d.fail("%s: at %v: %v", mac, clock.Now().Sub(start), err)
				return
			}
			d.checkAttempt(mac, res, d.u.Status())
		}
		clock.Advance(end.Sub(clock.Now()))
		d.u.Status() // the loop has seen the time
		arrived <- struct{}{}
		reached++
		select {
		case <-release[k]:
		case <-d.ctx.Done():
			return
		}
	}
}

// checkAttempt checks one resync as it ends: the server saw it, at the instant the rules
// predict; its result is the one the server's answers make; and the phone holds the last
// good values.
func (d *soakDriver) checkAttempt(mac string, res Event, st *Status) {
	d.srv.mu.Lock()
	defer d.srv.mu.Unlock()
	rec := d.rec
	reqs := slices.Clone(rec.requests)
	ok := d.srv.check(mac, rec, res, d.rep, d.fail) // keeps only the requests of later attempts
	want := "failure"
	if ok {
		want = "success"
	}
	if got := res.Data["result"]; got != want {
		d.fail("%s: resync %d: %v, want %s (answers: %v; $ERR %v)", mac, rec.attempts, got, want, reqs, res.Data["err"])
	}
	gppA, gppB := st.Config.Get("GPP_A"), st.Config.Get("GPP_B")
	if gppA != rec.gppA || gppB != rec.gppB {
		d.fail("%s: after resync %d (%v) the phone holds GPP_A %q GPP_B %q, the last good answers gave %q %q",
			mac, rec.attempts, reqs, gppA, gppB, rec.gppA, rec.gppB)
	}
	sch := soakSchedules()[rec.sched]
	if st.Config.Get(config.ResyncPeriodic) != formatSteps(sch.periodic) || st.Config.Get(config.ResyncErrorRetryDelay) != formatSteps(sch.retry) {
		d.fail("%s: after resync %d the phone's schedules are %q and %q, the last good answer gave %q and %q", mac, rec.attempts,
			st.Config.Get(config.ResyncPeriodic), st.Config.Get(config.ResyncErrorRetryDelay), formatSteps(sch.periodic), formatSteps(sch.retry))
	}
	d.rep.configChecks++
}

// waitFor reads the phone's events until ok says yes, subscribing again from the history
// should the bus cut the driver off.
func (d *soakDriver) waitFor(ok func(Event) bool) error {
	timer := time.NewTimer(d.timeout)
	defer timer.Stop()
	for {
		select {
		case e, open := <-d.events:
			if !open {
				if d.ctx.Err() != nil {
					return d.ctx.Err()
				}
				d.events = d.u.Bus().SubscribeQueue(d.ctx, d.last, 64)
				continue
			}
			d.last = e.Seq
			if ok(e) {
				return nil
			}
		case <-timer.C:
			return errors.New("no resync result in time")
		case <-d.ctx.Done():
			return d.ctx.Err()
		}
	}
}

// check runs one attempt the server answered (its requests) through the device's rules:
// its interval from the attempt before is predicted from that attempt's outcome and the
// schedules in force after it; it returns the attempt's outcome. The server's lock is held.
func (s *soakServer) check(mac string, rec *soakRecord, res Event, rep *soakReport, fail func(string, ...any)) (ok bool) {
	scheds := soakSchedules()
	// This attempt's requests; those of earlier attempts that came late are dropped (the
	// phone had given up on them, and has its result).
	// The result's own time, not the clock's: an attempt the phone ran before its driver
	// moved the clock (a boot resync with no random delay) is read after the move.
	now := res.Time
	cur := int(now.Sub(rec.boot) / time.Second)
	var reqs, later []soakRequest
	for _, r := range rec.requests {
		switch {
		case r.tag == cur:
			reqs = append(reqs, r)
		case r.tag < cur:
			rep.late++
		default: // an attempt after this one, whose result the driver reads next
			later = append(later, r)
		}
	}
	rec.requests = append(rec.requests[:0], later...)
	if errText, _ := res.Data["err"].(string); res.Data["result"] == "failure" && strings.Contains(errText, "timeout") {
		// The phone gave up waiting on the request its result names, which the server may
		// have answered in time, late, or not seen yet. Policy time stands still during an
		// attempt, so the clock says when it was.
		file := byte('a')
		if u, _ := res.Data["url"].(string); strings.Contains(u, "/b.xml") {
			file = 'b'
		}
		i := slices.IndexFunc(reqs, func(r soakRequest) bool { return r.file == file })
		switch {
		case i < 0:
			reqs = append(reqs, soakRequest{at: now, tag: cur, file: file, fault: faultLost})
			rep.faults[faultLost]++
		case reqs[i].fault != faultStall:
			reqs[i].fault = faultLost
			rep.faults[faultLost]++
		}
	}
	rec.attempts++
	attempt := rec.attempts
	if len(reqs) == 0 || reqs[0].file != 'a' {
		fail("%s: attempt %d did not start with Profile_Rule: %v", mac, attempt, reqs)
		return false
	}
	a := reqs[0]
	// The interval to this attempt, from the one before.
	var st soakStep
	what := ""
	switch {
	case attempt == 1:
		st, what = soakStep{0, rec.rrd * 20}, "boot, Resync_Random_Delay "+strconv.Itoa(rec.rrd)
	case rec.prevOK:
		steps := scheds[rec.sched].periodic
		st = steps[min(rec.periodicIdx, len(steps)-1)]
		rec.periodicIdx++
		what = fmt.Sprintf("after a success: Resync_Periodic %s step %d", formatSteps(steps), rec.periodicIdx)
	default:
		steps := scheds[rec.sched].retry
		st = steps[min(rec.retryIdx, len(steps)-1)]
		rec.retryIdx++
		what = fmt.Sprintf("after a failure: Resync_Error_Retry_Delay %s step %d", formatSteps(steps), rec.retryIdx)
		rep.afterFailure++
	}
	lo, hi := time.Duration(st.base)*time.Second, time.Duration(st.base+st.random)*time.Second
	got := a.at.Sub(rec.prev)
	switch {
	case got%time.Second != 0 || got < lo || got > hi:
		fail("%s: attempt %d came %v after the one before, want %v..%v (%s)", mac, attempt, got, lo, hi, what)
	case lo == hi:
		rep.exact++
	default:
		rep.ranged++
	}
	rep.attempts++
	// The attempt's outcome: Profile_Rule_B follows a good Profile_Rule at once, and
	// nothing follows a failed one (SPA-BEHAVIOUR §2.3).
	switch {
	case len(reqs) > 2 || (len(reqs) == 2 && reqs[1].file != 'b'):
		fail("%s: attempt %d made %d requests, want Profile_Rule and at most Profile_Rule_B: %v", mac, attempt, len(reqs), reqs)
	case a.fault == faultGood && len(reqs) == 1:
		fail("%s: attempt %d: Profile_Rule answered well but Profile_Rule_B was not requested", mac, attempt)
	case a.fault == faultGood:
		if b := reqs[1]; !b.at.Equal(a.at) {
			fail("%s: attempt %d: Profile_Rule_B at %v, Profile_Rule at %v: policy time moved within a resync", mac, attempt, b.at, a.at)
		}
		ok = reqs[1].fault == faultGood
	case len(reqs) == 2:
		fail("%s: attempt %d: Profile_Rule_B requested after Profile_Rule failed (%v): the sequence stops at the first failure", mac, attempt, a.fault)
	}
	if a.fault == faultGood { // its values apply even when Profile_Rule_B then fails
		rec.sched, rec.gppA = a.sched, a.gpp
	}
	if ok {
		rec.gppB = reqs[1].gpp
		rec.retryIdx = 0
	}
	rec.prev, rec.prevOK = a.at, ok
	return ok
}

// soakWeights is the default plan: most answers good, every kind of bad one often enough
// to come up many times a simulated day.
func soakWeights(stall int) [soakFaults]int {
	var w [soakFaults]int
	w[faultGood], w[faultNotFound], w[faultServerError], w[faultStall], w[faultTruncated], w[faultGarbage] = 700, 60, 60, stall, 50, 100
	return w
}

func (r *soakReport) log(tb testing.TB, cfg soakConfig) {
	tb.Logf("soak: %d phones, %v of policy time in %v real: %d attempts (%d intervals exact to the second, %d within a random range; %d retries after a failure), %d config checks",
		cfg.phones, cfg.length, r.wall.Round(time.Millisecond), r.attempts, r.exact, r.ranged, r.afterFailure, r.configChecks)
	var kinds []string
	for f, n := range r.faults {
		kinds = append(kinds, fmt.Sprintf("%v %d", soakFault(f), n))
	}
	tb.Logf("soak: answers served: %s; %d requests came after their attempt's result", strings.Join(kinds, ", "), r.late)
	for _, s := range r.samples {
		tb.Logf("soak: at %6v: %5d goroutines, heap %6.1f MiB alloc %6.1f MiB in use, %6d attempts %6d requests, event buses %5.1f MiB (%d events), %v real",
			s.at, s.goroutines, float64(s.heapAlloc)/(1<<20), float64(s.heapInuse)/(1<<20), s.attempts, s.requests,
			float64(s.busBytes)/(1<<20), s.busEvents, s.elapsed.Round(time.Millisecond))
	}
}

// checkFlat fails unless goroutines and heap stay flat after the first sample (which holds
// the fleet's warm-up: event histories filling up to their bound).
func (r *soakReport) checkFlat(tb testing.TB) {
	if len(r.samples) < 2 {
		tb.Fatalf("soak: %d samples, want at least 2", len(r.samples))
	}
	base := r.samples[0]
	for _, s := range r.samples[1:] {
		if s.goroutines > base.goroutines+5 {
			tb.Errorf("soak: %d goroutines at %v, %d at %v: a leak", s.goroutines, s.at, base.goroutines, base.at)
		}
		// A fixed allowance for what the runtime and GC timing move, plus 10 %.
		if limit := base.heapAlloc + base.heapAlloc/10 + 2<<20; s.heapAlloc > limit {
			tb.Errorf("soak: heap %d bytes at %v, %d at %v (limit %d): memory grows", s.heapAlloc, s.at, base.heapAlloc, base.at, limit)
		}
	}
}

func (r *soakReport) checkAll(tb testing.TB, cfg soakConfig) {
	for _, e := range r.errors {
		tb.Error(e)
	}
	if r.attempts == 0 || r.afterFailure == 0 {
		tb.Errorf("soak: %d attempts, %d retries after a failure: nothing was checked", r.attempts, r.afterFailure)
	}
	for f, n := range r.faults {
		if cfg.weights[f] > 0 && n == 0 {
			tb.Errorf("soak: the server never answered %v", soakFault(f))
		}
	}
	r.checkFlat(tb)
}

// TestSoakDay is the short soak of CI: 10 phones through a simulated day against the
// hostile server, every interval checked, heap and goroutines sampled every 6 hours.
func TestSoakDay(t *testing.T) {
	cfg := soakConfig{phones: 10, length: 24 * time.Hour, sample: 6 * time.Hour, seed: 13,
		weights: soakWeights(4), fetchTimeout: 1500 * time.Millisecond, parallel: 10}
	rep := runSoak(t, cfg)
	rep.log(t, cfg)
	rep.checkAll(t, cfg)
}

// BenchmarkSoakWeek is the full soak: 200 phones through a simulated week, sampled every
// simulated day. SPA900_SOAK_PHONES and SPA900_SOAK_DAYS change its size:
//
//	go test -run '^$' -bench SoakWeek -benchtime 1x -timeout 60m ./phone
func BenchmarkSoakWeek(b *testing.B) {
	cfg := soakConfig{phones: 200, length: 7 * 24 * time.Hour, sample: 24 * time.Hour, seed: 13,
		weights: soakWeights(3), fetchTimeout: 5 * time.Second, parallel: 48}
	if n, err := strconv.Atoi(os.Getenv("SPA900_SOAK_PHONES")); err == nil && n > 0 {
		cfg.phones = n
	}
	if n, err := strconv.Atoi(os.Getenv("SPA900_SOAK_DAYS")); err == nil && n > 0 {
		cfg.length = time.Duration(n) * 24 * time.Hour
	}
	for b.Loop() {
		rep := runSoak(b, cfg)
		rep.log(b, cfg)
		rep.checkAll(b, cfg)
		b.ReportMetric(float64(rep.attempts), "attempts")
		b.ReportMetric(rep.wall.Seconds(), "wall-s")
		last := rep.samples[len(rep.samples)-1]
		b.ReportMetric(float64(last.heapAlloc)/float64(cfg.phones), "heap-bytes/phone")
	}
}
