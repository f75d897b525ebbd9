package phone

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
)

// MediaOptions are a phone's default audio for every call (the --audio-source, --record-dir
// and --impair flags): what a QA fleet wants without an API call per call. The calls API
// (play, record, echo, impair) changes a call's audio from there.
type MediaOptions struct {
	// Source is what every call sends from the moment its media starts ([ParseAudioSource]);
	// the zero value is silence.
	Source AudioSource
	// RecordDir, when set, records every call's audio to two WAV files there:
	// <MAC>-<call id>-<SIP Call-ID>-rx.wav (what the phone received) and -tx.wav (what it sent),
	// finished when the call ends.
	RecordDir string
	// Impair is the impairment of what every call sends ([ParseImpairment]).
	Impair ImpairRequest
}

// AudioSource is a default call source: silence, a tone (a frequency, a Regional tone's
// name, or a ToneScript, as PlayRequest.Tone), a WAV file played in a loop, or echo.
type AudioSource struct {
	Kind string // "silence", "tone", "file" or "echo"
	Tone string
	File string
	pcm  *media.PCM
}

// String is the flag's form.
func (a AudioSource) String() string {
	switch a.Kind {
	case "tone":
		return "tone:" + a.Tone
	case "file":
		return "file:" + a.File
	case "echo":
		return "echo"
	}
	return "silence"
}

// ParseAudioSource reads --audio-source: "silence", "echo", "tone:1000", "tone:Dial_Tone",
// "tone:350@-19,440@-19;10(*/0/1+2)" or "file:/path/to.wav" (read and converted here, once).
func ParseAudioSource(v string) (AudioSource, error) {
	v = strings.TrimSpace(v)
	kind, arg, _ := strings.Cut(v, ":")
	switch strings.ToLower(kind) {
	case "", "silence":
		if arg != "" {
			break
		}
		return AudioSource{Kind: "silence"}, nil
	case "echo":
		if arg != "" {
			break
		}
		return AudioSource{Kind: "echo"}, nil
	case "tone":
		if strings.TrimSpace(arg) == "" {
			break
		}
		return AudioSource{Kind: "tone", Tone: arg}, nil
	case "file":
		f, err := os.Open(arg)
		if err != nil {
			return AudioSource{}, fmt.Errorf("%w: audio source: %w", ErrInvalidRequest, err)
		}
		defer f.Close()
		pcm, err := media.ReadWAV(f)
		if err != nil {
			return AudioSource{}, fmt.Errorf("%w: audio source %s: %w", ErrInvalidRequest, arg, err)
		}
		return AudioSource{Kind: "file", File: arg, pcm: pcm}, nil
	}
	return AudioSource{}, fmt.Errorf("%w: audio source %q: want silence, echo, tone:SPEC or file:PATH", ErrInvalidRequest, v)
}

// ParseImpairment reads --impair: comma-separated loss=0.05 (fraction), burst=3 (mean loss
// burst in packets), jitter=20ms, delay=50ms, reorder=0.01 (probability), seed=7.
func ParseImpairment(v string) (ImpairRequest, error) {
	var r ImpairRequest
	if strings.TrimSpace(v) == "" {
		return r, nil
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return ImpairRequest{}, fmt.Errorf("%w: impairment %q: want NAME=VALUE", ErrInvalidRequest, kv)
		}
		var err error
		switch strings.ToLower(k) {
		case "loss":
			r.Loss, err = strconv.ParseFloat(val, 64)
		case "burst", "burst_len":
			r.BurstLen, err = strconv.ParseFloat(val, 64)
		case "reorder":
			r.Reorder, err = strconv.ParseFloat(val, 64)
		case "seed":
			r.Seed, err = strconv.ParseUint(val, 10, 64)
		case "jitter", "delay":
			var d time.Duration
			if d, err = time.ParseDuration(val); err == nil {
				ms := float64(d) / float64(time.Millisecond)
				if k == "jitter" {
					r.JitterMS = ms
				} else {
					r.DelayMS = ms
				}
			}
		default:
			return ImpairRequest{}, fmt.Errorf("%w: impairment %q: no such setting (loss, burst, jitter, delay, reorder, seed)", ErrInvalidRequest, k)
		}
		if err != nil {
			return ImpairRequest{}, fmt.Errorf("%w: impairment %s: %w", ErrInvalidRequest, kv, err)
		}
	}
	if err := r.Impairment().Validate(); err != nil {
		return ImpairRequest{}, fmt.Errorf("%w: impairment %q: %w", ErrInvalidRequest, v, err)
	}
	return r, nil
}

