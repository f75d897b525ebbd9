package firmware

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Magic is the 8 bytes every image starts with.
const Magic = "SPA900FW"

// CurrentFormat is the format version this package writes and the only one it reads.
const CurrentFormat = 1

// Bounds of the header fields. Parse and Build enforce the same bounds.
const (
	// MaxModels is the most models one image may name.
	MaxModels = 16
	// MaxModelLen is the longest model name, in bytes.
	MaxModelLen = 32
	// MaxVersionLen is the longest firmware version string, in bytes.
	MaxVersionLen = 32
	// MaxHeaderLen is the largest possible header, checksum included. A streaming
	// reader never needs to buffer more than this before it knows the models.
	MaxHeaderLen = fixedLen + MaxModels*(1+MaxModelLen) + 1 + MaxVersionLen + sumLen
	// MaxImageLen is the largest image, header included, that Build writes and
	// Parse accepts: far above a real image (3–4 MB), low enough that a hostile
	// length field cannot make a reader allocate much.
	MaxImageLen = 64 << 20
)

const (
	// fixedLen is the length of the fixed fields: magic through model count.
	fixedLen = 29
	// preludeLen is what a reader needs to learn the header length: magic, format
	// version and header length.
	preludeLen = 12
	sumLen     = 32
	// minHeaderLen is a header with one 1-byte model and a 1-byte version.
	minHeaderLen = fixedLen + 2 + 2 + sumLen
	// maxBuiltUnix is 9999-12-31T23:59:59Z.
	maxBuiltUnix = 253402300799
)

// Header is the decoded header of an image: everything but the payload and filler.
type Header struct {
	// Format is the format version, [CurrentFormat].
	Format int
	// HeaderLen is the header length H in bytes, checksum included.
	HeaderLen int
	// Built is the build time, in UTC, to the second.
	Built time.Time
	// PayloadLen is the payload length P in bytes.
	PayloadLen int
	// FillerLen is the filler length F in bytes.
	FillerLen int
	// Models are the models the image fits, in the order the image lists them.
	Models []string
	// Version is the firmware version the phone runs after installing the image.
	Version string
	// Sum is the SHA-256 stored in the header.
	Sum [sumLen]byte
}

// ImageLen returns the length of the whole image the header describes.
func (h Header) ImageLen() int { return h.HeaderLen + h.PayloadLen + h.FillerLen }

// Fits reports whether the image names model (compared without regard to case).
func (h Header) Fits(model string) bool { return fits(h.Models, model) }

// CheckModel returns an error wrapping [ErrWrongModel] unless the image fits model.
// DECISIONS 15.
func (h Header) CheckModel(model string) error { return checkModel(h.Models, model) }

// ParseHeader reads and checks the header at the start of r, and nothing more: it
// reads exactly [Header.HeaderLen] bytes (at most [MaxHeaderLen]), so the payload
// can follow on the same reader. It does not verify the checksum, which covers the
// body; check the whole image with [Parse] once it is downloaded. A stream that ends
// early gives [ErrTruncated].
func ParseHeader(r io.Reader) (Header, error) {
	var prelude [preludeLen]byte
	n, err := io.ReadFull(r, prelude[:])
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			_, err = parsePrelude(prelude[:n])
			return Header{}, err
		}
		return Header{}, fmt.Errorf("read firmware header: %w", err)
	}
	hlen, err := parsePrelude(prelude[:])
	if err != nil {
		return Header{}, err
	}
	buf := make([]byte, hlen)
	copy(buf, prelude[:])
	if _, err := io.ReadFull(r, buf[preludeLen:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Header{}, fmt.Errorf("%w: stream ends inside the %d-byte header", ErrTruncated, hlen)
		}
		return Header{}, fmt.Errorf("read firmware header: %w", err)
	}
	return parseHeader(buf)
}

