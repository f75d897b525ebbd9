package provisioning

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encryptBytes(t testing.TB, b []byte, key string) []byte {
	t.Helper()
	enc, err := Encrypt(b, key, fixedReader("saltsalt")) // a fixed salt keeps the tests deterministic
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func TestDecodeProfile(t *testing.T) {
	xml := readTestdata(t, "crypt/plain.xml")
	gz := gzipBytes(t, xml)
	tests := []struct {
		name   string
		data   []byte
		key    string
		hasKey bool
	}{
		{name: "plain", data: xml},
		{name: "plain with declaration and wrapper", data: []byte("<?xml version='1.0'?>\n<top-level>\n<flat-profile device=\"Linksys\">\n<GPP_A>x</GPP_A></flat-profile></top-level>")},
		{name: "plain with a key given", data: xml, key: "unused", hasKey: true},
		{name: "gzip", data: gz},
		{name: "gzip file from gzip(1)", data: readTestdata(t, "crypt/plain.xml.gz")},
		{name: "encrypted", data: encryptBytes(t, xml, "k"), key: "k", hasKey: true},
		{name: "gzip then encrypted", data: encryptBytes(t, gz, "k"), key: "k", hasKey: true},
		{name: "openssl md5 vector", data: readTestdata(t, "crypt/plain.xml.md5.enc"), key: "SecretPhrase1234", hasKey: true},
		{name: "openssl gzip md5 vector", data: readTestdata(t, "crypt/plain.xml.gz.md5.enc"), key: "SecretPhrase1234", hasKey: true},
		{name: "empty key", data: encryptBytes(t, xml, ""), key: "", hasKey: true},
		{name: "two gzip members", data: append(gzipBytes(t, xml[:20]), gzipBytes(t, xml[20:])...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeProfile(tt.data, tt.key, tt.hasKey)
			if err != nil {
				t.Fatalf("DecodeProfile: %v", err)
			}
			if !IsFlatProfile(got) {
				t.Fatalf("DecodeProfile = %q, not a flat profile", got)
			}
			if strings.HasPrefix(tt.name, "plain with") {
				return
			}
			if !bytes.Equal(got, xml) && !strings.Contains(tt.name, "declaration") {
				t.Errorf("DecodeProfile = %q, want %q", got, xml)
			}
		})
	}
}

func TestDecodeProfileErrors(t *testing.T) {
	xml := readTestdata(t, "crypt/plain.xml")
	gz := gzipBytes(t, xml)
	encThenGz := gzipBytes(t, encryptBytes(t, xml, "k"))
	big := gzipBytes(t, append([]byte("<flat-profile>"), bytes.Repeat([]byte{' '}, MaxProfileSize)...))
	tests := []struct {
		name     string
		data     []byte
		key      string
		hasKey   bool
		want     []error
		wantText string
	}{
		{name: "spc plain text", data: []byte("Resync_Periodic \"7200\" ;\n"), want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "binary", data: []byte{0x00, 0x01, 0x02, 0x03, 0xfe}, want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "empty", data: nil, want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "html error page", data: []byte("<html><body>404</body></html>"), want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "element name prefix only", data: []byte("<flat-profiles></flat-profiles>"), want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "encrypted without key", data: encryptBytes(t, xml, "k"), want: []error{ErrCorruptFile, ErrNoKey}, wantText: "corrupt file: encrypted profile and no --key"},
		{name: "encrypted wrong key", data: encryptBytes(t, gz, "right"), key: "other", hasKey: true, want: []error{ErrCorruptFile, ErrWrongKey}, wantText: "corrupt file: wrong key"},
		{name: "encrypted truncated", data: encryptBytes(t, xml, "k")[:40], key: "k", hasKey: true, want: []error{ErrCorruptFile}, wantText: "corrupt file: encrypted data truncated"},
		{name: "encrypted plain text not a profile", data: encryptBytes(t, []byte("Resync_Periodic \"7200\" ;"), "k3y"), key: "k3y", hasKey: true, want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "gzip truncated", data: gz[:len(gz)-10], want: []error{ErrCorruptFile}, wantText: "corrupt file: gzip data truncated or damaged"},
		{name: "gzip header only", data: gz[:10], want: []error{ErrCorruptFile}},
		{name: "gzip magic only", data: []byte{0x1f, 0x8b}, want: []error{ErrCorruptFile}, wantText: "corrupt file: bad gzip header"},
		{name: "gzip bad checksum", data: append(append([]byte{}, gz[:len(gz)-8]...), 0, 0, 0, 0, 0, 0, 0, 0), want: []error{ErrCorruptFile}},
		{name: "encrypted then compressed", data: encThenGz, key: "k", hasKey: true, want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "gzip bomb", data: big, want: []error{ErrCorruptFile}, wantText: "corrupt file: inflates to more than 16 MiB"},
		{name: "gzip of spc", data: gzipBytes(t, []byte("A \"b\" ;")), want: []error{ErrCorruptFile}, wantText: "corrupt file"},
		{name: "openssl sha256 vector", data: readTestdata(t, "crypt/plain.xml.sha256.enc"), key: "SecretPhrase1234", hasKey: true,
			want: []error{ErrCorruptFile, ErrSHA256Key}, wantText: "corrupt file: " + ErrSHA256Key.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeProfile(tt.data, tt.key, tt.hasKey)
			if err == nil {
				t.Fatalf("DecodeProfile = %q, want an error", got)
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("error %v does not wrap %v", err, w)
				}
			}
			if tt.wantText != "" && err.Error() != tt.wantText {
				t.Errorf("error text %q, want %q", err, tt.wantText)
			}
			if tt.key != "" && strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestIsFlatProfile(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"<flat-profile>", true},
		{"<flat-profile/>", true},
		{"<flat-profile\n device='x'>", true},
		{"<flat-profiles>", false},
		{"<flat-profile", false},
		{"xx<flat-profilex <flat-profile >", true},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsFlatProfile([]byte(tt.in)); got != tt.want {
			t.Errorf("IsFlatProfile(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// bigProfile builds a flat profile of about 1,300 elements, the size of a real SPA962 export.
func bigProfile() []byte {
	var b strings.Builder
	b.WriteString("<flat-profile>\n")
	for i := range 1300 {
		fmt.Fprintf(&b, "  <Param_Number_%d_ ua=\"na\" group=\"Ext_%d/Proxy_and_Registration\">value %d &amp; more</Param_Number_%d_>\n", i, i%6+1, i*7919, i)
	}
	b.WriteString("</flat-profile>\n")
	return []byte(b.String())
}

func BenchmarkDecodeProfile(b *testing.B) {
	xml := bigProfile()
	data := encryptBytes(b, gzipBytes(b, xml), "SecretPhrase1234")
	b.SetBytes(int64(len(xml)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := DecodeProfile(data, "SecretPhrase1234", true)
		if err != nil || len(out) != len(xml) {
			b.Fatalf("DecodeProfile: %d bytes, %v", len(out), err)
		}
	}
	b.ReportMetric(float64(len(data)), "wire-bytes")
	b.ReportMetric(float64(len(xml)), "xml-bytes")
}

func FuzzDecodeProfile(f *testing.F) {
	xml := []byte("<flat-profile><GPP_A>x</GPP_A></flat-profile>")
	gz := gzipBytes(f, xml)
	f.Add(xml, "k", false)
	f.Add(gz, "", false)
	f.Add(encryptBytes(f, gz, "k"), "k", true)
	f.Add(encryptBytes(f, xml, "k"), "k", true)
	f.Add(encryptBytes(f, xml, "k"), "", true)
	f.Add([]byte("Salted__12345678"), "k", true)
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, "", false)
	f.Add([]byte("Resync_Periodic \"7200\" ;"), "", false)
	f.Fuzz(func(t *testing.T, data []byte, key string, hasKey bool) {
		out, err := DecodeProfile(data, key, hasKey)
		if err != nil {
			if !errors.Is(err, ErrCorruptFile) {
				t.Fatalf("DecodeProfile error %v does not wrap ErrCorruptFile", err)
			}
			// Every error text is one of a fixed set: no key, no content.
			switch err.Error() {
			case "corrupt file", "corrupt file: encrypted profile and no --key", "corrupt file: wrong key",
				"corrupt file: encrypted data truncated", "corrupt file: bad gzip header",
				"corrupt file: gzip data truncated or damaged", "corrupt file: inflates to more than 16 MiB":
			default:
				t.Fatalf("unexpected error text %q", err)
			}
			return
		}
		if !IsFlatProfile(out) || len(out) > MaxProfileSize {
			t.Fatalf("DecodeProfile returned %d bytes that are not a flat profile", len(out))
		}
	})
}

// TestDecodeWrongKeyValidPadding: a wrong key gives valid PKCS#7 padding about once in 256
// tries; its noise is still the wrong key, for a gzip profile and a plain one, whatever the
// key derivation. The keys are searched over a fixed salt, so the test is deterministic.
func TestDecodeWrongKeyValidPadding(t *testing.T) {
	xml := readTestdata(t, "crypt/plain.xml")
	for _, tt := range []struct {
		name  string
		plain []byte
	}{{"plain", xml}, {"gzip", gzipBytes(t, xml)}} {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := Encrypt(tt.plain, "right", bytes.NewReader([]byte("12345678")))
			if err != nil {
				t.Fatal(err)
			}
			found := 0
			for i := 0; found < 3 && i < 20000; i++ {
				key := fmt.Sprintf("wrong-%d", i)
				if _, _, err := decrypt(enc, key, nil); err != nil {
					continue // invalid padding under both derivations: the common case
				}
				found++
				_, _, err := Decode(enc, ReadOptions{Key: key, HasKey: true, AcceptSHA256: true})
				if !errors.Is(err, ErrCorruptFile) || !errors.Is(err, ErrWrongKey) {
					t.Errorf("key %q (valid padding): err = %v, want corrupt file: wrong key", key, err)
				}
			}
			if found < 3 {
				t.Fatalf("found %d wrong keys with valid padding in 20,000", found)
			}
		})
	}
}

func TestPlausiblePlain(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"<flat-profile/>", true},
		{"\xef\xbb\xbf  \r\n<flat-profile>", true},
		{"Resync_Periodic \"7200\" ;\n", true},
		{"<Station_Name>Caf\xe9</Station_Name>", true},
		{"", true},
		{"\x00<flat-profile/>", false},
		{"<a>\x1b[2J</a>", false},
		{"\x80abc", false},
		{"abc\x7f", false},
	} {
		if got := plausiblePlain([]byte(tt.in)); got != tt.want {
			t.Errorf("plausiblePlain(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
