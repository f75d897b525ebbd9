package phone

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
)

// The catalogue → media mapping: media knows no parameter names; these functions build its
// plain configuration structs from a snapshot (SPA-BEHAVIOUR §8.2, §8.3, §8.5).

// mediaEngineConfig builds the engine configuration of a phone bound to ip.
func mediaEngineConfig(snap *config.Snapshot, ip netip.Addr) media.EngineConfig {
	lo, hi := snap.Int(config.RTPPortMin), snap.Int(config.RTPPortMax)
	if lo < 1024 || lo > 65534 {
		lo = 16384
	}
	if hi <= lo || hi > 65535 {
		hi = min(lo+98, 65535)
	}
	return media.EngineConfig{
		IP:      ip,
		PortMin: uint16(lo),
		PortMax: uint16(hi),
		Session: mediaSessionConfig(snap, 1),
	}
}

// mediaSDPConfig builds extension ext's offer/answer configuration: the preferred codecs the
// engine can encode (G.729, G.726, G.723 are left out: no sound Go implementation), the
// telephone-event payload type and names, the packet size and the hold style.
func mediaSDPConfig(snap *config.Snapshot, ext int) media.SDPConfig {
	cfg := media.SDPConfig{
		PreferredOnly: snap.Bool(config.ExtName(config.UsePrefCodecOnly, ext)),
		ReleaseUnused: snap.Bool(config.ExtName(config.ReleaseUnusedCodec, ext)),
		DTMFName:      snap.Get(config.AVTCodecName),
		Names: map[media.Codec]string{
			media.CodecPCMU: snap.Get(config.G711uCodecName),
			media.CodecPCMA: snap.Get(config.G711aCodecName),
		},
		PacketTime:   packetSize(snap.Get(config.RTPPacketSize)),
		HoldNullAddr: snap.Bool(config.RFC2543CallHold),
		// Accept_Media_Loopback_Request (§8.6): automatic and manual take the loopback role
		// the offer asks for (manual once the user answers); never refuses the call with 486
		// before any answer is built (loopbackRefused).
		AcceptLoopback: loopbackPolicy(snap) != "never",
	}
	if pt := snap.Int(config.AVTDynamicPayload); pt >= 96 && pt <= 127 {
		cfg.DTMFPayload = uint8(pt)
	}
	for _, name := range []string{config.PreferredCodec, config.SecondPreferredCodec, config.ThirdPreferredCodec} {
		if c, ok := media.ParseCodec(snap.Get(config.ExtName(name, ext))); ok {
			cfg.Codecs = append(cfg.Codecs, c)
		}
	}
	if len(cfg.Codecs) == 0 {
		// Decision: a phone whose preferred codecs are all ones the engine cannot encode
		// (e.g. G729a alone) still offers G.711, as the device always can; with
		// Use_Pref_Codec_Only it offers PCMU only.
		cfg.Codecs = []media.Codec{media.CodecPCMU, media.CodecPCMA}
	} else if !cfg.PreferredOnly {
		// Codecs not named in the three preferences are still accepted (the device
		// negotiates every enabled codec), after the named ones.
		for _, c := range []media.Codec{media.CodecPCMU, media.CodecPCMA} {
			if !slices.Contains(cfg.Codecs, c) {
				cfg.Codecs = append(cfg.Codecs, c)
			}
		}
	}
	return cfg
}

// loopbackPolicy is Accept_Media_Loopback_Request: "automatic" (the default), "manual" or
// "never".
func loopbackPolicy(snap *config.Snapshot) string {
	switch v := strings.ToLower(strings.TrimSpace(snap.Get(config.AcceptMediaLoopbackRequest))); v {
	case "manual", "never":
		return v
	}
	return "automatic"
}

// mediaLoopbackType is the loopback this phone asks for when it is the source (a call made with
// Media_Loopback_Code, Media_Loopback_Type, §8.6).
func mediaLoopbackType(snap *config.Snapshot) media.Loopback {
	if strings.EqualFold(strings.TrimSpace(snap.Get(config.MediaLoopbackType)), "packet") {
		return media.LoopbackPacket
	}
	return media.LoopbackMedia
}