// parsePrelude checks magic and format version and returns the header length.
// Given fewer than preludeLen bytes it returns ErrBadMagic or ErrUnsupportedFormat
// if what is there is already wrong, else ErrTruncated.
func parsePrelude(b []byte) (int, error) {
	n := min(len(b), len(Magic))
	if string(b[:n]) != Magic[:n] {
		return 0, fmt.Errorf("%w: starts with %q", ErrBadMagic, printable(b[:n]))
	}
	if len(b) < 10 {
		return 0, fmt.Errorf("%w: %d bytes, the header alone needs at least %d", ErrTruncated, len(b), minHeaderLen)
	}
	if f := binary.BigEndian.Uint16(b[8:10]); f != CurrentFormat {
		return 0, fmt.Errorf("%w: version %d, this reader knows only %d", ErrUnsupportedFormat, f, CurrentFormat)
	}
	if len(b) < preludeLen {
		return 0, fmt.Errorf("%w: %d bytes, the header alone needs at least %d", ErrTruncated, len(b), minHeaderLen)
	}
	hlen := int(binary.BigEndian.Uint16(b[10:12]))
	if hlen < minHeaderLen || hlen > MaxHeaderLen {
		return 0, fmt.Errorf("%w: header length %d outside %d..%d", ErrMalformed, hlen, minHeaderLen, MaxHeaderLen)
	}
	return hlen, nil
}

