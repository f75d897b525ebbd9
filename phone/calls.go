package phone

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/phone/dialplan"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// The call model (SPA-BEHAVIOUR §13): two call appearances per extension, each holding at most
// one call in one of the §13.1 states. Calls are owned by the loop; sip reports what happens
// on the wire as events and phone decides.

// Call states as the Info tab's Call_State shows them (SPA-BEHAVIOUR §13.1: the table's first
// words).
const (
	CallCalling    = "Calling"    // INVITE sent, no answer yet
	CallProceeding = "Proceeding" // the far end rings (18x)
	CallRinging    = "Ringing"    // an incoming call rings here
	CallConnected  = "Connected"
	CallHeld       = "Held" // this phone holds the far end
)

// ErrNoSuchCall is returned for a call id the phone does not know.
var ErrNoSuchCall = errors.New("no such call")

// ErrCallState is wrapped when the call's state forbids the action; the API answers 409.
var ErrCallState = errors.New("not possible in the call's state")

// appearances is the number of call appearances per extension (SPA-BEHAVIOUR §13.1).
const appearances = 2

// pcall is one call of the phone.
type pcall struct {
	id       string // the API's id
	ext, app int    // extension and appearance (1-based)
	sipID    string
	gen      int // the voice generation its agent belongs to
	outgoing bool
	state    string
	peer     sip.Party
	dialled  string
	target   string // what the INVITE was sent to
	created  time.Time
	since    time.Time // in the current state since
	answered time.Time

	localHold, remoteHold bool
	holding               *bool // a hold (true) or resume (false) re-INVITE is pending
	sess                  mediaSession
	counted               *atomic.Bool // sess's RTP was added to the Counters (sessionEnded)
	local                 media.Local
	offer                 []byte // our last offer, for Accept
	neg                   media.Negotiated
	got183                bool
	hangingUp             bool
	noAnswerAt            time.Time // Cfwd_No_Ans_Delay runs out

	opts callOpts // per-call overrides of the code dialled before the number (features.go)

	transferring bool      // this phone REFERred the far end (transferor)
	xferWith     *pcall    // attended: the call the far end's new call replaces
	byeAt        time.Time // a transfer's BYE delay runs out (Referor, Referee or Refer_Target_Bye_Delay)
	byeWhy       string    // which delay byeAt is, for the log line
	referOf      *pcall    // the call whose REFER this call carries out (transferee)

	conf *pcall // the other leg of the local three-way conference this call is in (conference.go)

	joinWith  *pcall // the call an INVITE with Join asked this one to be conferenced with (shared.go)
	sharedID  string // its dialog id in the shared line's documents (shared.go)
	published bool   // the shared-line server heard of it: it must hear of its end
}

// callsState is the loop's calls.
type callsState struct {
	byID  map[string]*pcall
	order []*pcall
	seq   int
	// lastCaller is the last caller with an identity, for call return (*69).
	lastCaller sip.Party
}

func (st *state) callList() []*pcall { return st.calls.order }

func (st *state) addCall(c *pcall) {
	st.p.opts.Counters.callStarted(c.outgoing)
	if st.calls.byID == nil {
		st.calls.byID = map[string]*pcall{}
	}
	if c.id == "" {
		st.calls.seq++
		c.id = strconv.Itoa(st.calls.seq)
	}
	st.calls.byID[c.id] = c
	st.calls.order = append(st.calls.order, c)
}

func (st *state) findSIPCall(ext, gen int, sipID string) *pcall {
	for _, c := range st.calls.order {
		if c.ext == ext && c.gen == gen && c.sipID == sipID {
			return c
		}
	}
	return nil
}

// freeAppearance returns the lowest free appearance of ext, or 0: no call of this phone on it,
// and, on a shared line, no other phone's either (SPA-BEHAVIOUR §13.8).
func (st *state) freeAppearance(ext int) int {
	used := [appearances + 1]bool{}
	for _, c := range st.calls.order {
		if c.ext == ext {
			used[c.app] = true
		}
	}
	for m := 1; m <= appearances; m++ {
		if !used[m] && !st.remoteBusy(ext, m) {
			return m
		}
	}
	return 0
}

// setCallState moves a call and says so on the event stream.
func (st *state) setCallState(c *pcall, state string) {
	if c.state == state {
		return
	}
	if r := c.referOf; r != nil {
		switch state {
		case CallProceeding:
			st.referNotify(r, 180, "Ringing")
		case CallConnected:
			st.referNotify(r, 200, "OK")
			c.referOf = nil
			st.refereeBye(r)
		}
	}
	from := c.state
	c.state, c.since = state, st.p.clock.Now()
	if state == CallConnected && c.answered.IsZero() {
		c.answered = c.since
	}
	st.callLog(c).Info("call state", zap.String("from_state", from), zap.String("to_state", state))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": state, "from_state": from}))
	st.sharedCall(c, false)
	if state == CallConnected && c.joinWith != nil {
		st.joined(c)
	}
}

