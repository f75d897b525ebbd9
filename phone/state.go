package phone

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// state is everything the loop owns. Only the loop goroutine touches it.
type state struct {
	p    *Phone
	ctx  context.Context  // the Run context; cancelled when the loop ends
	snap *config.Snapshot // the configuration in force: durable in flash
	// flash is the latest flash document handed to the store: every later save starts
	// from it, so that none drops what an earlier one, still on its way, holds.
	flash *config.Flash

	// saving is true while a configuration change is on its way to the flash. Changes that
	// come meanwhile wait in afterSave, in order, and are computed when it has landed: one
	// commit in flight keeps each change computed on the configuration before it, while
	// every other event (timers, SIP, status reads) goes on.
	saving    bool
	afterSave []func()

	bootedAt time.Time
	offHook  bool
	phase    State

	pending pendingOps
	// restarting is true while the warm restart stops and starts the voice application.
	restarting bool
	// exit ends the loop: ErrReboot or errStopped.
	exit error

	prov  provState
	upg   upgState
	voice voiceState
	calls callsState

	// outbox holds the events of this turn; they go out after the turn's status is
	// published, so that a reader who sees an event also sees its effect in the status.
	outbox []Event
}

// emit queues an event of this turn.
func (st *state) emit(kind string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	st.outbox = append(st.outbox, Event{Time: st.p.clock.Now(), Kind: kind, Data: data})
}

func newState(p *Phone, snap *config.Snapshot, fl *config.Flash) *state {
	return &state{p: p, snap: snap, flash: fl, phase: StateBooting}
}

// boot is the first turn of a phone's life: count the boot, say so, and arm the boot-time
// policies (Resync_On_Reset, the upgrade machinery).
func (st *state) boot() {
	st.bootedAt = st.p.clock.Now()
	st.phase = StateRunning
	st.p.opts.Counters.booted()
	st.p.log.Info("phone booted",
		zap.Int("boot_count", st.flash.BootCount),
		zap.String("software", st.p.id.Software),
		zap.String("model", st.p.id.Model.Name))
	st.emit(EventBoot, map[string]any{
		"boot_count": st.flash.BootCount, "software": st.p.id.Software,
		"model": st.p.id.Model.Name, "mac": st.p.id.MACHex(),
	})
	st.provBoot()
	st.upgBoot()
	st.startVoice()
}

// shutdown ends the phone's life: stop the subsystems, say why.
func (st *state) shutdown() {
	reason := "stopped"
	if st.exit == errPowerCut {
		reason = "power cut"
	}
	if st.exit == ErrReboot {
		reason = "reboot"
		st.phase = StateRebooting
	} else {
		st.phase = StateStopped
	}
	// A reboot unregisters first, as the device does; a stop is the power going off.
	st.stopVoice(st.exit == ErrReboot, nil)
	st.emit(EventShutdown, map[string]any{"reason": reason})
}

// idle reports whether the phone is idle: no call appearance is active and the handset is
// on-hook (DESIGN "The phone"). It is derived, never stored: a call that rings, is being set
// up, is connected or held makes the phone busy.
func (st *state) idle() bool {
	return !st.offHook && len(st.calls.order) == 0
}

// busyReason says why the phone is not idle, for the gate's log lines.
func (st *state) busyReason() string {
	if r := st.activeCallReason(); r != "" {
		return r
	}
	if st.offHook {
		return "handset off-hook"
	}
	return ""
}

// nextDeadline is the earliest policy timer due.
func (st *state) nextDeadline() (time.Time, bool) {
	var best time.Time
	ok := false
	consider := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if !ok || t.Before(best) {
			best, ok = t, true
		}
	}
	consider(st.prov.due)
	consider(st.prov.triggerCheck)
	if st.pending.resync != nil {
		consider(st.pending.resync.forceAt)
	}
	consider(st.upg.retryAt)
	st.voiceDeadlines(consider)
	st.callDeadlines(consider)
	return best, ok
}

// fireDue runs the policy timers that are due at now.
func (st *state) fireDue(now time.Time) {
	st.provFire(now)
	st.upgFire(now)
	st.voiceFire(now)
	st.callFire(now)
}

// applyChanges validates and applies changes from source (web, api, profile, resync), keeps
// them in flash, and schedules the restart they need (DECISIONS 12). unknown and skipped are
// what the profile behind the changes ignored, for the config_applied event. The change
// takes effect, and done hears of it, once it is durable: the flash is written off the loop
// (a fleet's store commits many phones' changes at once), the loop goes on meanwhile, and a
// change that comes before the last one has landed waits for it. done may be nil.
func (st *state) applyChanges(source string, changes []config.Change, opts config.ApplyOptions, unknown []string, skipped skippedValues, done func(config.Diff, error)) {
	if done == nil {
		done = func(config.Diff, error) {}
	}
	st.whenSaved(func() { st.applyNow(source, changes, opts, unknown, skipped, done) })
}

