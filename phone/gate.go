package phone

import (
	"time"

	"go.uber.org/zap"
)

// Outcome says what a gated request did at once.
type Outcome int

const (
	// OutcomeStarted means the operation started at once: the phone was idle.
	OutcomeStarted Outcome = iota + 1
	// OutcomeDeferred means the operation waits for the phone to become idle.
	OutcomeDeferred
	// OutcomeQueued means a resync waits for the one that is running to end (DECISIONS 8).
	OutcomeQueued
)

// String returns "started", "deferred" or "queued".
func (o Outcome) String() string {
	switch o {
	case OutcomeStarted:
		return "started"
	case OutcomeDeferred:
		return "deferred"
	case OutcomeQueued:
		return "queued"
	}
	return "unknown"
}

// pendingOps are the operations waiting for the idle gate: at most one of each, and one
// resync request queued behind a running resync.
type pendingOps struct {
	reboot  *pendingOp
	restart *pendingOp
	resync  *resyncOp
	upgrade *upgradeOp
	// nextResync is a resync request that came while resync was running: one slot, the
	// latest request wins; it goes through the gate when the running one ends (DECISIONS 8).
	nextResync *resyncOp
}

// pendingOp is a queued reboot or restart.
type pendingOp struct {
	reason string
	since  time.Time
}

func (po *pendingOps) list() []Pending {
	out := []Pending{}
	if po.upgrade != nil {
		out = append(out, Pending{Op: "upgrade", Reason: po.upgrade.reason, Since: po.upgrade.since})
	}
	if po.reboot != nil {
		out = append(out, Pending{Op: "reboot", Reason: po.reboot.reason, Since: po.reboot.since})
	}
	if po.restart != nil {
		out = append(out, Pending{Op: "restart", Reason: po.restart.reason, Since: po.restart.since})
	}
	if r := po.resync; r != nil {
		p := Pending{Op: "resync", Reason: r.reason, Since: r.since}
		if !r.forceAt.IsZero() {
			f := r.forceAt
			p.Force = &f
		}
		out = append(out, p)
	}
	if r := po.nextResync; r != nil {
		out = append(out, Pending{Op: "resync", Reason: r.reason, Since: r.since, WaitsFor: "the running resync"})
	}
	return out
}

// runGated runs, at the end of every loop turn, the pending operations the gate lets
// through (DESIGN "The phone", DECISIONS 11): when idle, upgrade first (it ends in a reboot),
// then reboot (which makes a pending restart moot), then restart, then resync; when busy, only
// a resync whose Forced_Resync_Delay has run out.
func (st *state) runGated() {
	if st.exit != nil || st.phase == StateUpgrading {
		return
	}
	now := st.p.clock.Now()
	if !st.idle() {
		if r := st.pending.resync; r != nil && !r.running && !r.forceAt.IsZero() && !now.Before(r.forceAt) {
			st.p.log.Info("resync forced", zap.String("reason", "Forced_Resync_Delay ran out while "+st.busyReason()))
			st.startResync(true)
		}
		return
	}
	if u := st.pending.upgrade; u != nil && !st.provBusy() {
		st.startUpgrade()
		return
	}
	if r := st.pending.reboot; r != nil {
		st.p.log.Info("reboot started", zap.String("reason", r.reason))
		st.emit(EventStarted, map[string]any{"op": "reboot", "reason": r.reason})
		st.exit = ErrReboot
		return
	}
	if r := st.pending.restart; r != nil && !st.provBusy() && !st.restarting {
		st.pending.restart = nil
		st.restart(r.reason)
	}
	if r := st.pending.resync; r != nil && !r.running {
		st.startResync(false)
	}
}

// requestReboot queues a reboot: it happens on the first idle turn (SPA-BEHAVIOUR §5.4: "the
// phone reboots only when it is idle").
func (st *state) requestReboot(reason string) Outcome {
	return st.requestGated(&st.pending.reboot, "reboot", reason)
}

// requestRestart queues a warm restart of the voice application (DECISIONS 12).
func (st *state) requestRestart(reason string) Outcome {
	return st.requestGated(&st.pending.restart, "restart", reason)
}

// requestGated queues op in slot (once) and says whether it starts now or waits for idle,
// logging why it waits.
func (st *state) requestGated(slot **pendingOp, op, reason string) Outcome {
	if *slot == nil {
		*slot = &pendingOp{reason: reason, since: st.p.clock.Now()}
	}
	if st.idle() {
		return OutcomeStarted
	}
	st.p.log.Info(op+" deferred", zap.String("reason", st.busyReason()), zap.String("requested_by", reason))
	st.emit(EventDeferred, map[string]any{"op": op, "reason": st.busyReason(), "requested_by": reason})
	st.p.opts.Counters.deferred(op)
	return OutcomeDeferred
}

// restart is the warm restart: the voice application comes up again from the current
// snapshot; no resync follows (DECISIONS 12).
func (st *state) restart(reason string) {
	st.p.log.Debug("restart started", zap.String("reason", reason))
	st.emit(EventStarted, map[string]any{"op": "restart", "reason": reason})
	st.restarting = true
	st.stopVoice(true, func() {
		st.startVoice()
		st.restarting = false
		st.p.log.Info("restart done", zap.String("reason", reason))
		st.emit(EventDone, map[string]any{"op": "restart", "result": "success"})
	})
}
