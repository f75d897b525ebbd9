package media

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/**/*.golden from the current output")

// spaDefaults is what phone builds from a factory SPA942: G711u preferred, telephone-event on
// 101, 30 ms packets, RFC 2543 hold (SPA-BEHAVIOUR §8.2, §8.5).
func spaDefaults() SDPConfig {
	return SDPConfig{
		Codecs:        []Codec{CodecPCMU, CodecPCMA},
		ReleaseUnused: true,
		DTMFPayload:   101,
		PacketTime:    30 * time.Millisecond,
		HoldNullAddr:  true,
	}
}

var phoneLocal = Local{Addr: netip.MustParseAddrPort("192.168.0.4:16384"), SessionID: 74, Version: 166}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "sdp", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from %s:\n got:\n%s\nwant:\n%s", name, path, got, want)
	}
}

func TestOfferGolden(t *testing.T) {
	hold := phoneLocal.Next()
	hold.Direction = DirSendOnly
	tests := []struct {
		name string
		cfg  func(*SDPConfig)
		l    Local
	}{
		{name: "offer-default", l: phoneLocal},
		{name: "offer-hold-rfc2543", l: hold},
		{name: "offer-hold-no-null-addr", cfg: func(c *SDPConfig) { c.HoldNullAddr = false }, l: hold},
		{name: "offer-preferred-only", cfg: func(c *SDPConfig) { c.Codecs = []Codec{CodecPCMA, CodecPCMU}; c.PreferredOnly = true }, l: phoneLocal},
		{name: "offer-custom-names", cfg: func(c *SDPConfig) {
			c.Names = map[Codec]string{CodecPCMU: "pcmu", CodecPCMA: " "}
			c.DTMFName = "TELEPHONE-EVENT"
			c.DTMFPayload = 96
			c.PacketTime = 20 * time.Millisecond
		}, l: phoneLocal},
		{name: "offer-no-dtmf-no-ptime", cfg: func(c *SDPConfig) { c.DTMFPayload = 0; c.PacketTime = 0 }, l: phoneLocal},
		{name: "offer-ipv6", l: Local{Addr: netip.MustParseAddrPort("[fd00::2]:16390"), SessionID: 1, Version: 2}},
		{name: "offer-unknown-codecs-dropped", cfg: func(c *SDPConfig) { c.Codecs = []Codec{CodecUnknown, CodecPCMA, CodecPCMA, CodecPCMU} }, l: phoneLocal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := spaDefaults()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			got, err := Offer(cfg, tt.l)
			if err != nil {
				t.Fatalf("Offer() error = %v", err)
			}
			golden(t, tt.name, got)
			if _, err := parse(got); err != nil {
				t.Errorf("offer does not parse back: %v", err)
			}
		})
	}
}

func TestOfferBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  SDPConfig
		l    Local
	}{
		{name: "no codec", cfg: SDPConfig{}, l: phoneLocal},
		{name: "only unknown codec", cfg: SDPConfig{Codecs: []Codec{CodecUnknown}}, l: phoneLocal},
		{name: "dtmf clashes with PCMA", cfg: SDPConfig{Codecs: []Codec{CodecPCMA}, DTMFPayload: 8}, l: phoneLocal},
		{name: "dtmf above 127", cfg: SDPConfig{Codecs: []Codec{CodecPCMA}, DTMFPayload: 200}, l: phoneLocal},
		{name: "negative ptime", cfg: SDPConfig{Codecs: []Codec{CodecPCMA}, PacketTime: -1}, l: phoneLocal},
		{name: "no address", cfg: spaDefaults(), l: Local{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Offer(tt.cfg, tt.l); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Offer() error = %v, want ErrBadConfig", err)
			}
		})
	}
}

