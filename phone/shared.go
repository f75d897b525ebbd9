package phone

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// Shared line appearance (SPA-BEHAVIOUR §13.8), the SPA9000 form that sip/shared.go speaks.
//
// An extension is shared when Share_Ext_n_ is shared and at least one line key shows it as a
// shared appearance (Extension_k_ = n, Share_Call_Appearance_k_ = shared, §8.4); a Share_Ext
// without such a key is logged once and works as a private line. Its two call appearances are
// the shared keys: appearance m is x-line-id m-1 on the wire.
//
//   - After the extension registers (at its start when it does not register) the phone sends
//     the full-state NOTIFY, and again every Subscription_Expires_n_ seconds, which is what
//     the parameter's name says it is: the refresh of the phone's standing with the server
//     [inf]. After a failure it tries again after Reg_Retry_Intvl. A server that refuses the
//     dialog NOTIFY outright (489, 405, 501: it does not speak the SPA9000 form, a BroadSoft
//     server say) is logged once and the extension works as a private line until the voice
//     application restarts.
//   - Every sharing phone rings on an inbound call: the server (or registrar) forks the
//     INVITE to every phone registered for the shared account, the first 200 takes it and the
//     others get a CANCEL. The phone that answers reports the appearance confirmed.
//   - Each appearance's state is shown as the line-key LED state names of §12.5 (Idle,
//     Local_Seized, Local_Progressing, Local_Ringing, Local_Active, Local_Held,
//     Remote_Undefined until the server first said, Remote_Seized, Remote_Progressing,
//     Remote_Ringing, Remote_Active, Remote_Held) in the status (ExtensionStatus.SharedLine)
//     and on the event stream (event shared_line); the Info tab's Call_State of an appearance
//     another phone uses is Busy (§13.1: "shared line in use by another phone").
//   - A new outgoing call takes the lowest appearance no call of this phone and no other phone
//     uses, seizes it (Call_State Dialing: the partial NOTIFY trying), and sends its INVITE
//     only once the server granted the seize (2xx); a refusal or no answer ends it. Its state
//     changes go to the server as they happen (early, confirmed, held, terminated).
//   - A call held on another phone is resumed from this one ([Phone.ResumeShared]) by an
//     INVITE with Replaces (RFC 3891) to the held party, naming the held dialog the server
//     reported (call-id, local-tag, remote-tag): the held party takes the new call in place of
//     the old and ends that one. Decision: the sources say only that it can be done; Replaces
//     is how shared-appearance systems do it (RFC 7463 §5.3 retrieves a held call the same
//     way), it needs nothing of the server, and every phone that takes an attended transfer
//     (spa900 among them) honours it.
//   - With SCA_Barge-In_Enable Yes, a user adds himself to a call in progress on another
//     phone ([Phone.BargeShared]): an INVITE with Join (RFC 3911) of that dialog to its far
//     end, which conferences the new call with the old. Decision: the sources say only what
//     the feature does; Join is the standard way to enter a call one is not part of, and the
//     phone, as that far end, takes it (onJoin: answered at once, local three-way conference,
//     SPA-BEHAVIOUR §13.5). With No, BargeShared is refused with the reason.

// Line-key LED states of a shared appearance (SPA-BEHAVIOUR §12.5, the *_LED names without
// the suffix).
const (
	LEDIdle              = "Idle"
	LEDLocalSeized       = "Local_Seized"
	LEDLocalProgressing  = "Local_Progressing"
	LEDLocalRinging      = "Local_Ringing"
	LEDLocalActive       = "Local_Active"
	LEDLocalHeld         = "Local_Held"
	LEDRemoteUndefined   = "Remote_Undefined"
	LEDRemoteSeized      = "Remote_Seized"
	LEDRemoteProgressing = "Remote_Progressing"
	LEDRemoteRinging     = "Remote_Ringing"
	LEDRemoteActive      = "Remote_Active"
	LEDRemoteHeld        = "Remote_Held"
)

