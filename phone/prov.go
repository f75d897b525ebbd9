package phone

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// provState is the loop's resync bookkeeping (SPA-BEHAVIOUR §4.4).
type provState struct {
	due       time.Time // the next scheduled resync (boot, periodic or retry); zero: none
	dueReason string
	duePRVST  int

	triggerCheck time.Time // next evaluation of Resync_Trigger_1/2; zero: no trigger set
	periodicIdx  int
	retryIdx     int

	lastAttempt time.Time
	lastSuccess time.Time
	lastURL     string
	lastResult  string
	lastSkipped skippedValues // values the last resync skipped (DECISIONS 8)
	lastWarns   []string      // the last resync's encoding warnings
	triggerErr  string        // the trigger (name and text) whose bad expression was logged last
	err         string        // $ERR of the last resync
	prvst       int           // $PRVST of the current or last resync
	count       int
	failures    int

	rnd *rand.Rand

	// seed keys the hash of a profile's bytes for a memo made in this boot (profileMemo).
	seed maphash.Seed
}

// resyncOp is a resync waiting for (or past) the idle gate.
type resyncOp struct {
	reason    string // boot, periodic, retry, trigger, or who asked
	prvst     int
	url       string // a one-off URL (/admin/resync?URL); "" runs the Profile_Rule sequence
	requester string // the host that asked: the server of a one-off URL without one
	since     time.Time
	forceAt   time.Time
	running   bool
	forced    bool
	// rebootAfter, when set, asks for a reboot once this resync ends (NOTIFY
	// check-sync;reboot=true, DECISIONS 18): the reason of that reboot.
	rebootAfter string
}

// $PRVST values (SPA-BEHAVIOUR §3).
const (
	prvstRequest  = -1
	prvstBoot     = 0
	prvstPeriodic = 1
	prvstRetry    = 2
)

// provBoot arms the boot-time resync: Resync_On_Reset after a random delay of up to
// Resync_Random_Delay × 20 s, $PRVST 0 (SPA-BEHAVIOUR §4.4 trigger 1). After an upgrade the
// resync is the one of Resync_After_Upgrade_Attempt instead, at once.
func (st *state) provBoot() {
	seed := uint64(st.bootedAt.UnixNano())
	if s := st.p.opts.Seed; s != 0 {
		seed = s + uint64(st.flash.BootCount) // the same delays on every run, new ones each boot
	}
	st.prov.rnd = rand.New(rand.NewPCG(seed, macSeed(st.p.id.MAC)))
	st.prov.seed = maphash.MakeSeed()
	st.armTriggers()
	if !st.snap.Bool(config.ProvisionEnable) {
		st.p.log.Info("boot resync skipped", zap.String("reason", "Provision_Enable is No"))
		return
	}
	if st.flash.Upgrade.JustUpgraded {
		if st.snap.Bool(config.ResyncAfterUpgradeAttempt) {
			st.scheduleResync(st.bootedAt, "after upgrade", prvstBoot)
		}
		return
	}
	if !st.snap.Bool(config.ResyncOnReset) {
		return
	}
	delay := provisioning.RandomDelay(int(st.snap.Int(config.ResyncRandomDelay)), st.prov.rnd)
	st.scheduleResync(st.bootedAt.Add(delay), "boot", prvstBoot)
	st.p.log.Debug("boot resync scheduled", zap.Duration("next_in", delay)) // its outcome is the resync's line
}

func macSeed(mac net.HardwareAddr) uint64 {
	var s uint64
	for _, b := range mac {
		s = s<<8 | uint64(b)
	}
	return s
}

// scheduleResync sets the next scheduled resync.
func (st *state) scheduleResync(at time.Time, reason string, prvst int) {
	st.prov.due, st.prov.dueReason, st.prov.duePRVST = at, reason, prvst
}

