package phone

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/spa900/spa900/media"
	"github.com/spa900/spa900/provisioning/config"
)

func snapWith(t *testing.T, changes ...config.Change) *config.Snapshot {
	t.Helper()
	m, err := config.LookupModel("SPA942")
	if err != nil {
		t.Fatal(err)
	}
	snap := config.NewSnapshot(config.CatalogFor(m))
	if len(changes) == 0 {
		return snap
	}
	next, _, err := snap.Apply(changes, config.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func TestMediaConfigDefaults(t *testing.T) {
	snap := snapWith(t)
	got := mediaSDPConfig(snap, 1)
	want := media.SDPConfig{
		Codecs: []media.Codec{media.CodecPCMU, media.CodecPCMA}, ReleaseUnused: true, DTMFPayload: 101,
		Names:    map[media.Codec]string{media.CodecPCMU: "PCMU", media.CodecPCMA: "PCMA"},
		DTMFName: "telephone-event", PacketTime: 30 * time.Millisecond, HoldNullAddr: true, AcceptLoopback: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mediaSDPConfig(defaults) =\n %+v\nwant\n %+v", got, want)
	}
	sc := mediaSessionConfig(snap, 1)
	wantSC := media.SessionConfig{Jitter: media.JitterConfig{Initial: 60 * time.Millisecond, Max: 180 * time.Millisecond},
		DTMFLevel: -16, DTMFDuration: 100 * time.Millisecond, Analyze: true}
	if !reflect.DeepEqual(sc, wantSC) {
		t.Errorf("mediaSessionConfig(defaults) =\n %+v\nwant\n %+v", sc, wantSC)
	}
	ec := mediaEngineConfig(snap, netip.MustParseAddr("127.0.0.2"))
	if ec.PortMin != 16384 || ec.PortMax != 16482 || ec.IP != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("mediaEngineConfig = %+v", ec)
	}
}

func TestMediaConfigFromParameters(t *testing.T) {
	snap := snapWith(t,
		config.Set("Preferred_Codec_2_", "G729a"), config.Set("Second_Preferred_Codec_2_", "G711a"),
		config.Set("Use_Pref_Codec_Only_2_", "No"), config.Set("Release_Unused_Codec_2_", "No"),
		config.Set("RTP_Packet_Size", "0.020"), config.Set("AVT_Dynamic_Payload", "96"),
		config.Set("RFC_2543_Call_Hold", "No"), config.Set("Symmetric_RTP", "Yes"), config.Set("RTCP_Tx_Interval", "5"),
		config.Set("Network_Jitter_Level_2_", "low"), config.Set("Jitter_Buffer_Adjustment_2_", "disable"),
		config.Set("DTMF_Process_AVT_2_", "No"), config.Set("DTMF_Playback_Level", "-10"), config.Set("DTMF_Playback_Length", ".2"),
	)
	got := mediaSDPConfig(snap, 2)
	if !reflect.DeepEqual(got.Codecs, []media.Codec{media.CodecPCMA, media.CodecPCMU}) || got.ReleaseUnused || got.DTMFPayload != 96 ||
		got.PacketTime != 20*time.Millisecond || got.HoldNullAddr {
		t.Errorf("mediaSDPConfig = %+v", got)
	}
	sc := mediaSessionConfig(snap, 2)
	if !sc.Symmetric || sc.RTCPInterval != 5*time.Second || sc.Jitter != (media.JitterConfig{Initial: 20 * time.Millisecond, Max: 60 * time.Millisecond, Adapt: media.JitterAdaptNone}) ||
		!sc.IgnoreAVT || sc.DTMFLevel != -10 || sc.DTMFDuration != 200*time.Millisecond {
		t.Errorf("mediaSessionConfig = %+v", sc)
	}
	if lb := mediaSDPConfig(snapWith(t, config.Set("Accept_Media_Loopback_Request", "never")), 1); lb.AcceptLoopback {
		t.Error("Accept_Media_Loopback_Request never accepts loopback")
	}
	if mediaLoopbackType(snapWith(t)) != media.LoopbackMedia || mediaLoopbackType(snapWith(t, config.Set("Media_Loopback_Type", "packet"))) != media.LoopbackPacket {
		t.Error("Media_Loopback_Type mapping")
	}
	only := mediaSDPConfig(snapWith(t, config.Set("Preferred_Codec_1_", "G711a"), config.Set("Use_Pref_Codec_Only_1_", "Yes")), 1)
	if !reflect.DeepEqual(only.Codecs, []media.Codec{media.CodecPCMA}) || !only.PreferredOnly {
		t.Errorf("preferred only: %+v", only)
	}
	// Every SDP configuration the catalogue can produce is one media accepts.
	for _, c := range []media.SDPConfig{got, only, mediaSDPConfig(snapWith(t), 1)} {
		if _, err := media.Offer(c, media.Local{Addr: netip.MustParseAddrPort("127.0.0.1:16384")}); err != nil {
			t.Errorf("Offer(%+v): %v", c, err)
		}
	}
}
