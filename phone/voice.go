package phone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// The voice application: one line per extension, each with its SIP agent bound to
// --ip:SIP_Port_n_, its registration and the policy timers that drive it (DECISIONS 20:
// refresh and retry run on the phone's clock; SIP's own timers run in real time inside sip).
// The warm restart of DECISIONS 12 stops every agent (unregistering what was registered) and
// starts them again from the snapshot in force.

// regState is an extension's Registration_State (SPA-BEHAVIOUR §9).
type regState uint8

const (
	regNone   regState = iota // Not Registered: line disabled, Register = No, no proxy, or not yet answered
	regOK                     // Registered
	regFailed                 // Failed
)

func (r regState) String() string {
	switch r {
	case regOK:
		return "Registered"
	case regFailed:
		return "Failed"
	}
	return "Not Registered"
}

// line is one extension of the voice application. Owned by the loop.
type line struct {
	n        int
	gen      int // the voice generation the line belongs to
	agent    *sip.Agent
	enabled  bool
	register bool // Register_n_ = Yes and a proxy is set
	bindErr  string
	// bindAt is when binding the agent's socket is tried again after bindFailures attempts
	// failed (bindLine); zero: bound, or not to be tried.
	bindAt       time.Time
	bindFailures int

	state    regState
	inFlight bool      // a REGISTER exchange is running
	next     time.Time // next registration attempt (refresh or retry); zero: none
	lastOK   time.Time // last successful registration
	lostAt   time.Time // when the line last stopped being registered ($REGTMRn)
	granted  time.Duration
	failures int
	lastErr  string
	lastCode int
	mapped   netip.AddrPort

	keepAlive time.Time // next NAT keep-alive; zero: off
	// reconnect says the registration's TCP/TLS connection was lost while a REGISTER was in
	// flight: register again when it ends. reconnectAt is when the last such registration
	// was due (connLost).
	reconnect   bool
	reconnectAt time.Time
	mwi         bool        // Message_Waiting_n_
	mwiSub      subState    // the message-summary subscription (mwi.go)
	shared      *sharedLine // the shared line appearance (shared.go); nil: private
}

// voiceState is the loop's voice application.
type voiceState struct {
	lines    []*line
	gen      int
	stopping int    // agents still closing after stopVoice
	then     func() // runs when the last of them has closed
	rnd      *rand.Rand
	// regCSeq keeps each extension's REGISTER sequence across restarts of its agent.
	regCSeq map[int]uint32
}

// startVoice brings up every enabled extension from the snapshot: binds its agent and, when it
// registers, starts registering at once (SPA-BEHAVIOUR §8.5).
func (st *state) startVoice() {
	st.startMedia()
	v := &st.voice
	v.gen++
	if v.rnd == nil {
		v.rnd = rand.New(rand.NewPCG(uint64(st.bootedAt.UnixNano())^0x5bd1e995, macSeed(st.p.id.MAC)))
	}
	now := st.p.clock.Now()
	v.lines = v.lines[:0]
	for n := 1; n <= st.p.id.Model.Extensions; n++ {
		l := &line{n: n, gen: v.gen, enabled: st.snap.Bool(config.ExtName(config.LineEnable, n)), lostAt: st.bootedAt}
		v.lines = append(v.lines, l)
		if l.enabled {
			st.bindLine(l, now)
		}
	}
}

