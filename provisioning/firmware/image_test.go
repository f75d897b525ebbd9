package firmware_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/firmware"
)

// built is a fixed build time so images are reproducible.
var built = time.Date(2008, time.June, 12, 9, 30, 15, 0, time.UTC)

// spa942 is the image whose byte layout the lying-length tests rely on:
// models ["SPA942"], version "5.1.18", so H = 29+1+6+1+6+32 = 75.
func spa942() firmware.Image {
	return firmware.Image{
		Models:  []string{"SPA942"},
		Version: "5.1.18",
		Built:   built,
		Payload: []byte("SPA942 firmware 5.1.18 payload\x00\x01\x02\xff"),
	}
}

const spa942HeaderLen = 75

func mustBuild(t testing.TB, img firmware.Image, padTo int) []byte {
	t.Helper()
	data, err := firmware.Build(img, padTo)
	if err != nil {
		t.Fatalf("Build() error = %v", err)
	}
	return data
}

func sameImage(t *testing.T, got *firmware.Image, want firmware.Image) {
	t.Helper()
	if strings.Join(got.Models, ",") != strings.Join(want.Models, ",") {
		t.Errorf("Models = %q, want %q", got.Models, want.Models)
	}
	if got.Version != want.Version {
		t.Errorf("Version = %q, want %q", got.Version, want.Version)
	}
	if wantBuilt := want.Built.Truncate(time.Second).UTC(); !got.Built.Equal(wantBuilt) || got.Built.Location() != time.UTC {
		t.Errorf("Built = %v, want %v", got.Built, wantBuilt)
	}
	if !bytes.Equal(got.Payload, want.Payload) {
		t.Errorf("Payload = %d bytes %.16x…, want %d bytes %.16x…", len(got.Payload), got.Payload, len(want.Payload), want.Payload)
	}
}

func TestBuildParseRoundTrip(t *testing.T) {
	t.Parallel()
	longModels := make([]string, firmware.MaxModels)
	for i := range longModels {
		longModels[i] = strings.Repeat("M", firmware.MaxModelLen-2) + string(rune('A'+i)) + "x"
	}
	tests := []struct {
		name  string
		img   firmware.Image
		padTo int
	}{
		{name: "one model", img: spa942()},
		{name: "family", img: firmware.Image{Models: []string{"SPA922", "SPA942", "SPA962"}, Version: "6.1.5(a)", Built: built, Payload: []byte{1, 2, 3}}},
		{name: "version with suffix", img: firmware.Image{Models: []string{"SPA962"}, Version: "5.1.15(aSC)", Built: built, Payload: []byte("x")}},
		{name: "empty payload", img: firmware.Image{Models: []string{"SPA901"}, Version: "5.1.5", Built: built}},
		{name: "local time with nanoseconds", img: firmware.Image{Models: []string{"SPA941"}, Version: "5.1.8", Built: time.Date(2007, 3, 4, 5, 6, 7, 999999999, time.FixedZone("CET", 3600)), Payload: []byte("y")}},
		{name: "epoch", img: firmware.Image{Models: []string{"SPA921"}, Version: "4.1.11(c)", Built: time.Unix(0, 0), Payload: []byte("z")}},
		{name: "year 9999", img: firmware.Image{Models: []string{"SPA921"}, Version: "1", Built: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}},
		{name: "largest header", img: firmware.Image{Models: longModels, Version: strings.Repeat("9", firmware.MaxVersionLen), Built: built, Payload: []byte("p")}},
		{name: "padded", img: spa942(), padTo: 10000},
		{name: "padded empty payload", img: firmware.Image{Models: []string{"SPA942"}, Version: "5.1.18", Built: built}, padTo: 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := mustBuild(t, tt.img, tt.padTo)
			got, err := firmware.Parse(data)
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			sameImage(t, got, tt.img)
			again := mustBuild(t, *got, tt.padTo)
			if !bytes.Equal(again, data) {
				t.Errorf("Build(Parse(image)) differs from image")
			}
		})
	}
}

func TestBuildLargestHeader(t *testing.T) {
	t.Parallel()
	models := make([]string, firmware.MaxModels)
	for i := range models {
		models[i] = strings.Repeat("A", firmware.MaxModelLen-2) + string(rune('A'+i/10)) + string(rune('0'+i%10))
	}
	data := mustBuild(t, firmware.Image{Models: models, Version: strings.Repeat("v", firmware.MaxVersionLen), Built: built}, 0)
	info, err := firmware.Inspect(data)
	if err != nil {
		t.Fatalf("Inspect() error = %v", err)
	}
	if info.HeaderLen != firmware.MaxHeaderLen {
		t.Errorf("HeaderLen = %d, want MaxHeaderLen %d", info.HeaderLen, firmware.MaxHeaderLen)
	}
}