// armTriggers starts the once-a-second evaluation of Resync_Trigger_1/2 when one is set.
func (st *state) armTriggers() {
	st.prov.triggerCheck = time.Time{}
	for _, name := range config.ResyncTriggers() {
		if st.snap.Get(name) != "" {
			st.prov.triggerCheck = st.p.clock.Now().Add(time.Second)
			return
		}
	}
}

// provConfigChanged applies changed provisioning settings at once (they apply live,
// DECISIONS 12): new triggers are evaluated from the next second, and a new Resync_Periodic or
// Resync_Error_Retry_Delay moves the pending periodic or retry resync to where the new
// schedule puts it, counted from the success or attempt it follows.
func (st *state) provConfigChanged(names []string) {
	for _, name := range names {
		switch name {
		case config.ResyncTrigger1, config.ResyncTrigger2:
			st.armTriggers()
		case config.ResyncPeriodic:
			if st.prov.dueReason == "periodic" && !st.prov.due.IsZero() {
				st.reschedule(config.ResyncPeriodic, st.prov.periodicIdx-1, st.prov.lastSuccess)
			}
		case config.ResyncErrorRetryDelay:
			if st.prov.dueReason == "retry" && !st.prov.due.IsZero() {
				st.reschedule(config.ResyncErrorRetryDelay, st.prov.retryIdx-1, st.prov.lastAttempt)
			}
		}
	}
}

// reschedule recomputes the pending resync from the schedule in param at step idx, counted
// from since; a schedule that is now disabled cancels it.
func (st *state) reschedule(param string, idx int, since time.Time) {
	sch, err := provisioning.ParseSchedule(st.snap.Get(param))
	if err != nil {
		return
	}
	d, ok := sch.Delay(idx, st.prov.rnd)
	if !ok {
		st.p.log.Info("resync unscheduled", zap.String("reason", param+" is 0"))
		st.prov.due = time.Time{}
		return
	}
	st.prov.due = since.Add(d)
	st.p.log.Info("resync rescheduled", zap.String("param", param), zap.Time("at", st.prov.due))
}

// provFire runs the resync timers due at now.
func (st *state) provFire(now time.Time) {
	if !st.prov.due.IsZero() && !now.Before(st.prov.due) {
		reason, prvst := st.prov.dueReason, st.prov.duePRVST
		st.prov.due = time.Time{}
		if !st.snap.Bool(config.ProvisionEnable) {
			st.p.log.Info("resync skipped", zap.String("reason", "Provision_Enable is No"), zap.String("trigger", reason))
		} else {
			st.queueResync(&resyncOp{reason: reason, prvst: prvst})
		}
	}
	if !st.prov.triggerCheck.IsZero() && !now.Before(st.prov.triggerCheck) {
		st.prov.triggerCheck = now.Add(time.Second)
		if st.pending.resync == nil && st.snap.Bool(config.ProvisionEnable) && st.triggerTrue() {
			st.queueResync(&resyncOp{reason: "trigger", prvst: prvstPeriodic})
		}
	}
}

// triggerTrue evaluates Resync_Trigger_1 and _2: a true one starts a resync "as if the
// periodic timer had expired" (SPA-BEHAVIOUR §4.1). A bad expression is logged once per
// change of its text and counts as false.
func (st *state) triggerTrue() bool {
	vars := st.vars()
	for _, name := range config.ResyncTriggers() {
		text := st.snap.Get(name)
		if text == "" {
			continue
		}
		cond, err := provisioning.ParseTrigger(text)
		if err == nil {
			var ok bool
			if ok, err = cond.Eval(vars); err == nil && ok {
				st.p.log.Info("resync triggered", zap.String("param", name))
				return true
			}
		}
		if err != nil && st.prov.triggerErr != name+"="+text {
			st.prov.triggerErr = name + "=" + text
			st.p.log.Warn("resync trigger ignored", zap.String("param", name), zap.Error(err))
		}
	}
	return false
}