// bindLine binds extension l's agent and starts what an extension in service does: its
// registration, its subscriptions and keep-alives. A socket that cannot be opened (another
// program holds --ip:SIP_Port_n_) leaves the extension out of service, with the reason in its
// status, and binding is tried again on the schedule of a failed registration
// (Reg_Retry_Intvl, doubled up to Reg_Retry_Intvl_Cap, plus Reg_Retry_Random_Delay; every
// Reg_Retry_Intvl's default 30 s when it is 0) on the phone's clock, as a device whose socket
// cannot be opened keeps trying: the extension comes up on the first attempt after the port
// is free, and the phone's other extensions and web server never wait for it.
func (st *state) bindLine(l *line, now time.Time) {
	v, n := &st.voice, l.n
	log := st.lineLog(n)
	cfg, err := st.sipConfig(n)
	if err != nil {
		l.bindErr = "no IP address"
		log.Warn("extension out of service", zap.String("reason", "the phone has no IP address (--ip)"))
		return
	}
	cfg.Logger = log
	cfg.RegCSeq = v.regCSeq[n]
	cfg.Shared = st.sharedConfig(n)
	gen := v.gen
	cfg.OnEvent = func(ev sip.Event) { st.p.post(func(st *state) { st.onSIPEvent(n, gen, ev) }) }
	register := st.snap.Bool(config.ExtName(config.Register, n)) && strings.TrimSpace(cfg.Proxy) != ""
	quota, files := st.p.opts.files, sipFiles(st.snap, n)
	var a *sip.Agent
	if !quota.Take(files) {
		err = fmt.Errorf("sip: bind extension %d: %w", n, errSIPFiles)
	} else if a, err = sip.NewAgent(cfg); err != nil {
		quota.Give(files)
	}
	if err != nil {
		again := l.bindErr == err.Error()
		l.bindErr = err.Error()
		l.bindFailures++
		in := st.bindRetry(l)
		l.bindAt = now.Add(in)
		if register {
			l.state = regFailed // it should register and cannot
		}
		if again {
			log.Debug("extension still out of service", zap.Error(err), zap.Duration("next_in", in), zap.Int("attempt", l.bindFailures))
		} else {
			log.Warn("extension out of service", zap.Error(err), zap.Duration("next_in", in), zap.Int("attempt", l.bindFailures))
		}
		st.emit(EventExtension, map[string]any{"ext": n, "in_service": false, "error": l.bindErr,
			"attempt": l.bindFailures, "next_in_seconds": int64(in / time.Second)})
		return
	}
	retried := l.bindFailures > 0
	l.bindErr, l.bindAt, l.bindFailures = "", time.Time{}, 0
	l.agent = a
	// Tracked as a goroutine is, though an idle extension of a fleet waits on none of its
	// own (sip.IdleWatch): the phone's Run waits for it to end.
	st.p.wg.Add(1)
	a.Start(func(err error) {
		defer st.p.wg.Done()
		quota.Give(files) // the socket (and on TCP its connections) closed with the agent
		if err != nil {
			log.Warn("extension socket failed", zap.Error(err))
		}
	})
	l.register = register
	if l.register {
		l.next = now
	}
	st.mwiStart(l, now)
	st.sharedStart(l, cfg.Shared, now)
	if st.snap.Bool(config.ExtName(config.NATKeepAliveEnable, n)) {
		if d := time.Duration(st.snap.Int(config.NATKeepAliveIntvl)) * time.Second; d > 0 {
			l.keepAlive = now.Add(d)
		}
	}
	log.Info("extension started", zap.String("addr", a.LocalAddr().String()), zap.Bool("register", l.register), zap.Bool("retried", retried))
	if retried {
		st.emit(EventExtension, map[string]any{"ext": n, "in_service": true, "addr": a.LocalAddr().String()})
	}
}

// bindRetry is how long an extension whose socket could not be opened waits before it tries
// again: a failed registration's short schedule (regRetry), or defaultBindRetry when
// Reg_Retry_Intvl is 0 (no registration retries): binding is not the registrar's to refuse.
func (st *state) bindRetry(l *line) time.Duration {
	if in, ok := st.regRetry(l.bindFailures, nil); ok {
		return in
	}
	return defaultBindRetry
}

// defaultBindRetry is Reg_Retry_Intvl's factory default (SPA-BEHAVIOUR §10).
const defaultBindRetry = 30 * time.Second