func (st *state) callLog(c *pcall) *zap.Logger {
	return st.p.log.Named("call").With(zap.Int("line", c.ext), zap.String("call", c.id), zap.String("call_id", c.sipID))
}

func (st *state) callEvent(c *pcall, d map[string]any) map[string]any {
	d["call"] = c.id
	d["ext"] = c.ext
	d["appearance"] = c.app
	d["direction"] = direction(c)
	d["peer"] = c.peer.URI
	return d
}

func direction(c *pcall) string {
	if c.outgoing {
		return "outbound"
	}
	return "inbound"
}

// endCall removes a call and frees its media.
func (st *state) endCall(c *pcall, reason string, code int) {
	if r := c.referOf; r != nil {
		if code < 300 {
			code = 487
		}
		st.referNotify(r, code, reason)
		c.referOf = nil
	}
	st.leaveConference(c)
	if c.sess != nil {
		c.sess.Close()
		st.p.opts.Counters.sessionEnded(c.counted, c.sess.Stats())
		c.sess = nil
	}
	delete(st.calls.byID, c.id)
	for i, x := range st.calls.order {
		if x == c {
			st.calls.order = append(st.calls.order[:i], st.calls.order[i+1:]...)
			break
		}
	}
	st.callLog(c).Info("call ended", zap.String("reason", reason), zap.Int("code", code))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": "Ended", "from_state": c.state, "reason": reason, "code": code}))
	st.sharedCall(c, true)
}

// lineAgent returns the agent of extension n, ready for calls.
func (st *state) lineAgent(n int) (*line, error) {
	if n < 1 || n > len(st.voice.lines) {
		return nil, fmt.Errorf("%w: extension %d does not exist", ErrInvalidRequest, n)
	}
	l := st.voice.lines[n-1]
	if l.agent == nil {
		return nil, fmt.Errorf("%w: extension %d is not in service", ErrCallState, n)
	}
	return l, nil
}

// dial places a call from extension ext to what the user dialled, matched against
// Dial_Plan_n_ as keys would be (SPA-BEHAVIOUR §8.7, §13.2), or to uri as it is. Keys that are
// a vertical service code act on it (features.go): a setting, a per-call override, call
// return, blind transfer. reply hears the outcome once, at once or (a setting) when it is
// kept.
func (st *state) dial(ext int, to string, uri bool, reply func(DialResult, error)) {
	placed := func(c *pcall, err error) {
		if err != nil {
			reply(DialResult{}, err)
			return
		}
		reply(DialResult{CallStatus: st.callStatus(c)}, nil)
	}
	// Media_Loopback_Code before the number asks the far end for media loopback (RFC 6849).
	to, loop, mirror := st.loopbackDial(to)
	o := callOpts{loopback: loop, mirror: mirror}
	if uri {
		placed(st.placeCall(ext, to, to, o))
		return
	}
	if _, err := st.lineAgent(ext); err != nil {
		reply(DialResult{}, err)
		return
	}
	d, err := st.dialPlan(ext, to)
	if err != nil {
		reply(DialResult{}, err)
		return
	}
	if d.code != nil {
		st.runCode(ext, d.code, to, d.codeKeys, d.target, reply)
		return
	}
	placed(st.placeCall(ext, d.target, to, o))
}

// placeCall sends the INVITE of a call from extension ext to target (a number at the proxy,
// user@host or a URI); dialled is what the user dialled, o the per-call overrides. On a shared
// extension the appearance is seized first (shared.go): the call is Dialing until the server
// grants it.
func (st *state) placeCall(ext int, target, dialled string, o callOpts) (*pcall, error) {
	l, err := st.lineAgent(ext)
	if err != nil {
		return nil, err
	}
	if l.register && l.state != regOK && !st.snap.Bool(config.ExtName(config.MakeCallWithoutReg, ext)) {
		return nil, fmt.Errorf("%w: extension %d is not registered (Make_Call_Without_Reg is No)", ErrCallState, ext)
	}
	app := st.freeAppearance(ext)
	if app == 0 {
		why := "both call appearances of extension %d are in use"
		if st.remoteBusy(ext, 1) || st.remoteBusy(ext, 2) {
			why += " (shared line: by another phone)"
		}
		return nil, fmt.Errorf("%w: "+why, ErrCallState, ext)
	}
	return st.startCall(l, app, target, dialled, o, true)
}

