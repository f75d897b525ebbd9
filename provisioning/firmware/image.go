package firmware

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Image is the content of a firmware image.
type Image struct {
	// Models are the models the image fits, such as SPA942 (SPA-BEHAVIOUR §10).
	Models []string
	// Version is the firmware version the phone runs after the upgrade, such as
	// 5.1.18 or 5.1.15(aSC) (SPA-BEHAVIOUR §10, DECISIONS 2).
	Version string
	// Built is the build time; Build keeps whole seconds and Parse returns UTC.
	Built time.Time
	// Payload is the firmware body. The emulator never runs it; it is there to be
	// downloaded and checksummed. Parse does not include the filler in it.
	Payload []byte
}

// Fits reports whether the image names model (compared without regard to case).
func (img *Image) Fits(model string) bool { return fits(img.Models, model) }

// CheckModel returns an error wrapping [ErrWrongModel] unless the image fits model.
// DECISIONS 15.
func (img *Image) CheckModel(model string) error { return checkModel(img.Models, model) }

// Build encodes img as a format-1 image. If padTo is larger than the encoded image,
// filler is added so the image is exactly padTo bytes long; padTo at or below the
// natural size (0, say) adds none. The output is deterministic: the same img and
// padTo always give the same bytes. Invalid fields give [ErrInvalidImage]; an image
// (or padTo) over [MaxImageLen] gives [ErrTooLarge].
func Build(img Image, padTo int) ([]byte, error) {
	if err := validModels(img.Models); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidImage, err)
	}
	if err := validVersion(img.Version); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidImage, err)
	}
	if err := validBuilt(img.Built); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidImage, err)
	}
	if padTo < 0 {
		return nil, fmt.Errorf("%w: negative pad size %d", ErrInvalidImage, padTo)
	}
	if padTo > MaxImageLen {
		return nil, fmt.Errorf("%w: pad size %d, limit is %d", ErrTooLarge, padTo, MaxImageLen)
	}
	hlen := headerLen(img.Models, img.Version)
	natural := hlen + len(img.Payload)
	if len(img.Payload) > MaxImageLen || natural > MaxImageLen {
		return nil, fmt.Errorf("%w: %d-byte payload, image limit is %d", ErrTooLarge, len(img.Payload), MaxImageLen)
	}
	filler := max(padTo-natural, 0)

	out := make([]byte, 0, natural+filler)
	out = appendPrefix(out, img.Models, img.Version, img.Built, len(img.Payload), filler)
	sumAt := len(out)
	out = out[:sumAt+sumLen]
	seed := sha256.Sum256(out[:sumAt])
	out = append(out, img.Payload...)
	fill(out[len(out):len(out)+filler], binary.BigEndian.Uint64(seed[:8]))
	out = out[:cap(out)]

	sum := checksum(out, hlen)
	copy(out[sumAt:], sum[:])
	return out, nil
}

// Parse checks a whole image and returns its content. It verifies, in this order,
// the magic ([ErrBadMagic]), the format version ([ErrUnsupportedFormat]), the header
// fields ([ErrMalformed], [ErrTooLarge]), the length ([ErrTruncated], or
// [ErrMalformed] for trailing data) and the SHA-256 ([ErrChecksum]). It never
// allocates more than the header's strings and never panics on any input.
//
// The returned Payload aliases data; copy it before changing data.
func Parse(data []byte) (*Image, error) {
	info, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	h := info.Header
	end := h.HeaderLen + h.PayloadLen
	return &Image{
		Models:  h.Models,
		Version: h.Version,
		Built:   h.Built,
		Payload: data[h.HeaderLen:end:end],
	}, nil
}

// checksum returns the SHA-256 of data[:hlen-32] and data[hlen:]; data must hold the
// exact image.
func checksum(data []byte, hlen int) [sumLen]byte {
	d := sha256.New()
	d.Write(data[:hlen-sumLen])
	d.Write(data[hlen:])
	var sum [sumLen]byte
	d.Sum(sum[:0])
	return sum
}

// fill writes a splitmix64 stream from seed into b, each output little-endian. The
// filler's content is not part of the format, but Build must be deterministic.
func fill(b []byte, seed uint64) {
	x := seed
	next := func() uint64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, next())
		b = b[8:]
	}
	if len(b) > 0 {
		var tail [8]byte
		binary.LittleEndian.PutUint64(tail[:], next())
		copy(b, tail[:])
	}
}