// queueResync puts a resync through the idle gate: when idle it runs at the end of this turn;
// when busy it waits, but no longer than Forced_Resync_Delay (DECISIONS 11). A request that
// comes while a resync waits joins it (its URL wins). A request that comes while a resync
// runs is queued behind it: one slot, the latest request wins, never dropped (DECISIONS 8).
// A timer or trigger that comes due while a resync runs is not queued: the running resync's
// end arms the next periodic or retry resync from then on.
func (st *state) queueResync(op *resyncOp) {
	now := st.p.clock.Now()
	if cur := st.pending.resync; cur != nil {
		switch {
		case cur.running && op.prvst == prvstRequest:
			fields := []zap.Field{zap.String("reason", "a resync is running"), zap.String("trigger", op.reason), zap.String("url", op.url)}
			if prev := st.pending.nextResync; prev != nil {
				fields = append(fields, zap.String("replaces", prev.reason), zap.String("replaced_url", prev.url))
			}
			op.since = now
			st.pending.nextResync = op
			st.p.log.Info("resync queued", fields...)
			st.emit(EventDeferred, map[string]any{"op": "resync", "reason": "a resync is running", "requested_by": op.reason, "url": op.url})
		case cur.running:
			st.p.log.Info("resync not queued", zap.String("reason", "a resync is running; its end arms the next one"), zap.String("trigger", op.reason))
		case op.url != "":
			cur.url, cur.requester = op.url, op.requester // the explicit request wins
		}
		return
	}
	op.since = now
	if d := st.snap.Int(config.ForcedResyncDelay); d > 0 {
		op.forceAt = now.Add(time.Duration(d) * time.Second)
	}
	st.pending.resync = op
	if !st.idle() {
		st.p.log.Info("resync deferred", zap.String("reason", st.busyReason()), zap.String("trigger", op.reason),
			zap.Time("force_at", op.forceAt))
		st.emit(EventDeferred, map[string]any{"op": "resync", "reason": st.busyReason(), "requested_by": op.reason})
		st.p.opts.Counters.deferred("resync")
	}
}

// requestResync is the explicit request of the web page, the API or SIP NOTIFY ($PRVST -1).
// Provision_Enable gates it (SPA-BEHAVIOUR §5.4).
func (st *state) requestResync(rawURL, requester string) (Outcome, error) {
	if !st.snap.Bool(config.ProvisionEnable) {
		return 0, ErrProvisioningDisabled
	}
	if rawURL != "" {
		if _, err := provisioning.ParseURL(rawURL, requester); err != nil {
			return 0, fmt.Errorf("%w: resync URL: %w", ErrInvalidRequest, err)
		}
	}
	st.queueResync(&resyncOp{reason: "request", prvst: prvstRequest, url: rawURL, requester: requester})
	switch {
	case st.pending.nextResync != nil:
		return OutcomeQueued, nil
	case st.idle():
		return OutcomeStarted, nil
	}
	return OutcomeDeferred, nil
}

// lastResyncRequest is the resync op the request just made went to: the one queued behind a
// running resync, else the one waiting for the gate; nil when it started at once or was
// refused.
func (st *state) lastResyncRequest() *resyncOp {
	if q := st.pending.nextResync; q != nil {
		return q
	}
	if r := st.pending.resync; r != nil && !r.running {
		return r
	}
	return nil
}

// releaseQueuedResync moves the resync request queued behind the one that just ended through
// the gate (DECISIONS 8).
func (st *state) releaseQueuedResync() {
	next := st.pending.nextResync
	if next == nil {
		return
	}
	st.pending.nextResync = nil
	st.p.log.Info("queued resync released", zap.String("reason", "the running resync ended"), zap.String("trigger", next.reason),
		zap.String("url", next.url), zap.Duration("waited", st.p.clock.Now().Sub(next.since)))
	st.queueResync(next)
}

// provBusy reports whether a resync is running: gated operations wait for it to end.
func (st *state) provBusy() bool { return st.pending.resync != nil && st.pending.resync.running }