// startCall sets up call c on appearance app of line l and sends its INVITE, or, when seize
// and the line is shared, seizes the appearance first.
func (st *state) startCall(l *line, app int, target, dialled string, o callOpts, seize bool) (*pcall, error) {
	ext := l.n
	c := &pcall{ext: ext, app: app, gen: st.voice.gen, outgoing: true, dialled: dialled, created: st.p.clock.Now(), opts: o,
		target: target}
	st.calls.seq++
	c.id = strconv.Itoa(st.calls.seq)
	if err := st.openMedia(c); err != nil {
		return nil, err
	}
	c.local.LoopbackSource, c.local.LoopbackMirror = o.loopback, o.mirror
	offer, err := media.Offer(st.callSDP(c), c.local)
	if err != nil {
		c.sess.Close()
		return nil, fmt.Errorf("sdp offer: %w", err)
	}
	c.offer = offer
	c.peer = sip.Party{URI: target, User: dialled}
	if u, err := l.agent.TargetURI(target); err == nil {
		c.peer = sip.Party{URI: u.String(), User: u.User}
	} else if seize && l.shared.active() {
		c.sess.Close()
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if seize && st.seize(l, c) {
		st.addCall(c)
		st.setCallState(c, CallDialing)
		return c, nil
	}
	if err := st.invite(l, c); err != nil {
		c.sess.Close()
		return nil, err
	}
	st.addCall(c)
	st.setCallState(c, CallCalling)
	return c, nil
}

// invite sends call c's INVITE.
func (st *state) invite(l *line, c *pcall) error {
	o := c.opts
	id, err := l.agent.Dial(sip.DialRequest{To: c.target, SDP: c.offer,
		Expires:      time.Duration(st.snap.Int(config.InviteExpires)) * time.Second,
		MaxRedirects: int(st.snap.Int(config.MaxRedirection)),
		Anonymous:    o.anonymous.or(st.snap.Bool(config.BlockCIDSetting)),
		Replaces:     o.replaces, ReferredBy: o.referredBy, Join: o.join})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	c.sipID = id
	return nil
}

// seized sends the INVITE of call c, Dialing, once its shared appearance is granted (or the
// line turned out private).
func (st *state) seized(c *pcall) {
	if st.calls.byID[c.id] != c || c.state != CallDialing {
		return
	}
	l, err := st.lineAgent(c.ext)
	if err == nil && c.gen == st.voice.gen {
		err = st.invite(l, c)
	} else if err == nil {
		err = fmt.Errorf("%w: the extension restarted", ErrCallState)
	}
	if err != nil {
		st.endCall(c, err.Error(), 500)
		return
	}
	st.setCallState(c, CallCalling)
}

// dialled is what the dial plan made of the keys: a target to call, or a vertical service
// code (codeKeys) with its number in target.
type dialled struct {
	target   string
	code     *vsc
	codeKeys string
}

// dialPlan turns what the user dialled into the call's target (SPA-BEHAVIOUR §8.7): the
// keys go through the extension's plan one by one and the number is sent at the end, as the
// Dial soft key does. The Regional tab's vertical service codes are implicit sequences of
// every plan. Barred and invalid numbers are refused.
func (st *state) dialPlan(ext int, keys string) (dialled, error) {
	text := st.snap.Get(config.ExtName(config.DialPlan, ext))
	plan, err := dialplan.Parse(text)
	if err != nil {
		return dialled{}, fmt.Errorf("%w: Dial_Plan_%d_: %w", ErrInvalidRequest, ext, err)
	}
	codes, which := st.vscCodes()
	m := dialplan.NewMatcher(plan, dialplan.Options{
		LongTimer:  time.Duration(st.snap.Int(config.InterdigitLongTimer)) * time.Second,
		ShortTimer: time.Duration(st.snap.Int(config.InterdigitShortTimer)) * time.Second,
		IPDialing:  st.snap.Bool(config.ExtName(config.EnableIPDialing, ext)),
		Codes:      codes,
	})
	m.Start()
	r := m.Keys(keys)
	if r.Action == dialplan.ActionCollect {
		r = m.Send()
	}
	target := r.Number
	if r.URI != "" {
		target = r.URI
	}
	switch r.Action {
	case dialplan.ActionDial:
		return dialled{target: target}, nil
	case dialplan.ActionCode:
		if r.Code >= 0 && r.Code < len(which) {
			return dialled{target: target, code: which[r.Code], codeKeys: codes[r.Code].Keys}, nil
		}
	case dialplan.ActionBarred:
		return dialled{}, fmt.Errorf("%w: %q is barred by the dial plan", ErrInvalidRequest, keys)
	}
	return dialled{}, fmt.Errorf("%w: %q does not match the dial plan (%s)", ErrInvalidRequest, keys, r)
}

// onCallEvent handles what an agent reports about a call.
func (st *state) onCallEvent(l *line, gen int, ev sip.Event) {
	switch ev := ev.(type) {
	case *sip.IncomingCall:
		st.onIncoming(l, gen, ev)
	case *sip.CallProgress:
		c := st.findSIPCall(l.n, gen, ev.ID)
		if c == nil {
			return
		}
		if ev.Code == 183 {
			c.got183 = true
		}
		if ev.Code == 180 && c.got183 && st.snap.Bool(config.ExtName(config.Sticky183, l.n)) {
			return // Sticky_183: after a 183, a 180 changes nothing (SPA-BEHAVIOUR §13.2)
		}
		if ev.SDP != nil {
			st.acceptAnswer(c, ev.SDP)
		}
		st.setCallState(c, CallProceeding)
	case *sip.CallAnswered:
		c := st.findSIPCall(l.n, gen, ev.ID)
		if c == nil {
			return
		}
		if c.outgoing && ev.SDP != nil {
			st.acceptAnswer(c, ev.SDP)
		}
		st.setCallState(c, CallConnected)
		if c.hangingUp {
			l.agent.Hangup(c.sipID)
		}
	case *sip.CallFailed:
		if c := st.findSIPCall(l.n, gen, ev.ID); c != nil {
			st.endCall(c, ev.Reason, ev.Code)
		}
	case *sip.CallEnded:
		if c := st.findSIPCall(l.n, gen, ev.ID); c != nil {
			reason := "local hang-up"
			if ev.Remote {
				reason = "remote hang-up"
			}
			st.endCall(c, reason, 0)
		}
	case *sip.CallReinvite:
		st.onReinvite(l, gen, ev)
	case *sip.CallReinvited:
		st.onReinvited(l, gen, ev)
	case *sip.Refer:
		st.onRefer(l, gen, ev)
	case *sip.ReferStatus:
		st.onReferStatus(l, gen, ev)
	case *sip.DTMF:
		if c := st.findSIPCall(l.n, gen, ev.ID); c != nil {
			st.emit(EventDTMF, st.callEvent(c, map[string]any{"digit": string(ev.Digit),
				"duration_ms": ev.Duration.Milliseconds(), "method": "info"}))
		}
	}
}

// acceptAnswer applies the answer to our offer.
func (st *state) acceptAnswer(c *pcall, answer []byte) {
	n, err := media.Accept(st.callSDP(c), c.offer, answer)
	if err != nil {
		st.callLog(c).Warn("answer sdp refused", zap.Error(err))
		return
	}
	st.applyMedia(c, n)
}

// applyMedia starts or updates the call's session from a negotiation.
func (st *state) applyMedia(c *pcall, n media.Negotiated) {
	first := c.neg.Codec == media.CodecUnknown
	c.neg = n
	if c.remoteHold != n.RemoteHold {
		c.remoteHold = n.RemoteHold
		st.emit(EventCall, st.callEvent(c, map[string]any{"state": c.state, "remote_hold": n.RemoteHold}))
	}
	if c.sess == nil {
		return
	}
	var err error
	if first {
		st.mediaStarted(c)
		err = c.sess.Start(n)
	} else {
		err = c.sess.Update(n)
	}
	if err != nil {
		st.callLog(c).Warn("media not started", zap.Error(err))
	}
	st.applyLoopback(c, n)
}

// onIncoming decides what becomes of a new INVITE (SPA-BEHAVIOUR §13.3, §13.7): forward all
// (Ext 1, 302), DND (480), anonymous block (433), no free appearance or call waiting off
// (forward busy or 486), auto-answer of a page, else ring (and forward on no answer).
func (st *state) onIncoming(l *line, gen int, ev *sip.IncomingCall) {
	a, sn, n := l.agent, st.snap, l.n
	log := st.lineLog(n).With(zap.String("call_id", ev.ID), zap.String("from", ev.From.URI))
	refuse := func(code int, reason, why string) {
		log.Info("call refused", zap.Int("code", code), zap.String("reason", why))
		a.Reject(ev.ID, code, reason)
	}
	forward := func(dest, why string) {
		log.Info("call forwarded", zap.String("to", dest), zap.String("reason", why))
		if err := a.Redirect(ev.ID, dest, why); err != nil {
			refuse(480, "Temporarily Unavailable", "forward target: "+err.Error())
		}
	}
	if l.register && l.state != regOK && !sn.Bool(config.ExtName(config.AnsCallWithoutReg, n)) {
		refuse(480, "Temporarily Unavailable", "not registered and Ans_Call_Without_Reg is No")
		return
	}
	if ev.Replaces != "" {
		st.onReplaces(l, gen, ev, log)
		return
	}
	if ev.Join != "" {
		st.onJoin(l, gen, ev, log)
		return
	}
	if !ev.Anonymous {
		st.calls.lastCaller = ev.From // call return (*69) calls it back, answered or not
	}
	// Call forwarding acts on the primary extension only (SPA-BEHAVIOUR §13.7).
	if d := strings.TrimSpace(sn.Get(config.CfwdAllDest)); d != "" && n == 1 {
		forward(d, "unconditional")
		return
	}
	if sn.Bool(config.DNDSetting) {
		// The response code of DND is not documented (SPA-BEHAVIOUR §13.3 [unc]): 480.
		refuse(480, "Temporarily Unavailable", "DND_Setting is Yes")
		return
	}
	if ev.Anonymous && sn.Bool(config.BlockANCSetting) {
		// Block_ANC's code is not documented either: 433 Anonymity Disallowed (RFC 5079).
		refuse(433, "Anonymity Disallowed", "Block_ANC_Setting is Yes")
		return
	}
	app := st.freeAppearance(n)
	busy := app == 0 || (!st.callWaiting(n) && app > 1)
	if busy {
		if d := strings.TrimSpace(sn.Get(config.CfwdBusyDest)); d != "" && n == 1 {
			forward(d, "user-busy")
			return
		}
		refuse(486, "Busy Here", "no free call appearance")
		return
	}
	if st.loopbackRefused(l, ev) {
		return
	}
	c := &pcall{ext: n, app: app, gen: gen, sipID: ev.ID, peer: ev.From, created: st.p.clock.Now()}
	st.addCall(c)
	if st.loopbackAnswersAtOnce(ev.SDP) {
		log.Info("loopback answered", zap.String("reason", "Accept_Media_Loopback_Request is automatic"))
		st.setCallState(c, CallRinging)
		st.answerIncoming(c, ev.SDP)
		return
	}
	if ev.AutoAnswer && sn.Bool(config.AutoAnswerPage) && len(st.calls.order) == 1 && !st.offHook {
		log.Info("page answered", zap.String("reason", "Auto_Answer_Page is Yes"))
		st.setCallState(c, CallRinging)
		st.answerIncoming(c, ev.SDP)
		return
	}
	if err := a.Ring(ev.ID); err != nil {
		st.endCall(c, err.Error(), 0)
		return
	}
	c.offer = ev.SDP
	if d := strings.TrimSpace(sn.Get(config.CfwdNoAnsDest)); d != "" && n == 1 {
		c.noAnswerAt = st.p.clock.Now().Add(time.Duration(sn.Int(config.CfwdNoAnsDelay)) * time.Second)
	}
	st.setCallState(c, CallRinging)
}

// onReplaces takes an INVITE that replaces one of the extension's calls (the phone is the
// target of an attended transfer, RFC 3891, SPA-BEHAVIOUR §13.6): the new one is answered
// without ringing, as the user already talks to that party's transferor, and the old call
// ends with BYE after Refer_Target_Bye_Delay_n_ (transfer.go: 0, the default, is at once; n
// keeps it n seconds on the phone's clock, in its appearance, when the extension has another
// one free for the new call).
func (st *state) onReplaces(l *line, gen int, ev *sip.IncomingCall, log *zap.Logger) {
	old := st.findSIPCall(l.n, gen, ev.Replaces)
	if old == nil {
		log.Info("call refused", zap.Int("code", 481), zap.String("reason", "the call it replaces has ended"))
		l.agent.Reject(ev.ID, 481, "Call/Transaction Does Not Exist")
		return
	}
	st.replacedBye(l, old)
	c := &pcall{ext: l.n, app: st.freeAppearance(l.n), gen: gen, sipID: ev.ID, peer: ev.From, created: st.p.clock.Now()}
	if c.app == 0 {
		c.app = old.app // the replaced call waits for its BYE in the same appearance
	}
	st.addCall(c)
	log.Info("call replaces", zap.String("replaced", old.id), zap.String("call", c.id))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": CallRinging, "from_state": "", "replaces": old.id}))
	c.state, c.since = CallRinging, st.p.clock.Now()
	if err := st.answerIncoming(c, ev.SDP); err != nil {
		st.callLog(c).Warn("replacing call not answered", zap.Error(err))
	}
}

// answerIncoming answers a ringing call: the phone's answer to the caller's offer (488 when
// no codec is common).
func (st *state) answerIncoming(c *pcall, offer []byte) error {
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return err
	}
	if c.sess == nil {
		if err := st.openMedia(c); err != nil {
			l.agent.Reject(c.sipID, 500, "Server Internal Error")
			return err
		}
	}
	cfg := st.callSDP(c)
	var sdp []byte
	if offer == nil {
		if sdp, err = media.Offer(cfg, c.local); err != nil {
			return err
		}
		c.offer = sdp
	} else {
		var n media.Negotiated
		sdp, n, err = media.Answer(cfg, offer, c.local)
		if err != nil {
			code := 500
			if errors.Is(err, media.ErrNoCommonCodec) {
				code = 488
			}
			l.agent.Reject(c.sipID, code, "Not Acceptable Here")
			return fmt.Errorf("%w: %w", ErrCallState, err)
		}
		st.applyMedia(c, n)
	}
	c.noAnswerAt = time.Time{}
	return l.agent.Answer(c.sipID, sdp)
}

