package firmware_test

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"github.com/spa900/spa900/provisioning/firmware"
)

func ExampleBuild() {
	data, err := firmware.Build(firmware.Image{
		Models:  []string{"SPA942"},
		Version: "5.1.18",
		Built:   time.Date(2008, 6, 12, 9, 30, 0, 0, time.UTC),
		Payload: []byte("firmware"),
	}, 3_500_000) // about the size of a real SPA942 image
	if err != nil {
		fmt.Println(err)
		return
	}
	img, err := firmware.Parse(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(data), img.Version, img.Fits("SPA942"), img.Fits("SPA962"))
	// Output: 3500000 5.1.18 true false
}

// An upgrader reads the header first and refuses a wrong model or an oversized image
// before downloading the rest, keeping the header bytes for the final check.
func ExampleParseHeader() {
	data, _ := firmware.Build(firmware.Image{
		Models:  []string{"SPA962"},
		Version: "5.1.15(aSC)",
		Built:   time.Date(2008, 6, 12, 9, 30, 0, 0, time.UTC),
	}, 1<<20)
	var body io.Reader = bytes.NewReader(data) // an HTTP response body, say

	var buf bytes.Buffer
	h, err := firmware.ParseHeader(io.TeeReader(body, &buf))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := h.CheckModel("SPA942"); err != nil {
		fmt.Println(err)
		return
	}
	// Read the rest, at most one byte more than announced to notice trailing data.
	if _, err := io.Copy(&buf, io.LimitReader(body, int64(h.ImageLen()-h.HeaderLen+1))); err != nil {
		fmt.Println(err)
		return
	}
	_, err = firmware.Parse(buf.Bytes())
	fmt.Println(err)
	// Output: firmware image does not fit this model: image is for SPA962, phone is SPA942
}