// startResync starts the pending resync on a tracked goroutine. forced is true when
// Forced_Resync_Delay ran out while the phone was busy.
func (st *state) startResync(forced bool) {
	op := st.pending.resync
	op.running, op.forced = true, forced
	now := st.p.clock.Now()
	st.prov.lastAttempt = now
	st.prov.prvst = op.prvst
	st.prov.count++
	st.p.opts.Counters.resyncStarted(op.reason)
	if forced {
		st.p.opts.Counters.resyncForced()
	}
	job := &resyncJob{
		log: st.p.log, emit: st.p.emit, fetch: st.p.fetcher(), snap: st.snap, vars: st.vars(), varsFrom: st.snap,
		url: op.url, requester: op.requester, tftp: st.p.opts.TFTPServer, syslog: st.syslogOut(), clock: st.p.clock,
		acceptSHA256: st.p.opts.Provisioning.AcceptSHA256, lend: st.p.opts.lend,
		memo: st.p.memo.Load(), seed: st.prov.seed, rules: st.p.opts.rules,
	}
	// One info line per resync, at its end (resync done, resync failed): its steps are debug.
	if ce := st.p.log.Check(zap.DebugLevel, "resync started"); ce != nil { // no fields built when off
		ce.Write(zap.String("trigger", op.reason), zap.Int("prvst", op.prvst), zap.Bool("forced", forced))
	}
	st.emit(EventStarted, map[string]any{"op": "resync", "reason": op.reason, "prvst": op.prvst, "forced": forced})
	ctx := st.ctx
	st.p.goTracked(func() {
		res := job.run(ctx)
		st.p.post(func(st *state) { st.resyncDone(op, res) })
	})
}

// resyncDone applies what a resync fetched and arms the next one (SPA-BEHAVIOUR §4.4
// "Outcomes", DECISIONS 11-12).
// The resync stays pending (and running, so the gate holds other operations) until what it
// fetched is durable in flash: its result is announced only then.
func (st *state) resyncDone(op *resyncOp, res *resyncResult) {
	if !res.hasChanges() {
		st.resyncFinish(op, res, nil)
		return
	}
	changes := func() ([]config.Change, error) { return res.changesNow(st.p.opts.lend) }
	st.applyResult("resync", res.base, res.next, changes, res.unknown, res.skipped, func(diff config.Diff, err error) {
		if err != nil && res.err == nil { // the configuration changed under the resync, or the flash failed
			res.err, res.errText = err, "internal error"
		}
		if op.forced && st.pending.restart != nil && !st.idle() {
			st.p.log.Info("restart forced", zap.String("reason", "a forced resync changed parameters"))
			st.pending.restart = nil
			st.restart("forced resync changed parameters")
		}
		st.resyncFinish(op, res, diff.Values)
	})
}

