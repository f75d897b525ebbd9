package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/zaf/g711"
)

// makeWAV builds a WAV file of sines (one frequency per channel) for the tests.
func makeWAV(format uint16, rate, channels, bits int, secs float64, hz ...float64) []byte {
	frames := int(secs * float64(rate))
	var data bytes.Buffer
	for i := 0; i < frames; i++ {
		for c := 0; c < channels; c++ {
			v := 0.5 * math.Sin(2*math.Pi*hz[c%len(hz)]*float64(i)/float64(rate))
			switch {
			case format == 3:
				binary.Write(&data, binary.LittleEndian, float32(v))
			case format == 7:
				data.WriteByte(g711.EncodeUlawFrame(int16(v * 32767)))
			case bits == 8:
				data.WriteByte(byte(int(v*127) + 128))
			case bits == 16:
				binary.Write(&data, binary.LittleEndian, int16(v*32767))
			case bits == 24:
				x := int32(v * 8388607)
				data.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+data.Len()+12))
	b.WriteString("WAVE")
	b.WriteString("LIST") // a chunk readers must skip
	binary.Write(&b, binary.LittleEndian, uint32(4))
	b.WriteString("INFO")
	b.WriteString("fmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, format)
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(channels*bits/8))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

// measure returns the dominant frequency and level of the middle of p.
func measure(p *PCM) (hz, level float64) {
	var a analyzer
	a.init(-55)
	mid := len(p.Samples) / 2
	for i := 0; i < 8; i++ {
		a.feed(p.Samples[mid+i*160:mid+(i+1)*160], 0, true)
	}
	return a.freq, a.level
}

func TestReadWAVConverts(t *testing.T) {
	tests := []struct {
		name                 string
		format               uint16
		rate, channels, bits int
		hz                   []float64
		wantHz, wantLevel    float64
	}{
		{name: "8 kHz mono 16-bit", format: 1, rate: 8000, channels: 1, bits: 16, hz: []float64{1000}, wantHz: 1000, wantLevel: -9},
		{name: "16 kHz mono 16-bit", format: 1, rate: 16000, channels: 1, bits: 16, hz: []float64{700}, wantHz: 700, wantLevel: -9},
		{name: "44.1 kHz stereo 16-bit", format: 1, rate: 44100, channels: 2, bits: 16, hz: []float64{1200, 1200}, wantHz: 1200, wantLevel: -9},
		{name: "48 kHz mono 24-bit", format: 1, rate: 48000, channels: 1, bits: 24, hz: []float64{440}, wantHz: 440, wantLevel: -9},
		{name: "48 kHz float", format: 3, rate: 48000, channels: 1, bits: 32, hz: []float64{2000}, wantHz: 2000, wantLevel: -9},
		{name: "8 kHz mu-law", format: 7, rate: 8000, channels: 1, bits: 8, hz: []float64{600}, wantHz: 600, wantLevel: -9},
		{name: "22.05 kHz 8-bit", format: 1, rate: 22050, channels: 1, bits: 8, hz: []float64{500}, wantHz: 500, wantLevel: -9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ReadWAV(bytes.NewReader(makeWAV(tt.format, tt.rate, tt.channels, tt.bits, 1, tt.hz...)))
			if err != nil {
				t.Fatal(err)
			}
			if d := p.Duration().Seconds(); math.Abs(d-1) > 0.01 {
				t.Errorf("duration %.3f s, want 1 s", d)
			}
			hz, level := measure(p)
			if math.Abs(hz-tt.wantHz) > 4 || math.Abs(level-tt.wantLevel) > 0.5 {
				t.Errorf("%.1f Hz at %.1f dBFS, want %v Hz at %v dBFS", hz, level, tt.wantHz, tt.wantLevel)
			}
		})
	}
}

// TestResamplerRejectsAliases: a 5 kHz tone in a 48 kHz file is above the telephone band's
// 4 kHz Nyquist frequency; nearest-sample decimation would fold it to 3 kHz at full level,
// the low-pass resampler removes it (at least 60 dB down).
func TestResamplerRejectsAliases(t *testing.T) {
	p, err := ReadWAV(bytes.NewReader(makeWAV(1, 48000, 1, 16, 1, 5000)))
	if err != nil {
		t.Fatal(err)
	}
	var a analyzer
	a.init(-200)
	mid := len(p.Samples) / 2
	a.feed(p.Samples[mid:mid+800], 0, true)
	if a.level > -9-60 {
		t.Errorf("5 kHz at 48 kHz came through at %.1f dBFS, want under -69", a.level)
	}
	// A 3.4 kHz tone, inside the band, passes within 1 dB.
	p, _ = ReadWAV(bytes.NewReader(makeWAV(1, 48000, 1, 16, 1, 3400)))
	if _, level := measure(p); math.Abs(level-(-9)) > 1 {
		t.Errorf("3.4 kHz passband level %.1f dBFS, want -9", level)
	}
}

func TestReadWAVRejects(t *testing.T) {
	good := makeWAV(1, 8000, 1, 16, 0.1, 1000)
	adpcm := makeWAV(1, 8000, 1, 16, 0.1, 1000)
	binary.LittleEndian.PutUint16(adpcm[12+12+8:], 2) // format 2: MS ADPCM
	for name, b := range map[string][]byte{
		"empty": {}, "not riff": []byte("RIFX0000WAVEfmt "), "truncated": good[:30], "adpcm": adpcm,
		"no data": good[:12+12+24],
	} {
		if _, err := ReadWAV(bytes.NewReader(b)); !errors.Is(err, ErrBadWAV) {
			t.Errorf("%s: error %v, want ErrBadWAV", name, err)
		}
	}
}

func TestWAVWriterRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rec.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWAVWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	src := NewTestTone(800, -6)
	frame := make([]int16, 160)
	for i := 0; i < 50; i++ {
		src.Read(frame)
		w.write(frame)
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	p, err := ReadWAV(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Samples) != 8000 {
		t.Errorf("%d samples, want 8000", len(p.Samples))
	}
	if hz, _ := measure(p); math.Abs(hz-800) > 3 {
		t.Errorf("recorded %.1f Hz", hz)
	}
}