// CallDialing is a call whose appearance is seized and whose INVITE waits for the shared-line
// server's grant (SPA-BEHAVIOUR §13.1 Dialing).
const CallDialing = "Dialing"

// EventSharedLine is a shared appearance's state changing: ext, appearance, state (an LED
// state name), by (the phone using it, when another one), peer.
const EventSharedLine = "shared_line"

// SharedLineStatus is the state of a shared extension.
type SharedLineStatus struct {
	User string `json:"user"`
	// State is the phone's standing with the server: "publishing", "active", "retrying", or
	// "private" (the server refused the SPA9000 form; LastError says why).
	State       string                   `json:"state"`
	LastCode    int                      `json:"last_code,omitempty"`
	LastError   string                   `json:"last_error,omitempty"`
	Appearances []SharedAppearanceStatus `json:"appearances"`
}

// SharedAppearanceStatus is one shared appearance.
type SharedAppearanceStatus struct {
	Appearance int `json:"appearance"`
	// State is the LED state name (LEDIdle, LEDRemoteHeld, …).
	State string `json:"state"`
	// By is the phone using it (its primary AOR), when it is another one; Peer the far end.
	By   string `json:"by,omitempty"`
	Peer string `json:"peer,omitempty"`
}

// remoteApp is what the server said of one appearance.
type remoteApp struct {
	known  bool
	dialog *sip.SharedDialog // nil: free
}

// sharedLine is a shared extension's state. Owned by the loop.
type sharedLine struct {
	user     string
	primary  string // this phone's identity in the documents
	apps     [appearances + 1]remoteApp
	led      [appearances + 1]string // last LED state put on the event stream
	queue    []sharedPub             // NOTIFYs to send, the first one in flight
	next     time.Time               // next full-state NOTIFY; zero: none due
	full     bool                    // the last full-state NOTIFY was taken
	private  string                  // why the server's refusal made the line private
	lastCode int
	lastErr  string
}

// sharedPub is one dialog NOTIFY to send; seize is the call whose INVITE waits for it.
type sharedPub struct {
	state sip.SharedState
	seize *pcall
	full  bool
}

// sharedConfig is extension n's sip.SharedLine, or nil when it is private.
func (st *state) sharedConfig(n int) *sip.SharedLine {
	sn := st.snap
	if !strings.EqualFold(sn.Get(config.ExtName(config.ShareExt, n)), "shared") {
		return nil
	}
	key := 0
	for k := 1; k <= st.p.id.Model.Extensions; k++ {
		if sn.Get(config.ExtName(config.LineKeyExtension, k)) == strconv.Itoa(n) &&
			strings.EqualFold(sn.Get(config.ExtName(config.ShareCallAppearance, k)), "shared") {
			key = k
			break
		}
	}
	if key == 0 {
		st.lineLog(n).Info("shared line private", zap.String("reason",
			"Share_Ext is shared but no line key shows the extension with Share_Call_Appearance shared"))
		return nil
	}
	sl := &sip.SharedLine{User: strings.TrimSpace(sn.Get(config.ExtName(config.SharedUserID, n))),
		StateAgent: strings.TrimSpace(sn.Get(config.ExtName(config.StateAgent, n)))}
	// The primary AOR is Ext 1's (SPA-BEHAVIOUR §13.8: From is the phone's primary user).
	if u := strings.TrimSpace(sn.Get(config.ExtName(config.UserID, 1))); u != "" && sn.Bool(config.ExtName(config.LineEnable, 1)) {
		host := st.p.opts.IP
		if p := strings.TrimSpace(sn.Get(config.ExtName(config.Proxy, 1))); p != "" {
			host, _, _ = strings.Cut(p, ":")
		}
		sl.Primary, sl.Display = "sip:"+u+"@"+host, sn.Get(config.ExtName(config.DisplayName, 1))
	}
	return sl
}

