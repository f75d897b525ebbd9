package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cacheFlashes are flashes whose documents test the cache's copy against the JSON: no
// values, no access, an empty access (omitted from the document), text beyond ASCII, the
// upgrade state, bytes that are not UTF-8 (the encoding replaces them).
func cacheFlashes() []*Flash {
	return []*Flash{
		{Model: "SPA942", MAC: "000E08AABB01"},
		{Model: "SPA942", MAC: "000E08AABB02", BootCount: 3, Values: map[string]string{}, Access: map[string]string{}},
		{Model: "SPA942", MAC: "000E08AABB03", Serial: "88012BA01234", Software: "5.1.10", Hardware: "1.0.1",
			Values: map[string]string{"Station_Name": "Réception <1> & \"ä\"", "GPP_A": ""}, Access: map[string]string{"GPP_B": "na"}},
		{Model: "SPA942", MAC: "000E08AABB04", BootCount: 7, Values: map[string]string{"GPP_A": "x"},
			Upgrade: UpgradeState{LastURL: "http://fw/spa.bin", LastRule: "http://fw/$PN.bin", PreviousSW: "5.1.5", JustUpgraded: true}},
		{Model: "SPA942", MAC: "000E08AABB05", Values: map[string]string{"GPP_A": "bad \xff byte"}},
	}
}

