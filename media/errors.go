package media

import "errors"

// ErrNoCommonCodec is returned by [Answer] and [Accept] when no audio stream of the other side
// carries a codec the phone can encode: the SIP side answers the offer with 488 Not Acceptable
// Here (RFC 3261 §21.4.26, RFC 3264 §6).
var ErrNoCommonCodec = errors.New("no common codec")

// ErrBadSDP wraps every error about an SDP body that cannot be parsed or makes no sense (no
// audio stream, no connection address, an address that is not an IP).
var ErrBadSDP = errors.New("bad SDP")

// ErrBadConfig wraps every error about an [SDPConfig] or [EngineConfig] the engine cannot use
// (no codec, a telephone-event payload type that clashes with a codec, an empty port range).
var ErrBadConfig = errors.New("bad media configuration")

// ErrNoPort is returned by [Engine.Open] when every even port of the RTP range (with its RTCP
// port above it) is taken.
var ErrNoPort = errors.New("no free RTP port in the range")

// ErrClosed is returned for operations on a closed [Session] or [Engine].
var ErrClosed = errors.New("media closed")

// ErrNotStarted is returned for operations that need a started [Session] (sending DTMF).
var ErrNotStarted = errors.New("session not started")

// ErrBadToneScript wraps every error of [ParseToneScript].
var ErrBadToneScript = errors.New("bad tone script")

// ErrBadWAV wraps every error about a WAV file the engine cannot play.
var ErrBadWAV = errors.New("bad WAV file")

// ErrBadDigit is returned for a DTMF digit outside 0-9, *, #, A-D.
var ErrBadDigit = errors.New("bad DTMF digit")

// ErrNoTelephoneEvent is returned for RFC 4733 DTMF on a session whose peer accepted no
// telephone-event payload type.
var ErrNoTelephoneEvent = errors.New("no telephone-event negotiated")