// sharedStart sets up line l's shared state once its agent runs; cfg is what the agent got.
func (st *state) sharedStart(l *line, cfg *sip.SharedLine, now time.Time) {
	if cfg == nil {
		return
	}
	user := cfg.User
	if user == "" {
		user = st.snap.Get(config.ExtName(config.UserID, l.n))
	}
	l.shared = &sharedLine{user: user, primary: l.agent.SharedAOR()}
	if !l.register {
		l.shared.next = now
	}
	st.sharedLEDs(l)
}

// sharedRegistered sends the full-state NOTIFY when line l registers: the first time, and
// again whenever it registers after having lost its registration (fresh), as after a reboot
// (the server then frees what the phone held).
func (st *state) sharedRegistered(l *line, now time.Time, fresh bool) {
	if s := l.shared; s.active() && (fresh || !s.full) {
		s.next = now
	}
}

func (s *sharedLine) inFlight() bool { return len(s.queue) > 0 }

// active reports whether the line takes part in the shared-line signalling.
func (s *sharedLine) active() bool { return s != nil && s.private == "" }

// sharedDeadlines adds line l's full-state NOTIFY to consider.
func (st *state) sharedDeadlines(l *line, consider func(time.Time)) {
	if s := l.shared; s.active() && !s.inFlight() {
		consider(s.next)
	}
}

// sharedFire sends the full-state NOTIFY when it is due.
func (st *state) sharedFire(l *line, now time.Time) {
	s := l.shared
	if !s.active() || s.next.IsZero() || now.Before(s.next) || s.inFlight() {
		return
	}
	s.next = time.Time{}
	st.sharedPublish(l, sharedPub{full: true, state: sip.SharedState{Full: true}})
}

// sharedPublish queues a NOTIFY of line l; they go one at a time, in order.
func (st *state) sharedPublish(l *line, p sharedPub) {
	s := l.shared
	s.queue = append(s.queue, p)
	if len(s.queue) == 1 {
		st.sharedSend(l)
	}
}

func (st *state) sharedSend(l *line) {
	a, gen, ctx, p := l.agent, l.gen, st.ctx, l.shared.queue[0]
	st.p.goTracked(func() {
		err := a.PublishShared(ctx, p.state)
		st.p.post(func(st *state) { st.sharedDone(l, gen, err) })
	})
}

// refusesForm reports whether a server's answer says it does not take the dialog NOTIFY at
// all (rather than refusing this one).
func refusesForm(code int) bool { return code == 489 || code == 405 || code == 501 }

// sharedDone takes the answer to line l's NOTIFY in flight and sends the next.
func (st *state) sharedDone(l *line, gen int, err error) {
	if gen != st.voice.gen || l.shared == nil || len(l.shared.queue) == 0 {
		return
	}
	s := l.shared
	p := s.queue[0]
	s.queue = s.queue[1:]
	log := st.lineLog(l.n).WithLazy(zap.String("event", "dialog"))
	code := 202
	var re *sip.ResponseError
	if errors.As(err, &re) {
		code = re.Code
	} else if err != nil {
		code = 408
	}
	s.lastCode, s.lastErr = code, ""
	if err != nil {
		s.lastErr = err.Error()
	}
	switch {
	case err != nil && refusesForm(code):
		s.private = err.Error()
		log.Warn("shared line private", zap.Error(err), zap.String("reason",
			"the server does not take the SPA9000 dialog NOTIFY (BroadSoft shared call appearance is not supported); the extension works as a private line"))
		seizes := []*pcall{}
		for _, q := range append([]sharedPub{p}, s.queue...) {
			if q.seize != nil {
				seizes = append(seizes, q.seize)
			}
		}
		s.queue = nil
		for _, c := range seizes {
			st.seized(c)
		}
		st.sharedLEDs(l)
		return
	case p.full:
		s.full = err == nil
		d := time.Duration(st.snap.Int(config.ExtName(config.SubscriptionExpires, l.n))) * time.Second
		if err != nil {
			d = time.Duration(max(st.snap.Int(config.RegRetryIntvl), 1)) * time.Second
			log.Warn("shared line state not taken", zap.Error(err), zap.Duration("next_in", d))
		} else {
			log.Info("shared line published", zap.Duration("next_in", d))
		}
		if d > 0 {
			s.next = st.p.clock.Now().Add(d)
		}
	case p.seize != nil:
		c := p.seize
		if st.calls.byID[c.id] != c {
			break // hung up while the seize was pending; its terminated is queued
		}
		if err != nil {
			st.callLog(c).Info("seize refused", zap.Int("code", code), zap.Error(err))
			st.endCall(c, "seize refused by the shared line server: "+err.Error(), code)
			break
		}
		st.callLog(c).Info("seize granted", zap.Int("code", code))
		st.seized(c)
	case err != nil:
		log.Info("shared line state not taken", zap.Error(err))
	}
	if len(s.queue) > 0 {
		st.sharedSend(l)
	}
}

