package phone

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

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
