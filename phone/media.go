package phone

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/spa900/spa900/media"
)

// The call model's seam to the media engine (CONTRACT sip-media): what a call uses of its
// *media.Session. The engine itself is the media side's (media_engine.go, st.rtp()).
type mediaSession interface {
	LocalAddr() netip.AddrPort
	Start(n media.Negotiated) error
	Update(n media.Negotiated) error
	Close() error
	Stats() media.Stats
	Loopback() media.Loopback
	SendDTMF(digits string, m media.DTMFMethod) error
}

// errNoMedia is wrapped when the phone has no media engine (no --ip, no RTP port range): a
// call cannot carry audio, so the phone places none and answers offers with 488.
var errNoMedia = errors.New("no media engine (the phone needs --ip and an RTP port range)")

// openMedia opens the call's RTP session on the phone's engine.
func (st *state) openMedia(c *pcall) error {
	pm := st.rtp()
	if pm == nil {
		return fmt.Errorf("%w: %w", ErrCallState, errNoMedia)
	}
	s, err := pm.OpenCall(c.ext)
	if err != nil {
		return fmt.Errorf("%w: media: %w", ErrCallState, err)
	}
	st.labelMedia(s, c.id, c.ext)
	c.sess, c.counted = s, new(atomic.Bool)
	now := st.p.clock.Now()
	c.local = media.Local{Addr: s.LocalAddr(), SessionID: uint64(now.UnixNano()) / 1000, Version: 1}
	return nil
}

// sdpConfig is extension n's offer/answer configuration, as the media engine builds it.
func (st *state) sdpConfig(n int) media.SDPConfig {
	if pm := st.rtp(); pm != nil {
		return pm.SDPConfig(n)
	}
	return mediaSDPConfig(st.snap, n)
}
