package provisioning

import (
	"bytes"
	"crypto/md5"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fixedReader is an io.Reader that repeats a pattern, for deterministic salts.
type fixedReader []byte

func (r fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r[i%len(r)]
	}
	return len(p), nil
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncryptKnownAnswer(t *testing.T) {
	plain := readTestdata(t, "crypt/plain.xml")
	want := readTestdata(t, "crypt/plain.xml.md5.enc")
	got, err := Encrypt(plain, "SecretPhrase1234", fixedReader{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Encrypt differs from openssl enc -md md5:\n got %x\nwant %x", got, want)
	}
}

func TestDecryptKnownAnswer(t *testing.T) {
	plain := readTestdata(t, "crypt/plain.xml")
	tests := []struct {
		name string
		file string
		want []byte
	}{
		{name: "md5", file: "crypt/plain.xml.md5.enc", want: plain},
		{name: "sha256", file: "crypt/plain.xml.sha256.enc", want: plain},
		{name: "gzip then md5", file: "crypt/plain.xml.gz.md5.enc", want: readTestdata(t, "crypt/plain.xml.gz")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decrypt(readTestdata(t, tt.file), "SecretPhrase1234")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Decrypt = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000} {
		plain := bytes.Repeat([]byte{'x'}, n)
		enc, err := Encrypt(plain, "k", nil)
		if err != nil {
			t.Fatal(err)
		}
		if !IsEncrypted(enc) || (len(enc)-16)%16 != 0 || len(enc) < 32 {
			t.Fatalf("Encrypt(%d bytes) = %d bytes, bad framing", n, len(enc))
		}
		got, err := Decrypt(enc, "k")
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round trip of %d bytes = %q, %v", n, got, err)
		}
	}
}

func TestDecryptErrors(t *testing.T) {
	good := readTestdata(t, "crypt/plain.xml.md5.enc")
	tests := []struct {
		name string
		data []byte
		pass string
		want error
	}{
		{name: "wrong key", data: good, pass: "not-the-key", want: ErrWrongKey},
		{name: "no header", data: []byte("<flat-profile/>"), pass: "k", want: ErrCorruptFile},
		{name: "header only", data: good[:16], pass: "SecretPhrase1234", want: ErrCorruptFile},
		{name: "truncated block", data: good[:len(good)-1], pass: "SecretPhrase1234", want: ErrCorruptFile},
		{name: "short salt", data: []byte("Salted__abc"), pass: "k", want: ErrCorruptFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decrypt(tt.data, tt.pass)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decrypt = %q, %v; want %v", got, err, tt.want)
			}
			if strings.Contains(err.Error(), tt.pass) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{'a'}, 16-len(tail))
		return append(b, tail...)
	}
	tests := []struct {
		name string
		b    []byte
		n    int
		ok   bool
	}{
		{name: "one", b: block(1), n: 15, ok: true},
		{name: "two", b: block(2, 2), n: 14, ok: true},
		{name: "full block", b: bytes.Repeat([]byte{16}, 16), n: 0, ok: true},
		{name: "zero", b: block(0), ok: false},
		{name: "seventeen", b: bytes.Repeat([]byte{17}, 16), ok: false},
		{name: "inconsistent", b: block(1, 2), ok: false},
		{name: "two blocks", b: append(bytes.Repeat([]byte{'z'}, 16), block(3, 3, 3)...), n: 29, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := unpad(tt.b)
			if ok != tt.ok || ok && n != tt.n {
				t.Errorf("unpad = %d, %v; want %d, %v", n, ok, tt.n, tt.ok)
			}
		})
	}
}

func TestBytesToKey(t *testing.T) {
	// EVP_BytesToKey(MD5, salt, "pass", 1): D1 = MD5("pass"||salt), D2 = MD5(D1||"pass"||salt), …
	salt := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	d1 := md5.Sum(append([]byte("pass"), salt...))
	d2 := md5.Sum(append(append(d1[:], "pass"...), salt...))
	d3 := md5.Sum(append(append(d2[:], "pass"...), salt...))
	all := append(append(d1[:], d2[:]...), d3[:]...)
	key, iv := bytesToKey(md5.New(), []byte("pass"), salt)
	if !bytes.Equal(key, all[:32]) || !bytes.Equal(iv, all[32:48]) {
		t.Errorf("bytesToKey = %x / %x, want %x / %x", key, iv, all[:32], all[32:48])
	}
}

// requireOpenSSL returns the openssl binary, skipping the test when it is missing (failing
// under CI=true).
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl not found (CI=true): %v", err)
		}
		t.Skip("openssl not found; install it with: sudo apt-get install openssl")
	}
	return path
}