// Offers as real peers send them (shapes of Asterisk, FreeSWITCH, baresip, SIPp's scenario and
// the SPA9000 trace of SPA-BEHAVIOUR §13.4), written for these tests.
const (
	offerAsterisk = "v=0\r\no=- 1839208344 1839208344 IN IP4 10.1.1.5\r\ns=Asterisk\r\nc=IN IP4 10.1.1.5\r\nt=0 0\r\n" +
		"m=audio 10014 RTP/AVP 8 0 3 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:3 GSM/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n"
	offerG729Only = "v=0\r\no=- 1 1 IN IP4 10.1.1.5\r\ns=-\r\nc=IN IP4 10.1.1.5\r\nt=0 0\r\n" +
		"m=audio 10014 RTP/AVP 18 101\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\n"
	offerVideoFirst = "v=0\r\no=FreeSWITCH 1 2 IN IP4 10.1.1.6\r\ns=FreeSWITCH\r\nc=IN IP4 10.1.1.6\r\nt=0 0\r\n" +
		"m=video 30000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n" +
		"m=audio 30002 RTP/AVP 9 0 8 102\r\na=rtpmap:9 G722/8000\r\na=rtpmap:102 telephone-event/8000\r\na=ptime:20\r\n"
	offerDynamicPCMU = "v=0\r\no=- 1 1 IN IP4 10.1.1.7\r\ns=-\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 97 98\r\nc=IN IP4 10.1.1.7\r\na=rtpmap:97 PCMU/8000\r\na=rtpmap:98 telephone-event/8000\r\na=rtcp:4005 IN IP4 10.1.1.8\r\n"
	offerHoldNull = "v=0\r\no=- 74 167 IN IP4 192.168.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n" +
		"m=audio 12345 RTP/AVP 0\r\na=sendonly\r\n"
	offerInactive = "v=0\r\no=- 74 168 IN IP4 192.168.0.1\r\ns=-\r\nc=IN IP4 192.168.0.1\r\nt=0 0\r\n" +
		"m=audio 12345 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=inactive\r\n"
	offerSessionSendonly = "v=0\r\no=- 74 168 IN IP4 192.168.0.1\r\ns=-\r\nc=IN IP4 192.168.0.1\r\nt=0 0\r\na=sendonly\r\n" +
		"m=audio 12345 RTP/AVP 0\r\n"
	offerBaresip = "v=0\r\no=- 3857383049 3218430839 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 20016 RTP/AVP 0 8 101\r\nb=AS:88\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-15\r\na=sendrecv\r\na=label:1\r\na=ssrc:1160935212 cname:2ef6d1e7-ea1c-4c5d\r\na=rtcp-rsize\r\n"
	offerSRTPOnly = "v=0\r\no=- 1 1 IN IP4 10.1.1.5\r\ns=-\r\nc=IN IP4 10.1.1.5\r\nt=0 0\r\n" +
		"m=audio 10014 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	offerPCMAat16k = "v=0\r\no=- 1 1 IN IP4 10.1.1.5\r\ns=-\r\nc=IN IP4 10.1.1.5\r\nt=0 0\r\n" +
		"m=audio 10014 RTP/AVP 100\r\na=rtpmap:100 PCMA/16000\r\n"
	offerIPv6 = "v=0\r\no=- 1 1 IN IP6 fd00::5\r\ns=-\r\nc=IN IP6 fd00::5\r\nt=0 0\r\n" +
		"m=audio 10014 RTP/AVP 8\r\na=ptime:40\r\n"
)