// mediaStarted runs when a call's media first starts (the call model calls it): the
// statistics of its BYE, and the phone's default source, recording and impairment.
func (st *state) mediaStarted(c *pcall) {
	st.statsInBye(c)
	mo := st.p.opts.Media
	mc, err := callMediaControl(c)
	if err != nil {
		return
	}
	log := st.callLog(c)
	switch mo.Source.Kind {
	case "tone":
		src, name, err := st.toneSource(mo.Source.Tone, true)
		if err != nil {
			log.Warn("default audio source not played", zap.String("source", mo.Source.String()), zap.Error(err))
			break
		}
		mc.Play(src, name)
	case "file":
		mc.Play(media.NewPCMSource(mo.Source.pcm, true), mo.Source.File)
	case "echo":
		mc.SetEcho(true)
	}
	if imp := mo.Impair.Impairment(); imp.Active() {
		if err := mc.SetImpairment(imp); err != nil {
			log.Warn("default impairment not set", zap.Error(err))
		}
	}
	if mo.RecordDir != "" {
		base := filepath.Join(mo.RecordDir, fmt.Sprintf("%s-%s-%s", strings.ReplaceAll(st.p.id.MAC.String(), ":", ""), c.id, safeName(c.sipID)))
		if err := st.recordCall(mc, base+"-rx.wav", base+"-tx.wav"); err != nil {
			log.Warn("call not recorded", zap.String("dir", mo.RecordDir), zap.Error(err))
		}
	}
}

// recordCall starts recording to the two files (created here: the loop's one file system
// operation per call, as the device writes nothing else).
func (st *state) recordCall(mc mediaControl, rx, tx string) error {
	fr, err := os.Create(rx)
	if err != nil {
		return err
	}
	ft, err := os.Create(tx)
	if err != nil {
		fr.Close()
		return err
	}
	if err := mc.Record(fr, ft); err != nil {
		fr.Close()
		ft.Close()
		return err
	}
	return nil
}

// safeName keeps the letters, digits, '-' and '.' of a SIP Call-ID for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
}

// ReceiveCounts is what a call's receiving did with the RTP that arrived, so a test tells
// packets lost on the way from packets that arrived too late to be played: Late counts those
// the jitter buffer dropped because their playout time had passed (the sender, the network
// or this phone's own playout fell behind by more than the buffer's delay; with
// Jitter_Buffer_Adjustment disabled the delay never grows to absorb it).
type ReceiveCounts struct {
	PacketsRecv uint64 `json:"packets_recv"`
	Lost        uint64 `json:"lost"` // lost on the way, of every source the call heard
	Late        uint64 `json:"late"`
	Duplicates  uint64 `json:"duplicates"`
	// ConcealedMS is the audio played as silence because its packet was lost or late.
	ConcealedMS float64 `json:"concealed_ms"`
}

// receiveCounts reads a session's receive figures.
func receiveCounts(st media.Stats) *ReceiveCounts {
	return &ReceiveCounts{PacketsRecv: st.PacketsRecv, Lost: st.LostAllSources, Late: st.Late,
		Duplicates: st.Duplicates, ConcealedMS: float64(st.Concealed) / 8}
}

// InjectedCounts is what a call's impairment did to what it sent, so a test compares the far
// end's statistics (Packets_Lost, Jitter) with what was injected.
type InjectedCounts struct {
	PacketsSent uint64 `json:"packets_sent"` // packets the call sent, or would have without the loss
	Dropped     uint64 `json:"dropped"`
	Delayed     uint64 `json:"delayed"`
	Reordered   uint64 `json:"reordered"`
	// JitterMS and LossFraction are the impairment set (the mean delay variation between
	// consecutive packets, and the long-run loss).
	JitterMS     float64 `json:"jitter_ms"`
	LossFraction float64 `json:"loss"`
}

// injector is what InjectedCounts reads of a session.
type injector interface {
	Injected() (dropped, delayed, reordered uint64)
	Impairment() media.Impairment
}

// injectedCounts reads a call's impairment counts; nil when it was never impaired.
func injectedCounts(c *pcall) *InjectedCounts {
	in, ok := c.sess.(injector)
	if !ok {
		return nil
	}
	d, l, r := in.Injected()
	imp := in.Impairment()
	if d == 0 && l == 0 && r == 0 && !imp.Active() {
		return nil
	}
	return &InjectedCounts{PacketsSent: c.sess.Stats().PacketsSent + d, Dropped: d, Delayed: l, Reordered: r,
		JitterMS: float64(imp.Jitter) / float64(time.Millisecond), LossFraction: imp.Loss}
}
