package firmware_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"

	"github.com/spa900/spa900/provisioning/firmware"
)

func TestParseHeaderReadsOnlyTheHeader(t *testing.T) {
	t.Parallel()
	img := spa942()
	data := mustBuild(t, img, 5000)
	tests := []struct {
		name string
		r    func() io.Reader
	}{
		{name: "bytes reader", r: func() io.Reader { return bytes.NewReader(data) }},
		{name: "one byte at a time", r: func() io.Reader { return iotest.OneByteReader(bytes.NewReader(data)) }},
		{name: "data with EOF", r: func() io.Reader { return iotest.DataErrReader(bytes.NewReader(data)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.r()
			h, err := firmware.ParseHeader(r)
			if err != nil {
				t.Fatalf("ParseHeader() error = %v", err)
			}
			if h.HeaderLen != spa942HeaderLen || h.ImageLen() != len(data) || h.PayloadLen != len(img.Payload) {
				t.Errorf("HeaderLen, ImageLen, PayloadLen = %d, %d, %d, want %d, %d, %d",
					h.HeaderLen, h.ImageLen(), h.PayloadLen, spa942HeaderLen, len(data), len(img.Payload))
			}
			if h.Version != img.Version || !h.Built.Equal(img.Built) || !h.Fits("SPA942") {
				t.Errorf("ParseHeader() = %+v, want the fields of %+v", h, img)
			}
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("ReadAll() error = %v", err)
			}
			if !bytes.Equal(rest, data[spa942HeaderLen:]) {
				t.Errorf("ParseHeader consumed %d bytes, want exactly the %d-byte header", len(data)-len(rest), spa942HeaderLen)
			}
			info, err := firmware.Inspect(data)
			if err != nil {
				t.Fatalf("Inspect() error = %v", err)
			}
			if info.Sum != h.Sum {
				t.Errorf("ParseHeader Sum = %x, Inspect Sum = %x", h.Sum, info.Sum)
			}
		})
	}
}

func TestParseHeaderTruncated(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 0)
	for n := range spa942HeaderLen {
		if _, err := firmware.ParseHeader(bytes.NewReader(data[:n])); !errors.Is(err, firmware.ErrTruncated) {
			t.Fatalf("ParseHeader(first %d bytes) error = %v, want ErrTruncated", n, err)
		}
	}
	// The header alone is enough: the body is not read.
	if _, err := firmware.ParseHeader(bytes.NewReader(data[:spa942HeaderLen])); err != nil {
		t.Errorf("ParseHeader(header only) error = %v", err)
	}
}

func TestParseHeaderReadError(t *testing.T) {
	t.Parallel()
	data := mustBuild(t, spa942(), 0)
	boom := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
	}{
		{name: "in prelude", r: io.MultiReader(bytes.NewReader(data[:5]), iotest.ErrReader(boom))},
		{name: "in header", r: io.MultiReader(bytes.NewReader(data[:40]), iotest.ErrReader(boom))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := firmware.ParseHeader(tt.r)
			if !errors.Is(err, boom) {
				t.Errorf("ParseHeader() error = %v, want it to wrap %v", err, boom)
			}
			if errors.Is(err, firmware.ErrTruncated) {
				t.Errorf("ParseHeader() error = %v: a read error is not truncation", err)
			}
		})
	}
}

// TestHostileLengthsDoNotAllocate checks that a header lying about its size costs the
// reader only the header, whether from memory or from a stream.
func TestHostileLengthsDoNotAllocate(t *testing.T) {
	data := mustBuild(t, spa942(), 0)
	tests := []struct {
		name   string
		change func([]byte)
		want   error // from Parse
		// wantHeader is from ParseHeader on an endless stream: nil when the
		// header itself is fine and only the body is missing.
		wantHeader error
	}{
		{name: "payload length over limit", change: func(b []byte) { binary.BigEndian.PutUint32(b[offPayloadLen:], 0xffffffff) }, want: firmware.ErrTooLarge, wantHeader: firmware.ErrTooLarge},
		{name: "payload length under limit", change: func(b []byte) { binary.BigEndian.PutUint32(b[offPayloadLen:], 60<<20) }, want: firmware.ErrTruncated, wantHeader: nil},
		{name: "header length 0xffff", change: func(b []byte) { binary.BigEndian.PutUint16(b[offHeaderLen:], 0xffff) }, want: firmware.ErrMalformed, wantHeader: firmware.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := bytes.Clone(data)
			tt.change(bad)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 10 {
				if _, err := firmware.Parse(bad); !errors.Is(err, tt.want) {
					t.Fatalf("Parse() error = %v, want %v", err, tt.want)
				}
				// A stream that would go on forever: only the header may be read.
				r := io.MultiReader(bytes.NewReader(bad), zeros{})
				if _, err := firmware.ParseHeader(r); !errors.Is(err, tt.wantHeader) {
					t.Fatalf("ParseHeader() error = %v, want %v", err, tt.wantHeader)
				}
			}
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("10 parses allocated %d bytes; a lying header must not cause large allocations", got)
			}
		})
	}
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
