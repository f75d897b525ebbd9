package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fullProfile is a flat-profile setting every SPA962 parameter (about 1,300 with Info).
func fullProfile(b *testing.B) (*Catalog, []byte) {
	cat := CatalogFor(mustModel(b, "SPA962"))
	var buf bytes.Buffer
	s, _, err := NewSnapshot(cat).Apply([]Change{Set("GPP_A", "bench")}, ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.WriteXML(&buf, ExportOptions{Info: &Info{ProductName: "SPA962"}}); err != nil {
		b.Fatal(err)
	}
	return cat, buf.Bytes()
}

// BenchmarkApplyProfile decodes and applies a full SPA962 export as a profile.
func BenchmarkApplyProfile(b *testing.B) {
	cat, data := fullProfile(b)
	base := NewSnapshot(cat)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		prof, err := DecodeProfile(cat, data, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := base.Apply(prof.Changes, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResyncApply is what a resync does with a full SPA962 export: decode, leave out
// the values their parameters cannot take (none here), apply (DECISIONS 8).
func BenchmarkResyncApply(b *testing.B) {
	cat, data := fullProfile(b)
	base := NewSnapshot(cat)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		prof, err := DecodeProfile(cat, data, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		changes, skipped := cat.SkipInvalid(prof.Changes)
		if len(skipped) > 0 {
			b.Fatal(skipped)
		}
		if _, _, err := base.Apply(changes, ApplyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResyncApplyAgain is BenchmarkResyncApply for a profile the configuration holds
// already (a periodic resync, a storm of them), read as a phone reads it: for that
// configuration (DecodeOptions.Base) into a buffer of changes lent from the last one.
func BenchmarkResyncApplyAgain(b *testing.B) {
	cat, data := fullProfile(b)
	prof, err := DecodeProfile(cat, data, DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	base, _, err := NewSnapshot(cat).Apply(prof.Changes, ApplyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]Change, 0, len(prof.Changes))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		prof, err := DecodeProfile(cat, data, DecodeOptions{Base: base, Changes: buf})
		if err != nil {
			b.Fatal(err)
		}
		changes, skipped := cat.SkipInvalid(prof.Changes)
		if len(skipped) > 0 {
			b.Fatal(skipped)
		}
		next, diff, err := base.Apply(changes, ApplyOptions{})
		if err != nil || next != base || !diff.Empty() {
			b.Fatalf("Apply() = %v, %v", diff, err)
		}
		buf = prof.Changes[:0]
	}
}

// BenchmarkDecodeLatin1Profile decodes the full export written in ISO-8859-1 and declared so,
// with one byte outside ASCII: the cost of transcoding the whole document.
func BenchmarkDecodeLatin1Profile(b *testing.B) {
	cat, data := fullProfile(b)
	data = append([]byte("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><!-- R\xe9ception -->"), data...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeProfile(cat, data, DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeProfile decodes a full SPA962 export without applying it: with the scanner
// of DecodeProfile and with the encoding/xml decoder it replaced.
func BenchmarkDecodeProfile(b *testing.B) {
	cat, data := fullProfile(b)
	for _, bc := range []struct {
		name   string
		decode func(*Catalog, []byte, DecodeOptions) (*Profile, error)
	}{
		{"scanner", DecodeProfile},
		{"encoding-xml", decodeProfileStd},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(cat, data, DecodeOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExport writes the full SPA962 configuration as /admin/spacfg.xml.
func BenchmarkExport(b *testing.B) {
	cat := CatalogFor(mustModel(b, "SPA962"))
	s := NewSnapshot(cat)
	info := &Info{ProductName: "SPA962"}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteXML(io.Discard, ExportOptions{Info: info}); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleSnapshot_Apply() {
	cat := CatalogFor(Models()[4]) // SPA942
	s, diff, err := NewSnapshot(cat).Apply([]Change{Set("Line_Enable_2_", "no")}, ApplyOptions{})
	fmt.Println(s.Get("Line_Enable_2_"), diff.Values, err)
	// Output: No [Line_Enable_2_] <nil>
}

// BenchmarkFlashCommit is a fleet's flash writes: 1,000 phones each commit a typical flash
// (a few dozen overrides) at once and wait until it is durable, in one file per phone or in
// the fleet's database. It reports the commits per second and the CPU (user and system) each
// costs the process.
//
//	go test -run '^$' -bench FlashCommit -benchtime 5x ./provisioning/config
func BenchmarkFlashCommit(b *testing.B) {
	const phones = 1000
	fl := func(i, gen int) *Flash {
		values := map[string]string{"GPP_A": strconv.Itoa(gen), "Station_Name": fmt.Sprintf("spa%012x", i)}
		for j := range 30 {
			values[fmt.Sprintf("Speed_Dial_%d", j)] = "sip:1000@example.org"
		}
		return &Flash{Model: "SPA942", MAC: fmt.Sprintf("000E08%06X", i), Serial: "88012BA01234", Software: "5.1.10", BootCount: gen, Values: values}
	}
	for _, layout := range []string{"files", "db"} {
		b.Run(layout, func(b *testing.B) {
			dir := b.TempDir()
			stores := make([]interface {
				Commit(*Flash, func(error))
			}, phones)
			switch layout {
			case "files":
				ff := NewFileFlashes(0)
				for i := range stores {
					stores[i] = ff.Flash(filepath.Join(dir, fmt.Sprintf("phone-%04d", i+1), "flash.json"))
				}
			case "db":
				db, err := OpenFlashDB(FlashDBPath(dir))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				for i := range stores {
					stores[i] = db.Flash(fmt.Sprintf("phone-%04d", i+1))
				}
			}
			cpu0 := processCPU()
			gen := 0
			for b.Loop() {
				gen++
				var wg sync.WaitGroup
				for i, s := range stores {
					wg.Add(1)
					s.Commit(fl(i, gen), func(err error) {
						if err != nil {
							b.Error(err)
						}
						wg.Done()
					})
				}
				wg.Wait()
			}
			n := float64(b.N * phones)
			b.ReportMetric(n/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/n, "cpu-µs/commit")
		})
	}
}

// processCPU is the CPU time the process used so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncodeFlash is the flash document of a storm's phone (its identity, the fleet's
// --set values and the three its profile sets) and of a phone whose flash keeps a whole
// SPA962 export's worth of values, against encoding/json's MarshalIndent, which it matches
// byte for byte (TestEncodeFlashIsMarshalIndent).
//
//	go test -run '^$' -bench EncodeFlash ./provisioning/config
func BenchmarkEncodeFlash(b *testing.B) {
	small := &Flash{Model: "SPA942", MAC: "000e08100001", Serial: "88012BA10001", Software: "5.1.10", Hardware: "1.0.1", BootCount: 2,
		Values: map[string]string{"Profile_Rule": "http://127.0.0.1:8080/spa$MA.xml", "Resync_Random_Delay": "0",
			"Line_Enable_1_": "No", "Line_Enable_2_": "No", "Line_Enable_3_": "No", "Line_Enable_4_": "No",
			"Station_Name": "spa000e08100001", "User_ID_1_": "100001", "Display_Name_1_": "Phone 100001"}}
	large := &Flash{Model: "SPA962", MAC: "000e08100002", Serial: "88012BA10002", Software: "5.1.15", Hardware: "1.0.1", BootCount: 9,
		Values: map[string]string{}}
	for i := range 300 {
		large.Values[fmt.Sprintf("Speed_Dial_%d_", i)] = fmt.Sprintf("sip:%d@pbx.example.org;user=phone", 1000+i)
	}
	for _, c := range []struct {
		name string
		fl   *Flash
	}{{"storm-phone", small}, {"300-values", large}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeFlash(c.fl); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/MarshalIndent", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.MarshalIndent(flashFile{Version: flashVersion, Flash: *c.fl}, "", " "); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