// stopVoice stops every agent. With unregister, a registered extension first removes its
// binding (Expires: 0), bounded by a couple of seconds, as the device does before a restart
// or a reboot. then runs on the loop once every agent has closed; without then (the phone
// is going down) nothing is posted back.
func (st *state) stopVoice(unregister bool, then func()) {
	st.closeCalls(unregister)
	st.stopMedia()
	v := &st.voice
	v.gen++
	lines := v.lines
	v.lines = nil
	v.then = then
	for _, l := range lines {
		if l.agent == nil {
			continue
		}
		a, wasReg, log, n := l.agent, unregister && l.register && l.state == regOK, st.lineLog(l.n), l.n
		wasSub := unregister && l.mwiSub.active
		v.stopping++
		st.p.goTracked(func() {
			defer func() {
				if then != nil {
					cseq := a.RegCSeq()
					st.p.post(func(st *state) {
						if st.voice.regCSeq == nil {
							st.voice.regCSeq = map[int]uint32{}
						}
						st.voice.regCSeq[n] = cseq
						st.agentStopped()
					})
				}
			}()
			if wasSub {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				unsubscribe(ctx, a, log)
				cancel()
			}
			if wasReg {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if _, err := a.Register(ctx, 0); err != nil {
					log.Info("unregister failed", zap.Error(err))
				} else {
					log.Info("unregistered")
				}
				cancel()
			}
			a.Close()
		})
	}
	if v.stopping == 0 && then != nil {
		v.then = nil
		then()
	}
}

// agentStopped counts an agent closed by stopVoice.
func (st *state) agentStopped() {
	v := &st.voice
	v.stopping--
	if v.stopping == 0 && v.then != nil {
		then := v.then
		v.then = nil
		then()
	}
}

// lineLog is the logger of extension n's agent and of what the loop does for it: the
// phone's "sip" logger, whose lines carry "line" first. It builds no encoder until it
// writes (lineCore adds the field as it writes; With, on the phone's lazy logger, built both
// the phone's encoder and the line's, a 1 KiB buffer each: 17 MB of 3,000 SPA942s' heap),
// and holds 168 bytes (a line's Named copy and zap's WithLazy held 432: 5 MB of the live
// heap of 3,000 resyncing SPA942s).
func (st *state) lineLog(n int) *zap.Logger {
	return st.p.sipLog.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return &lineCore{Core: c, line: n} }))
}

// lineCore writes what its core writes with the extension's "line" field before the others.
type lineCore struct {
	zapcore.Core
	line int
}

func (c *lineCore) field() zapcore.Field { return zap.Int("line", c.line) }

// With returns the core with the line's field and fields added (zap's With order).
func (c *lineCore) With(fields []zapcore.Field) zapcore.Core {
	return c.Core.With(append([]zapcore.Field{c.field()}, fields...))
}