func (st *state) applyNow(source string, changes []config.Change, opts config.ApplyOptions, unknown []string, skipped skippedValues, done func(config.Diff, error)) {
	next, diff, err := st.snap.Apply(changes, opts)
	st.applied(source, next, diff, err, unknown, skipped, done)
}

// applyResult takes next, which a resync made of base with its changes: when the
// configuration in force is still base, next is what applying the changes again would give,
// and only the difference is computed (a profile is validated and applied once, SPA-BEHAVIOUR
// §1.1 all or nothing held by the job). Otherwise the changes are applied to what is in force.
// The changes are asked for only then (a resync may not have read them: profileMemo).
func (st *state) applyResult(source string, base, next *config.Snapshot, changes func() ([]config.Change, error), unknown []string, skipped skippedValues, done func(config.Diff, error)) {
	st.whenSaved(func() {
		if base == nil || next == nil || st.snap != base {
			ch, err := changes()
			if err != nil {
				st.applied(source, nil, config.Diff{}, err, unknown, skipped, done)
				return
			}
			st.applyNow(source, ch, config.ApplyOptions{}, unknown, skipped, done)
			return
		}
		diff := base.Diff(next)
		if diff.Empty() {
			next = base
		}
		st.applied(source, next, diff, nil, unknown, skipped, done)
	})
}

// applied keeps next in flash and puts it in force (or reports err), as applyChanges says.
func (st *state) applied(source string, next *config.Snapshot, diff config.Diff, err error, unknown []string, skipped skippedValues, done func(config.Diff, error)) {
	if err != nil {
		st.p.log.Warn("configuration rejected", zap.String("source", source), zap.Error(err))
		st.emit(EventConfigRejected, map[string]any{"source": source, "error": err.Error()})
		done(diff, err)
		return
	}
	names := firstNames(unknown)
	// A resync says what it did in its own one line (resync done); the details are debug.
	lvl := zap.InfoLevel
	if source == "resync" {
		lvl = zap.DebugLevel
	}
	if ce := st.p.log.Check(lvl, "profile names ignored"); ce != nil && len(unknown) > 0 {
		ce.Write(zap.String("source", source), zap.Int("count", len(unknown)), zap.Strings("param", names))
	}
	if diff.Empty() {
		data := map[string]any{"source": source, "changed": []string{}, "access_changed": []string{},
			"unknown": names, "unknown_count": len(unknown)}
		skipped.addTo(data)
		st.emit(EventConfigApplied, data)
		done(diff, nil)
		return
	}
	fl := *st.flash
	fl.Values, fl.Access = next.Overrides()
	st.commitFlash(&fl, func(err error) {
		if err != nil {
			st.p.log.Error("configuration not saved", zap.String("source", source), zap.Error(err))
			done(config.Diff{}, err)
			return
		}
		st.snap = next
		restart := st.snap.Catalog().NeedsRestart(diff.Values)
		if ce := st.p.log.Check(lvl, "configuration applied"); ce != nil {
			ce.Write(zap.String("source", source), zap.Int("changed", len(diff.Values)),
				zap.Int("access_changed", len(diff.Access)), zap.Bool("restart", restart))
		}
		data := map[string]any{
			"source": source, "changed": nonNil(diff.Values), "access_changed": nonNil(diff.Access),
			"unknown": names, "unknown_count": len(unknown), "restart": restart,
		}
		skipped.addTo(data)
		st.emit(EventConfigApplied, data)
		if restart {
			st.requestRestart("configuration changed by " + source)
		}
		st.provConfigChanged(diff.Values)
		st.voiceConfigChanged(diff.Values)
		done(diff, nil)
	})
}

// whenSaved runs fn now when no configuration change is on its way to the flash, else once
// it has landed (see state.saving).
func (st *state) whenSaved(fn func()) {
	if !st.saving {
		fn()
		return
	}
	st.afterSave = append(st.afterSave, fn)
}

// commitFlash hands fl to the flash store and calls then on the loop once it is durable (or
// failed). Until then, st.saving holds later changes back. On failure st.flash goes back to
// what it was: the next save must not carry a change that was refused.
func (st *state) commitFlash(fl *config.Flash, then func(error)) {
	prev := *st.flash
	*st.flash = *fl
	st.saving = true
	ack := make(chan error, 1)
	st.p.flash.Commit(fl, func(err error) { ack <- err })
	st.p.goTracked(func() {
		err := <-ack
		st.p.post(func(st *state) {
			if err != nil {
				*st.flash = prev
			}
			st.saving = false
			then(err)
			for !st.saving && len(st.afterSave) > 0 {
				fn := st.afterSave[0]
				st.afterSave[0] = nil
				st.afterSave = st.afterSave[1:]
				fn()
			}
			if len(st.afterSave) == 0 {
				st.afterSave = nil
			}
		})
	})
}

// saveFlash writes the flash as it is now (after upgrade bookkeeping changes) and returns when
// it is durable. It blocks the loop for the store's next commit: it is for the rare steps of
// an upgrade, which must be durable before the phone goes on. It starts from st.flash, so it
// keeps any change still on its way, and the store lands it after that one.
func (st *state) saveFlash() error { return st.p.flash.Save(st.flash) }