func TestBuildPadding(t *testing.T) {
	t.Parallel()
	img := spa942()
	natural := spa942HeaderLen + len(img.Payload)
	tests := []struct {
		name       string
		padTo      int
		wantLen    int
		wantFiller int
	}{
		{name: "no padding", padTo: 0, wantLen: natural},
		{name: "below natural size", padTo: natural - 1, wantLen: natural},
		{name: "natural size", padTo: natural, wantLen: natural},
		{name: "one byte", padTo: natural + 1, wantLen: natural + 1, wantFiller: 1},
		{name: "odd size", padTo: 4099, wantLen: 4099, wantFiller: 4099 - natural},
		{name: "real SPA942 size", padTo: 3_600_000, wantLen: 3_600_000, wantFiller: 3_600_000 - natural},
		{name: "limit", padTo: firmware.MaxImageLen, wantLen: firmware.MaxImageLen, wantFiller: firmware.MaxImageLen - natural},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := mustBuild(t, img, tt.padTo)
			if len(data) != tt.wantLen {
				t.Fatalf("len(Build()) = %d, want %d", len(data), tt.wantLen)
			}
			info, err := firmware.Inspect(data)
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if info.FillerLen != tt.wantFiller || info.PayloadLen != len(img.Payload) {
				t.Errorf("FillerLen, PayloadLen = %d, %d, want %d, %d", info.FillerLen, info.PayloadLen, tt.wantFiller, len(img.Payload))
			}
			if again := mustBuild(t, img, tt.padTo); !bytes.Equal(again, data) {
				t.Errorf("Build() is not deterministic")
			}
		})
	}
}

func TestBuildFillerIsIncompressible(t *testing.T) {
	t.Parallel()
	const size = 1 << 16
	data := mustBuild(t, spa942(), size)
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	if z.Len() < size*99/100 {
		t.Errorf("a %d-byte image deflates to %d bytes; filler must not compress", size, z.Len())
	}
}

func TestBuildFillerDependsOnHeader(t *testing.T) {
	t.Parallel()
	a := spa942()
	b := spa942()
	b.Version = "5.1.17"
	da, db := mustBuild(t, a, 4096), mustBuild(t, b, 4096)
	fa, fb := da[len(da)-1000:], db[len(db)-1000:]
	if bytes.Equal(fa, fb) {
		t.Errorf("images with different versions have the same filler")
	}
}

func TestBuildInvalid(t *testing.T) {
	t.Parallel()
	with := func(change func(*firmware.Image)) firmware.Image {
		img := spa942()
		change(&img)
		return img
	}
	tooMany := make([]string, firmware.MaxModels+1)
	for i := range tooMany {
		tooMany[i] = "SPA9" + string(rune('A'+i))
	}
	tests := []struct {
		name  string
		img   firmware.Image
		padTo int
		want  error
	}{
		{name: "no models", img: with(func(i *firmware.Image) { i.Models = nil }), want: firmware.ErrInvalidImage},
		{name: "too many models", img: with(func(i *firmware.Image) { i.Models = tooMany }), want: firmware.ErrInvalidImage},
		{name: "empty model", img: with(func(i *firmware.Image) { i.Models = []string{""} }), want: firmware.ErrInvalidImage},
		{name: "long model", img: with(func(i *firmware.Image) { i.Models = []string{strings.Repeat("A", firmware.MaxModelLen+1)} }), want: firmware.ErrInvalidImage},
		{name: "model with space", img: with(func(i *firmware.Image) { i.Models = []string{"SPA 942"} }), want: firmware.ErrInvalidImage},
		{name: "model not ASCII", img: with(func(i *firmware.Image) { i.Models = []string{"SPA942é"} }), want: firmware.ErrInvalidImage},
		{name: "duplicate model", img: with(func(i *firmware.Image) { i.Models = []string{"SPA942", "spa942"} }), want: firmware.ErrInvalidImage},
		{name: "empty version", img: with(func(i *firmware.Image) { i.Version = "" }), want: firmware.ErrInvalidImage},
		{name: "version with space", img: with(func(i *firmware.Image) { i.Version = "5.1 18" }), want: firmware.ErrInvalidImage},
		{name: "version with newline", img: with(func(i *firmware.Image) { i.Version = "5.1.18\n" }), want: firmware.ErrInvalidImage},
		{name: "version not ASCII", img: with(func(i *firmware.Image) { i.Version = "5.1.18ü" }), want: firmware.ErrInvalidImage},
		{name: "long version", img: with(func(i *firmware.Image) { i.Version = strings.Repeat("1", firmware.MaxVersionLen+1) }), want: firmware.ErrInvalidImage},
		{name: "zero build time", img: with(func(i *firmware.Image) { i.Built = time.Time{} }), want: firmware.ErrInvalidImage},
		{name: "build time before 1970", img: with(func(i *firmware.Image) { i.Built = time.Unix(-1, 0) }), want: firmware.ErrInvalidImage},
		{name: "build time after 9999", img: with(func(i *firmware.Image) { i.Built = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }), want: firmware.ErrInvalidImage},
		{name: "negative pad", img: spa942(), padTo: -1, want: firmware.ErrInvalidImage},
		{name: "pad over limit", img: spa942(), padTo: firmware.MaxImageLen + 1, want: firmware.ErrTooLarge},
		{name: "payload over limit", img: with(func(i *firmware.Image) { i.Payload = make([]byte, firmware.MaxImageLen) }), want: firmware.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := firmware.Build(tt.img, tt.padTo)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build() error = %v, want %v", err, tt.want)
			}
			if data != nil {
				t.Errorf("Build() returned %d bytes with an error", len(data))
			}
		})
	}
}