func TestAnswer(t *testing.T) {
	ap := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	tests := []struct {
		name   string
		cfg    func(*SDPConfig)
		offer  string
		local  Direction
		want   Negotiated
		golden string
	}{
		{name: "asterisk PCMA first, phone prefers PCMU", offer: offerAsterisk, golden: "answer-asterisk",
			want: Negotiated{Remote: ap("10.1.1.5:10014"), RemoteRTCP: ap("10.1.1.5:10015"), Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 101, PacketTime: 20 * time.Millisecond}},
		{name: "keep unused codecs", cfg: func(c *SDPConfig) { c.ReleaseUnused = false }, offer: offerAsterisk, golden: "answer-asterisk-all-common",
			want: Negotiated{Remote: ap("10.1.1.5:10014"), RemoteRTCP: ap("10.1.1.5:10015"), Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 101, PacketTime: 20 * time.Millisecond}},
		{name: "preferred only PCMA", cfg: func(c *SDPConfig) { c.Codecs = []Codec{CodecPCMA, CodecPCMU}; c.PreferredOnly = true }, offer: offerBaresip, golden: "answer-baresip-pcma-only",
			want: Negotiated{Remote: ap("127.0.0.1:20016"), RemoteRTCP: ap("127.0.0.1:20017"), Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 30 * time.Millisecond}},
		{name: "no dtmf configured", cfg: func(c *SDPConfig) { c.DTMFPayload = 0 }, offer: offerBaresip, golden: "answer-baresip-no-dtmf",
			want: Negotiated{Remote: ap("127.0.0.1:20016"), RemoteRTCP: ap("127.0.0.1:20017"), Codec: CodecPCMU, PayloadType: 0, PacketTime: 30 * time.Millisecond}},
		{name: "video first is rejected, G722 left out", offer: offerVideoFirst, golden: "answer-video-rejected",
			want: Negotiated{Remote: ap("10.1.1.6:30002"), RemoteRTCP: ap("10.1.1.6:30003"), Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 102, PacketTime: 20 * time.Millisecond}},
		{name: "dynamic PCMU payload type and rtcp attribute", offer: offerDynamicPCMU, golden: "answer-dynamic-pcmu",
			want: Negotiated{Remote: ap("10.1.1.7:4000"), RemoteRTCP: ap("10.1.1.8:4005"), Codec: CodecPCMU, PayloadType: 97, DTMFPayload: 98, PacketTime: 30 * time.Millisecond}},
		{name: "RFC 2543 hold from the far end", offer: offerHoldNull, golden: "answer-remote-hold",
			want: Negotiated{Remote: ap("0.0.0.0:12345"), RemoteRTCP: ap("0.0.0.0:12346"), Codec: CodecPCMU, PayloadType: 0, PacketTime: 30 * time.Millisecond, Direction: DirRecvOnly, RemoteHold: true}},
		{name: "inactive offer", offer: offerInactive, golden: "answer-inactive",
			want: Negotiated{Remote: ap("192.168.0.1:12345"), RemoteRTCP: ap("192.168.0.1:12346"), Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 101, PacketTime: 30 * time.Millisecond, Direction: DirInactive, RemoteHold: true}},
		{name: "session-level sendonly", offer: offerSessionSendonly,
			want: Negotiated{Remote: ap("192.168.0.1:12345"), RemoteRTCP: ap("192.168.0.1:12346"), Codec: CodecPCMU, PayloadType: 0, PacketTime: 30 * time.Millisecond, Direction: DirRecvOnly, RemoteHold: true}},
		{name: "we hold while answering", offer: offerBaresip, local: DirSendOnly, golden: "answer-local-hold",
			want: Negotiated{Remote: ap("127.0.0.1:20016"), RemoteRTCP: ap("127.0.0.1:20017"), Codec: CodecPCMU, PayloadType: 0, DTMFPayload: 101, PacketTime: 30 * time.Millisecond, Direction: DirSendOnly}},
		{name: "ipv6 with ptime 40", offer: offerIPv6,
			want: Negotiated{Remote: ap("[fd00::5]:10014"), RemoteRTCP: ap("[fd00::5]:10015"), Codec: CodecPCMA, PayloadType: 8, PacketTime: 40 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := spaDefaults()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			l := phoneLocal
			l.Direction = tt.local
			body, got, err := Answer(cfg, []byte(tt.offer), l)
			if err != nil {
				t.Fatalf("Answer() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Answer() negotiated\n %+v\nwant\n %+v", got, tt.want)
			}
			if tt.golden != "" {
				golden(t, tt.golden, body)
			}
			// The offerer, reading this answer, must arrive at the same codec.
			if cfgOff := (SDPConfig{Codecs: []Codec{CodecPCMA, CodecPCMU}, DTMFPayload: 101}); !strings.Contains(tt.offer, "RTP/SAVP") {
				if back, err := Accept(cfgOff, []byte(tt.offer), body); err != nil {
					t.Errorf("Accept(offer, answer) error = %v", err)
				} else if back.Codec != got.Codec || back.PayloadType != got.PayloadType {
					t.Errorf("offerer reads codec %v/%d, answerer chose %v/%d", back.Codec, back.PayloadType, got.Codec, got.PayloadType)
				}
			}
		})
	}
}

