package firmware_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning/firmware"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (if the change is intended, bump the format version or run go test -update)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestGoldenImage pins the byte layout: an image built from fixed inputs must never
// change silently, or images built by an older spa900 stop parsing.
func TestGoldenImage(t *testing.T) {
	t.Parallel()
	img := firmware.Image{
		Models:  []string{"SPA942", "SPA962"},
		Version: "5.1.15(aSC)",
		Built:   built,
		Payload: []byte("payload"),
	}
	data := mustBuild(t, img, 0)
	golden(t, "image.hex.golden", []byte(hex.Dump(data)))

	// The filler is deterministic too: pin a padded image by its hash.
	padded := mustBuild(t, img, 4<<20)
	sum := sha256.Sum256(padded)
	golden(t, "padded-4MiB.sha256.golden", fmt.Appendf(nil, "%x  %d bytes\n", sum, len(padded)))
}

// TestParseGoldenImage parses the committed golden bytes, so an old image keeps
// parsing even if Build changes.
func TestParseGoldenImage(t *testing.T) {
	t.Parallel()
	dump, err := os.ReadFile(filepath.Join("testdata", "image.hex.golden"))
	if err != nil {
		t.Fatal(err)
	}
	data := undump(t, string(dump))
	img, err := firmware.Parse(data)
	if err != nil {
		t.Fatalf("Parse(golden) error = %v", err)
	}
	if got := strings.Join(img.Models, ","); got != "SPA942,SPA962" || img.Version != "5.1.15(aSC)" || !img.Built.Equal(built) || string(img.Payload) != "payload" {
		t.Errorf("Parse(golden) = %+v", img)
	}
}

// undump reverses hex.Dump.
func undump(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for line := range strings.Lines(dump) {
		if len(line) < 10 {
			continue
		}
		hexPart, _, _ := strings.Cut(line[10:], "|")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("golden dump line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestInspect(t *testing.T) {
	t.Parallel()
	img := firmware.Image{Models: []string{"SPA942", "SPA962"}, Version: "5.1.18", Built: built, Payload: []byte("payload")}
	valid := mustBuild(t, img, 512)
	corrupt := bytes.Clone(valid)
	corrupt[len(corrupt)-1] ^= 0xff
	tests := []struct {
		name         string
		data         []byte
		wantErr      error
		wantHeader   bool
		wantComplete bool
		wantOK       bool
	}{
		{name: "valid", data: valid, wantHeader: true, wantComplete: true, wantOK: true},
		{name: "bad checksum", data: corrupt, wantErr: firmware.ErrChecksum, wantHeader: true, wantComplete: true},
		{name: "truncated body", data: valid[:300], wantErr: firmware.ErrTruncated, wantHeader: true},
		{name: "trailing data", data: append(bytes.Clone(valid), "junk"...), wantErr: firmware.ErrMalformed, wantHeader: true, wantComplete: true, wantOK: true},
		{name: "truncated header", data: valid[:40], wantErr: firmware.ErrTruncated},
		{name: "not an image", data: []byte("<html>404</html>"), wantErr: firmware.ErrBadMagic},
	}
	var all bytes.Buffer
	for _, tt := range tests {
		info, err := firmware.Inspect(tt.data)
		if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
			t.Errorf("%s: Inspect() error = %v, want %v", tt.name, err, tt.wantErr)
		}
		if (info.Format != 0) != tt.wantHeader || info.Complete != tt.wantComplete || info.ChecksumOK != tt.wantOK || info.Size != len(tt.data) {
			t.Errorf("%s: Inspect() Format, Complete, ChecksumOK, Size = %d, %v, %v, %d, want header %v, %v, %v, %d",
				tt.name, info.Format, info.Complete, info.ChecksumOK, info.Size, tt.wantHeader, tt.wantComplete, tt.wantOK, len(tt.data))
		}
		if tt.wantHeader && (info.Version != "5.1.18" || len(info.Models) != 2) {
			t.Errorf("%s: Inspect() header = %+v", tt.name, info.Header)
		}
		fmt.Fprintf(&all, "== %s\n%s", tt.name, info)
		if err != nil {
			fmt.Fprintf(&all, "error: %v\n", err)
		}
	}
	golden(t, "inspect.golden", all.Bytes())
}