// onReinvite answers the far end's re-INVITE with the current direction of this side
// (SPA-BEHAVIOUR §13.4): held by us stays sendonly; Remote_Hold follows its offer.
func (st *state) onReinvite(l *line, gen int, ev *sip.CallReinvite) {
	c := st.findSIPCall(l.n, gen, ev.ID)
	if c == nil {
		ev.Reject(481, "Call/Transaction Does Not Exist")
		return
	}
	c.local = c.local.Next()
	if ev.SDP == nil {
		sdp, err := media.Offer(st.callSDP(c), c.local)
		if err != nil {
			ev.Reject(500, "Server Internal Error")
			return
		}
		ev.Accept(sdp)
		return
	}
	sdp, n, err := media.Answer(st.callSDP(c), ev.SDP, c.local)
	if err != nil {
		ev.Reject(488, "Not Acceptable Here")
		return
	}
	st.applyMedia(c, n)
	ev.Accept(sdp)
}

// onReinvited takes the outcome of our hold or resume.
func (st *state) onReinvited(l *line, gen int, ev *sip.CallReinvited) {
	c := st.findSIPCall(l.n, gen, ev.ID)
	if c == nil || c.holding == nil {
		return
	}
	hold := *c.holding
	c.holding = nil
	if ev.Code != 200 {
		st.callLog(c).Warn("hold not taken", zap.Bool("hold", hold), zap.Int("code", ev.Code), zap.String("reason", ev.Reason))
		c.local.Direction = media.DirSendRecv
		if c.localHold {
			c.local.Direction = media.DirSendOnly
		}
		return
	}
	if ev.SDP != nil {
		st.acceptAnswer(c, ev.SDP)
	}
	c.localHold = hold
	if hold {
		st.setCallState(c, CallHeld)
	} else {
		st.setCallState(c, CallConnected)
	}
}