// mediaSessionConfig builds the session configuration of a call on extension ext.
func mediaSessionConfig(snap *config.Snapshot, ext int) media.SessionConfig {
	return media.SessionConfig{
		Symmetric:    snap.Bool(config.SymmetricRTP),
		RTCPInterval: mediaSeconds(snap.Get(config.RTCPTxInterval), 0, 255*time.Second),
		Jitter: jitterConfig(snap.Get(config.ExtName(config.NetworkJitterLevel, ext)),
			snap.Get(config.ExtName(config.JitterBufferAdjustment, ext))),
		IgnoreAVT:    !snap.Bool(config.ExtName(config.DTMFProcessAVT, ext)),
		DTMFLevel:    dtmfLevel(snap.Get(config.DTMFPlaybackLevel)),
		DTMFDuration: mediaSeconds(snap.Get(config.DTMFPlaybackLength), 40*time.Millisecond, 2*time.Second),
		Analyze:      true,
	}
}

// jitterConfig maps Network_Jitter_Level and Jitter_Buffer_Adjustment (§8.5). Decision: the
// device documents the levels only by name; the starting and largest playout delays chosen
// here grow with the level as a DSP jitter buffer's do (low 20/60 ms, medium 40/120, high
// 60/180, very high 90/300, extremely high 120/500).
func jitterConfig(level, adjust string) media.JitterConfig {
	var jc media.JitterConfig
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "low":
		jc.Initial, jc.Max = 20*time.Millisecond, 60*time.Millisecond
	case "medium":
		jc.Initial, jc.Max = 40*time.Millisecond, 120*time.Millisecond
	case "very high":
		jc.Initial, jc.Max = 90*time.Millisecond, 300*time.Millisecond
	case "extremely high":
		jc.Initial, jc.Max = 120*time.Millisecond, 500*time.Millisecond
	default: // "high", the default
		jc.Initial, jc.Max = 60*time.Millisecond, 180*time.Millisecond
	}
	switch strings.ToLower(strings.TrimSpace(adjust)) {
	case "up only":
		jc.Adapt = media.JitterAdaptUp
	case "down only":
		jc.Adapt = media.JitterAdaptDown
	case "disable":
		jc.Adapt = media.JitterAdaptNone
	default:
		jc.Adapt = media.JitterAdaptUpDown
	}
	return jc
}

// packetSize reads RTP_Packet_Size (seconds, §8.2) rounded to the 10 ms G.711 grid, 10-120 ms.
func packetSize(v string) time.Duration {
	d := mediaSeconds(v, 10*time.Millisecond, 120*time.Millisecond)
	if d == 0 {
		return 30 * time.Millisecond
	}
	return max(10*time.Millisecond, d.Round(10*time.Millisecond))
}

// mediaSeconds reads a Float/Time value (§8.8) clamped to [lo, hi]; 0 for an empty or bad value.
func mediaSeconds(v string, lo, hi time.Duration) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f <= 0 {
		return 0
	}
	return min(max(time.Duration(f*float64(time.Second)), lo), hi)
}

// dtmfLevel reads DTMF_Playback_Level (dBm, PwrLevel); bad values are the default −16.
func dtmfLevel(v string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f > 3 || f < -60 {
		return -16
	}
	return f
}

// Event kinds of the media engine on the event stream.
const (
	EventAudio  = "audio"  // a call's audio changed: call, ext, rtp_port, direction (rx/tx), state, level_dbfs, freq_hz, silent
	EventOneWay = "oneway" // one-way audio began or ended: call, ext, rtp_port, one_way
	// eventMediaDTMF is the kind of a digit that arrived in the media (RFC 4733 or in-band):
	// call, ext, rtp_port, digit, duration_ms, method. It is the kind the call model uses for
	// SIP INFO digits, so a test waits for one kind whatever the method.
	eventMediaDTMF = "dtmf"
)

// mediaHolder is the phone's media engine of the current voice start (it is rebuilt when the
// voice application restarts: RTP ports may have changed) and the RTP totals of the engines
// before it, so Phone Status counts from boot.
type mediaHolder struct {
	cur    atomic.Pointer[phoneMedia]
	mu     sync.Mutex // guards base
	base   media.EngineStats
	labels sync.Map // *media.Session → mediaLabel
}

