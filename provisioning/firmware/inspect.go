package firmware

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Info is what [Inspect] learned about some bytes that claim to be an image.
type Info struct {
	// Header is the decoded header; its Format is 0 if the header was unreadable.
	Header
	// Size is the number of bytes inspected.
	Size int
	// Complete reports whether Size covers the whole image the header describes.
	Complete bool
	// Computed is the SHA-256 computed over the image; valid only when Complete.
	Computed [sumLen]byte
	// ChecksumOK reports whether Computed equals the stored Sum.
	ChecksumOK bool
}

// Inspect decodes what it can of data, for `spa900 firmware inspect`. It returns the
// same error as [Parse], but fills Info as far as it got: the header fields whenever
// the header itself is readable, and the computed checksum whenever the image is
// complete, even when that checksum is wrong.
func Inspect(data []byte) (Info, error) {
	info := Info{Size: len(data)}
	h, err := parseHeader(data)
	if err != nil {
		return info, err
	}
	info.Header = h
	total := h.ImageLen()
	if len(data) < total {
		return info, fmt.Errorf("%w: %d bytes of a %d-byte image", ErrTruncated, len(data), total)
	}
	info.Complete = true
	info.Computed = checksum(data[:total], h.HeaderLen)
	info.ChecksumOK = info.Computed == h.Sum
	if len(data) > total {
		return info, fmt.Errorf("%w: %d bytes of trailing data after the %d-byte image", ErrMalformed, len(data)-total, total)
	}
	if !info.ChecksumOK {
		return info, fmt.Errorf("%w: header has %x…, image hashes to %x…", ErrChecksum, h.Sum[:6], info.Computed[:6])
	}
	return info, nil
}

// String returns a human-readable, multi-line description ending in a newline.
func (i Info) String() string {
	var b strings.Builder
	if i.Format == 0 {
		fmt.Fprintf(&b, "not a readable spa900 firmware image (%d bytes)\n", i.Size)
		return b.String()
	}
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-10s"+format+"\n", append([]any{label + ":"}, args...)...)
	}
	fmt.Fprintf(&b, "spa900 firmware image, format %d\n", i.Format)
	line("models", "%s", strings.Join(i.Models, ", "))
	line("version", "%s", i.Version)
	line("built", "%s", i.Built.Format(time.DateTime+" MST"))
	line("header", "%d bytes", i.HeaderLen)
	line("payload", "%d bytes", i.PayloadLen)
	line("filler", "%d bytes", i.FillerLen)
	switch total := i.ImageLen(); {
	case i.Size < total:
		line("size", "%d of %d bytes (truncated)", i.Size, total)
	case i.Size > total:
		line("size", "%d bytes (%d bytes of trailing data)", total, i.Size-total)
	default:
		line("size", "%d bytes", total)
	}
	stored := hex.EncodeToString(i.Sum[:])
	switch {
	case !i.Complete:
		line("sha256", "%s (not checked: image incomplete)", stored)
	case i.ChecksumOK:
		line("sha256", "%s (ok)", stored)
	default:
		line("sha256", "%s (MISMATCH)", stored)
		line("computed", "%s", hex.EncodeToString(i.Computed[:]))
	}
	return b.String()
}