// parseHeader decodes the header at the start of b; b may hold more (the body).
func parseHeader(b []byte) (Header, error) {
	hlen, err := parsePrelude(b)
	if err != nil {
		return Header{}, err
	}
	if len(b) < hlen {
		return Header{}, fmt.Errorf("%w: %d bytes, the header alone is %d", ErrTruncated, len(b), hlen)
	}
	h := Header{Format: CurrentFormat, HeaderLen: hlen}
	c := cursor{b: b[:hlen-sumLen], off: preludeLen}

	built := int64(c.u64())
	if built < 0 || built > maxBuiltUnix {
		return Header{}, fmt.Errorf("%w: build time %d s outside years 1970..9999", ErrMalformed, built)
	}
	h.Built = time.Unix(built, 0).UTC()
	payload, filler := uint64(c.u32()), uint64(c.u32())
	if total := uint64(hlen) + payload + filler; total > MaxImageLen {
		return Header{}, fmt.Errorf("%w: header declares %d bytes, limit is %d", ErrTooLarge, total, MaxImageLen)
	}
	h.PayloadLen, h.FillerLen = int(payload), int(filler)

	count := int(c.u8())
	if count < 1 || count > MaxModels {
		return Header{}, fmt.Errorf("%w: model count %d outside 1..%d", ErrMalformed, count, MaxModels)
	}
	h.Models = make([]string, 0, count)
	for i := range count {
		name, ok := c.str()
		if !ok {
			return Header{}, fmt.Errorf("%w: model %d runs past the %d-byte header", ErrMalformed, i+1, hlen)
		}
		if err := validModel(name); err != nil {
			return Header{}, fmt.Errorf("%w: model %d: %w", ErrMalformed, i+1, err)
		}
		h.Models = append(h.Models, name)
	}
	if err := uniqueModels(h.Models); err != nil {
		return Header{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	version, ok := c.str()
	if !ok {
		return Header{}, fmt.Errorf("%w: version runs past the %d-byte header", ErrMalformed, hlen)
	}
	if err := validVersion(version); err != nil {
		return Header{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	h.Version = version
	if c.short || c.off != len(c.b) {
		return Header{}, fmt.Errorf("%w: header length %d does not match its fields (%d)", ErrMalformed, hlen, c.off+sumLen)
	}
	copy(h.Sum[:], b[hlen-sumLen:hlen])
	return h, nil
}

// cursor reads big-endian fields from b. Reading past the end sets short and
// yields zeros; callers check short (or the returned ok) before trusting values.
type cursor struct {
	b     []byte
	off   int
	short bool
}

func (c *cursor) take(n int) []byte {
	if c.short || n > len(c.b)-c.off {
		c.short = true
		return nil
	}
	p := c.b[c.off : c.off+n]
	c.off += n
	return p
}

func (c *cursor) u8() uint8 {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if p := c.take(4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (c *cursor) u64() uint64 {
	if p := c.take(8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// str reads a 1-byte length and that many bytes.
func (c *cursor) str() (string, bool) {
	n := int(c.u8())
	p := c.take(n)
	if c.short {
		return "", false
	}
	return string(p), true
}

// headerLen returns H for the given fields, which must be valid.
func headerLen(models []string, version string) int {
	n := fixedLen + 1 + len(version) + sumLen
	for _, m := range models {
		n += 1 + len(m)
	}
	return n
}

// appendPrefix appends header bytes [0, H-32) for valid fields.
func appendPrefix(b []byte, models []string, version string, built time.Time, payload, filler int) []byte {
	b = append(b, Magic...)
	b = binary.BigEndian.AppendUint16(b, CurrentFormat)
	b = binary.BigEndian.AppendUint16(b, uint16(headerLen(models, version)))
	b = binary.BigEndian.AppendUint64(b, uint64(built.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(payload))
	b = binary.BigEndian.AppendUint32(b, uint32(filler))
	b = append(b, byte(len(models)))
	for _, m := range models {
		b = append(b, byte(len(m)))
		b = append(b, m...)
	}
	b = append(b, byte(len(version)))
	return append(b, version...)
}

func validModels(models []string) error {
	if len(models) < 1 || len(models) > MaxModels {
		return fmt.Errorf("%d models, want 1..%d", len(models), MaxModels)
	}
	for i, m := range models {
		if err := validModel(m); err != nil {
			return fmt.Errorf("model %d: %w", i+1, err)
		}
	}
	return uniqueModels(models)
}

func validModel(m string) error {
	if len(m) < 1 || len(m) > MaxModelLen {
		return fmt.Errorf("model name of %d bytes, want 1..%d", len(m), MaxModelLen)
	}
	for i := 0; i < len(m); i++ {
		switch c := m[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return fmt.Errorf("model name %q: byte %d is not a letter, digit, '-', '_' or '.'", printable([]byte(m)), i+1)
		}
	}
	return nil
}

func uniqueModels(models []string) error {
	for i := range models {
		for j := range i {
			if strings.EqualFold(models[i], models[j]) {
				return fmt.Errorf("model %q named twice", models[i])
			}
		}
	}
	return nil
}

// validVersion enforces the SPA-BEHAVIOUR §10 shape loosely: non-empty printable
// ASCII without spaces. The caller parses it further.
func validVersion(v string) error {
	if len(v) < 1 || len(v) > MaxVersionLen {
		return fmt.Errorf("version of %d bytes, want 1..%d", len(v), MaxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("version %q: byte %d is not printable ASCII without spaces", printable([]byte(v)), i+1)
		}
	}
	return nil
}

func validBuilt(t time.Time) error {
	if t.IsZero() {
		return errors.New("build time not set")
	}
	if s := t.Unix(); s < 0 || s > maxBuiltUnix {
		return fmt.Errorf("build time %s outside years 1970..9999", t.UTC().Format(time.RFC3339))
	}
	return nil
}

func fits(models []string, model string) bool {
	for _, m := range models {
		if strings.EqualFold(m, model) {
			return true
		}
	}
	return false
}

func checkModel(models []string, model string) error {
	if fits(models, model) {
		return nil
	}
	return fmt.Errorf("%w: image is for %s, phone is %s", ErrWrongModel, strings.Join(models, ", "), model)
}

// printable returns b with non-printable bytes replaced, for error messages about
// hostile input.
func printable(b []byte) string {
	return string(bytes.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '.'
		}
		return r
	}, b))
}