func TestParseChecksum(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 300)
	// Every byte from the stored sum on (sum, payload, filler) is covered only by the
	// checksum: flipping it must give ErrChecksum.
	for off := spa942HeaderLen - 32; off < len(data); off++ {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(data)
			bad[off] ^= mask
			if _, err := firmware.Parse(bad); !errors.Is(err, firmware.ErrChecksum) {
				t.Fatalf("flip %#02x at %d: Parse() error = %v, want ErrChecksum", mask, off, err)
			}
		}
	}
}

func TestParseEveryByteFlip(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 200)
	for off := range data {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
			bad := bytes.Clone(data)
			bad[off] ^= mask
			img, err := firmware.Parse(bad)
			if err == nil {
				t.Fatalf("flip %#02x at %d: Parse() = %+v, want an error", mask, off, img)
			}
			if img != nil {
				t.Fatalf("flip %#02x at %d: Parse() returned an image with error %v", mask, off, err)
			}
		}
	}
}

func TestParseTruncated(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 400)
	for n := range len(data) {
		_, err := firmware.Parse(data[:n])
		if !errors.Is(err, firmware.ErrTruncated) {
			t.Fatalf("Parse(first %d of %d bytes) error = %v, want ErrTruncated", n, len(data), err)
		}
		info, err := firmware.Inspect(data[:n])
		if !errors.Is(err, firmware.ErrTruncated) {
			t.Fatalf("Inspect(first %d of %d bytes) error = %v, want ErrTruncated", n, len(data), err)
		}
		if headerRead := n >= spa942HeaderLen; (info.Format != 0) != headerRead || info.Complete {
			t.Fatalf("Inspect(first %d bytes): Format = %d, Complete = %v", n, info.Format, info.Complete)
		}
	}
}