// mediaLabel names the call a session belongs to, for its events.
type mediaLabel struct {
	callID string
	ext    int
}

// phoneMedia is one engine and the snapshot it was built from.
type phoneMedia struct {
	eng  *media.Engine
	snap *config.Snapshot
}

// OpenCall opens a session with extension ext's session configuration.
func (pm *phoneMedia) OpenCall(ext int) (*media.Session, error) {
	return pm.eng.OpenWith(mediaSessionConfig(pm.snap, ext))
}

// SDPConfig is extension ext's offer/answer configuration.
func (pm *phoneMedia) SDPConfig(ext int) media.SDPConfig { return mediaSDPConfig(pm.snap, ext) }

// rtp returns the running engine, or nil when the phone has none (no IP address, no port
// range, voice stopped). The call model opens its sessions here (OpenCall) and builds its
// SDP from SDPConfig.
func (st *state) rtp() *phoneMedia { return st.p.media.cur.Load() }

// labelMedia names the call of a session for its events (the call model calls it when it
// opens a session for a call).
func (st *state) labelMedia(s *media.Session, callID string, ext int) {
	st.p.media.labels.Store(s, mediaLabel{callID: callID, ext: ext})
}

// startMedia builds the media engine from the snapshot (SPA-BEHAVIOUR §8.2 RTP parameters).
// Without it calls cannot carry audio: the phone logs why and answers offers with 488.
func (st *state) startMedia() {
	ip, err := netip.ParseAddr(st.p.opts.IP)
	if err != nil || ip.IsUnspecified() {
		st.p.log.Warn("media off", zap.String("reason", "the phone has no IP address (--ip)"))
		return
	}
	cfg := mediaEngineConfig(st.snap, ip)
	cfg.Logger = st.p.log.Named("media")
	cfg.Scheduler = st.p.opts.MediaScheduler
	if q := st.p.opts.files; q != nil { // not a nil *fileQuota in the interface
		cfg.Files = q
	}
	bus := st.p.bus
	labels := &st.p.media.labels
	cfg.OnEvent = func(ev media.Event) { publishMedia(bus, labels, ev) }
	eng, err := media.NewEngine(cfg)
	if err != nil {
		st.p.log.Warn("media off", zap.Error(err))
		return
	}
	st.p.media.cur.Store(&phoneMedia{eng: eng, snap: st.snap})
	st.p.log.Debug("media started", zap.Uint16("rtp_port_min", cfg.PortMin), zap.Uint16("rtp_port_max", cfg.PortMax))
}

// stopMedia closes the engine (and every session still open), keeping its totals.
func (st *state) stopMedia() {
	h := &st.p.media
	pm := h.cur.Swap(nil)
	if pm == nil {
		return
	}
	pm.eng.Close()
	es := pm.eng.Totals()
	h.mu.Lock()
	h.base.PacketsSent += es.PacketsSent
	h.base.PacketsRecv += es.PacketsRecv
	h.base.BytesSent += es.BytesSent
	h.base.BytesRecv += es.BytesRecv
	h.mu.Unlock()
	h.labels.Clear()
}

// counters fills the Phone Status RTP totals (RTP_Packets_Sent/Recv, RTP_Bytes_Sent/Recv).
func (h *mediaHolder) counters(c *config.Counters) {
	h.mu.Lock()
	t := h.base
	h.mu.Unlock()
	if pm := h.cur.Load(); pm != nil {
		es := pm.eng.Totals()
		t.PacketsSent += es.PacketsSent
		t.PacketsRecv += es.PacketsRecv
		t.BytesSent += es.BytesSent
		t.BytesRecv += es.BytesRecv
	}
	c.RTPPacketsSent, c.RTPPacketsRecv, c.RTPBytesSent, c.RTPBytesRecv = t.PacketsSent, t.PacketsRecv, t.BytesSent, t.BytesRecv
}