// resyncFinish records a resync's outcome, arms the next one and announces it: one log line.
func (st *state) resyncFinish(op *resyncOp, res *resyncResult, changed []string) {
	st.pending.resync = nil
	now := st.p.clock.Now()
	st.prov.lastURL = res.url
	st.prov.err = res.errText
	result := "success"
	var nextIn time.Duration
	if res.err == nil {
		st.prov.lastSuccess = now
		st.prov.retryIdx = 0
		if sch, err := provisioning.ParseSchedule(st.snap.Get(config.ResyncPeriodic)); err == nil {
			if d, ok := sch.Delay(st.prov.periodicIdx, st.prov.rnd); ok {
				st.prov.periodicIdx++
				nextIn = d
				st.scheduleResync(now.Add(d), "periodic", prvstPeriodic)
			} else {
				st.prov.due = time.Time{}
			}
		}
	} else {
		result = "failure"
		st.prov.failures++
		if sch, err := provisioning.ParseSchedule(st.snap.Get(config.ResyncErrorRetryDelay)); err == nil {
			if d, ok := sch.Delay(st.prov.retryIdx, st.prov.rnd); ok {
				st.prov.retryIdx++
				nextIn = d
				st.scheduleResync(now.Add(d), "retry", prvstRetry)
			} else {
				st.prov.due = time.Time{} // 0: no retry until another trigger (DECISIONS 10)
			}
		}
	}
	st.prov.lastResult = result
	switch m := res.memo; {
	case res.err == nil && m != nil && m.snap == st.snap:
		st.p.memo.Store(m)
	case res.err == nil && m != nil && (st.snap == res.base || st.snap == res.next):
		// What is in force is what the profile made (the same values when it changed
		// nothing, or after a boot): applying it again changes nothing (see profileMemo).
		c := *m
		c.snap = st.snap
		st.p.memo.Store(&c)
	case res.err == nil || (st.p.memo.Load() != nil && st.p.memo.Load().snap != st.snap):
		st.p.memo.Store(nil) // nothing to remember, or for a configuration no longer in force
	}
	st.prov.lastSkipped, st.prov.lastWarns = res.skipped, res.warnings
	st.p.opts.Counters.resyncEnded(res.err)
	st.armTriggers()
	fields := []zap.Field{zap.String("result", result), zap.String("url", res.url), zap.Strings("changed", changed)}
	if res.err != nil {
		fields = append(fields, zap.String("err", res.errText))
	}
	if res.skipped.count > 0 {
		fields = append(fields, zap.Int("skipped", res.skipped.count))
	}
	if len(res.warnings) > 0 {
		fields = append(fields, zap.Strings("warnings", res.warnings))
	}
	if !st.prov.due.IsZero() {
		fields = append(fields, zap.Duration("next_in", nextIn), zap.String("next", st.prov.dueReason))
	}
	if res.err != nil {
		st.p.log.Warn("resync failed", fields...)
	} else {
		st.p.log.Info("resync done", fields...)
	}
	// Made at its size: ten fields with the next resync's, more than a map's first group of
	// eight holds, which it outgrew at every resync.
	data := make(map[string]any, 10)
	data["result"], data["url"], data["err"], data["changed"], data["prvst"] = result, res.url, res.errText, nonNil(changed), op.prvst
	data["warnings"] = nonNil(res.warnings)
	res.skipped.addTo(data)
	if !st.prov.due.IsZero() {
		data["next_in_seconds"] = int64(nextIn / time.Second)
		data["next"] = st.prov.dueReason
	}
	st.emit(EventResyncResult, data)
	st.emit(EventDone, map[string]any{"op": "resync", "result": result})
	if op.rebootAfter != "" {
		st.requestReboot(op.rebootAfter)
	}
	st.releaseQueuedResync()
	st.upgAfterResync()
	res.release(st.p.opts.lend) // the changes are applied or refused: their buffer goes back
}