// onSharedState takes the server's dialog NOTIFY: the state of every shared appearance (full)
// or of some (partial). Dialogs of this phone itself are its own business, and stale ones the
// server frees.
func (st *state) onSharedState(l *line, ev *sip.SharedLineState) {
	s := l.shared
	if s == nil {
		return
	}
	if ev.Full {
		for m := 1; m <= appearances; m++ {
			s.apps[m] = remoteApp{known: true}
		}
	}
	for i := range ev.Dialogs {
		d := ev.Dialogs[i]
		m := d.LineID + 1
		if m < 1 || m > appearances {
			st.lineLog(l.n).Debug("shared dialog ignored", zap.String("dialog", d.ID), zap.Int("x_line_id", d.LineID))
			continue
		}
		if sameAOR(d.Local, s.primary) {
			continue
		}
		if d.State == "terminated" {
			if cur := s.apps[m].dialog; cur == nil || cur.ID == d.ID || sameAOR(cur.Local, d.Local) {
				s.apps[m] = remoteApp{known: true}
			}
			continue
		}
		s.apps[m] = remoteApp{known: true, dialog: &d}
	}
	st.sharedLEDs(l)
}

// sameAOR compares two addresses of record: scheme, user and host, case-insensitively,
// without display name, brackets or parameters.
func sameAOR(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		if i := strings.IndexByte(s, '<'); i >= 0 {
			s = s[i+1:]
			s, _, _ = strings.Cut(s, ">")
		}
		s, _, _ = strings.Cut(s, ";")
		return strings.ToLower(s)
	}
	return a != "" && norm(a) == norm(b)
}

// remoteBusy reports whether another phone uses appearance m of extension ext.
func (st *state) remoteBusy(ext, m int) bool {
	if ext < 1 || ext > len(st.voice.lines) {
		return false
	}
	s := st.voice.lines[ext-1].shared
	return s.active() && s.apps[m].dialog != nil
}

// appearanceCall is this phone's call on appearance m of extension ext, if any.
func (st *state) appearanceCall(ext, m int) *pcall {
	for _, c := range st.calls.order {
		if c.ext == ext && c.app == m {
			return c
		}
	}
	return nil
}