func TestParseBadMagic(t *testing.T) {
	t.Parallel()
	valid := mustBuild(t, spa942(), 0)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{name: "empty", data: nil, want: firmware.ErrTruncated},
		{name: "magic prefix only", data: []byte("SPA9"), want: firmware.ErrTruncated},
		{name: "wrong first byte", data: append([]byte("X"), valid[1:]...), want: firmware.ErrBadMagic},
		{name: "wrong last magic byte", data: append([]byte("SPA900FX"), valid[8:]...), want: firmware.ErrBadMagic},
		{name: "lower case magic", data: append([]byte("spa900fw"), valid[8:]...), want: firmware.ErrBadMagic},
		{name: "short junk", data: []byte("<ht"), want: firmware.ErrBadMagic},
		{name: "html error page", data: []byte("<html><body>404 Not Found</body></html>"), want: firmware.ErrBadMagic},
		{name: "gzip", data: []byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3}, want: firmware.ErrBadMagic},
		{name: "zeros", data: make([]byte, 1024), want: firmware.ErrBadMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := firmware.Parse(tt.data); !errors.Is(err, tt.want) {
				t.Errorf("Parse() error = %v, want %v", err, tt.want)
			}
			if _, err := firmware.ParseHeader(bytes.NewReader(tt.data)); !errors.Is(err, tt.want) {
				t.Errorf("ParseHeader() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// Offsets in the spa942() image; see the format table in doc.go.
const (
	offFormat     = 8
	offHeaderLen  = 10
	offBuilt      = 12
	offPayloadLen = 20
	offFillerLen  = 24
	offModelCount = 28
	offModelLen   = 29
	offModel      = 30
	offVersionLen = 36
	offVersion    = 37
)

func TestParseLyingFields(t *testing.T) {
	t.Parallel()
	valid := mustBuild(t, spa942(), 200)
	u16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
	}
	u32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	u8 := func(off int, v byte) func([]byte) []byte {
		return func(b []byte) []byte { b[off] = v; return b }
	}
	payloadLen := uint32(len(spa942().Payload))
	fillerLen := uint32(200 - spa942HeaderLen - len(spa942().Payload))
	tests := []struct {
		name   string
		change func([]byte) []byte
		want   error
	}{
		{name: "format 0", change: u16(offFormat, 0), want: firmware.ErrUnsupportedFormat},
		{name: "format 2", change: u16(offFormat, 2), want: firmware.ErrUnsupportedFormat},
		{name: "format 0xffff", change: u16(offFormat, 0xffff), want: firmware.ErrUnsupportedFormat},
		{name: "header length 0", change: u16(offHeaderLen, 0), want: firmware.ErrMalformed},
		{name: "header length 12", change: u16(offHeaderLen, 12), want: firmware.ErrMalformed},
		{name: "header length one short", change: u16(offHeaderLen, spa942HeaderLen-1), want: firmware.ErrMalformed},
		{name: "header length one long", change: u16(offHeaderLen, spa942HeaderLen+1), want: firmware.ErrMalformed},
		{name: "header length over max", change: u16(offHeaderLen, firmware.MaxHeaderLen+1), want: firmware.ErrMalformed},
		{name: "header length 0xffff", change: u16(offHeaderLen, 0xffff), want: firmware.ErrMalformed},
		{name: "build time negative", change: u32(offBuilt, 0x80000000), want: firmware.ErrMalformed},
		{name: "build time after 9999", change: u32(offBuilt, 0x00000100), want: firmware.ErrMalformed},
		{name: "payload length 4 GiB", change: u32(offPayloadLen, 0xffffffff), want: firmware.ErrTooLarge},
		{name: "payload length just over limit", change: u32(offPayloadLen, firmware.MaxImageLen), want: firmware.ErrTooLarge},
		{name: "payload length 60 MiB", change: u32(offPayloadLen, 60<<20), want: firmware.ErrTruncated},
		{name: "payload length one long", change: u32(offPayloadLen, payloadLen+1), want: firmware.ErrTruncated},
		{name: "payload length one short", change: u32(offPayloadLen, payloadLen-1), want: firmware.ErrMalformed},
		{name: "filler length 4 GiB", change: u32(offFillerLen, 0xffffffff), want: firmware.ErrTooLarge},
		{name: "filler length one long", change: u32(offFillerLen, fillerLen+1), want: firmware.ErrTruncated},
		{name: "filler length zero", change: u32(offFillerLen, 0), want: firmware.ErrMalformed},
		{name: "payload and filler swapped", change: func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offPayloadLen:], fillerLen)
			binary.BigEndian.PutUint32(b[offFillerLen:], payloadLen)
			return b
		}, want: firmware.ErrChecksum},
		{name: "model count 0", change: u8(offModelCount, 0), want: firmware.ErrMalformed},
		{name: "model count 2", change: u8(offModelCount, 2), want: firmware.ErrMalformed},
		{name: "model count 17", change: u8(offModelCount, firmware.MaxModels+1), want: firmware.ErrMalformed},
		{name: "model count 255", change: u8(offModelCount, 255), want: firmware.ErrMalformed},
		{name: "model length 0", change: u8(offModelLen, 0), want: firmware.ErrMalformed},
		{name: "model length 5", change: u8(offModelLen, 5), want: firmware.ErrMalformed},
		{name: "model length past header", change: u8(offModelLen, 60), want: firmware.ErrMalformed},
		{name: "model length 255", change: u8(offModelLen, 255), want: firmware.ErrMalformed},
		{name: "model with space", change: u8(offModel+3, ' '), want: firmware.ErrMalformed},
		{name: "model with NUL", change: u8(offModel, 0), want: firmware.ErrMalformed},
		{name: "model changed", change: u8(offModel+5, '1'), want: firmware.ErrChecksum},
		{name: "version length 0", change: u8(offVersionLen, 0), want: firmware.ErrMalformed},
		{name: "version length past header", change: u8(offVersionLen, 40), want: firmware.ErrMalformed},
		{name: "version length 255", change: u8(offVersionLen, 255), want: firmware.ErrMalformed},
		{name: "version with space", change: u8(offVersion+1, ' '), want: firmware.ErrMalformed},
		{name: "version with DEL", change: u8(offVersion, 0x7f), want: firmware.ErrMalformed},
		{name: "version changed", change: u8(offVersion+5, '9'), want: firmware.ErrChecksum},
		{name: "trailing byte", change: func(b []byte) []byte { return append(b, 0) }, want: firmware.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bad := tt.change(bytes.Clone(valid))
			img, err := firmware.Parse(bad)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse() error = %v, want %v", err, tt.want)
			}
			if img != nil {
				t.Errorf("Parse() returned an image with an error")
			}
			if _, err := firmware.Inspect(bad); !errors.Is(err, tt.want) {
				t.Errorf("Inspect() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseDuplicateModel(t *testing.T) {
	t.Parallel()
	// A hand-made header naming SPA942 twice, consistent in every other way.
	img := firmware.Image{Models: []string{"SPA942", "SPA962"}, Version: "5.1.18", Built: built}
	data := mustBuild(t, img, 0)
	i := bytes.Index(data, []byte("SPA962"))
	copy(data[i:], "spa942")
	if _, err := firmware.Parse(data); !errors.Is(err, firmware.ErrMalformed) {
		t.Errorf("Parse() error = %v, want ErrMalformed", err)
	}
}

func TestParsePayloadAliases(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 300)
	img, err := firmware.Parse(data)
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if cap(img.Payload) != len(img.Payload) {
		t.Errorf("cap(Payload) = %d, want %d: appending must not overwrite the filler", cap(img.Payload), len(img.Payload))
	}
}

func TestFits(t *testing.T) {
	t.Parallel()
	img := firmware.Image{Models: []string{"SPA942", "SPA962"}, Version: "5.1.18", Built: built}
	h, err := firmware.ParseHeader(bytes.NewReader(mustBuild(t, img, 0)))
	if err != nil {
		t.Fatalf("ParseHeader() error = %v", err)
	}
	tests := []struct {
		name  string
		model string
		want  bool
	}{
		{name: "first", model: "SPA942", want: true},
		{name: "second", model: "SPA962", want: true},
		{name: "lower case", model: "spa942", want: true},
		{name: "other model", model: "SPA941", want: false},
		{name: "hyphenated", model: "SPA-942", want: false},
		{name: "prefix", model: "SPA94", want: false},
		{name: "empty", model: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := img.Fits(tt.model); got != tt.want {
				t.Errorf("Image.Fits(%q) = %v, want %v", tt.model, got, tt.want)
			}
			if got := h.Fits(tt.model); got != tt.want {
				t.Errorf("Header.Fits(%q) = %v, want %v", tt.model, got, tt.want)
			}
			err := img.CheckModel(tt.model)
			if tt.want && err != nil {
				t.Errorf("Image.CheckModel(%q) = %v, want nil", tt.model, err)
			}
			if !tt.want && !errors.Is(err, firmware.ErrWrongModel) {
				t.Errorf("Image.CheckModel(%q) = %v, want ErrWrongModel", tt.model, err)
			}
			if herr := h.CheckModel(tt.model); (herr == nil) != (err == nil) {
				t.Errorf("Header.CheckModel(%q) = %v, Image.CheckModel = %v", tt.model, herr, err)
			}
		})
	}
}

func TestCheckModelMessage(t *testing.T) {
	t.Parallel()
	img := firmware.Image{Models: []string{"SPA941", "SPA962"}}
	const want = "firmware image does not fit this model: image is for SPA941, SPA962, phone is SPA942"
	if err := img.CheckModel("SPA942"); err == nil || err.Error() != want {
		t.Errorf("CheckModel() = %v, want %q", err, want)
	}
}

func BenchmarkParse(b *testing.B) {
	data := mustBuild(b, spa942(), 4<<20)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := firmware.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	img := spa942()
	b.SetBytes(4 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := firmware.Build(img, 4<<20); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	data := mustBuild(b, spa942(), 4<<20)
	b.ReportAllocs()
	r := bytes.NewReader(nil)
	for b.Loop() {
		r.Reset(data)
		if _, err := firmware.ParseHeader(r); err != nil {
			b.Fatal(err)
		}
	}
}
