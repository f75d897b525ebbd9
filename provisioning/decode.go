package provisioning

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/spa900/spa900/provisioning/config"
)

// MaxProfileSize is the largest profile [DecodeProfile] inflates: 16 MiB. The real SPA962
// export is about 60 KiB, so anything near the limit is a mistake or an attack.
const MaxProfileSize = 16 << 20

// IsGzip reports whether data starts with the gzip magic 1f 8b (SPA-BEHAVIOUR §1.3).
func IsGzip(data []byte) bool { return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b }

// IsFlatProfile reports whether data contains a `<flat-profile` start tag (SPA-BEHAVIOUR
// §1.1, §1.6): the name followed by white space, ">" or "/".
func IsFlatProfile(data []byte) bool {
	const tag = "<flat-profile"
	for rest := data; ; {
		i := bytes.Index(rest, []byte(tag))
		if i < 0 {
			return false
		}
		rest = rest[i+len(tag):]
		if len(rest) > 0 && (isSpace(rest[0]) || rest[0] == '>' || rest[0] == '/') {
			return true
		}
	}
}

// ReadOptions say how to read a downloaded profile: the options of the rule that fetched it
// and the phone's own switches.
type ReadOptions struct {
	// Key is the --key passphrase of an encrypted profile; HasKey tells whether the rule
	// has one (an empty key is a key).
	Key    string
	HasKey bool
	// Aliases are the --alias map: with it the document may be any XML.
	Aliases []Alias
	// AcceptSHA256 accepts encrypted profiles whose key was derived with SHA-256, openssl
	// 1.1's default, as an extension (--accept-sha256-profiles, DECISIONS 6). A real 5.1 phone
	// refuses them: false by default.
	AcceptSHA256 bool
	// Base and Changes are [config.DecodeOptions]' of the same names: the configuration the
	// profile is read for, whose equal values it shares, and a buffer for its changes.
	Base    *config.Snapshot
	Changes []config.Change
}

// ReadInfo says how a profile came: what [Decode] found even when it failed.
type ReadInfo struct {
	// Encrypted is set for a "Salted__" file.
	Encrypted bool
	// KeyDerivation is the derivation that decrypted it: [KeyDerivationMD5] or
	// [KeyDerivationSHA256] (also when SHA-256 was refused); "" otherwise.
	KeyDerivation string
	// Compressed is set for gzip content.
	Compressed bool
}

// DecodeProfile is [Decode] with a key and nothing else: as a phone reads a profile without
// an --alias.
func DecodeProfile(data []byte, key string, hasKey bool) ([]byte, error) {
	plain, _, err := Decode(data, ReadOptions{Key: key, HasKey: hasKey})
	return plain, err
}