// hold puts a connected call on hold, or resumes a held one, by re-INVITE (SPA-BEHAVIOUR
// §13.4): a=sendonly, with c=0.0.0.0 when RFC_2543_Call_Hold is Yes; resume is sendrecv.
func (st *state) hold(c *pcall, hold bool) error {
	switch {
	case c.holding != nil:
		return fmt.Errorf("%w: a hold or resume is pending", ErrCallState)
	case hold && c.state != CallConnected:
		return fmt.Errorf("%w: only a connected call can be held (it is %s)", ErrCallState, c.state)
	case !hold && c.state != CallHeld:
		return fmt.Errorf("%w: only a held call can be resumed (it is %s)", ErrCallState, c.state)
	}
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return err
	}
	c.local = c.local.Next()
	c.local.Direction = media.DirSendRecv
	if hold {
		c.local.Direction = media.DirSendOnly
	}
	offer, err := media.Offer(st.callSDP(c), c.local)
	if err != nil {
		return err
	}
	if err := l.agent.Reinvite(c.sipID, offer, time.Duration(st.snap.Int(config.ReinviteExpires))*time.Second); err != nil {
		return fmt.Errorf("%w: %w", ErrCallState, err)
	}
	c.offer = offer
	c.holding = &hold
	return nil
}

// hangup ends a call in any state (SPA-BEHAVIOUR §12.6: the device cannot end a held call
// directly; the API can, as an extension).
func (st *state) hangup(c *pcall) error {
	l, err := st.lineAgent(c.ext)
	if err != nil {
		st.endCall(c, "extension out of service", 0)
		return nil
	}
	c.hangingUp = true
	if err := l.agent.Hangup(c.sipID); err != nil {
		if errors.Is(err, sip.ErrNoCall) {
			st.endCall(c, "local hang-up", 0)
			return nil
		}
		return fmt.Errorf("%w: %w", ErrCallState, err)
	}
	return nil
}

