package phone

import (
	"context"
	"fmt"
	"time"

	"github.com/spa900/spa900/provisioning/config"
)

// CallStatus is one call as the status and the calls API show it.
type CallStatus struct {
	ID         string     `json:"id"`
	Extension  int        `json:"extension"`
	Appearance int        `json:"appearance"`
	Direction  string     `json:"direction"` // inbound, outbound
	State      string     `json:"state"`     // Calling, Proceeding, Ringing, Connected, Held
	Peer       string     `json:"peer"`      // the far end's URI
	PeerName   string     `json:"peer_name,omitempty"`
	PeerPhone  string     `json:"peer_phone,omitempty"`
	Dialled    string     `json:"dialled,omitempty"`
	Since      time.Time  `json:"since"` // in this state since
	Started    time.Time  `json:"started"`
	Answered   *time.Time `json:"answered,omitempty"`
	Codec      string     `json:"codec,omitempty"`
	RemoteHold bool       `json:"remote_hold"`
	SIPCallID  string     `json:"sip_call_id"`
	// Conference is the other call of the local three-way conference this call is in.
	Conference string `json:"conference,omitempty"`
	// Injected is what the impairment of this call's sending did (media_options.go).
	Injected *InjectedCounts `json:"injected,omitempty"`
	// Receive is what the call's receiving did with the RTP that arrived (media_options.go).
	Receive *ReceiveCounts `json:"receive,omitempty"`
}

func (st *state) callStatus(c *pcall) CallStatus {
	cs := CallStatus{ID: c.id, Extension: c.ext, Appearance: c.app, Direction: direction(c), State: c.state,
		Peer: c.peer.URI, PeerName: c.peer.Display, PeerPhone: c.peer.User, Dialled: c.dialled, Since: c.since,
		Started: c.created, RemoteHold: c.remoteHold, SIPCallID: c.sipID, Answered: timePtr(c.answered)}
	if c.neg.Codec != 0 {
		cs.Codec = c.neg.Codec.DeviceName()
	}
	if c.conf != nil {
		cs.Conference = c.conf.id
	}
	cs.Injected = injectedCounts(c)
	if c.sess != nil {
		cs.Receive = receiveCounts(c.sess.Stats())
	}
	return cs
}

// callInfo fills the Info tab's Line n Call m Status of the appearances in use
// (SPA-BEHAVIOUR §9).
func (st *state) callInfo(lines [][2]config.CallInfo, now time.Time) {
	for _, c := range st.calls.order {
		if c.ext > len(lines) || c.app > appearances {
			continue
		}
		ci := &lines[c.ext-1][c.app-1]
		ci.State = c.state
		ci.Type = "Inbound"
		if c.outgoing {
			ci.Type = "Outbound"
		}
		ci.RemoteHold = yesNo(c.remoteHold)
		ci.Callback = "No"
		ci.PeerName, ci.PeerPhone = c.peer.Display, c.peer.User
		if !c.answered.IsZero() {
			ci.Duration = config.FormatElapsed(now.Sub(c.answered))
		}
		if c.sess != nil {
			callMediaInfo(ci, c.sess.Stats(), c.sess.Loopback())
		}
	}
	st.sharedInfo(lines)
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

// Dial places a call from extension ext: to is dialled through Dial_Plan_n_ as keys would
// be (and sent at the end, as the Dial soft key does); with uri, to is the target as it is
// (a SIP URI, user@host, or a number at the proxy). The call's progress is on the event
// stream and in the status. Keys that are a vertical service code act on it (SPA-BEHAVIOUR
// §12.7): the result's Feature says what it did, and a call is placed only for the codes
// that place one ([DialResult.Placed]).
func (p *Phone) Dial(ctx context.Context, ext int, to string, uri bool) (DialResult, error) {
	var res DialResult
	err := p.doAsync(ctx, func(st *state, reply func(error)) {
		st.dial(ext, to, uri, func(r DialResult, err error) {
			res = r
			reply(err)
		})
	})
	return res, err
}

// callAction runs fn on the call id, on the loop.
func (p *Phone) callAction(ctx context.Context, id string, fn func(st *state, c *pcall) error) (CallStatus, error) {
	var cs CallStatus
	err := p.do(ctx, func(st *state) error {
		c := st.calls.byID[id]
		if c == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchCall, id)
		}
		if err := fn(st, c); err != nil {
			return err
		}
		cs = st.callStatus(c)
		return nil
	})
	return cs, err
}

// Answer answers a ringing call.
func (p *Phone) Answer(ctx context.Context, id string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error {
		if c.state != CallRinging {
			return fmt.Errorf("%w: only a ringing call can be answered (it is %s)", ErrCallState, c.state)
		}
		return st.answerIncoming(c, c.offer)
	})
}

// Hangup ends a call: cancels or declines one not answered, sends BYE for one that is up.
func (p *Phone) Hangup(ctx context.Context, id string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.hangup(c) })
}

// Hold puts a connected call on hold (re-INVITE, SPA-BEHAVIOUR §13.4).
func (p *Phone) Hold(ctx context.Context, id string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.hold(c, true) })
}

// Resume takes a held call back.
func (p *Phone) Resume(ctx context.Context, id string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.hold(c, false) })
}

// Transfer hands a connected or held call over to to (blind transfer by REFER): a number
// dialled through the dial plan, or a URI.
func (p *Phone) Transfer(ctx context.Context, id, to string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.transfer(c, to) })
}

// TransferReplaces completes an attended transfer (SPA-BEHAVIOUR §13.6): the far end of call
// id is REFERred to the far end of call replaces, whose dialog its new call replaces
// (Refer-To with Replaces, RFC 3891); this phone leaves both calls once the transfer is done.
func (p *Phone) TransferReplaces(ctx context.Context, id, replaces string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error {
		other := st.calls.byID[replaces]
		if other == nil {
			return fmt.Errorf("%w: call %s to replace does not exist", ErrInvalidRequest, replaces)
		}
		return st.transferReplaces(c, other)
	})
}

// SendDTMF sends digits in a call as DTMF_Tx_Method says.
func (p *Phone) SendDTMF(ctx context.Context, id, digits string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.sendDTMF(c, digits) })
}