// Decode turns a downloaded profile into plain XML, detecting the encoding from the content,
// never from the file name (SPA-BEHAVIOUR §1.6, DECISIONS 6, 7):
//
//  1. data starting with "Salted__" is decrypted with opts.Key (MD5 key derivation, as the
//     phones; then SHA-256). Without a --key (HasKey false) the error wraps [ErrCorruptFile]
//     and [ErrNoKey]. When no derivation gives valid padding, the error wraps
//     [ErrCorruptFile] and [ErrWrongKey]. When only SHA-256 does and AcceptSHA256 is off, it
//     wraps [ErrCorruptFile] and [ErrSHA256Key]. When one does but the result is neither gzip
//     nor text (see [plausiblePlain]), the key is wrong all the same: a wrong key gives valid
//     padding about once in 256 tries, and what it decrypts to is noise. When the result is
//     text but not a flat profile (an encrypted SPC source, say), the error is
//     [ErrCorruptFile];
//  2. data starting with the gzip magic is inflated, at most [MaxProfileSize] bytes; a
//     truncated or damaged stream, or a larger one, is [ErrCorruptFile] with a detail. A gzip
//     file encrypted after compression is not recognised (§1.3: compress first, then encrypt);
//  3. the result must contain a <flat-profile> element (any XML with aliases). Anything
//     else, such as an SPC plain-text source or an SPC binary, gives [ErrCorruptFile] itself,
//     so that $ERR reads exactly "corrupt file".
//
// The XML itself is not parsed here. No error text contains the key.
func Decode(data []byte, opts ReadOptions) ([]byte, ReadInfo, error) {
	accept := IsFlatProfile
	if len(opts.Aliases) > 0 {
		// The elements an alias names may sit in any document, not only a <flat-profile>.
		accept = func(p []byte) bool { return IsFlatProfile(p) || isXMLDocument(p) }
	}
	var info ReadInfo
	if IsEncrypted(data) {
		info.Encrypted = true
		if !opts.HasKey {
			return nil, info, fmt.Errorf("%w: %w", ErrCorruptFile, ErrNoKey)
		}
		plain, kd, err := decrypt(data, opts.Key, func(p []byte) bool { return IsGzip(p) || accept(p) || plausiblePlain(p) })
		switch {
		case errors.Is(err, ErrWrongKey), errors.Is(err, errRejected):
			// errRejected: valid padding by chance, the bytes are noise.
			return nil, info, fmt.Errorf("%w: %w", ErrCorruptFile, ErrWrongKey)
		case err != nil:
			return nil, info, err // already wraps ErrCorruptFile
		}
		info.KeyDerivation = kd
		if kd == KeyDerivationSHA256 && !opts.AcceptSHA256 {
			return nil, info, fmt.Errorf("%w: %w", ErrCorruptFile, ErrSHA256Key)
		}
		data = plain
	}
	if IsGzip(data) {
		info.Compressed = true
		plain, err := gunzip(data)
		if err != nil {
			return nil, info, err
		}
		data = plain
	}
	if !accept(data) {
		return nil, info, ErrCorruptFile
	}
	return data, info, nil
}

// plausiblePlain reports whether a decrypted, uncompressed plain text can be what a server
// encrypted: text, whose first byte after white space is printable ASCII and whose first
// 512 bytes hold no control character but tab, CR and LF. Bytes of 0x80 and above are allowed
// (Latin-1 and UTF-8 profiles). Noise from a wrong key passes with a chance of about
// 0.37 × 0.87^n for n bytes: under 10⁻⁶ for a profile of 100 bytes.
func plausiblePlain(p []byte) bool {
	p = bytes.TrimPrefix(p, []byte("\xef\xbb\xbf"))
	head := p[:min(len(p), 512)]
	for _, c := range head {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	t := bytes.TrimLeft(head, " \t\r\n")
	return len(t) == 0 || (t[0] > 0x20 && t[0] < 0x7f)
}

// isXMLDocument reports whether data starts, after white space, with markup: what an --alias
// map can rename from, whatever its root element (SPA-BEHAVIOUR §2.4).
func isXMLDocument(data []byte) bool {
	data = bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(data) > 0 && data[0] == '<'
}

// gunzip inflates a gzip stream (several members are concatenated, as gzip(1) does) into at
// most MaxProfileSize bytes.
func gunzip(data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: bad gzip header", ErrCorruptFile)
	}
	defer zr.Close()
	// The gzip trailer holds the inflated size (RFC 1952 ISIZE, modulo 4 GiB): one buffer of
	// that size, and a byte more to see the end, instead of growing one from 4× the input
	// (profiles compress 10-20×). A trailer that lies only costs growth, the limit holds.
	size := 4 * len(data)
	if len(data) >= 18 {
		size = int(binary.LittleEndian.Uint32(data[len(data)-4:]))
	}
	var out bytes.Buffer
	out.Grow(min(size+bytes.MinRead, MaxProfileSize+1))
	n, err := io.Copy(&out, io.LimitReader(zr, MaxProfileSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: gzip data truncated or damaged", ErrCorruptFile)
	case n > MaxProfileSize:
		return nil, fmt.Errorf("%w: inflates to more than 16 MiB", ErrCorruptFile)
	}
	return out.Bytes(), nil
}