// sharedLED is appearance m's LED state.
func (st *state) sharedLED(l *line, m int) (state, by, peer string) {
	if c := st.appearanceCall(l.n, m); c != nil {
		switch c.state {
		case CallDialing:
			return LEDLocalSeized, "", c.peer.URI
		case CallCalling, CallProceeding:
			return LEDLocalProgressing, "", c.peer.URI
		case CallRinging:
			return LEDLocalRinging, "", c.peer.URI
		case CallHeld:
			return LEDLocalHeld, "", c.peer.URI
		}
		return LEDLocalActive, "", c.peer.URI
	}
	r := l.shared.apps[m]
	switch {
	case !l.shared.active():
		return LEDIdle, "", ""
	case !r.known:
		return LEDRemoteUndefined, "", ""
	case r.dialog == nil:
		return LEDIdle, "", ""
	}
	d := r.dialog
	switch {
	case d.State == "trying":
		state = LEDRemoteSeized
	case d.State == "confirmed" && d.Held:
		state = LEDRemoteHeld
	case d.State == "confirmed":
		state = LEDRemoteActive
	case d.Initiator:
		state = LEDRemoteProgressing
	default:
		state = LEDRemoteRinging
	}
	return state, d.Local, d.Remote
}

// sharedLEDs puts the appearances of line l whose LED state changed on the event stream.
func (st *state) sharedLEDs(l *line) {
	s := l.shared
	if s == nil {
		return
	}
	for m := 1; m <= appearances; m++ {
		state, by, peer := st.sharedLED(l, m)
		if s.led[m] == state {
			continue
		}
		s.led[m] = state
		st.lineLog(l.n).Debug("shared appearance", zap.Int("appearance", m), zap.String("state", state), zap.String("by", by))
		d := map[string]any{"ext": l.n, "appearance": m, "state": state}
		if by != "" {
			d["by"] = by
		}
		if peer != "" {
			d["peer"] = peer
		}
		st.emit(EventSharedLine, d)
	}
}

// sharedStatus is line n's SharedLineStatus, nil for a private line.
func (st *state) sharedStatus(n int) *SharedLineStatus {
	if n > len(st.voice.lines) {
		return nil
	}
	l := st.voice.lines[n-1]
	s := l.shared
	if s == nil {
		return nil
	}
	ss := &SharedLineStatus{User: s.user, LastCode: s.lastCode, LastError: s.lastErr}
	switch {
	case s.private != "":
		ss.State, ss.LastError = "private", s.private
	case s.full:
		ss.State = "active"
	case s.lastErr != "":
		ss.State = "retrying"
	default:
		ss.State = "publishing"
	}
	for m := 1; m <= appearances; m++ {
		state, by, peer := st.sharedLED(l, m)
		ss.Appearances = append(ss.Appearances, SharedAppearanceStatus{Appearance: m, State: state, By: by, Peer: peer})
	}
	return ss
}

// sharedInfo shows the appearances another phone uses as Busy on the Info tab (§13.1).
func (st *state) sharedInfo(lines [][2]config.CallInfo) {
	for _, l := range st.voice.lines {
		if !l.shared.active() || l.n > len(lines) {
			continue
		}
		for m := 1; m <= appearances; m++ {
			if st.appearanceCall(l.n, m) == nil && l.shared.apps[m].dialog != nil {
				lines[l.n-1][m-1].State = "Busy"
			}
		}
	}
}

// sharedCall reports a change of call c to the server, when its extension is shared: its
// appearance's dialog as this phone has it.
func (st *state) sharedCall(c *pcall, ended bool) {
	if c.ext < 1 || c.ext > len(st.voice.lines) {
		return
	}
	l := st.voice.lines[c.ext-1]
	if !l.shared.active() || l.agent == nil || c.gen != l.gen {
		return
	}
	defer st.sharedLEDs(l)
	d := sip.SharedDialog{ID: c.sharedID, LineID: c.app - 1, Initiator: c.outgoing, Local: l.shared.primary,
		Remote: c.peer.URI, RemoteDisplay: c.peer.Display}
	switch {
	case ended:
		if !c.published {
			return
		}
		d.State = "terminated"
	case c.state == CallProceeding:
		d.State = "early"
	case c.state == CallConnected || c.state == CallHeld:
		d.State, d.Held = "confirmed", c.state == CallHeld
		if dl, err := l.agent.Dialog(c.sipID); err == nil {
			d.CallID, d.LocalTag, d.RemoteTag, d.RemoteTarget = dl.CallID, dl.LocalTag, dl.RemoteTag, dl.RemoteTarget
		}
	default:
		return // trying is the seize; an inbound call rings on every sharing phone alike
	}
	if d.ID == "" {
		c.sharedID = st.newSharedID()
		d.ID = c.sharedID
	}
	c.published = true
	st.sharedPublish(l, sharedPub{state: sip.SharedState{Dialogs: []sip.SharedDialog{d}}})
}

