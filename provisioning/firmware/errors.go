package firmware

import "errors"

// ErrBadMagic means the data does not start with the image magic "SPA900FW": it is
// not a spa900 firmware image at all (for example a real Linksys .bin or an HTML
// error page).
var ErrBadMagic = errors.New("not a spa900 firmware image (bad magic)")

// ErrUnsupportedFormat means the image has a format version this package cannot read.
var ErrUnsupportedFormat = errors.New("unsupported firmware image format")

// ErrTruncated means the data ends before the header or the body the header
// announces.
var ErrTruncated = errors.New("firmware image truncated")

// ErrTooLarge means an image is, or declares itself, larger than [MaxImageLen].
var ErrTooLarge = errors.New("firmware image too large")

// ErrMalformed means a header field is out of bounds or inconsistent, or data
// follows the end of the image.
var ErrMalformed = errors.New("malformed firmware image")

// ErrChecksum means the SHA-256 stored in the header does not match the image.
var ErrChecksum = errors.New("firmware image checksum mismatch")

// ErrWrongModel means the image does not name the phone's model. Returned by
// [Image.CheckModel] and [Header.CheckModel]; DECISIONS 15 refuses such an upgrade.
var ErrWrongModel = errors.New("firmware image does not fit this model")

// ErrInvalidImage means [Build] was given fields it cannot encode (no models, an
// empty version, a version with spaces, an unset build time, ...).
var ErrInvalidImage = errors.New("invalid firmware image fields")