// runOpenSSL runs `openssl enc -aes-256-cbc` in dir with the given extra arguments.
func runOpenSSL(t *testing.T, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"enc", "-aes-256-cbc"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestOpenSSLInterop checks byte compatibility with the real openssl CLI both ways, as the
// provisioning guide documents it: `openssl enc -aes-256-cbc -k <secret>`, without -pbkdf2.
func TestOpenSSLInterop(t *testing.T) {
	bin := requireOpenSSL(t)
	plains := map[string][]byte{
		"profile": readTestdata(t, "crypt/plain.xml"),
		"empty":   {},
		"block":   bytes.Repeat([]byte("0123456789abcdef"), 4),
		"binary":  {0, 1, 2, 0xff, 0x1f, 0x8b, 8, 0},
	}
	keys := []string{"SecretPhrase1234", "my secret phrase", "a37d2fb9055c1d04883a0745eb0917a4", "x"}
	dir := t.TempDir()
	for name, plain := range plains {
		for ki, key := range keys {
			in := filepath.Join(dir, name+".in")
			if err := os.WriteFile(in, plain, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, md := range []string{"md5", "sha256"} {
				t.Run(name+"/openssl-"+md+"-to-go/key"+string(rune('0'+ki)), func(t *testing.T) {
					enc := filepath.Join(dir, name+"."+md+".enc")
					args := []string{"-e", "-md", md, "-k", key, "-in", in, "-out", enc}
					if md == "sha256" {
						// Decrypt tries MD5 first, and a wrong derivation passes the padding
						// check about once in 256 salts. A fixed salt keeps the test
						// deterministic; openssl 3 then omits the header, added back here.
						args = append(args, "-S", "0011223344556677")
					}
					runOpenSSL(t, bin, args...)
					data, err := os.ReadFile(enc)
					if err != nil {
						t.Fatal(err)
					}
					if !IsEncrypted(data) {
						data = append([]byte("Salted__\x00\x11\x22\x33\x44\x55\x66\x77"), data...)
					}
					got, err := Decrypt(data, key)
					if err != nil {
						t.Fatalf("Decrypt of openssl -md %s output: %v", md, err)
					}
					if !bytes.Equal(got, plain) {
						t.Errorf("Decrypt = %x, want %x", got, plain)
					}
				})
			}
			t.Run(name+"/go-to-openssl-md5/key"+string(rune('0'+ki)), func(t *testing.T) {
				data, err := Encrypt(plain, key, nil)
				if err != nil {
					t.Fatal(err)
				}
				enc := filepath.Join(dir, name+".go.enc")
				out := filepath.Join(dir, name+".go.out")
				if err := os.WriteFile(enc, data, 0o600); err != nil {
					t.Fatal(err)
				}
				runOpenSSL(t, bin, "-d", "-md", "md5", "-k", key, "-in", enc, "-out", out)
				got, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, plain) {
					t.Errorf("openssl -d -md md5 of Encrypt = %x, want %x", got, plain)
				}
			})
		}
	}
}

// TestOpenSSLGzipProfile is the documented producer pipeline (SPA-BEHAVIOUR §1.3–1.4): gzip,
// then openssl enc; Decode must give the XML back: for -md md5 always, for -md sha256 (the
// default of openssl >= 1.1) only with AcceptSHA256, failing by default with the fix named
// (DECISIONS 6, issue 8's fourth case). Decrypt, the tools', takes both.
func TestOpenSSLGzipProfile(t *testing.T) {
	bin := requireOpenSSL(t)
	dir := t.TempDir()
	gz := filepath.Join(dir, "p.xml.gz")
	if err := os.WriteFile(gz, readTestdata(t, "crypt/plain.xml.gz"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, md := range []string{"md5", "sha256"} {
		t.Run(md, func(t *testing.T) {
			enc := filepath.Join(dir, "p.cfg."+md)
			runOpenSSL(t, bin, "-e", "-md", md, "-k", "SecretPhrase1234", "-in", gz, "-out", enc)
			data, err := os.ReadFile(enc)
			if err != nil {
				t.Fatal(err)
			}
			want := readTestdata(t, "crypt/plain.xml")
			got, info, err := Decode(data, ReadOptions{Key: "SecretPhrase1234", HasKey: true})
			if md == "sha256" {
				if !errors.Is(err, ErrCorruptFile) || !errors.Is(err, ErrSHA256Key) || !strings.Contains(err.Error(), "openssl enc -md md5") {
					t.Fatalf("Decode of a SHA-256 file: %v, want ErrSHA256Key naming openssl enc -md md5", err)
				}
				if info.KeyDerivation != KeyDerivationSHA256 || !info.Encrypted {
					t.Errorf("info %+v", info)
				}
				got, info, err = Decode(data, ReadOptions{Key: "SecretPhrase1234", HasKey: true, AcceptSHA256: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Decode = %q, want %q", got, want)
			}
			if info != (ReadInfo{Encrypted: true, KeyDerivation: md, Compressed: true}) {
				t.Errorf("info %+v", info)
			}
			if plain, err := Decrypt(data, "SecretPhrase1234"); err != nil || !IsGzip(plain) {
				t.Errorf("Decrypt (the tool) of -md %s: %v", md, err)
			}
		})
	}
}