// TestFlashCacheIsTheDocument: what DBFlash.Load answers from memory after a commit is what
// the same flash decodes to from the file, read by another FlashDB (another process) once
// the first is closed; and a copy made without the JSON is what the JSON round trip makes.
func TestFlashCacheIsTheDocument(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flash.db")
	db, err := OpenFlashDB(path)
	if err != nil {
		t.Fatal(err)
	}
	flashes := cacheFlashes()
	cached := make([]*Flash, len(flashes))
	for i, fl := range flashes {
		f := db.Flash(fl.MAC)
		if err := f.Save(fl); err != nil {
			t.Fatal(err)
		}
		if cached[i], err = f.Load(); err != nil {
			t.Fatal(err)
		}
		doc, err := EncodeFlash(fl)
		if err != nil {
			t.Fatal(err)
		}
		want, err := DecodeFlash(doc, "test")
		if err != nil {
			t.Fatal(err)
		}
		if c := fl.decodedClone(); c != nil && !reflect.DeepEqual(c, want) {
			t.Errorf("%s: copied %+v, the JSON round trip gives %+v", fl.MAC, c, want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenFlashDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for i, fl := range flashes {
		disk, err := again.Flash(fl.MAC).Load()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cached[i], disk) {
			t.Errorf("%s: Load from memory %+v, from the file %+v", fl.MAC, cached[i], disk)
		}
	}
}

// TestFlashCacheAnswersLoads: once a flash was read or written, Load starts no read
// transaction, and what it gives is the caller's: changing it, or the Flash that was saved,
// changes no later Load. Every write the flash sees (a save, a boot count, a move aside)
// shows in the next Load.
func TestFlashCacheAnswersLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flash.db")
	db, err := OpenFlashDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reads := func() int { return db.db.Stats().TxN }
	r := reads()
	f := db.Flash("phone-0001")
	if _, err := f.Load(); !errors.Is(err, ErrNoFlash) || reads() != r {
		t.Fatalf("Load of a new flash in a new database: %v, %d read transactions; want ErrNoFlash and none", err, reads()-r)
	}
	if _, err := f.Load(); !errors.Is(err, ErrNoFlash) || reads() != r {
		t.Errorf("second Load of a new flash: %v, %d read transactions, want ErrNoFlash and none", err, reads()-r)
	}
	fl := &Flash{Model: "SPA942", MAC: "000E08AABBCC", BootCount: 1, Values: map[string]string{"GPP_A": "1"}}
	if err := f.Save(fl); err != nil {
		t.Fatal(err)
	}
	fl.Values["GPP_A"] = "changed after the save"
	got, err := f.Load()
	if err != nil || got.Values["GPP_A"] != "1" || got.BootCount != 1 {
		t.Fatalf("Load after Save: %+v, %v; want GPP_A 1, boot 1", got, err)
	}
	got.Values["GPP_A"] = "changed by a reader"
	got.BootCount = 99
	if again, _ := f.Load(); again.Values["GPP_A"] != "1" || again.BootCount != 1 {
		t.Errorf("a reader's change showed in the next Load: %+v", again)
	}
	if err := f.CountBoot(&Flash{BootCount: 5}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Load(); got.BootCount != 5 || got.Values["GPP_A"] != "1" {
		t.Errorf("Load after CountBoot(5): %+v, want boot 5, GPP_A 1", got)
	}
	if reads() != r {
		t.Errorf("Loads of a known flash started %d read transactions, want none", reads()-r)
	}

	// A flash the process did not write: read once, then known.
	other := db.Flash("phone-0002")
	if err := other.CountBoot(&Flash{BootCount: 4}); err != nil { // the boot count alone: no document known
		t.Fatal(err)
	}
	if _, err := other.Load(); !errors.Is(err, ErrNoFlash) {
		t.Errorf("Load of a boot count without a document: %v, want ErrNoFlash", err)
	}
	if err := other.Save(&Flash{Model: "SPA942", MAC: "000E08AABBCD"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := other.Load(); got == nil || got.BootCount != 4 {
		t.Errorf("Load of a document saved without a boot count over one kept before: %+v, want boot 4", got)
	}

	if _, _, err := f.MoveAside(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); !errors.Is(err, ErrNoFlash) {
		t.Errorf("Load after MoveAside: %v, want ErrNoFlash", err)
	}
	if err := db.putRaw("phone-0001", []byte(`{"version": 1, "mac": "000E08AABBCC", "values": {"GPP_A": "x`)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(); !errors.Is(err, ErrCorruptFlash) {
		t.Errorf("Load of a damaged document: %v, want ErrCorruptFlash", err)
	}
}

// TestEncodeFlashIsMarshalIndent: the flash document is byte for byte what
// json.MarshalIndent writes (the layout users read by hand, and every flash written before),
// for strings of every kind (control characters, quotes, HTML characters, UTF-8 of every
// length, U+2028 and U+2029, bytes that are not UTF-8), maps nil, empty, small and large, and
// every part of the upgrade state. The cases are random from a fixed seed.
func TestEncodeFlashIsMarshalIndent(t *testing.T) {
	rnd := rand.New(rand.NewPCG(10, 2026))
	pieces := []string{"", "a", "Z9", " ", "\"", "\\", "<", ">", "&", "\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t",
		"é", "€", "𝄞", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x82", "$MA", "http://x/y?z=1&w=2", "'", "/"}
	str := func() string {
		var b strings.Builder
		for range rnd.IntN(6) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		return b.String()
	}
	strMap := func() map[string]string {
		switch rnd.IntN(4) {
		case 0:
			return nil
		case 1:
			return map[string]string{}
		}
		n := 1 + rnd.IntN(8)
		if rnd.IntN(8) == 0 {
			n = 70 + rnd.IntN(200) // beyond the sort's array on the stack
		}
		m := make(map[string]string, n)
		for range n {
			m[str()] = str()
		}
		return m
	}
	for i := range 3000 {
		fl := &Flash{Model: str(), MAC: str(), Serial: str(), Software: str(), Hardware: str(),
			BootCount: rnd.IntN(1<<20) - 10, Values: strMap(), Access: strMap()}
		if rnd.IntN(2) == 0 {
			fl.Upgrade = UpgradeState{JustUpgraded: rnd.IntN(2) == 0}
			for _, f := range []*string{&fl.Upgrade.LastURL, &fl.Upgrade.LastRule, &fl.Upgrade.LastError, &fl.Upgrade.PreviousSW} {
				if rnd.IntN(2) == 0 {
					*f = str()
				}
			}
		}
		want, err := json.MarshalIndent(flashFile{Version: flashVersion, Flash: *fl}, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n')
		got, err := EncodeFlash(fl)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d: EncodeFlash(%+v) =\n%s\nwant (json.MarshalIndent)\n%s", i, fl, got, want)
		}
	}
}

// TestFlashCacheOfAnOpenedDatabase: a database that held flashes when it was opened is read
// for each flash once (the one there, and one that is not), then answered from memory.
func TestFlashCacheOfAnOpenedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flash.db")
	db, err := OpenFlashDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Flash("phone-0001").Save(&Flash{Model: "SPA942", MAC: "000E08AABBCC", BootCount: 2, Values: map[string]string{"GPP_A": "a"}}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = OpenFlashDB(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		key  string
		want error
	}{{"phone-0001", nil}, {"phone-0002", ErrNoFlash}} {
		r := db.db.Stats().TxN
		for i := range 3 {
			fl, err := db.Flash(c.key).Load()
			if !errors.Is(err, c.want) || (err == nil && (fl.Values["GPP_A"] != "a" || fl.BootCount != 2)) {
				t.Errorf("%s, Load %d: %+v, %v; want %v", c.key, i, fl, err, c.want)
			}
		}
		if n := db.db.Stats().TxN - r; n != 1 {
			t.Errorf("%s: three Loads started %d read transactions, want 1", c.key, n)
		}
	}
}
