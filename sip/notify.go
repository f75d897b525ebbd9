package sip

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// allowEvents is the Allow-Events of a 489 (RFC 6665 §8.2.2): the packages the phone takes.
const allowEvents = "resync, reboot_now, restart_now, report, message-summary"

// parseEvent splits an Event header into its package (lower case) and parameters.
func parseEvent(v string) (pkg string, params map[string]string) {
	parts := strings.Split(v, ";")
	pkg = strings.ToLower(strings.TrimSpace(parts[0]))
	params = map[string]string{}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[strings.ToLower(strings.TrimSpace(k))] = strings.ToLower(strings.Trim(strings.TrimSpace(val), `"`))
	}
	return pkg, params
}

// controlAction maps a NOTIFY's event to the device action (SPA-BEHAVIOUR §6 and the
// compatibility aliases of DECISIONS 18): resync, reboot_now, restart_now and report as
// documented; check-sync (Wazo provd) is a resync, with ;reboot=true a resync then a reboot;
// reboot (FreePBX spa-reboot) and reboot=true (FusionPBX, for Linksys/Cisco SPA) reboot.
func controlAction(pkg string, params map[string]string) (ControlAction, bool) {
	switch pkg {
	case "resync":
		return ControlResync, false
	case "reboot_now":
		return ControlReboot, false
	case "restart_now":
		return ControlRestart, false
	case "report":
		return ControlReport, false
	case "check-sync":
		if params["reboot"] == "true" {
			return ControlResyncReboot, true
		}
		return ControlResync, true
	case "reboot", "reboot=true":
		return ControlReboot, true
	}
	return ControlUnknown, false
}

// onNotify handles NOTIFY outside a dialog: control events and message-summary. Anything
// else is 489 Bad Event (DECISIONS 18).
func (a *Agent) onNotify(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		if c := a.matchDialog(req); c != nil {
			a.onDialogNotify(c, req, tx)
			return
		}
		a.mu.Lock()
		mwi := a.mwi // set once, never reset
		a.mu.Unlock()
		if mwi != nil && a.matchSub(mwi, req) {
			a.onSubNotify(mwi, "message-summary", req, tx)
			return
		}
	}
	raw := headerValue(req, "Event", "o")
	pkg, params := parseEvent(raw)
	switch pkg {
	case "message-summary":
		if mw := a.onMessageSummary(req, tx); mw != nil && a.cfg.OnEvent != nil {
			a.cfg.OnEvent(mw)
		}
		return
	case "dialog":
		a.onSharedNotify(req, tx) // shared line appearance, the SPA9000 form (shared.go)
		return
	case "call-info", "line-seize":
		a.log.Info("notify refused", zap.String("event", raw), zap.String("remote", req.Source()), zap.Int("code", 489),
			zap.String("reason", "BroadSoft shared call appearance (call-info, line-seize) is not supported; shared lines use the SPA9000 dialog form"))
		a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", a.allowEvents()))
		return
	}
	action, alias := controlAction(pkg, params)
	log := a.log.With(zap.String("event", raw), zap.String("remote", req.Source()))
	if action == ControlUnknown {
		log.Info("notify refused", zap.Int("code", 489), zap.String("reason", "unknown event"))
		a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", a.allowEvents()))
		return
	}
	authed := false
	if a.cfg.NotifyAuth {
		switch a.checkAuth(req) {
		case authOK:
			authed = true
		case authStale:
			a.challenge(req, tx, true)
			return
		case authWrong:
			log.Info("notify challenged", zap.String("reason", "credentials do not match the extension's"))
			a.challenge(req, tx, false)
			return
		default:
			log.Debug("notify challenged", zap.String("reason", "Auth_Resync-Reboot is Yes"))
			a.challenge(req, tx, false)
			return
		}
	}
	cr := &ControlRequest{Action: action, Event: raw, Alias: alias, Source: req.Source(),
		Authenticated: authed, reply: newReplier()}
	if f := req.From(); f != nil {
		cr.From = f.Address.String()
	}
	code, reason := a.decide(&cr.reply, func() { a.cfg.OnEvent(cr) }, tx)
	log.Info("notify answered", zap.String("action", action.String()), zap.Bool("alias", alias),
		zap.Bool("authenticated", authed), zap.Int("code", code))
	a.respond(req, tx, code, reason)
}

