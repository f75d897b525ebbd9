package provisioning

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
)

// The openssl `enc` salted format (SPA-BEHAVIOUR §1.4): "Salted__", 8 bytes of salt, then the
// AES-256-CBC cipher text of the PKCS#7-padded plain text.
const (
	saltMagic = "Salted__"
	saltLen   = 8
	keyLen    = 32 // AES-256
	headerLen = len(saltMagic) + saltLen
)

// IsEncrypted reports whether data starts with the openssl "Salted__" prefix, the sign of an
// encrypted profile (SPA-BEHAVIOUR §1.4, §1.6).
func IsEncrypted(data []byte) bool { return bytes.HasPrefix(data, []byte(saltMagic)) }

// Encrypt encrypts plain as `openssl enc -e -aes-256-cbc -md md5 -k pass` does: a random
// 8-byte salt read from rnd (crypto/rand when nil), key and IV from EVP_BytesToKey with MD5 and
// one iteration, PKCS#7 padding, and the "Salted__" header. MD5 is what the openssl of the 5.x
// era used and what real phones accept (SPA-BEHAVIOUR §1.4, DECISIONS 6). It is used for
// reports (§4.5) and by the profile tools.
func Encrypt(plain []byte, pass string, rnd io.Reader) ([]byte, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	out := make([]byte, headerLen, headerLen+len(plain)+aes.BlockSize)
	copy(out, saltMagic)
	if _, err := io.ReadFull(rnd, out[len(saltMagic):headerLen]); err != nil {
		return nil, fmt.Errorf("encrypt: read salt: %w", err)
	}
	key, iv := bytesToKey(md5.New(), []byte(pass), out[len(saltMagic):headerLen])
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	out = append(out, plain...)
	for range pad {
		out = append(out, byte(pad))
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out[headerLen:], out[headerLen:])
	return out, nil
}

// Key derivations of the openssl salted format, as [ReadInfo.KeyDerivation] names them.
const (
	// KeyDerivationMD5 is EVP_BytesToKey with MD5: what the openssl of the 5.x era produced
	// and what a real SPA942 5.1 accepts (DECISIONS 6).
	KeyDerivationMD5 = "md5"
	// KeyDerivationSHA256 is EVP_BytesToKey with SHA-256, the default of openssl 1.1 and
	// later: a real 5.1 phone cannot decrypt it.
	KeyDerivationSHA256 = "sha256"
)

// Decrypt decrypts the output of `openssl enc -aes-256-cbc -k pass` (without -pbkdf2) with
// either key derivation: EVP_BytesToKey with MD5, as the phones use, or with SHA-256, the
// default of openssl 1.1 and later. It is the tools' decryption (`spa900 profile decrypt`),
// more lenient than the phone, which refuses SHA-256 unless told otherwise (DECISIONS 6,
// [ReadOptions.AcceptSHA256]). A derivation is accepted when the PKCS#7 padding checks out;
// for a wrong key that happens by chance about once in 256 tries, so callers that know what
// the plain text looks like should check it ([Decode] does).
//
// Errors: [ErrCorruptFile] when data is not a whole salted file, [ErrWrongKey] when no
// derivation gives valid padding.
func Decrypt(data []byte, pass string) ([]byte, error) {
	plain, _, err := decrypt(data, pass, nil)
	return plain, err
}

// decrypt tries each key derivation, MD5 first; accept, when not nil, must also approve the
// plain text. It returns the plain text and the derivation that gave it; ErrWrongKey when no
// derivation gives valid padding, errRejected when one did but accept refused every such
// plain text.
func decrypt(data []byte, pass string, accept func([]byte) bool) ([]byte, string, error) {
	if !IsEncrypted(data) {
		return nil, "", fmt.Errorf("%w: no \"Salted__\" header", ErrCorruptFile)
	}
	if len(data) < headerLen+aes.BlockSize {
		return nil, "", fmt.Errorf("%w: encrypted data truncated", ErrCorruptFile)
	}
	body := data[headerLen:]
	if len(body)%aes.BlockSize != 0 {
		return nil, "", fmt.Errorf("%w: encrypted data truncated", ErrCorruptFile)
	}
	salt := data[len(saltMagic):headerLen]
	plain := make([]byte, len(body))
	rejected := false
	// The EVP_BytesToKey digests, in order (DECISIONS 6).
	for _, kd := range [...]struct {
		name    string
		newHash func() hash.Hash
	}{{KeyDerivationMD5, md5.New}, {KeyDerivationSHA256, sha256.New}} {
		key, iv := bytesToKey(kd.newHash(), []byte(pass), salt)
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, "", err
		}
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, body)
		if n, ok := unpad(plain); ok {
			if accept == nil || accept(plain[:n]) {
				return plain[:n], kd.name, nil
			}
			rejected = true
		}
	}
	if rejected {
		return nil, "", errRejected
	}
	return nil, "", ErrWrongKey
}

// errRejected is returned by decrypt when a key derivation gave valid padding but accept
// refused the plain text: most likely the right key and the wrong content.
var errRejected = errorString("decrypted content rejected")

// unpad checks PKCS#7 padding in constant time over the last block and returns the length
// of the plain text.
func unpad(b []byte) (int, bool) {
	pad := int(b[len(b)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		same := subtle.ConstantTimeByteEq(b[len(b)-i], byte(pad))
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - pad, true
}

// bytesToKey is OpenSSL's EVP_BytesToKey with one iteration: D_i = H(D_{i-1} || pass || salt);
// the key is the first 32 bytes of D_1 || D_2 || …, the IV the next 16.
func bytesToKey(h hash.Hash, pass, salt []byte) (key, iv []byte) {
	var buf []byte
	var prev []byte
	for len(buf) < keyLen+aes.BlockSize {
		h.Reset()
		h.Write(prev)
		h.Write(pass)
		h.Write(salt)
		prev = h.Sum(nil)
		buf = append(buf, prev...)
	}
	return buf[:keyLen], buf[keyLen : keyLen+aes.BlockSize]
}