// publishMedia puts a media event on the phone's event stream (from the engine's event
// goroutine: the bus is safe for concurrent use, and nothing here touches the loop's state).
func publishMedia(bus *Bus, labels *sync.Map, ev media.Event) {
	data := map[string]any{"rtp_port": ev.Session.LocalAddr().Port()}
	if v, ok := labels.Load(ev.Session); ok {
		l := v.(mediaLabel)
		data["call"], data["ext"] = l.callID, l.ext
	}
	switch ev.Kind {
	case media.EventAudio:
		data["direction"] = ev.Flow.String()
		data["state"] = ev.Audio.State.String()
		data["level_dbfs"] = math.Round(ev.Audio.LevelDBFS*10) / 10
		data["freq_hz"] = math.Round(ev.Audio.FreqHz*10) / 10
		data["silent"] = ev.Audio.Silent
		bus.Publish(EventAudio, ev.At, data)
	case media.EventDTMF:
		data["digit"] = string(ev.Digit)
		data["duration_ms"] = ev.Duration.Milliseconds()
		data["method"] = ev.Method.String()
		bus.Publish(eventMediaDTMF, ev.At, data)
	case media.EventOneWay:
		data["one_way"] = ev.OneWay
		bus.Publish(EventOneWay, ev.At, data)
	}
}

// callMediaInfo fills a call appearance's media fields of the Info tab (Line n Call m
// Status, SPA-BEHAVIOUR §9) from its session's statistics.
func callMediaInfo(ci *config.CallInfo, st media.Stats, loop media.Loopback) {
	ci.Tone = "None"
	if st.Tone != "" {
		ci.Tone = st.Tone
	}
	ci.Encoder, ci.Decoder = st.Encoder.DeviceName(), st.Decoder.DeviceName()
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	ci.PacketsSent, ci.PacketsRecv, ci.BytesSent, ci.BytesRecv = u(st.PacketsSent), u(st.PacketsRecv), u(st.BytesSent), u(st.BytesRecv)
	ci.DecodeLatency, ci.Jitter, ci.RoundTripDelay = ms(st.DecodeLatency), ms(st.Jitter), ms(st.RoundTripDelay)
	ci.PacketsLost, ci.PacketError = strconv.FormatInt(max(st.PacketsLost, 0), 10), u(st.PacketError)
	ci.MappedRTPPort = strconv.Itoa(int(st.LocalPort))
	ci.MediaLoopback = "No"
	if loop != media.LoopbackOff {
		ci.MediaLoopback = "Yes"
	}
}

// liveSession is a call's session as a status snapshot keeps it: its statistics are atomics,
// so a status read (any goroutine) brings the Info fields up to the moment (Packets_Recv,
// Jitter, … move between the loop's publications).
type liveSession struct {
	ext, app int
	sess     mediaSession
	counted  *atomic.Bool // the session's RTP is in the Counters already (RTPInProgress)
}

// liveMedia lists the sessions of the calls in progress (on the loop, at publication).
func (st *state) liveMedia() []liveSession {
	var out []liveSession
	for _, c := range st.calls.order {
		if c.sess != nil && c.ext >= 1 && c.app >= 1 && c.app <= appearances {
			out = append(out, liveSession{ext: c.ext, app: c.app, sess: c.sess, counted: c.counted})
		}
	}
	return out
}

// refreshMedia rewrites the media fields of the Info tab's call entries and the calls'
// receive figures from the sessions' statistics; the lines and calls are copied first, as
// snapshots share them.
func (s *Status) refreshMedia() {
	if len(s.media) == 0 {
		return
	}
	s.Info.Lines = append([][2]config.CallInfo(nil), s.Info.Lines...)
	s.Calls = append([]CallStatus(nil), s.Calls...)
	for _, l := range s.media {
		st := l.sess.Stats()
		if l.ext <= len(s.Info.Lines) {
			callMediaInfo(&s.Info.Lines[l.ext-1][l.app-1], st, l.sess.Loopback())
		}
		for i := range s.Calls {
			if c := &s.Calls[i]; c.Extension == l.ext && c.Appearance == l.app && c.Receive != nil {
				c.Receive = receiveCounts(st)
			}
		}
	}
}