// decide hands an event to the phone and waits for its answer, at most ControlTimeout and
// never past the transaction: 503 when the phone does not answer.
func (a *Agent) decide(r *replier, hand func(), tx sipmsg.ServerTransaction) (int, string) {
	if a.cfg.OnEvent == nil {
		return 503, "Service Unavailable"
	}
	hand()
	t := time.NewTimer(ControlTimeout)
	defer t.Stop()
	select {
	case rep := <-r.ch:
		return rep.code, rep.reason
	case <-t.C:
	case <-tx.Done():
	case <-a.closing:
	}
	// A reply sent as the timer fired still wins: select picks at random among ready cases.
	select {
	case rep := <-r.ch:
		return rep.code, rep.reason
	default:
	}
	return 503, "Service Unavailable"
}

// onMessageSummary answers a message-summary NOTIFY (RFC 3842), from the agent's
// subscription or unsolicited (SPA-BEHAVIOUR §13.9): 200 and the state for the phone, or 400
// for a body it cannot read (nil). A NOTIFY without a body (the first of a subscription may
// carry none, RFC 6665 §4.2.1) is answered 200 and changes nothing.
func (a *Agent) onMessageSummary(req *sipmsg.Request, tx sipmsg.ServerTransaction) *MessageWaiting {
	if len(req.Body()) == 0 {
		a.respond(req, tx, sipmsg.StatusOK, "OK")
		return nil
	}
	mw, ok := parseMessageSummary(req.Body())
	if !ok {
		a.respond(req, tx, sipmsg.StatusBadRequest, "Bad message-summary Body")
		return nil
	}
	a.respond(req, tx, sipmsg.StatusOK, "OK")
	return mw
}

// onSubNotify handles a NOTIFY of one of the agent's subscriptions (RFC 6665 §4.1.3): its
// body as the package says, and its end when Subscription-State says terminated.
func (a *Agent) onSubNotify(d *subDialog, pkg string, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if got, _ := parseEvent(headerValue(req, "Event", "o")); got != pkg {
		a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", allowEvents))
		return
	}
	state, reason, retry := subscriptionState(headerValue(req, "Subscription-State", ""))
	mw := a.onMessageSummary(req, tx)
	if mw != nil && a.cfg.OnEvent != nil {
		mw.Subscribed = true
		a.cfg.OnEvent(mw)
	}
	if state == "terminated" {
		a.resetSub(d)
		a.log.Info("subscription ended", zap.String("event", pkg), zap.String("reason", reason), zap.Duration("retry_after", retry))
		a.emit(&SubscriptionEnded{Package: pkg, Reason: reason, RetryAfter: retry})
	}
}

// parseMessageSummary reads an application/simple-message-summary body (RFC 3842 §5.2):
// "Messages-Waiting: yes|no", optionally "Message-Account:" and "Voice-Message: n/o (u/v)".
func parseMessageSummary(body []byte) (*MessageWaiting, bool) {
	mw := &MessageWaiting{}
	seen := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "messages-waiting":
			switch strings.ToLower(value) {
			case "yes":
				mw.Waiting, seen = true, true
			case "no":
				mw.Waiting, seen = false, true
			default:
				return nil, false
			}
		case "message-account":
			mw.Account = value
		case "voice-message":
			counts, _, _ := strings.Cut(value, " ")
			n, o, _ := strings.Cut(counts, "/")
			mw.New, _ = strconv.Atoi(n)
			mw.Old, _ = strconv.Atoi(o)
		}
	}
	return mw, seen
}