// sendDTMF sends digits in the call as DTMF_Tx_Method says (SPA-BEHAVIOUR §8.5): SIP INFO for
// INFO, RFC 4733 events for AVT, tones for InBand, events or tones for Auto (by what the peer
// accepted), both for AVT+INFO and InBand+INFO.
func (st *state) sendDTMF(c *pcall, digits string) error {
	if c.state != CallConnected && c.state != CallHeld {
		return fmt.Errorf("%w: the call is %s", ErrCallState, c.state)
	}
	method := st.snap.Get(config.ExtName(config.DTMFTxMethod, c.ext))
	if method != "INFO" {
		// AVT (RFC 4733), InBand and Auto travel in the media; "AVT+INFO" and
		// "InBand+INFO" send both ways.
		m := media.DTMFAuto
		switch {
		case strings.HasPrefix(method, "AVT"):
			m = media.DTMFRFC4733
		case strings.HasPrefix(method, "InBand"):
			m = media.DTMFInBand
		}
		if c.sess == nil {
			return fmt.Errorf("%w: the call has no media session", ErrCallState)
		}
		if err := c.sess.SendDTMF(digits, m); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		if !strings.Contains(method, "INFO") {
			return nil
		}
	}
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return err
	}
	for _, d := range digits {
		if err := l.agent.SendDTMF(c.sipID, d, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
	}
	return nil
}

