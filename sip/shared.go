package sip

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
)

// Shared line appearance, the SPA9000 form (SPA-BEHAVIOUR §13.8 [obs S23 p113–114]). The
// phone itself tells the server — the state agent, sip:sa@<server> — the state of its shared
// appearances in unsolicited NOTIFYs with Event: dialog and an application/dialog-info+xml
// body (RFC 4235), and the server tells every sharing phone the state of every shared
// appearance the same way:
//
//   - after registering, a full-state document without dialogs ([Agent.PublishShared] with
//     Full): the server answers with the full state of every shared key, and frees what the
//     phone held before a reboot;
//   - to seize an appearance, a partial document with one dialog in state trying, direction
//     initiator, whose local identity and target are the phone's primary AOR and whose
//     target carries the x-line-id param (the appearance, 0-based); the server grants with
//     202 Accepted (any 2xx is taken) and notifies the other phones; a refusal is a final
//     answer of 300 or more ([*ResponseError]);
//   - the NOTIFYs of the server reach the phone as [*SharedLineState].
//
// The message shapes are the trace's: Request-URI sip:sa@<server>, From the primary user (the
// phone's Ext 1) with its display name and an "o" tag of the extension, To the shared user,
// Contact the shared user at the extension's own address and port, Event: dialog, version 0
// in the documents. The phone's NOTIFYs of one extension keep one Call-ID and From tag with a
// growing CSeq, as its REGISTERs do (the trace shows one NOTIFY of each kind, not whether
// they share a Call-ID; sharing it lets a server keep one record per phone and extension).
//
// Decision: the phone reports every change of its appearances (trying, early, confirmed,
// confirmed and held, terminated), not only the seize the trace shows: the SPA9000 sees its
// calls as their proxy and could work the rest out, but a server that is not in the call
// path cannot, and one NOTIFY per change costs nothing. A held call is a confirmed dialog
// whose local target carries +sip.rendering="no" (RFC 4235 §4.1.6.2, the rendering feature
// tag of RFC 3840), the form RFC 7463 (shared appearances) uses.
//
// Decision, BroadSoft: the draft ties SCA to a BroadSoft server whose Call-Info/line-seize
// signalling is not in the sources (SPA-BEHAVIOUR §13.8 [unc]); it is not built. A NOTIFY of
// the call-info or line-seize packages is refused with 489 and one log line naming the
// variant, and a server that refuses the dialog NOTIFY (the phone logs why) leaves the
// extension working as a private line.

// SharedLine is the shared-line configuration of an extension (Share_Ext_n_ shared).
type SharedLine struct {
	// User is the shared account's user ID (Shared_User_ID_n_): To and Contact of the
	// NOTIFYs. Empty: the extension's UserID.
	User string
	// Primary is the phone's primary address of record (its Ext 1), Display its display
	// name: From, the document's entity and the dialogs' local identity and target. Empty:
	// the extension's own AOR.
	Primary, Display string
	// StateAgent is where the NOTIFYs go: host[:port] (the user is "sa") or user@host[:port].
	// Empty: sa at the extension's proxy.
	StateAgent string
}

// SharedDialog is one dialog of a dialog-info document: the state of one shared appearance.
type SharedDialog struct {
	// ID is the dialog's id attribute.
	ID string
	// LineID is the x-line-id param of the local target: the appearance, 0-based; -1 when
	// the document names none.
	LineID int
	// State is the RFC 4235 state: trying, proceeding, early, confirmed or terminated.
	State string
	// Initiator says the appearance's phone placed the call (direction initiator).
	Initiator bool
	// Held says the call is on hold at the appearance's phone (+sip.rendering="no").
	Held bool
	// CallID, LocalTag and RemoteTag identify the call's dialog at the appearance's phone,
	// when it is set up (for an INVITE with Replaces that takes it over, RFC 3891).
	CallID, LocalTag, RemoteTag string
	// Local is the identity of the phone using the appearance (its primary AOR).
	Local, LocalDisplay string
	// Remote is the far end's identity, RemoteTarget its Contact.
	Remote, RemoteDisplay, RemoteTarget string
}

