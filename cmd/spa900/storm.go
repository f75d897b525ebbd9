package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// Flash layouts of a fleet (--flash).
const (
	flashDB    = "db"    // one database for the fleet: DATA/flash.db (config.FlashDB)
	flashFiles = "files" // one file per phone: DATA/phone-0001/flash.json, as a single phone keeps it
)

// fleetFlashes opens the fleet's flash layout in data and returns the store of phone i (its
// row in the fleet, from 0) and a function that closes them once the fleet has stopped.
// With the database, per-phone files a fleet left before (the layout of --flash files) are
// imported the first time, so that switching layouts keeps the phones.
func fleetFlashes(layout, data string, log *zap.Logger) (func(i int) phone.FlashStore, func() error, error) {
	dir := func(i int) string { return filepath.Join(data, fmt.Sprintf("phone-%04d", i+1)) }
	switch layout {
	case flashFiles:
		files := config.NewFileFlashes(0)
		return func(i int) phone.FlashStore { return files.Flash(filepath.Join(dir(i), "flash.json")) },
			func() error { return nil }, nil
	case flashDB:
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, nil, fmt.Errorf("--data: %w", err)
		}
		db, err := config.OpenFlashDB(config.FlashDBPath(data))
		if err != nil {
			return nil, nil, err
		}
		store := func(i int) phone.FlashStore {
			key := filepath.Base(dir(i))
			f := db.Flash(key)
			if _, err := f.Load(); errors.Is(err, config.ErrNoFlash) {
				if fl, err := config.NewFileFlash(filepath.Join(dir(i), "flash.json")).Load(); err == nil {
					if err := f.Save(fl); err == nil {
						log.Info("flash imported", zap.String("from", filepath.Join(dir(i), "flash.json")), zap.String("to", f.Path()))
					}
				}
			}
			return f
		}
		return store, db.Close, nil
	}
	return nil, nil, usagef("--flash: want %s or %s, got %q", flashDB, flashFiles, layout)
}

// minTransfers is the fewest provisioning transfers a fleet runs at once, however few files
// its limit leaves.
const minTransfers = 16

// webReserve is how many files a fleet keeps for the connections to its phones' web servers
// and API when it bounds its provisioning transfers.
const webReserve = 1024

// openFileReserve is what the fleet process keeps open besides its phones: standard streams,
// the flash database, the fleet's own listener, a margin for the runtime.
const openFileReserve = 64

// planOpenFiles raises the open file limit to the hard one (Go does so at start; this makes
// sure) and shares it among the phones (phone.Fleet.PlanFiles): the web listeners (one per
// port the phones share, webui.Listeners), each phone's SIP extensions (a socket each on UDP;
// on TCP or TLS a listener and a connection per destination), an RTP and an RTCP socket for each of calls calls in
// progress at once (negative: one per phone with an extension enabled), a file per provisioning transfer. It says in one
// line how many phones of this shape the limit fits, and bounds the transfers to the files
// left; a fleet that does not fit is refused with the way out, rather than failing with
// "too many open files" mid-run (a SIP socket here, a profile fetch there).
//
// With overcommit the fleet starts anyway, warned, its transfers bounded to the few files
// left: what a benchmark on a machine whose hard limit cannot be raised does.
func planOpenFiles(log *zap.Logger, fleet *phone.Fleet, webListeners, calls int, overcommit bool) error {
	soft, hard, was, err := raiseOpenFiles()
	if err != nil {
		log.Warn("open file limit unknown", zap.Error(err))
		return nil
	}
	plan, err := fleet.PlanFiles(phone.FileBudget{Limit: int(min(soft, 1<<31)), Reserve: openFileReserve + webReserve,
		WebListeners: webListeners, Calls: calls, MinTransfers: minTransfers})
	if err != nil {
		err = fmt.Errorf("%w; raise the hard limit (ulimit -Hn, docker --ulimit nofile=, systemd LimitNOFILE=, "+
			"Kubernetes: the container runtime's), run fewer phones, switch extensions off (--set Line_Enable_n_=No) "+
			"or budget fewer calls (--max-calls)", err)
		if !overcommit {
			return err
		}
		fleet.LimitTransfers(max(plan.Transfers, minTransfers))
		// The extensions and calls that come first must not take the files of the web
		// servers, the transfers and the process: those beyond what is left fail instead.
		fleet.LimitPhoneFiles(plan.PhoneRoom)
		log.Warn("open file limit too low for the fleet", zap.String("reason", "--overcommit-files: started anyway"),
			zap.Int("phone_files", plan.PhoneRoom), zap.Int("phone_files_needed", plan.SIP+plan.CallFiles), zap.Error(err))
		return nil
	}
	fields := []zap.Field{zap.Uint64("limit", soft), zap.Uint64("was", was), zap.Uint64("hard", hard),
		zap.Int("phones", plan.Phones), zap.Int("sip_files_per_phone", plan.Extensions), zap.Int("calls", plan.Calls),
		zap.Int("files_per_phone", plan.PerPhone), zap.Int("phones_fit", plan.Fit),
		zap.Int("files_web", plan.Web), zap.Int("files_sip", plan.SIP), zap.Int("files_calls", plan.CallFiles),
		zap.Int("files_reserved", plan.Reserve), zap.Int("transfers", plan.Transfers)}
	if plan.Transfers < plan.Phones {
		fields = append(fields, zap.String("transfers_bounded", "the open file limit leaves this many files for provisioning transfers at once"))
	}
	log.Info("open file budget", fields...)
	return nil
}

