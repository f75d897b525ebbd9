package provisioning

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
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

// DecodeProfile turns a downloaded profile into plain XML, detecting the encoding from the
// content, never from the file name (SPA-BEHAVIOUR §1.6, DECISIONS 6, 7):
//
//  1. data starting with "Salted__" is decrypted with key ([Decrypt]; MD5, then SHA-256 key
//     derivation). Without a --key (hasKey false) the error wraps [ErrCorruptFile] and
//     [ErrNoKey]. When no derivation gives valid padding, the error wraps [ErrCorruptFile] and
//     [ErrWrongKey]. When one does but the result is neither gzip nor a flat profile (an
//     encrypted SPC binary, say), the error is [ErrCorruptFile];
//  2. data starting with the gzip magic is inflated, at most [MaxProfileSize] bytes; a
//     truncated or damaged stream, or a larger one, is [ErrCorruptFile] with a detail. A gzip
//     file encrypted after compression is not recognised (§1.3: compress first, then encrypt);
//  3. the result must contain a <flat-profile> element. Anything else, such as an SPC
//     plain-text source or an SPC binary, gives [ErrCorruptFile] itself, so that $ERR reads
//     exactly "corrupt file".
//
// The XML itself is not parsed here. No error text contains the key.
func DecodeProfile(data []byte, key string, hasKey bool) ([]byte, error) {
	return decodeContent(data, key, hasKey, IsFlatProfile)
}

// decodeContent is DecodeProfile with the test of the final document given: a flat profile,
// or any XML document when --alias maps its elements.
func decodeContent(data []byte, key string, hasKey bool, accept func([]byte) bool) ([]byte, error) {
	if IsEncrypted(data) {
		if !hasKey {
			return nil, fmt.Errorf("%w: %w", ErrCorruptFile, ErrNoKey)
		}
		plain, err := decrypt(data, key, func(p []byte) bool { return IsGzip(p) || accept(p) })
		switch {
		case errors.Is(err, ErrWrongKey):
			return nil, fmt.Errorf("%w: %w", ErrCorruptFile, ErrWrongKey)
		case errors.Is(err, errRejected):
			return nil, ErrCorruptFile // decrypted, but neither gzip nor a flat profile
		}
		if err != nil {
			return nil, err // already wraps ErrCorruptFile
		}
		data = plain
	}
	if IsGzip(data) {
		plain, err := gunzip(data)
		if err != nil {
			return nil, err
		}
		data = plain
	}
	if !accept(data) {
		return nil, ErrCorruptFile
	}
	return data, nil
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
	var out bytes.Buffer
	out.Grow(min(4*len(data), MaxProfileSize))
	n, err := io.Copy(&out, io.LimitReader(zr, MaxProfileSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: gzip data truncated or damaged", ErrCorruptFile)
	case n > MaxProfileSize:
		return nil, fmt.Errorf("%w: inflates to more than 16 MiB", ErrCorruptFile)
	}
	return out.Bytes(), nil
}