// newSharedID is a dialog id for a shared appearance's document.
func (st *state) newSharedID() string { return fmt.Sprintf("%016x", st.voice.rnd.Uint64()) }

// seize starts call c on a shared appearance: the partial NOTIFY trying, the INVITE once the
// server grants it (seized). It reports whether the line is shared (else the caller sends the
// INVITE at once).
func (st *state) seize(l *line, c *pcall) bool {
	if !l.shared.active() {
		return false
	}
	st.sharedFire(l, st.p.clock.Now()) // a full state that is due goes first
	c.sharedID, c.published = st.newSharedID(), true
	d := sip.SharedDialog{ID: c.sharedID, LineID: c.app - 1, State: "trying", Initiator: true, Local: l.shared.primary}
	st.sharedPublish(l, sharedPub{state: sip.SharedState{Dialogs: []sip.SharedDialog{d}}, seize: c})
	return true
}

// ResumeShared takes over, on this phone, the call another phone holds on appearance app of
// shared extension ext (SPA-BEHAVIOUR §13.8): an INVITE with Replaces of the held dialog to
// the held party. It returns the new call.
func (p *Phone) ResumeShared(ctx context.Context, ext, app int) (CallStatus, error) {
	var cs CallStatus
	err := p.do(ctx, func(st *state) error {
		c, err := st.retrieveShared(ext, app)
		if err != nil {
			return err
		}
		cs = st.callStatus(c)
		return nil
	})
	return cs, err
}

// retrieveShared places the call that takes over appearance app held elsewhere.
func (st *state) retrieveShared(ext, app int) (*pcall, error) {
	l, err := st.lineAgent(ext)
	if err != nil {
		return nil, err
	}
	if app < 1 || app > appearances {
		return nil, fmt.Errorf("%w: appearance %d does not exist", ErrInvalidRequest, app)
	}
	if !l.shared.active() {
		return nil, fmt.Errorf("%w: extension %d is not a shared line", ErrCallState, ext)
	}
	if st.appearanceCall(ext, app) != nil {
		return nil, fmt.Errorf("%w: appearance %d of extension %d is in use on this phone", ErrCallState, app, ext)
	}
	d := l.shared.apps[app].dialog
	switch {
	case d == nil:
		return nil, fmt.Errorf("%w: no call is held on appearance %d of extension %d", ErrCallState, app, ext)
	case d.State != "confirmed" || !d.Held:
		return nil, fmt.Errorf("%w: the call on appearance %d is not held (a call in progress is joined with barge-in)", ErrCallState, app)
	case d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "":
		return nil, fmt.Errorf("%w: the server did not say which dialog is held on appearance %d", ErrCallState, app)
	}
	target := d.RemoteTarget
	if target == "" {
		target = d.Remote
	}
	// Replaces as the held party sees its dialog: its tag is the holder's remote tag.
	rep := d.CallID + ";to-tag=" + d.RemoteTag + ";from-tag=" + d.LocalTag
	st.lineLog(ext).Info("shared call resumed", zap.Int("appearance", app), zap.String("held_by", d.Local), zap.String("to", target))
	return st.startCall(l, app, target, target, callOpts{replaces: rep}, false)
}