// provStatus is the Provisioning part of the status.
func (st *state) provStatus() ProvisioningStatus {
	ps := ProvisioningStatus{
		Enabled: st.snap.Bool(config.ProvisionEnable), State: "idle", LastURL: st.prov.lastURL,
		LastResult: st.prov.lastResult, LastError: st.prov.err, RetryIndex: st.prov.retryIdx,
		PRVST: st.prov.prvst, ResyncCount: st.prov.count, FailureCount: st.prov.failures, NextReason: st.prov.dueReason,
		LastSkipped: st.prov.lastSkipped.first, LastSkippedCount: st.prov.lastSkipped.count, LastWarnings: st.prov.lastWarns,
	}
	if r := st.pending.resync; r != nil {
		ps.State = "waiting"
		if r.running {
			ps.State = "fetching"
		}
	}
	ps.LastAttempt = timePtr(st.prov.lastAttempt)
	ps.LastSuccess = timePtr(st.prov.lastSuccess)
	ps.NextResync = timePtr(st.prov.due)
	if ps.NextResync == nil {
		ps.NextReason = ""
	}
	return ps
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// vars builds the macro variables of §3 from the phone's state.
func (st *state) vars() *provisioning.Vars {
	id := st.p.id
	now := st.p.clock.Now()
	v := &provisioning.Vars{
		MAC: id.MAC, PN: id.Model.Name, PSN: id.Model.Series, SN: id.Serial,
		CCERT: st.ccert() == "Installed", IP: st.p.opts.IP, SWVER: id.Software, HWVER: id.Hardware,
		PRVST: st.prov.prvst, ERR: st.prov.err, UPGST: st.upg.upgst, UPGERR: st.upg.err,
	}
	if !st.prov.lastAttempt.IsZero() {
		v.PRVTMR = int(now.Sub(st.prov.lastAttempt) / time.Second)
	} else {
		v.PRVTMR = int(now.Sub(st.bootedAt) / time.Second)
	}
	if !st.upg.lastAttempt.IsZero() {
		v.UPGTMR = int(now.Sub(st.upg.lastAttempt) / time.Second)
	} else {
		v.UPGTMR = int(now.Sub(st.bootedAt) / time.Second)
	}
	v.REGTMR = make([]int, 0, id.Model.Extensions)
	for n := 1; n <= id.Model.Extensions; n++ {
		v.REGTMR = append(v.REGTMR, st.regtmr(n, now)) // seconds since the line lost registration
	}
	fillConfigVars(v, st.snap)
	return v
}

// gppNames and gppSecretNames name GPP_A…GPP_P and GPP_SA…GPP_SD, in the order of
// provisioning.Vars' GPP and GPPSecret, and userIDNames User_ID_1_… of the model with the
// most extensions ($UID1…, index 0 unused): built once, never written.
var gppNames, gppSecretNames, userIDNames = func() (g [16]string, s [4]string, u []string) {
	for i := range g {
		g[i], _ = config.GPP(string(rune('a' + i)))
	}
	for i := range s {
		s[i], _ = config.GPP("s" + string(rune('a'+i)))
	}
	most := 0
	for _, m := range config.Models() {
		most = max(most, m.Extensions)
	}
	u = make([]string, most+1)
	for n := 1; n <= most; n++ {
		u[n] = config.ExtName(config.UserID, n)
	}
	return g, s, u
}()

// fillConfigVars copies the configuration-derived macros ($A..$P, $SA..$SD, $UIDn).
func fillConfigVars(v *provisioning.Vars, snap *config.Snapshot) {
	for i := range v.GPP {
		v.GPP[i] = snap.Get(gppNames[i])
	}
	for i := range v.GPPSecret {
		v.GPPSecret[i] = snap.Get(gppSecretNames[i])
	}
	ext := snap.Catalog().Model().Extensions
	if cap(v.UID) < ext {
		v.UID = make([]string, 0, ext)
	}
	v.UID = v.UID[:0]
	for n := 1; n <= ext; n++ {
		v.UID = append(v.UID, snap.Get(userIDNames[n]))
	}
}

// errText is the $ERR of an error: the fetchers' device wording, else the error's text. What
// a server supplied may be in it (a TFTP error text, a rule or a value from a profile), and
// $ERR goes into syslog datagrams, the status and events: it is cleaned of control
// characters and bounded (provisioning.CleanText).
func errText(err error) string {
	if err == nil {
		return ""
	}
	var ee *errWithText
	if errors.As(err, &ee) {
		return provisioning.CleanText(ee.text, provisioning.MaxErrText)
	}
	return provisioning.ErrText(err)
}

// errWithText carries the $ERR wording chosen where the error was understood.
type errWithText struct {
	text string
	err  error
}

func (e *errWithText) Error() string { return e.err.Error() }
func (e *errWithText) Unwrap() error { return e.err }

func withText(text string, err error) error { return &errWithText{text: text, err: err} }