// stormReporter writes a summary line every second while a boot storm is on (from the
// fleet's power-on, and again at every power cycle) and a report when it is over: how many
// phones booted, resynced and failed, by reason, and at what rate. It reads the phones'
// Progress, which their loops keep; it costs the phones nothing.
type stormReporter struct {
	log       *zap.Logger
	units     []*phone.Unit
	webFailed []atomic.Pointer[string] // why phone i's web server could not start; nil: it did
	ended     func()                   // called after each storm's report; nil: nothing; set before run

	// Owned by run's goroutine.
	base     []int         // the boot count of each phone when this storm began
	done     []*phoneTally // what a phone that has settled in this storm did; nil: not yet
	start    time.Time
	last     int // resyncs ended at the previous tick
	lastAt   time.Time
	peak     float64
	finished bool
}

func newStormReporter(log *zap.Logger, units []*phone.Unit) *stormReporter {
	return &stormReporter{log: log, units: units, webFailed: make([]atomic.Pointer[string], len(units)),
		base: make([]int, len(units)), done: make([]*phoneTally, len(units))}
}

// webFailure records that phone i's web server cannot start.
func (r *stormReporter) webFailure(i int, err error) {
	msg := err.Error()
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
		msg = "too many open files"
	} else if errors.Is(err, syscall.EADDRINUSE) {
		msg = "address in use"
	}
	r.webFailed[i].Store(&msg)
}

// allWebFailed reports whether no phone's web server could start.
func (r *stormReporter) allWebFailed() bool {
	for i := range r.webFailed {
		if r.webFailed[i].Load() == nil {
			return false
		}
	}
	return len(r.webFailed) > 0
}

// begin starts a storm: the boots from now on count.
func (r *stormReporter) begin(now time.Time) {
	for i, u := range r.units {
		// A booting unit shows the count of the boot before: the storm's boot is above it.
		r.base[i] = u.Progress().BootCount
		r.done[i] = nil
	}
	r.start, r.lastAt, r.last, r.peak, r.finished = now, now, 0, 0, false
}

// stormTally is what the phones of a storm did so far.
type stormTally struct {
	booted, settled, ok, failed, resyncs, sipDown, webFailed int
	reasons                                                  map[string]int
}

// phoneTally is what one phone did in the storm.
type phoneTally struct {
	booted, settled bool
	resyncs         int
	result, reason  string // "" (none yet), "ok" or "failed" and why
	sipDown         []string
}

// phone reads what phone i did. A phone that has settled (booted, its boot resync over) is
// read once: the storm's report reads each phone's status only until then, so that its
// reads cost the phones little.
func (r *stormReporter) phone(i int) phoneTally {
	if d := r.done[i]; d != nil {
		return *d
	}
	var pt phoneTally
	p := r.units[i].Progress() // kept by the phone's loop: reading it costs the phone nothing
	if p.State != phone.StateRunning || p.BootCount <= r.base[i] {
		return pt
	}
	pt.booted = true
	for _, e := range p.SIPDown { // could not bind (a restart unbinds for a moment)
		reason := "sip: extension out of service"
		if strings.Contains(e, "too many open files") {
			reason = "sip: too many open files"
		}
		pt.sipDown = append(pt.sipDown, reason)
	}
	pt.resyncs = p.ResyncCount
	if p.Provisioning == "fetching" {
		pt.resyncs--
	}
	pt.settled = p.Provisioning == "idle" && p.NextReason != "boot"
	switch {
	case pt.resyncs == 0:
	case p.LastResult == "success":
		pt.result = "ok"
	default:
		pt.result, pt.reason = "failed", p.LastError
	}
	if pt.settled {
		r.done[i] = &pt
	}
	return pt
}