// callDeadlines adds the calls' policy timers (forward on no answer, Referor_Bye_Delay).
func (st *state) callDeadlines(consider func(time.Time)) {
	for _, c := range st.calls.order {
		consider(c.noAnswerAt)
		consider(c.byeAt)
	}
}

// callFire forwards the calls that rang Cfwd_No_Ans_Delay unanswered (SPA-BEHAVIOUR §13.7:
// 302 after the ringing).
func (st *state) callFire(now time.Time) {
	for _, c := range append([]*pcall(nil), st.calls.order...) {
		if !c.byeAt.IsZero() && !now.Before(c.byeAt) {
			why := c.byeWhy
			if why == "" {
				why = config.ReferorByeDelay
			}
			c.byeAt, c.byeWhy = time.Time{}, ""
			st.callLog(c).Info("transfer done", zap.String("reason", why+" ran out"))
			st.hangup(c)
			st.leaveReplaced(c)
		}
	}
	for _, c := range st.calls.order {
		if c.noAnswerAt.IsZero() || now.Before(c.noAnswerAt) || c.state != CallRinging {
			continue
		}
		c.noAnswerAt = time.Time{}
		l, err := st.lineAgent(c.ext)
		if err != nil {
			continue
		}
		d := strings.TrimSpace(st.snap.Get(config.CfwdNoAnsDest))
		st.callLog(c).Info("call forwarded", zap.String("to", d), zap.String("reason", "no-answer"))
		if err := l.agent.Redirect(c.sipID, d, "no-answer"); err != nil {
			st.callLog(c).Warn("call not forwarded", zap.Error(err))
		}
	}
}

// activeReason says which call keeps the phone busy, for the gate's log lines.
func (st *state) activeCallReason() string {
	if len(st.calls.order) == 0 {
		return ""
	}
	c := st.calls.order[0]
	return fmt.Sprintf("line %d call %d %s", c.ext, c.app, strings.ToLower(c.state))
}

// closeCalls ends every call's media when the voice application stops (the agents' BYEs are
// not awaited: a restart forced by Forced_Resync_Delay ends the calls, DECISIONS 11).
func (st *state) closeCalls(bye bool) {
	for _, c := range append([]*pcall(nil), st.calls.order...) {
		if bye {
			if l, err := st.lineAgent(c.ext); err == nil {
				l.agent.Hangup(c.sipID)
			}
		}
		st.endCall(c, "voice application stopped", 0)
	}
}

// transfer hands a call over to to (blind transfer, SPA-BEHAVIOUR §13.6): a number dialled
// through the extension's dial plan, or a URI or user@host as it is.
func (st *state) transfer(c *pcall, to string) error {
	target := to
	if !strings.Contains(to, "@") && !strings.HasPrefix(strings.ToLower(to), "sip") {
		d, err := st.dialPlan(c.ext, to)
		if err != nil {
			return err
		}
		if d.code != nil {
			return fmt.Errorf("%w: %q is the vertical service code %s, not a transfer target", ErrInvalidRequest, to, d.code.name)
		}
		target = d.target
	}
	return st.transferTo(c, target)
}

// transferTo REFERs the far end of c to target; once it accepts, the phone leaves the call
// when the far end reports its new call up, or after Referor_Bye_Delay.
func (st *state) transferTo(c *pcall, target string) error {
	if c.state != CallConnected && c.state != CallHeld {
		return fmt.Errorf("%w: only a connected or held call can be transferred (it is %s)", ErrCallState, c.state)
	}
	if c.transferring {
		return fmt.Errorf("%w: a transfer is pending", ErrCallState)
	}
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return err
	}
	if err := l.agent.Refer(c.sipID, target); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	c.transferring = true
	st.callLog(c).Info("transfer started", zap.String("to", target))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": c.state, "transfer": "started", "to": target}))
	return nil
}

