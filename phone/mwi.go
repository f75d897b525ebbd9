package phone

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// Message waiting (SPA-BEHAVIOUR §13.9). Message_Waiting_n_ is the extension's state: the
// message-summary NOTIFYs set it (subscribed or not), the phone keeps it in the flash as the
// device does ("updated whenever a voice message is received") and shows it in Ext n Status.
// It is a live parameter (config's liveParams): the phone changing it, or a profile setting
// it, is no reason for the warm restart.
//
// The subscription is the phone's policy on its clock (DECISIONS 20), as registration is: it
// starts once the extension is registered (at once for an extension that does not register),
// when it has a target — sip:<Mailbox_ID_n_ or User_ID_n_>@<Voice_Mail_Server_n_>, or, with
// Options.MWIDomainSubscribe, the proxy's bare domain as a SPA962 6.1.5 does. It asks for
// the observed 2147483647 s and refreshes before the granted expiry runs out (refreshIn, as
// registrations); after a failure it tries again after Sub_Retry_Intvl. A notifier that
// refuses the package or the target for good (489 Bad Event, 403, 404, 405, 501, 603) is not
// asked again until the voice application restarts: every retry would get the same answer. A
// NOTIFY that ends the subscription is followed per RFC 6665 §4.2.2: deactivated and timeout
// subscribe again at once, probation and giveup after its retry-after (at least
// Sub_Retry_Intvl), rejected and noresource not at all. A restart or reboot unsubscribes
// (Expires: 0) before it unregisters.

// mwiExpires is the expiry the phone's message-summary SUBSCRIBE asks for: the value seen
// from a SPA962 (SPA-BEHAVIOUR §13.9); the notifier grants less.
const mwiExpires = 2147483647 * time.Second

// subState is the policy state of one subscription of a line. Owned by the loop.
type subState struct {
	enabled  bool
	active   bool
	inFlight bool
	next     time.Time // next SUBSCRIBE (refresh or retry); zero: none
	expires  time.Duration
	failures int
	lastCode int
	lastErr  string
	target   string
	stopped  string // why the phone asks no more, until the voice application restarts
}