// Check adds this core (not the one it wraps) to write an enabled entry.
func (c *lineCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write writes the entry with the line's field first.
func (c *lineCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.Core.Write(e, append([]zapcore.Field{c.field()}, fields...))
}

// voiceDeadlines adds the lines' policy timers to consider.
func (st *state) voiceDeadlines(consider func(time.Time)) {
	for _, l := range st.voice.lines {
		consider(l.bindAt)
		if !l.inFlight {
			consider(l.next)
		}
		if !l.mwiSub.inFlight {
			consider(l.mwiSub.next)
		}
		consider(l.keepAlive)
		st.sharedDeadlines(l, consider)
	}
}

// voiceFire runs the lines' timers due at now: registrations and keep-alives.
func (st *state) voiceFire(now time.Time) {
	for _, l := range st.voice.lines {
		if l.agent == nil {
			if !l.bindAt.IsZero() && !now.Before(l.bindAt) {
				st.bindLine(l, now)
			}
			continue
		}
		if !l.inFlight && !l.next.IsZero() && !now.Before(l.next) {
			st.startRegister(l)
		}
		if s := &l.mwiSub; !s.inFlight && !s.next.IsZero() && !now.Before(s.next) {
			st.startSubscribe(l)
		}
		st.sharedFire(l, now)
		if !l.keepAlive.IsZero() && !now.Before(l.keepAlive) {
			l.keepAlive = now.Add(time.Duration(max(st.snap.Int(config.NATKeepAliveIntvl), 1)) * time.Second)
			a, log := l.agent, st.lineLog(l.n)
			if strings.EqualFold(st.snap.Get(config.ExtName(config.NATKeepAliveMsg, l.n)), "$REGISTER") {
				if l.register && !l.inFlight {
					st.startRegister(l)
				}
				continue
			}
			st.p.goTracked(func() {
				if err := a.KeepAlive(st.ctx); err != nil && !errors.Is(err, sip.ErrClosed) {
					log.Debug("keep-alive not sent", zap.Error(err))
				}
			})
		}
	}
}

// startRegister sends the line's REGISTER on a tracked goroutine; the result comes back as
// regDone.
func (st *state) startRegister(l *line) {
	l.inFlight = true
	a, gen := l.agent, l.gen
	expires := time.Duration(st.snap.Int(config.ExtName(config.RegisterExpires, l.n))) * time.Second
	ctx := st.ctx
	st.p.goTracked(func() {
		reg, err := a.Register(ctx, expires)
		st.p.post(func(st *state) { st.regDone(l, gen, reg, err) })
	})
}

// regDone applies the result of a REGISTER: the refresh on success, the retry interval on
// failure (SPA-BEHAVIOUR §8.2 Reg_Retry_*).
func (st *state) regDone(l *line, gen int, reg *sip.Registration, err error) {
	if gen != st.voice.gen {
		return // the agent was stopped meanwhile
	}
	l.inFlight = false
	now := st.p.clock.Now()
	log := st.lineLog(l.n)
	if l.reconnect {
		l.reconnect = false
		defer st.reregisterAt(l, now)
	}
	prev := l.state
	if err == nil && reg.Expires > 0 {
		l.state, l.lastOK, l.granted, l.failures, l.lastErr, l.lastCode = regOK, now, reg.Expires, 0, "", 200
		l.lostAt = time.Time{}
		if st.snap.Bool(config.ExtName(config.NATMappingEnable, l.n)) {
			l.mapped = reg.Mapped
		}
		in := refreshIn(reg.Expires)
		l.next = now.Add(in)
		if prev != regOK {
			log.Info("registered", zap.Duration("expires", reg.Expires), zap.Duration("next_in", in), zap.String("server", reg.Server.String()))
		} else {
			log.Debug("registration refreshed", zap.Duration("expires", reg.Expires), zap.Duration("next_in", in))
		}
		st.emitRegistration(l, in)
		st.mwiRegistered(l, now)
		st.sharedRegistered(l, now, prev != regOK)
		return
	}
	if err == nil {
		err = errors.New("registrar granted no time")
	}
	l.state = regFailed
	if prev == regOK {
		l.lostAt = now
	}
	l.failures++
	l.lastErr = err.Error()
	l.lastCode = 0
	var re *sip.ResponseError
	if errors.As(err, &re) {
		l.lastCode = re.Code
	}
	in, ok := st.regRetry(l.failures, err)
	if ok {
		l.next = now.Add(in)
		log.Warn("registration failed", zap.Error(err), zap.Int("code", l.lastCode), zap.Duration("next_in", in), zap.Int("attempt", l.failures))
	} else {
		l.next = time.Time{}
		log.Warn("registration failed", zap.Error(err), zap.Int("code", l.lastCode), zap.String("next", "none: the retry interval is 0"))
	}
	st.emitRegistration(l, in)
}

// refreshIn is when a granted registration is refreshed: the margin before it runs out is half
// of it, at most 32 s (one Timer F of the RFC), so that a refresh lost once still lands in
// time. The sources do not give the device's rule (SPA-BEHAVIOUR §8.2); this is the decision.
func refreshIn(granted time.Duration) time.Duration {
	return granted - min(granted/2, 32*time.Second)
}

// regRetry is the wait after a failed registration (SPA-BEHAVIOUR §8.2): Reg_Retry_Intvl
// (plus up to Reg_Retry_Random_Delay) when nothing answered or the final code is listed in
// Retry_Reg_RSC, doubling per failure up to Reg_Retry_Intvl_Cap when that is set;
// Reg_Retry_Long_Intvl (plus up to Reg_Retry_Long_Random_Delay) for any other final code,
// a wrong password among them. An interval of 0 stops the retries (ok false).
func (st *state) regRetry(failures int, err error) (time.Duration, bool) {
	sn := st.snap
	var re *sip.ResponseError
	long := errors.As(err, &re) && !matchRSC(sn.Get(config.RetryRegRSC), re.Code)
	base, rnd := sn.Int(config.RegRetryIntvl), sn.Get(config.RegRetryRandomDelay)
	if long {
		base, rnd = sn.Int(config.RegRetryLongIntvl), sn.Get(config.RegRetryLongRandomDelay)
	}
	if base <= 0 {
		return 0, false
	}
	d := time.Duration(base) * time.Second
	if !long {
		if c, err := strconv.Atoi(strings.TrimSpace(sn.Get(config.RegRetryIntvlCap))); err == nil && c > 0 {
			for i := 1; i < failures && d < time.Duration(c)*time.Second; i++ {
				d *= 2
			}
			d = min(d, time.Duration(c)*time.Second)
		}
	}
	if r, err := strconv.Atoi(strings.TrimSpace(rnd)); err == nil && r > 0 {
		d += time.Duration(st.voice.rnd.Int64N(int64(r)+1)) * time.Second
	}
	return d, true
}

// matchRSC reports whether code is in a response-status-code template (SPA-BEHAVIOUR §8.8
// RscTmplt): comma-separated codes where x, ? or * stand for any digit ("5xx,408").
func matchRSC(tmpl string, code int) bool {
	c := strconv.Itoa(code)
	for _, item := range strings.Split(tmpl, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.HasSuffix(item, "*") && strings.HasPrefix(c, strings.TrimSuffix(item, "*")) {
			return true
		}
		if len(item) != len(c) {
			continue
		}
		ok := true
		for i := range item {
			if item[i] != c[i] && item[i] != 'x' && item[i] != 'X' && item[i] != '?' {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// emitRegistration puts the line's registration on the event stream.
func (st *state) emitRegistration(l *line, nextIn time.Duration) {
	d := map[string]any{"ext": l.n, "state": l.state.String(), "code": l.lastCode}
	if l.state == regOK {
		d["expires_seconds"] = int64(l.granted / time.Second)
	}
	if l.lastErr != "" {
		d["error"] = l.lastErr
	}
	if !l.next.IsZero() {
		d["next_in_seconds"] = int64(nextIn / time.Second)
	}
	st.emit(EventRegistration, d)
	if l.state == regOK || l.state == regFailed {
		st.p.opts.Counters.registered(l.state == regOK)
	}
}

// onSIPEvent handles what an agent reports. Events of an agent already stopped are dropped,
// and a request waiting for a decision is answered 503 by its agent.
func (st *state) onSIPEvent(n, gen int, ev sip.Event) {
	if gen != st.voice.gen || n > len(st.voice.lines) {
		switch ev := ev.(type) {
		case *sip.ControlRequest:
			ev.Respond(503, "Service Unavailable")
		case *sip.CallReinvite:
			ev.Reject(481, "Call/Transaction Does Not Exist")
		case *sip.Refer:
			ev.Reject(481, "Call/Transaction Does Not Exist")
		}
		return
	}
	l := st.voice.lines[n-1]
	switch ev := ev.(type) {
	case *sip.ControlRequest:
		st.onControl(l, ev)
	case *sip.IncomingCall, *sip.CallProgress, *sip.CallAnswered, *sip.CallFailed, *sip.CallEnded,
		*sip.CallReinvite, *sip.CallReinvited, *sip.DTMF, *sip.Refer, *sip.ReferStatus:
		st.onCallEvent(l, gen, ev)
	case *sip.MessageWaiting:
		st.onMWI(l, ev)
	case *sip.SubscriptionEnded:
		st.subEnded(l, ev)
	case *sip.SharedLineState:
		st.onSharedState(l, ev)
	case *sip.ConnectionLost:
		st.connLost(l, ev)
	}
}

// connLost registers again at once a line whose registration went over a TCP or TLS
// connection the far end closed: a proxy that reaches the phone over the connection it
// registered on cannot until then, and the REGISTER opens a new one (sip/stream.go). A
// REGISTER in flight when the connection went registers again when it ends, whatever its
// outcome. A proxy that closes every connection would have the phone register in a loop:
// one such registration per Reg_Retry_Intvl at most (the sources say nothing of the
// device's behaviour; this is the decision).
func (st *state) connLost(l *line, ev *sip.ConnectionLost) {
	if !l.register || l.agent == nil {
		return
	}
	now := st.p.clock.Now()
	at := now
	if gap := time.Duration(max(st.snap.Int(config.RegRetryIntvl), 1)) * time.Second; !l.reconnectAt.IsZero() && now.Sub(l.reconnectAt) < gap {
		at = l.reconnectAt.Add(gap)
	}
	l.reconnectAt = at
	st.lineLog(l.n).Info("connection to the registrar lost, registering again",
		zap.String("remote", ev.Remote.String()), zap.NamedError("reason", ev.Err), zap.Duration("in", at.Sub(now)))
	if l.inFlight {
		l.reconnect = true
		return
	}
	st.reregisterAt(l, now)
}

// reregisterAt starts the registration connLost asked for, now or at l.reconnectAt.
func (st *state) reregisterAt(l *line, now time.Time) {
	if now.Before(l.reconnectAt) {
		l.next = l.reconnectAt
		return
	}
	st.startRegister(l)
}

// onControl acts on a control NOTIFY (SPA-BEHAVIOUR §6, DECISIONS 18), always through the idle
// gate: a resync (Resync_From_SIP and Provision_Enable permitting), a reboot, the warm
// restart, or the report. The sender learns the outcome from the answer: 200 when taken or
// queued, 403 with the reason when the configuration forbids it.
func (st *state) onControl(l *line, cr *sip.ControlRequest) {
	log := st.lineLog(l.n).With(zap.String("event", cr.Event), zap.String("action", cr.Action.String()),
		zap.String("remote", cr.Source))
	if cr.Alias {
		log.Info("notify alias", zap.String("reason", "compatibility alias of DECISIONS 18"))
	}
	reason := "sip notify " + cr.Event + " on ext " + strconv.Itoa(l.n)
	code, text := 200, "OK"
	switch cr.Action {
	case sip.ControlResync, sip.ControlResyncReboot:
		if !st.snap.Bool(config.ResyncFromSIP) {
			code, text = 403, "Resync From SIP Disabled"
			break
		}
		host, _, _ := strings.Cut(cr.Source, ":")
		if _, err := st.requestResync("", host); err != nil {
			code, text = 403, "Provisioning Disabled"
			if !errors.Is(err, ErrProvisioningDisabled) {
				code, text = 500, "Server Internal Error"
			}
			if cr.Action == sip.ControlResyncReboot {
				st.requestReboot(reason) // the server asked for the reboot either way
				code, text = 200, "OK"
			}
			break
		}
		if r := st.lastResyncRequest(); r != nil {
			r.reason = reason
			if cr.Action == sip.ControlResyncReboot {
				r.rebootAfter = reason
			}
		}
	case sip.ControlReboot:
		st.requestReboot(reason)
	case sip.ControlRestart:
		st.requestRestart(reason)
	case sip.ControlReport:
		if err := st.requestReport(); err != nil {
			code, text = 500, "Server Internal Error"
		}
	}
	log.Info("notify taken", zap.Int("code", code), zap.Bool("authenticated", cr.Authenticated))
	st.emit(EventNotify, map[string]any{"ext": l.n, "event": cr.Event, "action": cr.Action.String(),
		"alias": cr.Alias, "code": code, "authenticated": cr.Authenticated, "remote": cr.Source})
	cr.Respond(code, text)
}

// lineStatus is what the status shows of extension n.
func (st *state) lineStatus(n int) ExtensionStatus {
	es := ExtensionStatus{Index: n, Enabled: st.snap.Bool(config.ExtName(config.LineEnable, n)),
		UserID: st.snap.Get(config.ExtName(config.UserID, n)), Registration: regNone.String()}
	if n > len(st.voice.lines) {
		return es
	}
	l := st.voice.lines[n-1]
	es.Registration = l.state.String()
	es.Registering = l.register
	if l.agent != nil {
		es.SIPAddr = l.agent.LocalAddr().String()
	}
	es.LastError = l.lastErr
	if l.bindErr != "" {
		es.LastError = l.bindErr
	}
	es.NextBind = timePtr(l.bindAt)
	es.LastCode = l.lastCode
	es.RegisteredAt = timePtr(l.lastOK)
	if !l.inFlight {
		es.NextRegistration = timePtr(l.next)
	}
	if l.state == regOK {
		es.ExpiresSec = int64(l.granted / time.Second)
	}
	es.MessageWaiting = l.mwi
	es.MWISubscription = st.mwiStatus(l)
	es.SharedLine = st.sharedStatus(n)
	return es
}

// registered reports whether extension n is registered; regtmr is $REGTMRn.
func (st *state) regtmr(n int, now time.Time) int {
	if n <= len(st.voice.lines) {
		l := st.voice.lines[n-1]
		if l.state == regOK {
			return 0
		}
		if !l.lostAt.IsZero() {
			return int(now.Sub(l.lostAt) / time.Second)
		}
	}
	return int(now.Sub(st.bootedAt) / time.Second)
}

// extInfo is the Info tab's Ext n Status (SPA-BEHAVIOUR §9).
func (st *state) extInfo(n int, now time.Time) config.ExtInfo {
	e := config.ExtInfo{RegistrationState: regNone.String(), LastRegistrationAt: "0/0/0 00:00:00"}
	if n > len(st.voice.lines) {
		return e
	}
	l := st.voice.lines[n-1]
	e.RegistrationState = l.state.String()
	if !l.lastOK.IsZero() {
		e.LastRegistrationAt = config.FormatTime(l.lastOK)
	}
	if l.register && !l.next.IsZero() && !l.inFlight {
		e.NextRegistrationIn = nextIn(l.next, now)
	}
	e.MessageWaiting = l.mwi
	if l.mapped.IsValid() {
		e.MappedSIPPort = strconv.Itoa(int(l.mapped.Port()))
	}
	return e
}

// nextIn writes the time to t as the Info tab does: "2 s".
func nextIn(t, now time.Time) string {
	return fmt.Sprintf("%d s", max(int64(t.Sub(now)/time.Second), 0))
}

// callState is a call appearance's Call_State while no call uses it (SPA-BEHAVIOUR §9,
// §13.1): Disabled, No Service (the extension should register and is not), or Idle.
func (st *state) idleCallState(n int) string {
	if !st.snap.Bool(config.ExtName(config.LineEnable, n)) {
		return "Disabled"
	}
	if n <= len(st.voice.lines) {
		l := st.voice.lines[n-1]
		if l.agent == nil || (l.register && l.state != regOK) {
			return "No Service"
		}
	}
	return "Idle"
}