func (r *stormReporter) tally() stormTally {
	t := stormTally{reasons: map[string]int{}}
	for i := range r.units {
		if w := r.webFailed[i].Load(); w != nil {
			t.webFailed++
			t.reasons["web: "+*w]++
		}
		pt := r.phone(i)
		if !pt.booted {
			continue
		}
		t.booted++
		t.sipDown += len(pt.sipDown)
		for _, reason := range pt.sipDown {
			t.reasons[reason]++
		}
		t.resyncs += pt.resyncs
		if pt.settled {
			t.settled++
		}
		switch pt.result {
		case "ok":
			t.ok++
		case "failed":
			t.failed++
			t.reasons[pt.reason]++
		}
	}
	return t
}

// reasonsText words the failures, the most frequent first: "file not found: 12, …".
func reasonsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range keys {
		if i == 5 {
			fmt.Fprintf(&b, ", %d more reasons", len(keys)-5)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k + ": " + strconv.Itoa(m[k]))
	}
	return b.String()
}

// tick writes the second's summary line, or the report when the storm is over.
func (r *stormReporter) tick() {
	if r.finished {
		return
	}
	t := r.tally()
	// The time after the tally, not the ticker's: a tally of ten thousand phones takes a
	// while on a loaded machine, and the ticks waiting meanwhile are stale (a storm of 14 s
	// was reported done in 3).
	now := time.Now()
	rate := float64(t.resyncs-r.last) / max(now.Sub(r.lastAt).Seconds(), 1e-3)
	r.last, r.lastAt, r.peak = t.resyncs, now, max(r.peak, rate)
	elapsed := now.Sub(r.start)
	fields := []zap.Field{zap.Int("booted", t.booted), zap.Int("phones", len(r.units)), zap.Int("resynced", t.ok+t.failed),
		zap.Int("ok", t.ok), zap.Int("failed", t.failed), zap.String("failed_by", reasonsText(t.reasons)),
		zap.Int("web_failed", t.webFailed), zap.Duration("elapsed", elapsed.Round(time.Millisecond))}
	if t.booted+t.webFailed < len(r.units) && t.booted < len(r.units) || t.settled < t.booted {
		r.log.Info("storm", append(fields, zap.Int("resyncs_per_s", int(rate)))...)
		return
	}
	r.finished = true
	mean := float64(t.resyncs) / max(elapsed.Seconds(), 1e-3)
	r.log.Info("storm done", append(fields, zap.Int("resyncs", t.resyncs),
		zap.Int("resyncs_per_s", int(mean)), zap.Int("peak_resyncs_per_s", int(r.peak)))...)
	if r.ended != nil {
		r.ended()
	}
}

// run reports every second until ctx ends, the storm the caller began first (begin, before
// the fleet runs). A channel on cycle begins a new storm: the reporter closes it once it has
// taken the boot counts the storm's boots will be above, so that the power is cut only then.
func (r *stormReporter) run(ctx context.Context, cycle <-chan chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ready := <-cycle:
			r.begin(time.Now())
			close(ready)
		case <-tick.C:
			r.tick()
		}
	}
}

// powerCycles turns SIGHUP into power cycles of the fleet until ctx ends.
func powerCycles(ctx context.Context, log *zap.Logger, fleet *phone.Fleet, spread time.Duration, storm chan<- chan struct{}, asked <-chan struct{}) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		reason := "SIGHUP"
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case <-asked:
			reason = "fleet portal"
		}
		log.Info("power cycle", zap.String("reason", reason), zap.Duration("boot_spread", spread))
		ready := make(chan struct{})
		select {
		case storm <- ready:
		case <-ctx.Done():
			return
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return
		}
		fleet.PowerCycle()
	}
}