// SubscriptionStatus is the state of an extension's message-waiting subscription.
type SubscriptionStatus struct {
	Target string `json:"target"`
	// State is "subscribing", "active", "retrying" or "stopped".
	State      string     `json:"state"`
	ExpiresSec int64      `json:"expires_seconds,omitempty"`
	Next       *time.Time `json:"next,omitempty"`
	LastCode   int        `json:"last_code,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
}

// mwiStart sets up line l's subscription after its agent started: a target, and the first
// SUBSCRIBE now for a line that does not register (a registering one starts at its first
// registration).
func (st *state) mwiStart(l *line, now time.Time) {
	l.mwi = st.snap.Bool(config.ExtName(config.MessageWaitingExt, l.n))
	target, err := l.agent.MWITarget()
	if err != nil {
		return
	}
	l.mwiSub = subState{enabled: true, target: target}
	if !l.register {
		l.mwiSub.next = now
	}
}

// mwiRegistered starts line l's subscription at its first registration.
func (st *state) mwiRegistered(l *line, now time.Time) {
	s := &l.mwiSub
	if s.enabled && !s.active && !s.inFlight && s.next.IsZero() && s.stopped == "" && s.failures == 0 {
		s.next = now
	}
}

// startSubscribe sends line l's SUBSCRIBE on a tracked goroutine; subDone takes the result.
func (st *state) startSubscribe(l *line) {
	l.mwiSub.inFlight = true
	a, gen, ctx := l.agent, l.gen, st.ctx
	st.p.goTracked(func() {
		sub, err := a.SubscribeMWI(ctx, mwiExpires)
		st.p.post(func(st *state) { st.subDone(l, gen, sub, err) })
	})
}

// subDone applies the outcome of a SUBSCRIBE.
func (st *state) subDone(l *line, gen int, sub *sip.Subscription, err error) {
	if gen != st.voice.gen {
		return
	}
	s := &l.mwiSub
	s.inFlight = false
	now := st.p.clock.Now()
	log := st.lineLog(l.n).WithLazy(zap.String("event", "message-summary"), zap.String("target", s.target))
	if err == nil && sub.Expires > 0 {
		if !s.active || sub.New {
			log.Info("subscribed", zap.Duration("expires", sub.Expires), zap.Bool("new", sub.New))
		}
		s.active, s.expires, s.failures, s.lastCode, s.lastErr = true, sub.Expires, 0, 200, ""
		s.next = now.Add(refreshIn(sub.Expires))
		st.emitSubscription(l, "active")
		return
	}
	if err == nil {
		err = errors.New("notifier granted no time")
	}
	s.active = false
	s.failures++
	s.lastErr, s.lastCode = err.Error(), 0
	var re *sip.ResponseError
	if errors.As(err, &re) {
		s.lastCode = re.Code
		switch re.Code {
		case 403, 404, 405, 489, 501, 603:
			s.stopped, s.next = re.Error(), time.Time{}
			log.Warn("subscription refused", zap.Int("code", re.Code), zap.String("next", "none until the voice application restarts"))
			st.emitSubscription(l, "stopped")
			return
		}
	}
	in := time.Duration(max(st.snap.Int(config.SubRetryIntvl), 1)) * time.Second
	s.next = now.Add(in)
	log.Warn("subscription failed", zap.Error(err), zap.Int("code", s.lastCode), zap.Duration("next_in", in), zap.Int("attempt", s.failures))
	st.emitSubscription(l, "retrying")
}

// subEnded follows a NOTIFY that ended line l's subscription (RFC 6665 §4.2.2).
func (st *state) subEnded(l *line, ev *sip.SubscriptionEnded) {
	s := &l.mwiSub
	if !s.enabled {
		return
	}
	now := st.p.clock.Now()
	s.active = false
	retry := time.Duration(max(st.snap.Int(config.SubRetryIntvl), 1)) * time.Second
	switch ev.Reason {
	case "deactivated", "timeout":
		s.next = now
	case "rejected", "noresource":
		s.stopped, s.next = "the notifier ended the subscription: "+ev.Reason, time.Time{}
	default: // probation, giveup, none given
		s.next = now.Add(max(ev.RetryAfter, retry))
	}
	st.lineLog(l.n).Info("subscription ended", zap.String("event", ev.Package), zap.String("reason", ev.Reason),
		zap.Bool("again", !s.next.IsZero()))
	state := "retrying"
	if s.stopped != "" {
		state = "stopped"
	}
	st.emitSubscription(l, state)
}

// emitSubscription puts line l's subscription on the event stream.
func (st *state) emitSubscription(l *line, state string) {
	s := &l.mwiSub
	d := map[string]any{"ext": l.n, "event": "message-summary", "state": state, "target": s.target, "code": s.lastCode}
	if s.active {
		d["expires_seconds"] = int64(s.expires / time.Second)
	}
	if s.lastErr != "" {
		d["error"] = s.lastErr
	}
	if !s.next.IsZero() {
		d["next_in_seconds"] = int64(s.next.Sub(st.p.clock.Now()) / time.Second)
	}
	st.emit(EventSubscription, d)
}

// onMWI takes a message-summary NOTIFY: the lamp, Message_Waiting_n_ in the flash, the event.
func (st *state) onMWI(l *line, ev *sip.MessageWaiting) {
	name := config.ExtName(config.MessageWaitingExt, l.n)
	if l.mwi != ev.Waiting {
		st.lineLog(l.n).Info("message waiting", zap.Bool("waiting", ev.Waiting), zap.Int("new", ev.New), zap.Int("old", ev.Old),
			zap.Bool("subscribed", ev.Subscribed))
	}
	l.mwi = ev.Waiting
	st.emit(EventMWI, map[string]any{"ext": l.n, "waiting": ev.Waiting, "new": ev.New, "old": ev.Old,
		"account": ev.Account, "subscribed": ev.Subscribed})
	if st.snap.Bool(name) != ev.Waiting {
		log := st.lineLog(l.n)
		st.applyChanges("mwi", []config.Change{config.Set(name, yesNo(ev.Waiting))}, config.ApplyOptions{}, nil, skippedValues{},
			func(_ config.Diff, err error) {
				if err != nil {
					log.Warn("message waiting not kept", zap.Error(err))
				}
			})
	}
}

// mwiConfigChanged follows a Message_Waiting_n_ a profile or the web set: the lamp shows it.
func (st *state) mwiConfigChanged(names []string) {
	for _, l := range st.voice.lines {
		name := config.ExtName(config.MessageWaitingExt, l.n)
		for _, n := range names {
			if n == name {
				l.mwi = st.snap.Bool(name)
			}
		}
	}
}

// mwiStatus is what the status shows of line l's subscription; nil when it has none.
func (st *state) mwiStatus(l *line) *SubscriptionStatus {
	s := &l.mwiSub
	if !s.enabled {
		return nil
	}
	ss := &SubscriptionStatus{Target: s.target, LastCode: s.lastCode, LastError: s.lastErr}
	switch {
	case s.stopped != "":
		ss.State = "stopped"
	case s.active:
		ss.State = "active"
		ss.ExpiresSec = int64(s.expires / time.Second)
	case s.failures > 0:
		ss.State = "retrying"
	default:
		ss.State = "subscribing"
	}
	if !s.inFlight {
		ss.Next = timePtr(s.next)
	}
	return ss
}

// unsubscribe ends a's message-summary subscription (Expires: 0), bounded by ctx.
func unsubscribe(ctx context.Context, a *sip.Agent, log *zap.Logger) {
	if _, err := a.SubscribeMWI(ctx, 0); err != nil {
		log.Info("unsubscribe failed", zap.String("event", "message-summary"), zap.Error(err))
		return
	}
	log.Info("unsubscribed", zap.String("event", "message-summary"))
}