// maxNamesShown is how many unknown profile names an event or a log line carries; the rest
// are counted. A profile may hold any number of them (a provisioning server, a web client),
// and everything an event holds is kept on the bus.
const maxNamesShown = 20

// firstNames returns copies of the first maxNamesShown names (never nil): copies, so that
// what is kept never pins the profile they were read from.
func firstNames(names []string) []string {
	out := make([]string, 0, min(len(names), maxNamesShown))
	for _, n := range names[:min(len(names), maxNamesShown)] {
		out = append(out, strings.Clone(n))
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// snapshotStatus builds the immutable status of this turn.
func (st *state) snapshotStatus() *Status {
	id := st.p.id
	now := st.p.clock.Now()
	s := &Status{
		Model: id.Model.Name, MAC: id.MACHex(), Serial: id.Serial, Software: id.Software,
		Hardware: id.Hardware, IP: st.p.opts.IP, UserAgent: id.HTTPUserAgent(), SIPAgent: id.SIPVersion(),
		State: st.phase, BootCount: st.flash.BootCount, BootedAt: st.bootedAt, Now: now,
		Idle: st.idle(), OffHook: st.offHook, Pending: st.pending.list(),
	}
	if !st.bootedAt.IsZero() {
		s.UptimeSec = int64(now.Sub(st.bootedAt) / time.Second)
	}
	for n := 1; n <= id.Model.Extensions; n++ {
		s.Extensions = append(s.Extensions, st.lineStatus(n))
	}
	s.Calls = []CallStatus{}
	for _, c := range st.calls.order {
		s.Calls = append(s.Calls, st.callStatus(c))
	}
	s.Provisioning = st.provStatus()
	s.Upgrade = st.upgStatus()
	s.Info = st.info(now)
	s.Config = st.snap
	s.media = st.liveMedia()
	return s
}

// progress is the turn's Progress: what snapshotStatus would put in those fields.
func (st *state) progress(into *Progress) {
	*into = Progress{State: st.phase, BootCount: st.flash.BootCount, Provisioning: "idle",
		ResyncCount: st.prov.count, LastResult: st.prov.lastResult, LastError: st.prov.err, SIPDown: into.SIPDown[:0]}
	if !st.prov.due.IsZero() {
		into.NextReason = st.prov.dueReason
	}
	if r := st.pending.resync; r != nil {
		into.Provisioning = "waiting"
		if r.running {
			into.Provisioning = "fetching"
		}
	}
	for i, l := range st.voice.lines {
		if l.agent != nil {
			continue
		}
		err := l.lastErr
		if l.bindErr != "" {
			err = l.bindErr
		}
		if err != "" && st.snap.Bool(config.ExtName(config.LineEnable, i+1)) {
			into.SIPDown = append(into.SIPDown, err)
		}
	}
}

// info builds the live Info values (SPA-BEHAVIOUR §9).
func (st *state) info(now time.Time) config.Info {
	id := st.p.id
	sn := st.snap
	in := config.Info{
		DHCP: "Disabled", CurrentIP: st.p.opts.IP, HostName: sn.Get(config.HostName),
		Domain: sn.Get(config.Domain), PrimaryDNS: sn.Get(config.PrimaryDNS), SecondaryDNS: sn.Get(config.SecondaryDNS),
		ProductName: id.Model.Name, SerialNumber: id.Serial, SoftwareVersion: id.Software,
		HardwareVersion: id.Hardware, MAC: id.MACHex(), ClientCertificate: st.ccert(),
		Customization: "Open", Licenses: "None",
		CurrentTime: time.Now(), VLAN: "n/a",
		RingToneStatus: "Idle", RingTones: [2]string{"Not Installed", "Not Installed"},
	}
	if sn.Get(config.ConnectionType) == "DHCP" {
		in.DHCP = "Enabled"
	}
	in.HostName = st.hostName()
	if !st.bootedAt.IsZero() {
		in.Elapsed = now.Sub(st.bootedAt)
	}
	for n := 1; n <= id.Model.Extensions; n++ {
		e := st.extInfo(n, now)
		calls := [2]config.CallInfo{}
		for m := range calls {
			calls[m].State = st.idleCallState(n)
			calls[m].Tone = "None"
		}
		in.Ext = append(in.Ext, e)
		in.Lines = append(in.Lines, calls)
	}
	st.callInfo(in.Lines, now)
	return in
}

// hostName is the phone's host name: HostName, or the factory one shown by real units
// (SPA-BEHAVIOUR §9).
func (st *state) hostName() string { return hostNameOf(st.snap) }

func hostNameOf(snap *config.Snapshot) string {
	if h := snap.Get(config.HostName); h != "" {
		return h
	}
	return "SipuraSPA"
}

// ccert is $CCERT: whether the phone has a client certificate.
func (st *state) ccert() string {
	if st.p.opts.Provisioning.ClientCert != "" {
		return "Installed"
	}
	return "Not Installed"
}