// SharedState is a dialog-info document (RFC 4235 §4.1).
type SharedState struct {
	// Full says the document is the whole state (state="full"), not a change.
	Full    bool
	Version uint32
	// Entity is the document's entity (the phone's primary AOR in the phone's own).
	Entity  string
	Dialogs []SharedDialog
}

// SharedLineState is a dialog NOTIFY of the shared-line server (the phone answered 200).
type SharedLineState struct {
	SharedState
	// Source is the address it came from.
	Source string
}

func (*SharedLineState) sipEvent() {}

// sharedPub is the state the extension's dialog NOTIFYs keep from one to the next. Guarded
// by Agent.mu.
type sharedPub struct {
	callID, fromTag string
	cseq            uint32
}

// dialogInfo is the XML of RFC 4235 §4.
type dialogInfo struct {
	XMLName xml.Name    `xml:"dialog-info"`
	Xmlns   string      `xml:"xmlns,attr,omitempty"`
	Version uint32      `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []xmlDialog `xml:"dialog"`
}

type xmlDialog struct {
	ID        string          `xml:"id,attr"`
	CallID    string          `xml:"call-id,attr,omitempty"`
	LocalTag  string          `xml:"local-tag,attr,omitempty"`
	RemoteTag string          `xml:"remote-tag,attr,omitempty"`
	Direction string          `xml:"direction,attr,omitempty"`
	State     string          `xml:"state"`
	Local     *xmlParticipant `xml:"local,omitempty"`
	Remote    *xmlParticipant `xml:"remote,omitempty"`
}

type xmlParticipant struct {
	Identity *xmlIdentity `xml:"identity,omitempty"`
	Target   *xmlTarget   `xml:"target,omitempty"`
}

type xmlIdentity struct {
	Display string `xml:"display,attr,omitempty"`
	URI     string `xml:",chardata"`
}

type xmlTarget struct {
	URI    string     `xml:"uri,attr"`
	Params []xmlParam `xml:"param"`
}

type xmlParam struct {
	Name  string `xml:"pname,attr"`
	Value string `xml:"pvalue,attr"`
}

const dialogInfoNS = "urn:ietf:params:xml:ns:dialog-info"

// MarshalDialogInfo writes s as an application/dialog-info+xml body.
func MarshalDialogInfo(s SharedState) ([]byte, error) {
	doc := dialogInfo{Xmlns: dialogInfoNS, Version: s.Version, State: "partial", Entity: s.Entity}
	if s.Full {
		doc.State = "full"
	}
	for _, d := range s.Dialogs {
		x := xmlDialog{ID: d.ID, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag, State: d.State,
			Direction: "recipient"}
		if d.Initiator {
			x.Direction = "initiator"
		}
		if d.Local != "" {
			t := &xmlTarget{URI: d.Local}
			if d.LineID >= 0 {
				t.Params = append(t.Params, xmlParam{"x-line-id", strconv.Itoa(d.LineID)})
			}
			if d.Held {
				t.Params = append(t.Params, xmlParam{"+sip.rendering", "no"})
			}
			x.Local = &xmlParticipant{Identity: &xmlIdentity{Display: d.LocalDisplay, URI: d.Local}, Target: t}
		}
		if d.Remote != "" {
			x.Remote = &xmlParticipant{Identity: &xmlIdentity{Display: d.RemoteDisplay, URI: d.Remote}}
			if d.RemoteTarget != "" {
				x.Remote.Target = &xmlTarget{URI: d.RemoteTarget}
			}
		}
		doc.Dialogs = append(doc.Dialogs, x)
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dialog-info: %w", err)
	}
	return append([]byte(xml.Header), append(b, '\n')...), nil
}

// ParseDialogInfo reads an application/dialog-info+xml body (RFC 4235 §4.1); the namespace
// is not required, unknown elements are ignored.
func ParseDialogInfo(body []byte) (SharedState, error) {
	var doc dialogInfo
	if err := xml.Unmarshal(body, &doc); err != nil {
		return SharedState{}, fmt.Errorf("dialog-info: %w", err)
	}
	s := SharedState{Full: strings.EqualFold(doc.State, "full"), Version: doc.Version, Entity: strings.TrimSpace(doc.Entity)}
	switch strings.ToLower(doc.State) {
	case "full", "partial":
	default:
		return SharedState{}, fmt.Errorf("dialog-info: state %q is neither full nor partial", doc.State)
	}
	for _, x := range doc.Dialogs {
		d := SharedDialog{ID: x.ID, LineID: -1, State: strings.ToLower(strings.TrimSpace(x.State)),
			Initiator: strings.EqualFold(x.Direction, "initiator"), CallID: x.CallID, LocalTag: x.LocalTag, RemoteTag: x.RemoteTag}
		if x.Local != nil {
			if x.Local.Identity != nil {
				d.Local, d.LocalDisplay = strings.TrimSpace(x.Local.Identity.URI), x.Local.Identity.Display
			}
			if x.Local.Target != nil {
				if d.Local == "" {
					d.Local = strings.TrimSpace(x.Local.Target.URI)
				}
				for _, p := range x.Local.Target.Params {
					switch strings.ToLower(p.Name) {
					case "x-line-id":
						if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err == nil && n >= 0 {
							d.LineID = n
						}
					case "+sip.rendering":
						d.Held = strings.EqualFold(strings.TrimSpace(p.Value), "no")
					}
				}
			}
		}
		if x.Remote != nil {
			if x.Remote.Identity != nil {
				d.Remote, d.RemoteDisplay = strings.TrimSpace(x.Remote.Identity.URI), x.Remote.Identity.Display
			}
			if x.Remote.Target != nil {
				d.RemoteTarget = strings.TrimSpace(x.Remote.Target.URI)
			}
		}
		switch d.State {
		case "trying", "proceeding", "early", "confirmed", "terminated":
		default:
			return SharedState{}, fmt.Errorf("dialog-info: dialog %q has state %q", d.ID, x.State)
		}
		s.Dialogs = append(s.Dialogs, d)
	}
	return s, nil
}

// SharedAOR returns the address the extension's dialog NOTIFYs name as their entity and local
// identity: the configured primary AOR, else the extension's own.
func (a *Agent) SharedAOR() string {
	if sl := a.cfg.Shared; sl != nil && sl.Primary != "" {
		return sl.Primary
	}
	u := a.aor()
	return u.String()
}

// stateAgent is the Request-URI of the dialog NOTIFYs.
func (a *Agent) stateAgent() (sipmsg.Uri, error) {
	sl := a.cfg.Shared
	s := strings.TrimSpace(sl.StateAgent)
	user := "sa"
	if u, h, ok := strings.Cut(s, "@"); ok {
		user, s = u, h
	}
	if s == "" {
		if !a.hasProxy {
			return sipmsg.Uri{}, fmt.Errorf("%w: the shared line has no state agent and the extension no proxy", ErrNoProxy)
		}
		return sipmsg.Uri{Scheme: "sip", User: user, Host: a.proxy.host, Port: a.proxy.port}, nil
	}
	spec, _, err := parseProxy(s)
	if err != nil {
		return sipmsg.Uri{}, fmt.Errorf("state agent: %w", err)
	}
	return sipmsg.Uri{Scheme: "sip", User: user, Host: spec.host, Port: spec.port}, nil
}

// PublishShared sends one dialog NOTIFY with s to the shared-line server and waits for its
// final answer (answering up to MaxAuth digest challenges): nil for a 2xx (202 grants a
// seize), a [*ResponseError] for a refusal, or an error wrapping [ErrTimeout]. The document's
// entity is [Agent.SharedAOR] when s has none.
func (a *Agent) PublishShared(ctx context.Context, s SharedState) error {
	if a.closed.Load() {
		return ErrClosed
	}
	sl := a.cfg.Shared
	if sl == nil {
		return fmt.Errorf("extension %d is not a shared line", a.cfg.Ext)
	}
	ruri, err := a.stateAgent()
	if err != nil {
		return err
	}
	if s.Entity == "" {
		s.Entity = a.SharedAOR()
	}
	body, err := MarshalDialogInfo(s)
	if err != nil {
		return err
	}
	// A state agent of its own is sent to directly (the outbound proxy still wins); sa at
	// the proxy goes where the extension's requests go.
	var dest netip.AddrPort
	if strings.TrimSpace(sl.StateAgent) != "" && a.outbound == nil {
		dest, err = a.uriDest(ctx, ruri)
	} else {
		dest, err = a.requestDest(ctx, ruri)
	}
	if err != nil {
		return err
	}
	var primary sipmsg.Uri
	if err := sipmsg.ParseUri(a.SharedAOR(), &primary); err != nil {
		return fmt.Errorf("primary address %q: %w", a.SharedAOR(), err)
	}
	user := sl.User
	if user == "" {
		user = a.cfg.UserID
	}
	display := sl.Display
	if display == "" {
		display = a.cfg.DisplayName
	}
	to := a.aor()
	to.User = user
	a.mu.Lock()
	if a.shared == nil {
		a.shared = &sharedPub{callID: newCallID(a.cfg.IP.String()), fromTag: newTag('o', a.cfg.Ext), cseq: newCSeq()}
	}
	a.mu.Unlock()
	var auth []sipmsg.Header
	for challenges := 0; ; {
		a.mu.Lock()
		a.shared.cseq++
		p := *a.shared
		a.mu.Unlock()
		req := a.newRequest(sipmsg.NOTIFY, ruri, to, p.callID, p.fromTag, p.cseq, a.cfg.UserAgent)
		if from := req.From(); from != nil {
			from.Address, from.DisplayName = primary, display
		}
		if t := req.To(); t != nil {
			t.DisplayName = display
		}
		if ct := req.Contact(); ct != nil {
			ct.Address.User, ct.DisplayName = user, display
		}
		req.AppendHeader(sipmsg.NewHeader("Event", "dialog"))
		req.AppendHeader(sipmsg.NewHeader("Content-Type", "application/dialog-info+xml"))
		for _, h := range auth {
			req.AppendHeader(h)
		}
		req.SetBody(body)
		res, err := a.exchange(ctx, req, dest, a.cfg.timerF())
		if err != nil {
			return err
		}
		switch code := res.StatusCode; {
		case code >= 200 && code < 300:
			return nil
		case (code == sipmsg.StatusUnauthorized || code == sipmsg.StatusProxyAuthRequired) && challenges < a.maxAuth():
			challenges++
			h, err := a.answerChallenge(res, req)
			if err != nil {
				return err
			}
			auth = []sipmsg.Header{h}
		default:
			return &ResponseError{Method: "NOTIFY", Code: code, Reason: res.Reason}
		}
	}
}

// onSharedNotify takes a dialog NOTIFY of the shared-line server: 200 and the state for the
// phone, 400 for a body it cannot read, 489 on an extension that is not shared.
func (a *Agent) onSharedNotify(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	log := a.log.With(zap.String("event", "dialog"), zap.String("remote", req.Source()))
	if a.cfg.Shared == nil {
		log.Info("notify refused", zap.Int("code", 489), zap.String("reason", "the extension is not a shared line"))
		a.respond(req, tx, 489, "Bad Event", sipmsg.NewHeader("Allow-Events", a.allowEvents()))
		return
	}
	if ct := req.ContentType(); ct == nil || !strings.HasPrefix(strings.ToLower(ct.Value()), "application/dialog-info+xml") {
		log.Info("notify refused", zap.Int("code", 415), zap.String("reason", "not application/dialog-info+xml"))
		a.respond(req, tx, 415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/dialog-info+xml"))
		return
	}
	s, err := ParseDialogInfo(req.Body())
	if err != nil {
		log.Info("notify refused", zap.Int("code", 400), zap.Error(err))
		a.respond(req, tx, 400, "Bad dialog-info Body")
		return
	}
	a.respond(req, tx, 200, "OK")
	a.emit(&SharedLineState{SharedState: s, Source: req.Source()})
}

// allowEvents is the Allow-Events of a 489: the packages the extension takes.
func (a *Agent) allowEvents() string {
	if a.cfg.Shared != nil {
		return allowEvents + ", dialog"
	}
	return allowEvents
}
