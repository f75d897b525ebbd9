package media

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// FuzzAnswer feeds arbitrary offers to Answer: it must never panic, refuse with ErrBadSDP or
// ErrNoCommonCodec only, and when it answers, the answer must parse, name the chosen codec,
// and lead the offerer (Accept) to the same codec and payload type.
func FuzzAnswer(f *testing.F) {
	for _, o := range []string{offerAsterisk, offerG729Only, offerVideoFirst, offerDynamicPCMU, offerHoldNull,
		offerInactive, offerSessionSendonly, offerBaresip, offerSRTPOnly, offerPCMAat16k, offerIPv6} {
		f.Add([]byte(o), uint8(0))
	}
	for _, lb := range []Local{
		{Addr: netip.MustParseAddrPort("127.0.0.1:16384"), SessionID: 1, Version: 1, LoopbackSource: LoopbackMedia},
		{Addr: netip.MustParseAddrPort("127.0.0.1:16384"), SessionID: 1, Version: 1, LoopbackSource: LoopbackPacket, LoopbackMirror: true},
	} {
		if o, err := Offer(spaDefaults(), lb); err == nil {
			f.Add(o, uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, offer []byte, knobs uint8) {
		cfg := SDPConfig{
			Codecs:        []Codec{CodecPCMU, CodecPCMA},
			PreferredOnly: knobs&1 != 0,
			ReleaseUnused: knobs&2 != 0,
			HoldNullAddr:  knobs&4 != 0,
			PacketTime:    time.Duration(knobs>>4) * 10 * time.Millisecond,
		}
		if knobs&8 != 0 {
			cfg.Codecs = []Codec{CodecPCMA, CodecPCMU}
			cfg.DTMFPayload = 101
		}
		cfg.AcceptLoopback = len(offer)%2 == 0 // RFC 6849 offers answered as a mirror or not
		l := Local{Addr: netip.MustParseAddrPort("127.0.0.1:16384"), Direction: Direction(knobs >> 6), SessionID: 1, Version: 1}
		asked, _ := LoopbackRequest(offer)
		answer, n, err := Answer(cfg, offer, l)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("Answer() error = %v, want ErrBadSDP or ErrNoCommonCodec", err)
			}
			return
		}
		if n.Codec == CodecUnknown || n.PacketTime <= 0 || !n.Remote.IsValid() {
			t.Fatalf("Answer() negotiated %+v", n)
		}
		if _, err := parse(answer); err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, answer)
		}
		if n.Loopback != LoopbackOff && (asked == LoopbackOff || !cfg.AcceptLoopback) {
			t.Fatalf("Answer() negotiated loopback %v; the offer asked %v, accepting %v", n.Loopback, asked, cfg.AcceptLoopback)
		}
		back, err := Accept(SDPConfig{Codecs: []Codec{CodecPCMU, CodecPCMA}, DTMFPayload: 101}, offer, answer)
		if err != nil {
			t.Fatalf("Accept(offer, answer) error = %v\noffer:\n%q\nanswer:\n%s", err, offer, answer)
		}
		if back.Codec != n.Codec || back.PayloadType != n.PayloadType {
			t.Fatalf("offerer reads %v/%d, answerer chose %v/%d", back.Codec, back.PayloadType, n.Codec, n.PayloadType)
		}
	})
}

// FuzzAccept feeds arbitrary answers to the phone's own offer: no panic, only the documented
// errors, and an accepted codec is one the phone offered.
func FuzzAccept(f *testing.F) {
	cfg := spaDefaults()
	offer, err := Offer(cfg, phoneLocal)
	if err != nil {
		f.Fatal(err)
	}
	src := phoneLocal
	src.LoopbackSource = LoopbackMedia
	loopOffer, err := Offer(cfg, src) // the phone asking for RFC 6849 loopback
	if err != nil {
		f.Fatal(err)
	}
	for _, a := range []string{offerAsterisk, offerBaresip, offerHoldNull, offerVideoFirst, offerDynamicPCMU} {
		f.Add([]byte(a))
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		ours := offer
		if len(answer)%2 == 1 {
			ours = loopOffer
		}
		n, err := Accept(cfg, ours, answer)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("Accept() error = %v", err)
			}
			return
		}
		if pt, _ := n.Codec.StaticPayloadType(); pt != n.PayloadType {
			t.Fatalf("accepted %v with payload type %d, the offer had %d", n.Codec, n.PayloadType, pt)
		}
		if n.Loopback != LoopbackOff && len(answer)%2 == 0 {
			t.Fatalf("accepted loopback %v the phone did not ask for", n.Loopback)
		}
	})
}
