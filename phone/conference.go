package phone

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
)

// The local three-way conference (SPA-BEHAVIOUR §13.5): the phone joins two calls of one
// extension and mixes their audio, each far party hearing the other and the phone's own
// source; both call appearances stay busy. The device's conf soft key does this after a
// second call; the API's POST /api/v1/calls/{id}/conference does it for any two calls of the
// extension that are up (a held leg is resumed, as conf does). Decisions: a conference ends
// when either leg ends (the other goes on as a plain call, the phone stays in it);
// Conference_Bridge_URL_n_ (a server bridge instead of local mixing) is not implemented, so a
// conference is always local; what the phone plays in a conference plays to both legs.

// conferenceMixer is what a conference uses of a call's session: the media engine's mixer.
type conferenceMixer interface {
	Conference(peer *media.Session)
}

// CallConference joins call id and call with (another call of the same extension; "" is the
// extension's other call) in a local three-way conference.
func (p *Phone) CallConference(ctx context.Context, id, with string) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error { return st.conference(c, with) })
}

// conference joins c and the call with id with (or the other call of c's extension).
func (st *state) conference(c *pcall, with string) error {
	if !st.snap.Bool(config.ConferenceServ) {
		return fmt.Errorf("%w: Conference_Serv is No", ErrCallState)
	}
	var o *pcall
	if with != "" {
		if o = st.calls.byID[with]; o == nil {
			return fmt.Errorf("%w: %s", ErrNoSuchCall, with)
		}
	} else {
		for _, x := range st.calls.order {
			if x != c && x.ext == c.ext {
				o = x
				break
			}
		}
		if o == nil {
			return fmt.Errorf("%w: extension %d has no other call to conference with", ErrCallState, c.ext)
		}
	}
	switch {
	case o == c:
		return fmt.Errorf("%w: a call cannot be conferenced with itself", ErrInvalidRequest)
	case o.ext != c.ext:
		return fmt.Errorf("%w: calls %s and %s are on different extensions", ErrCallState, c.id, o.id)
	case c.conf != nil || o.conf != nil:
		return fmt.Errorf("%w: a conference is already up", ErrCallState)
	}
	for _, x := range []*pcall{c, o} {
		if x.state != CallConnected && x.state != CallHeld {
			return fmt.Errorf("%w: call %s is %s", ErrCallState, x.id, x.state)
		}
	}
	mc, ok1 := c.sess.(conferenceMixer)
	ms, ok2 := o.sess.(*media.Session)
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: the calls' media cannot be mixed", ErrCallState)
	}
	for _, x := range []*pcall{c, o} {
		if x.state == CallHeld && x.holding == nil {
			if err := st.hold(x, false); err != nil {
				return err
			}
		}
	}
	mc.Conference(ms)
	c.conf, o.conf = o, c
	st.callLog(c).Info("conference started", zap.String("with", o.id))
	for _, x := range []*pcall{c, o} {
		st.emit(EventCall, st.callEvent(x, map[string]any{"state": x.state, "conference": x.conf.id}))
	}
	return nil
}

// leaveConference takes an ending call out of its conference; the other leg goes on alone.
func (st *state) leaveConference(c *pcall) {
	o := c.conf
	if o == nil {
		return
	}
	c.conf, o.conf = nil, nil
	if m, ok := c.sess.(conferenceMixer); ok {
		m.Conference(nil)
	}
	st.callLog(c).Info("conference ended", zap.String("with", o.id))
	st.emit(EventCall, st.callEvent(o, map[string]any{"state": o.state, "conference": ""}))
}

// alsoOnConference returns the other leg's media control when c is in a conference, so what
// the phone plays reaches both far parties.
func alsoOnConference(c *pcall) mediaControl {
	if c.conf == nil {
		return nil
	}
	mc, err := callMediaControl(c.conf)
	if err != nil {
		return nil
	}
	return mc
}