// onReferStatus follows the transfer this phone asked for.
func (st *state) onReferStatus(l *line, gen int, ev *sip.ReferStatus) {
	c := st.findSIPCall(l.n, gen, ev.ID)
	if c == nil || !c.transferring {
		return
	}
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": c.state, "transfer": "progress", "code": ev.Code}))
	switch {
	case ev.Code >= 300:
		c.transferring, c.byeAt, c.xferWith = false, time.Time{}, nil
		st.callLog(c).Info("transfer failed", zap.Int("code", ev.Code), zap.String("reason", ev.Reason))
	case ev.Code >= 200 && ev.Done:
		st.callLog(c).Info("transfer done", zap.Int("code", ev.Code))
		c.byeAt = time.Time{}
		st.hangup(c)
		if other := c.xferWith; other != nil && st.calls.byID[other.id] == other {
			// The target ends the replaced call itself; give it Referor_Bye_Delay.
			other.byeAt = st.p.clock.Now().Add(time.Duration(st.snap.Int(config.ExtName(config.ReferorByeDelay, c.ext))) * time.Second)
		}
		c.xferWith = nil
	case ev.Code == 202 || (ev.Code >= 200 && c.byeAt.IsZero()):
		c.byeAt = st.p.clock.Now().Add(time.Duration(st.snap.Int(config.ExtName(config.ReferorByeDelay, c.ext))) * time.Second)
	}
}

// onRefer carries out the far end's REFER (the phone is the transferee): a new call from the
// same extension to the target, whose progress goes back in NOTIFYs.
func (st *state) onRefer(l *line, gen int, ev *sip.Refer) {
	c := st.findSIPCall(l.n, gen, ev.ID)
	if c == nil {
		ev.Reject(481, "Call/Transaction Does Not Exist")
		return
	}
	nc, err := st.placeCall(c.ext, ev.Target, ev.Target, callOpts{replaces: ev.Replaces, referredBy: ev.ReferredBy})
	if err != nil {
		st.callLog(c).Info("transfer refused", zap.Error(err))
		ev.Reject(603, "Decline")
		return
	}
	nc.referOf = c
	ev.Accept()
	st.callLog(c).Info("transferred", zap.String("to", ev.Target), zap.String("new_call", nc.id))
	st.referNotify(c, 100, "Trying")
}

// referNotify reports the transferee's call to the transferor.
func (st *state) referNotify(c *pcall, code int, reason string) {
	if l, err := st.lineAgent(c.ext); err == nil {
		l.agent.ReferNotify(c.sipID, code, reason)
	}
}

// transferReplaces completes an attended transfer as the transferor (SPA-BEHAVIOUR §13.6):
// c's far end (the transferee, usually held) is REFERred to other's far end (the target)
// with Replaces of other's dialog; Refer-To names the target's address of record, or its
// Contact when Refer-To_Target_Contact_n_ is Yes. When the transferee reports its new call
// up (or Referor_Bye_Delay runs out), this phone hangs up c; the target ends other itself
// when the new call replaces it, and the phone hangs it up if it has not after another
// Referor_Bye_Delay.
//
// A target still ringing (other Calling or Proceeding) makes it a semi-attended transfer, and
// Blind_Attn-Xfer_Enable_n_ = Yes completes every attended transfer blind: both go through
// semiAttended (transfer.go).
func (st *state) transferReplaces(c, other *pcall) error {
	up := func(x *pcall) bool { return x.state == CallConnected || x.state == CallHeld }
	ringing := other.outgoing && (other.state == CallCalling || other.state == CallProceeding)
	switch {
	case c == other:
		return fmt.Errorf("%w: a call cannot replace itself", ErrInvalidRequest)
	case !up(c) || !(up(other) || ringing):
		return fmt.Errorf("%w: the call must be connected or held and the target's connected, held or ringing (they are %s and %s)", ErrCallState, c.state, other.state)
	case c.transferring || other.transferring:
		return fmt.Errorf("%w: a transfer is pending", ErrCallState)
	}
	if ringing || st.snap.Bool(config.ExtName(config.BlindAttnXferEnable, c.ext)) {
		return st.semiAttended(c, other)
	}
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return err
	}
	lo, err := st.lineAgent(other.ext)
	if err != nil {
		return err
	}
	d, err := lo.agent.Dialog(other.sipID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCallState, err)
	}
	toContact := st.snap.Bool(config.ExtName(config.ReferToTargetContact, c.ext))
	if err := l.agent.ReferReplaces(c.sipID, d, toContact); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	c.transferring, c.xferWith = true, other
	st.callLog(c).Info("transfer started", zap.String("replaces", other.id), zap.String("to", d.Remote))
	st.emit(EventCall, st.callEvent(c, map[string]any{"state": c.state, "transfer": "started", "to": d.Remote, "replaces": other.id}))
	return nil
}

// leaveReplaced hangs up the call an attended transfer replaced when the transfer's outcome
// never came (Referor_Bye_Delay ran out), if the target has not ended it.
func (st *state) leaveReplaced(c *pcall) {
	other := c.xferWith
	c.xferWith = nil
	if other != nil && st.calls.byID[other.id] == other {
		st.callLog(other).Info("replaced call left", zap.String("transfer", c.id))
		st.hangup(other)
	}
}
