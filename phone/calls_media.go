package phone

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/sip"
)

// The media actions of a call (the API's /api/v1/calls/{id}/play, /record, /echo, /impair):
// what a QA test uses to put audio into a call and take it out. Files are read and created
// by the caller's goroutine; the loop only hands the result to the call's session.

// mediaControl is what the media actions use of a call's session beyond mediaSession.
type mediaControl interface {
	Play(src media.Source, name string)
	SetEcho(on bool)
	Record(rx, tx io.WriteSeeker) error
	StopRecording() error
	SetImpairment(media.Impairment) error
	SetLoopback(media.Loopback)
}

// PlayRequest says what a call plays: a WAV file on the phone's host, or a tone — a Regional
// tone by its parameter name (Busy_Tone, Ring_Back_Tone, …), a ToneScript
// ("440@-10;*(*/0/1)"), or a frequency in Hz ("1000": a sine at −16 dBFS). Loop repeats a file
// or a tone that ends. Neither file nor tone: silence.
type PlayRequest struct {
	File string `json:"file,omitempty"`
	Tone string `json:"tone,omitempty"`
	Loop bool   `json:"loop,omitempty"`
}

// CallPlay makes call id play what req says.
func (p *Phone) CallPlay(ctx context.Context, id string, req PlayRequest) (CallStatus, error) {
	if req.File != "" && req.Tone != "" {
		return CallStatus{}, fmt.Errorf("%w: play a file or a tone, not both", ErrInvalidRequest)
	}
	var pcm *media.PCM
	if req.File != "" {
		f, err := os.Open(req.File)
		if err != nil {
			return CallStatus{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		pcm, err = media.ReadWAV(f)
		f.Close()
		if err != nil {
			return CallStatus{}, fmt.Errorf("%w: %s: %w", ErrInvalidRequest, req.File, err)
		}
	}
	return p.callAction(ctx, id, func(st *state, c *pcall) error {
		mc, err := callMediaControl(c)
		if err != nil {
			return err
		}
		// In a conference the phone's audio goes to both far parties (conference.go).
		for _, m := range []mediaControl{mc, alsoOnConference(c)} {
			if m == nil {
				continue
			}
			switch {
			case pcm != nil:
				m.Play(media.NewPCMSource(pcm, req.Loop), req.File)
			case req.Tone != "":
				src, name, err := st.toneSource(req.Tone, req.Loop)
				if err != nil {
					return err
				}
				m.Play(src, name)
			default:
				m.Play(nil, "")
			}
		}
		return nil
	})
}

// toneSource resolves a tone request on the loop (the Regional scripts are in the snapshot).
func (st *state) toneSource(tone string, loop bool) (media.Source, string, error) {
	tone = strings.TrimSpace(tone)
	if hz, err := strconv.ParseFloat(tone, 64); err == nil {
		if hz <= 0 || hz >= 4000 {
			return nil, "", fmt.Errorf("%w: tone frequency %v Hz is not between 0 and 4000", ErrInvalidRequest, hz)
		}
		return media.NewTestTone(hz, -16), tone + " Hz", nil
	}
	script, name := tone, tone
	if v, ok := st.snap.Lookup(tone); ok && strings.HasSuffix(tone, "_Tone") {
		script = v
	}
	ts, err := media.ParseToneScript(script)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if loop {
		return &loopSource{make: func() media.Source { return media.NewToneSource(ts) }, cur: media.NewToneSource(ts)}, name, nil
	}
	return media.NewToneSource(ts), name, nil
}

// loopSource starts a source over when it ends (a tone that plays once, looped).
type loopSource struct {
	make func() media.Source
	cur  media.Source
}

// Read implements media.Source; a new source is made only when one ends, never per packet.
func (l *loopSource) Read(frame []int16) bool {
	if !l.cur.Read(frame) {
		l.cur = l.make()
		return l.cur.Read(frame)
	}
	return true
}

// RecordRequest names the WAV files a call records to: what it receives (RxFile) and what it
// sends (TxFile), either may be empty; Stop ends the recording (the files are complete then).
type RecordRequest struct {
	RxFile string `json:"rx_file,omitempty"`
	TxFile string `json:"tx_file,omitempty"`
	Stop   bool   `json:"stop,omitempty"`
}

// CallRecord starts or stops call id's recording.
func (p *Phone) CallRecord(ctx context.Context, id string, req RecordRequest) (CallStatus, error) {
	if req.Stop {
		return p.callAction(ctx, id, func(st *state, c *pcall) error {
			mc, err := callMediaControl(c)
			if err != nil {
				return err
			}
			return mc.StopRecording()
		})
	}
	if req.RxFile == "" && req.TxFile == "" {
		return CallStatus{}, fmt.Errorf(`%w: name "rx_file", "tx_file" or both, or "stop"`, ErrInvalidRequest)
	}
	create := func(path string) (*os.File, error) {
		if path == "" {
			return nil, nil
		}
		f, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		return f, nil
	}
	rx, err := create(req.RxFile)
	if err != nil {
		return CallStatus{}, err
	}
	tx, err := create(req.TxFile)
	if err != nil {
		if rx != nil {
			rx.Close()
		}
		return CallStatus{}, err
	}
	var rxw, txw io.WriteSeeker
	if rx != nil {
		rxw = rx
	}
	if tx != nil {
		txw = tx
	}
	cs, err := p.callAction(ctx, id, func(st *state, c *pcall) error {
		mc, err := callMediaControl(c)
		if err != nil {
			return err
		}
		return mc.Record(rxw, txw)
	})
	if err != nil {
		for _, f := range []*os.File{rx, tx} {
			if f != nil {
				f.Close()
			}
		}
	}
	return cs, err
}

// CallEcho makes call id send back what it receives, or stops that.
func (p *Phone) CallEcho(ctx context.Context, id string, on bool) (CallStatus, error) {
	return p.callAction(ctx, id, func(st *state, c *pcall) error {
		mc, err := callMediaControl(c)
		if err != nil {
			return err
		}
		mc.SetEcho(on)
		return nil
	})
}

// ImpairRequest is the impairment of what a call sends (the API's /impair body; {} clears it).
type ImpairRequest struct {
	Loss     float64 `json:"loss"`      // fraction of packets dropped, 0-1
	BurstLen float64 `json:"burst_len"` // mean loss burst in packets (≤ 1: random loss)
	JitterMS float64 `json:"jitter_ms"` // mean delay variation between consecutive packets
	DelayMS  float64 `json:"delay_ms"`  // constant extra delay
	Reorder  float64 `json:"reorder"`   // probability a packet is sent after the next
	Seed     uint64  `json:"seed"`      // 0: from the phone
}

// Impairment converts the request for the media engine.
func (r ImpairRequest) Impairment() media.Impairment {
	return media.Impairment{Loss: r.Loss, BurstLen: r.BurstLen, Reorder: r.Reorder, Seed: r.Seed,
		Jitter: time.Duration(r.JitterMS * float64(time.Millisecond)), Delay: time.Duration(r.DelayMS * float64(time.Millisecond))}
}

// CallImpair sets the impairment of what call id sends (loss, jitter, delay, reordering).
func (p *Phone) CallImpair(ctx context.Context, id string, req ImpairRequest) (CallStatus, error) {
	imp := req.Impairment()
	return p.callAction(ctx, id, func(st *state, c *pcall) error {
		mc, err := callMediaControl(c)
		if err != nil {
			return err
		}
		if err := mc.SetImpairment(imp); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
		}
		return nil
	})
}

func callMediaControl(c *pcall) (mediaControl, error) {
	if c.sess == nil {
		return nil, fmt.Errorf("%w: the call has no media yet", ErrCallState)
	}
	mc, ok := c.sess.(mediaControl)
	if !ok {
		return nil, fmt.Errorf("%w: the call's media cannot play or record", ErrCallState)
	}
	return mc, nil
}

// statsInBye makes the call's BYE, and the 200 to the far end's BYE, carry the call's RTP
// statistics in a P-RTP-Stat header when Stats_In_BYE is Yes (SPA-BEHAVIOUR §8.2); the call
// model calls it (through mediaStarted) when the call's media first starts. The value is formatted when the BYE is
// built, from the session's atomics (media.Stats.PRTPStat).
func (st *state) statsInBye(c *pcall) {
	if c.sess == nil || c.sipID == "" || !st.snap.Bool(config.StatsInBYE) {
		return
	}
	l, err := st.lineAgent(c.ext)
	if err != nil {
		return
	}
	sess := c.sess
	if err := l.agent.SetStats(c.sipID, func() string { return sess.Stats().PRTPStat() }); err != nil {
		st.callLog(c).Debug("no statistics in bye", zap.Error(err))
	}
}

// Media loopback (SPA-BEHAVIOUR §8.6, RFC 6849). A call dialled with Media_Loopback_Code in
// front of the number asks the far end for loopback: as the source (Media_Loopback_Mode
// source, the default: the far end mirrors) or as the mirror, of Media_Loopback_Type media or
// packet. An offer asking this phone for loopback is refused with 486 when
// Accept_Media_Loopback_Request is never, answered at once without ringing when it is
// automatic, and rings to be answered by the user when manual; the role and type are the
// caller's. The mirror sends back what it receives (media: decoded after the jitter buffer and
// re-encoded; packet: each payload at once, in the mirror's own RTP stream). Decision: packet
// loopback does not use RFC 6849's encaprtp or rtploopback payload formats (the device's
// EncapRTP_Dynamic_Payload): the mirrored payloads keep the negotiated codec's payload type,
// which every peer decodes and a source reads as its own audio coming back.

// loopbackDial takes Media_Loopback_Code off the front of what the user dialled; lb is the
// loopback the call asks for (LoopbackOff for a normal call) and mirror this phone's role.
func (st *state) loopbackDial(to string) (rest string, lb media.Loopback, mirror bool) {
	code := strings.TrimSpace(st.snap.Get(config.MediaLoopbackCode))
	if code == "" || !strings.HasPrefix(to, code) || len(to) == len(code) {
		return to, media.LoopbackOff, false
	}
	mirror = strings.EqualFold(strings.TrimSpace(st.snap.Get(config.MediaLoopbackMode)), "mirror")
	return strings.TrimPrefix(to, code), mediaLoopbackType(st.snap), mirror
}

// loopbackRefused refuses a loopback request when Accept_Media_Loopback_Request is never.
func (st *state) loopbackRefused(l *line, ev *sip.IncomingCall) bool {
	if lb, _ := media.LoopbackRequest(ev.SDP); lb == media.LoopbackOff || loopbackPolicy(st.snap) != "never" {
		return false
	}
	st.lineLog(l.n).Info("call refused", zap.String("call_id", ev.ID), zap.Int("code", 486),
		zap.String("reason", "media loopback request and Accept_Media_Loopback_Request is never"))
	l.agent.Reject(ev.ID, 486, "Busy Here")
	return true
}

// loopbackAnswersAtOnce says whether an incoming call is a loopback request the phone answers
// without ringing (Accept_Media_Loopback_Request automatic).
func (st *state) loopbackAnswersAtOnce(offer []byte) bool {
	lb, _ := media.LoopbackRequest(offer)
	return lb != media.LoopbackOff && loopbackPolicy(st.snap) == "automatic"
}

// applyLoopback makes the session mirror when the exchange made this phone the mirror; the
// source plays what it is told to and analyses what comes back.
func (st *state) applyLoopback(c *pcall, n media.Negotiated) {
	mc, ok := c.sess.(mediaControl)
	if !ok {
		return
	}
	want := media.LoopbackOff
	if n.LoopbackMirror {
		want = n.Loopback
	}
	if c.sess.Loopback() == want {
		return
	}
	mc.SetLoopback(want)
	st.callLog(c).Info("media loopback", zap.Stringer("type", want), zap.String("role", "mirror"))
}
