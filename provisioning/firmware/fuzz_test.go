package firmware_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spa900/spa900/provisioning/firmware"
)

// FuzzParse feeds arbitrary bytes to Parse, Inspect and ParseHeader: none may panic,
// they must agree with each other, and every accepted image must rebuild to itself.
func FuzzParse(f *testing.F) {
	seeds := []firmware.Image{
		spa942(),
		{Models: []string{"SPA922", "SPA942", "SPA962"}, Version: "6.1.5(a)", Built: built, Payload: []byte{0, 1, 2}},
		{Models: []string{"SPA901"}, Version: "5.1.5", Built: built},
	}
	for _, img := range seeds {
		data := mustBuild(f, img, 0)
		f.Add(data)
		f.Add(mustBuild(f, img, len(data)+17))
		f.Add(data[:len(data)/2])
	}
	f.Add([]byte{})
	f.Add([]byte(firmware.Magic))
	f.Add([]byte("<html>404</html>"))

	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := firmware.Parse(data)
		info, ierr := firmware.Inspect(data)
		if (err == nil) != (ierr == nil) || err != nil && err.Error() != ierr.Error() {
			t.Fatalf("Parse() error = %v, Inspect() error = %v", err, ierr)
		}
		_ = info.String()

		h, herr := firmware.ParseHeader(bytes.NewReader(data))
		if info.Format != 0 {
			if herr != nil {
				t.Fatalf("Inspect() read a header but ParseHeader() error = %v", herr)
			}
			if h.HeaderLen != info.HeaderLen || h.Sum != info.Sum || h.Version != info.Version {
				t.Fatalf("ParseHeader() = %+v, Inspect() header = %+v", h, info.Header)
			}
		} else if herr == nil {
			t.Fatalf("ParseHeader() accepted a header Inspect() could not read: %v", ierr)
		}

		if err != nil {
			if img != nil {
				t.Fatalf("Parse() returned an image with error %v", err)
			}
			for _, sentinel := range []error{firmware.ErrBadMagic, firmware.ErrUnsupportedFormat, firmware.ErrTruncated,
				firmware.ErrTooLarge, firmware.ErrMalformed, firmware.ErrChecksum} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("Parse() error = %v wraps no sentinel", err)
		}
		again, err := firmware.Build(*img, len(data))
		if err != nil {
			t.Fatalf("Build(Parse(data)) error = %v", err)
		}
		if info.FillerLen == 0 && !bytes.Equal(again, data) {
			t.Fatalf("Build(Parse(data)) differs from data")
		}
	})
}