// BargeShared adds this phone to the call in progress on another phone on appearance app of
// shared extension ext (SCA_Barge-In_Enable, SPA-BEHAVIOUR §13.8): an INVITE with Join of
// that dialog to its far end. It returns the new call.
func (p *Phone) BargeShared(ctx context.Context, ext, app int) (CallStatus, error) {
	var cs CallStatus
	err := p.do(ctx, func(st *state) error {
		c, err := st.bargeShared(ext, app)
		if err != nil {
			return err
		}
		cs = st.callStatus(c)
		return nil
	})
	return cs, err
}

// bargeShared places the call that joins the one active elsewhere on appearance app.
func (st *state) bargeShared(ext, app int) (*pcall, error) {
	l, err := st.lineAgent(ext)
	if err != nil {
		return nil, err
	}
	if app < 1 || app > appearances {
		return nil, fmt.Errorf("%w: appearance %d does not exist", ErrInvalidRequest, app)
	}
	switch {
	case !l.shared.active():
		return nil, fmt.Errorf("%w: extension %d is not a shared line", ErrCallState, ext)
	case !st.snap.Bool(config.SCABargeInEnable):
		return nil, fmt.Errorf("%w: barge-in is off (SCA_Barge-In_Enable is No)", ErrCallState)
	case st.appearanceCall(ext, app) != nil:
		return nil, fmt.Errorf("%w: appearance %d of extension %d is in use on this phone", ErrCallState, app, ext)
	}
	d := l.shared.apps[app].dialog
	switch {
	case d == nil || d.State != "confirmed" || d.Held:
		return nil, fmt.Errorf("%w: no call is in progress on appearance %d of extension %d", ErrCallState, app, ext)
	case d.CallID == "" || d.LocalTag == "" || d.RemoteTag == "":
		return nil, fmt.Errorf("%w: the server did not say which dialog is on appearance %d", ErrCallState, app)
	}
	target := d.RemoteTarget
	if target == "" {
		target = d.Remote
	}
	join := d.CallID + ";to-tag=" + d.RemoteTag + ";from-tag=" + d.LocalTag
	st.lineLog(ext).Info("shared call barged", zap.Int("appearance", app), zap.String("in_use_by", d.Local), zap.String("to", target))
	return st.startCall(l, app, target, target, callOpts{join: join}, false)
}

// onJoin takes an INVITE with Join of one of the extension's calls (RFC 3911: another phone
// of a shared line barges in): answered at once, and conferenced with that call once up.
func (st *state) onJoin(l *line, gen int, ev *sip.IncomingCall, log *zap.Logger) {
	old := st.findSIPCall(l.n, gen, ev.Join)
	app := st.freeAppearance(l.n)
	switch {
	case old == nil || (old.state != CallConnected && old.state != CallHeld):
		log.Info("call refused", zap.Int("code", 481), zap.String("reason", "the call it joins is not up"))
		l.agent.Reject(ev.ID, 481, "Call/Transaction Does Not Exist")
		return
	case app == 0 || old.conf != nil:
		log.Info("call refused", zap.Int("code", 486), zap.String("reason", "no appearance left for a conference"))
		l.agent.Reject(ev.ID, 486, "Busy Here")
		return
	}
	c := &pcall{ext: l.n, app: app, gen: gen, sipID: ev.ID, peer: ev.From, created: st.p.clock.Now(), joinWith: old}
	st.addCall(c)
	log.Info("call joins", zap.String("joined", old.id), zap.String("call", c.id))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": CallRinging, "from_state": "", "joins": old.id}))
	c.state, c.since = CallRinging, st.p.clock.Now()
	if err := st.answerIncoming(c, ev.SDP); err != nil {
		st.callLog(c).Warn("joining call not answered", zap.Error(err))
	}
}

// joined conferences call c, up, with the call its Join named.
func (st *state) joined(c *pcall) {
	old := c.joinWith
	c.joinWith = nil
	if st.calls.byID[old.id] != old {
		return
	}
	if err := st.conference(c, old.id); err != nil {
		st.callLog(c).Warn("joined call not conferenced", zap.String("joined", old.id), zap.Error(err))
	}
}