func TestAnswerRefuses(t *testing.T) {
	tests := []struct {
		name  string
		offer string
		want  error
	}{
		{name: "G729 only", offer: offerG729Only, want: ErrNoCommonCodec},
		{name: "SRTP only", offer: offerSRTPOnly, want: ErrNoCommonCodec},
		{name: "PCMA at 16 kHz", offer: offerPCMAat16k, want: ErrNoCommonCodec},
		{name: "not SDP", offer: "hello", want: ErrBadSDP},
		{name: "empty", offer: "", want: ErrBadSDP},
		{name: "hostname connection", offer: strings.ReplaceAll(offerBaresip, "c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example.com"), want: ErrBadSDP},
		{name: "no connection line", offer: strings.ReplaceAll(offerBaresip, "c=IN IP4 127.0.0.1\r\n", ""), want: ErrBadSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Answer(spaDefaults(), []byte(tt.offer), phoneLocal)
			if !errors.Is(err, tt.want) {
				t.Errorf("Answer() error = %v, want %v", err, tt.want)
			}
		})
	}
	cfg := spaDefaults()
	cfg.Codecs = []Codec{CodecPCMA}
	cfg.PreferredOnly = true
	if _, _, err := Answer(cfg, []byte(offerDynamicPCMU), phoneLocal); !errors.Is(err, ErrNoCommonCodec) {
		t.Errorf("PCMA only against a PCMU offer: error = %v, want ErrNoCommonCodec", err)
	}
}

func TestAccept(t *testing.T) {
	cfg := spaDefaults()
	offer, err := Offer(cfg, phoneLocal)
	if err != nil {
		t.Fatal(err)
	}
	holdLocal := phoneLocal.Next()
	holdLocal.Direction = DirSendOnly
	holdOffer, err := Offer(cfg, holdLocal)
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort
	tests := []struct {
		name   string
		offer  []byte
		answer string
		want   Negotiated
		err    error
	}{
		{name: "PCMA answered", offer: offer,
			answer: "v=0\r\no=- 5 5 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n",
			want:   Negotiated{Remote: ap("10.0.0.9:7078"), RemoteRTCP: ap("10.0.0.9:7079"), Codec: CodecPCMA, PayloadType: 8, DTMFPayload: 101, PacketTime: 20 * time.Millisecond}},
		{name: "answer lists both, its first wins", offer: offer,
			answer: "v=0\r\no=- 5 5 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 8 0\r\n",
			want:   Negotiated{Remote: ap("10.0.0.9:7078"), RemoteRTCP: ap("10.0.0.9:7079"), Codec: CodecPCMA, PayloadType: 8, PacketTime: 30 * time.Millisecond}},
		{name: "answerer holds us", offer: offer,
			answer: "v=0\r\no=- 5 6 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\na=sendonly\r\n",
			want:   Negotiated{Remote: ap("10.0.0.9:7078"), RemoteRTCP: ap("10.0.0.9:7079"), Codec: CodecPCMU, PayloadType: 0, PacketTime: 30 * time.Millisecond, Direction: DirRecvOnly, RemoteHold: true}},
		{name: "our hold answered recvonly", offer: holdOffer,
			answer: "v=0\r\no=- 5 6 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 0\r\na=recvonly\r\n",
			want:   Negotiated{Remote: ap("10.0.0.9:7078"), RemoteRTCP: ap("10.0.0.9:7079"), Codec: CodecPCMU, PayloadType: 0, PacketTime: 30 * time.Millisecond, Direction: DirSendOnly}},
		{name: "stream rejected", offer: offer,
			answer: "v=0\r\no=- 5 5 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n",
			err:    ErrNoCommonCodec},
		{name: "codec we never offered", offer: offer,
			answer: "v=0\r\no=- 5 5 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\nm=audio 7078 RTP/AVP 18\r\n",
			err:    ErrNoCommonCodec},
		{name: "garbage answer", offer: offer, answer: "v=0\r\nbogus", err: ErrBadSDP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Accept(cfg, tt.offer, []byte(tt.answer))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Errorf("Accept() error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Accept() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Accept() =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// TestReofferHoldResume walks a call through hold and resume as the SIP side does it: every
// re-offer bumps the o= version, the hold offer carries c=0.0.0.0 and sendonly, the answer to
// it makes the far end's Negotiated RemoteHold, resume restores sendrecv.
func TestReofferHoldResume(t *testing.T) {
	cfg := spaDefaults()
	far := Local{Addr: netip.MustParseAddrPort("10.0.0.9:7078"), SessionID: 9, Version: 1}
	l := phoneLocal
	steps := []struct {
		dir          Direction
		wantUs       Direction
		wantFarHold  bool
		wantNullAddr bool
	}{
		{dir: DirSendRecv, wantUs: DirSendRecv},
		{dir: DirSendOnly, wantUs: DirSendOnly, wantFarHold: true, wantNullAddr: true},
		{dir: DirInactive, wantUs: DirInactive, wantFarHold: true, wantNullAddr: true},
		{dir: DirSendRecv, wantUs: DirSendRecv},
	}
	for i, st := range steps {
		if i > 0 {
			l = l.Next()
		}
		l.Direction = st.dir
		offer, err := Offer(cfg, l)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(string(offer), "c=IN IP4 0.0.0.0"); got != st.wantNullAddr {
			t.Errorf("step %d: c=0.0.0.0 present = %v, want %v", i, got, st.wantNullAddr)
		}
		if !strings.Contains(string(offer), "o=- 74 "+itoa(166+i)+" ") {
			t.Errorf("step %d: o= version not %d:\n%s", i, 166+i, offer)
		}
		answer, farN, err := Answer(cfg, offer, far)
		if err != nil {
			t.Fatal(err)
		}
		if farN.RemoteHold != st.wantFarHold {
			t.Errorf("step %d: far end RemoteHold = %v, want %v", i, farN.RemoteHold, st.wantFarHold)
		}
		us, err := Accept(cfg, offer, answer)
		if err != nil {
			t.Fatal(err)
		}
		if us.Direction != st.wantUs || us.RemoteHold {
			t.Errorf("step %d: our direction = %v (remote hold %v), want %v", i, us.Direction, us.RemoteHold, st.wantUs)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestDirectionTable(t *testing.T) {
	tests := []struct {
		d               Direction
		str             string
		sends, receives bool
		reverse         Direction
	}{
		{DirSendRecv, "sendrecv", true, true, DirSendRecv},
		{DirSendOnly, "sendonly", true, false, DirRecvOnly},
		{DirRecvOnly, "recvonly", false, true, DirSendOnly},
		{DirInactive, "inactive", false, false, DirInactive},
	}
	for _, tt := range tests {
		if tt.d.String() != tt.str || tt.d.Sends() != tt.sends || tt.d.Receives() != tt.receives || tt.d.Reverse() != tt.reverse {
			t.Errorf("%v: String %q Sends %v Receives %v Reverse %v", tt.d, tt.d.String(), tt.d.Sends(), tt.d.Receives(), tt.d.Reverse())
		}
		if p, ok := parseDirection(tt.str); !ok || p != tt.d {
			t.Errorf("parseDirection(%q) = %v, %v", tt.str, p, ok)
		}
	}
}

func TestCodecTable(t *testing.T) {
	tests := []struct {
		c      Codec
		str    string
		device string
		pt     uint8
		ok     bool
	}{
		{CodecUnknown, "unknown", "", 0, false},
		{CodecPCMU, "pcmu", "G711u", 0, true},
		{CodecPCMA, "pcma", "G711a", 8, true},
	}
	for _, tt := range tests {
		pt, ok := tt.c.StaticPayloadType()
		if tt.c.String() != tt.str || tt.c.DeviceName() != tt.device || pt != tt.pt || ok != tt.ok {
			t.Errorf("%d: %q %q %d %v", tt.c, tt.c.String(), tt.c.DeviceName(), pt, ok)
		}
		if tt.ok {
			if c, ok := ParseCodec(tt.device); !ok || c != tt.c {
				t.Errorf("ParseCodec(%q) = %v, %v", tt.device, c, ok)
			}
		}
	}
	for _, s := range []string{"G729a", "G726-32", "G723", "Unspecified", ""} {
		if _, ok := ParseCodec(s); ok {
			t.Errorf("ParseCodec(%q) ok, want not usable", s)
		}
	}
}

// TestLoopbackNegotiation: RFC 6849 loopback (SPA-BEHAVIOUR §8.6). The source offers
// a=loopback with a=loopback-source; a phone that accepts answers a=loopback-mirror and mirrors;
// one that does not answers a normal stream.
func TestLoopbackNegotiation(t *testing.T) {
	cfg := spaDefaults()
	src := phoneLocal
	src.LoopbackSource = LoopbackMedia
	offer, err := Offer(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "offer-loopback-source", offer)
	mirrorCfg := spaDefaults()
	mirrorCfg.AcceptLoopback = true
	far := Local{Addr: netip.MustParseAddrPort("10.0.0.9:7078"), SessionID: 9, Version: 1}
	answer, n, err := Answer(mirrorCfg, offer, far)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "answer-loopback-mirror", answer)
	if n.Loopback != LoopbackMedia || !n.LoopbackMirror {
		t.Errorf("mirror negotiated %v mirror=%v", n.Loopback, n.LoopbackMirror)
	}
	back, err := Accept(cfg, offer, answer)
	if err != nil || back.Loopback != LoopbackMedia || back.LoopbackMirror {
		t.Errorf("source reads loopback %v mirror=%v (%v)", back.Loopback, back.LoopbackMirror, err)
	}
	plain, n2, err := Answer(spaDefaults(), offer, far)
	if err != nil || n2.Loopback != LoopbackOff || strings.Contains(string(plain), "loopback") {
		t.Errorf("a phone that does not accept loopback answered %v:\n%s", n2.Loopback, plain)
	}
	if b, _ := Accept(cfg, offer, plain); b.Loopback != LoopbackOff {
		t.Errorf("source without a mirror reads loopback %v", b.Loopback)
	}
}

// TestLoopbackRoles: RFC 6849 both ways round. A source's offer is answered by a mirror (the
// answerer loops back); a mirror's offer (Media_Loopback_Mode mirror) makes the answerer the
// source; LoopbackRequest reads either from the offer; AcceptLoopback false answers a normal
// call.
func TestLoopbackRoles(t *testing.T) {
	cfg := SDPConfig{Codecs: []Codec{CodecPCMU}, AcceptLoopback: true}
	a := Local{Addr: netip.MustParseAddrPort("127.0.0.1:16384"), SessionID: 1, Version: 1}
	b := Local{Addr: netip.MustParseAddrPort("127.0.0.1:16386"), SessionID: 2, Version: 1}
	tests := []struct {
		name             string
		lb               Loopback
		offerMirrors     bool
		accept           bool
		wantAnswerMirror bool
		wantLoop         Loopback
	}{
		{"source asks media loopback", LoopbackMedia, false, true, true, LoopbackMedia},
		{"source asks packet loopback", LoopbackPacket, false, true, true, LoopbackPacket},
		{"mirror offers media loopback", LoopbackMedia, true, true, false, LoopbackMedia},
		{"loopback not accepted", LoopbackMedia, false, false, false, LoopbackOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			la := a
			la.LoopbackSource, la.LoopbackMirror = tt.lb, tt.offerMirrors
			offer, err := Offer(cfg, la)
			if err != nil {
				t.Fatal(err)
			}
			if lb, m := LoopbackRequest(offer); lb != tt.lb || m != tt.offerMirrors {
				t.Errorf("LoopbackRequest = %v, %v; want %v, %v", lb, m, tt.lb, tt.offerMirrors)
			}
			bcfg := cfg
			bcfg.AcceptLoopback = tt.accept
			answer, nb, err := Answer(bcfg, offer, b)
			if err != nil {
				t.Fatal(err)
			}
			if nb.Loopback != tt.wantLoop || nb.LoopbackMirror != (tt.wantAnswerMirror && tt.wantLoop != LoopbackOff) {
				t.Errorf("answerer: loopback %v mirror %v, want %v mirror %v", nb.Loopback, nb.LoopbackMirror, tt.wantLoop, tt.wantAnswerMirror)
			}
			na, err := Accept(cfg, offer, answer)
			if err != nil {
				t.Fatal(err)
			}
			wantOfferer := tt.wantLoop != LoopbackOff && tt.offerMirrors
			if na.Loopback != tt.wantLoop || na.LoopbackMirror != wantOfferer {
				t.Errorf("offerer: loopback %v mirror %v, want %v mirror %v", na.Loopback, na.LoopbackMirror, tt.wantLoop, wantOfferer)
			}
		})
	}
	if lb, _ := LoopbackRequest([]byte("garbage")); lb != LoopbackOff {
		t.Errorf("LoopbackRequest(garbage) = %v", lb)
	}
}
