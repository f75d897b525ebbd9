package config

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The child's environment: the flash path, and the store ("file", "db"; file if unset).
const (
	flashChildEnv      = "SPA900_FLASH_WRITER"
	flashChildStoreEnv = "SPA900_FLASH_STORE"
)

// TestMain lets the test binary act as the child that writes flash until it is killed.
func TestMain(m *testing.M) {
	if path := os.Getenv(flashChildEnv); path != "" {
		flashWriter(path, os.Getenv(flashChildStoreEnv))
		return
	}
	os.Exit(m.Run())
}

// killStore is the part of a flash store the kill test drives.
type killStore interface {
	Load() (*Flash, error)
	Save(fl *Flash) error
	Commit(fl *Flash, done func(error))
	CountBoot(fl *Flash) error
}

// openKillStore opens the store named kind at path: the flash file itself, or a database
// holding the flash of key "phone-0001" and of 3 other phones that save beside it (a fleet:
// their saves share its transactions).
func openKillStore(kind, path string) (killStore, []killStore, func(), error) {
	if kind != "db" {
		return NewFileFlash(path), nil, func() {}, nil
	}
	db, err := OpenFlashDB(path)
	if err != nil {
		return nil, nil, nil, err
	}
	var others []killStore
	for i := 2; i <= 4; i++ {
		others = append(others, db.Flash(fmt.Sprintf("phone-%04d", i)))
	}
	return db.Flash("phone-0001"), others, func() { db.Close() }, nil
}

// flashWriter saves generation after generation, announcing each on stdout once it is
// durable: through Save, and every third one through Commit (the loop's path) with the boot
// count kept on its own in between. In a database, other phones commit beside it all along.
func flashWriter(path, kind string) {
	f, others, _, err := openKillStore(kind, path)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	filler := strings.Repeat("x", 4096) // a realistic flash of a few tens of kB
	for _, o := range others {
		go func() {
			for gen := 1; ; gen++ {
				done := make(chan error, 1)
				o.Commit(&Flash{Model: "SPA942", MAC: "000E08AABBCD", BootCount: gen, Values: map[string]string{"GPP_A": filler}}, func(err error) { done <- err })
				<-done
			}
		}()
	}
	for gen := 1; ; gen++ {
		values := map[string]string{"GPP_A": strconv.Itoa(gen)}
		for i := 0; i < 16; i++ {
			values[fmt.Sprintf("Speed_Dial_%d", i)] = filler
		}
		fl := &Flash{Model: "SPA942", MAC: "000E08AABBCC", BootCount: gen, Values: values}
		switch gen % 3 {
		case 0:
			done := make(chan error, 1)
			f.Commit(fl, func(err error) { done <- err })
			err = <-done
		case 1:
			err = f.Save(fl)
		case 2:
			// The boot count alone: the document of the generation before, one boot more.
			fl.Values["GPP_A"] = strconv.Itoa(gen - 1)
			if err = f.Save(fl); err == nil {
				fl.BootCount = gen
				err = f.CountBoot(fl)
			}
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(gen)
	}
}

// TestFlashSurvivesKill kills a process in the middle of its flash writes, again and again,
// and always finds a whole flash: the last one announced, or the one being written. It does
// so for one file per phone and for the fleet's database.
func TestFlashSurvivesKill(t *testing.T) {
	for _, kind := range []string{"file", "db"} {
		t.Run(kind, func(t *testing.T) { testFlashSurvivesKill(t, kind) })
	}
}

func testFlashSurvivesKill(t *testing.T, kind string) {
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flash.json")
	if kind == "db" {
		path = FlashDBPath(filepath.Dir(path))
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), flashChildEnv+"="+path, flashChildStoreEnv+"="+kind)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		want := 1 + rnd.IntN(5) // kill after this many completed saves, in the middle of the next
		seen := 0
		announced := 0
		for seen < want && sc.Scan() {
			n, err := strconv.Atoi(sc.Text())
			if err != nil {
				t.Fatalf("writer: %s", sc.Text())
			}
			announced = n
			seen++
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// The writer may have announced more saves than were read before the kill.
		for sc.Scan() {
			if n, err := strconv.Atoi(sc.Text()); err == nil {
				announced = n
			}
		}
		cmd.Wait()

		f, _, closeStore, err := openKillStore(kind, path)
		if err != nil {
			t.Fatalf("round %d: store does not open after kill -9: %v", round, err)
		}
		fl, err := f.Load()
		closeStore()
		if err != nil {
			t.Fatalf("round %d: flash unreadable after kill -9: %v", round, err)
		}
		// Generation g holds document g and boot count g, except that the document of a
		// boot-count generation (g%3 == 2) is the one before.
		gen, _ := strconv.Atoi(fl.Values["GPP_A"])
		boots := fl.BootCount
		consistent := boots == gen || boots == gen+1 && boots%3 == 2
		if boots < announced || boots > announced+1 || !consistent {
			t.Fatalf("round %d: flash holds document %d with boot count %d, last announced %d", round, gen, boots, announced)
		}
		if kind == "db" {
			continue
		}
		if err := NewFileFlash(path).RemoveStale(); err != nil { // a killed writer's temp file
			t.Fatal(err)
		}
		if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".flash-*")); len(leftovers) > 0 {
			t.Fatalf("stale files left: %v", leftovers)
		}
	}
}

func TestFlashLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewFileFlash(filepath.Join(dir, "none.json")).Load(); !errors.Is(err, ErrNoFlash) {
		t.Errorf("missing flash: err = %v, want ErrNoFlash", err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	if _, err := NewFileFlash(bad).Load(); !errors.Is(err, ErrCorruptFlash) {
		t.Errorf("corrupt flash: err = %v, want ErrCorruptFlash", err)
	}
}

func TestFlashRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "flash.json")
	cat := spa942(t)
	s, _, err := NewSnapshot(cat).Apply([]Change{Set("GPP_A", "x"), {Name: "Speed_Dial_2", Access: AccessNA}}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	values, access := s.Overrides()
	f := NewFileFlash(path)
	if err := f.Save(&Flash{Model: "SPA942", MAC: "000E08AABBCC", Software: "5.1.10", Values: values, Access: access}); err != nil {
		t.Fatal(err)
	}
	fl, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	s2, skipped := FromOverrides(cat, fl.Values, fl.Access)
	if len(skipped) != 0 || s2.Get("GPP_A") != "x" || s2.Access("Speed_Dial_2") != AccessNA {
		t.Errorf("round trip lost data: skipped %v, GPP_A %q, access %s", skipped, s2.Get("GPP_A"), s2.Access("Speed_Dial_2"))
	}
}

// TestFromOverridesOnSharesWithBase: a snapshot rebuilt from a flash on the unit's factory
// defaults is the snapshot FromOverrides makes, value for value and access for access,
// whatever the flash keeps of the defaults' changes (a value set back to the factory's, a
// value changed again, an access changed back), and it shares base's chunks where it holds
// base's values.
func TestFromOverridesOnSharesWithBase(t *testing.T) {
	cat := spa942(t)
	base, _, err := NewSnapshot(cat).Apply([]Change{
		Set("Line_Enable_1_", "No"), Set("Line_Enable_2_", "No"), Set("GPP_A", "fleet"), Set("Station_Name", "base"),
		{Name: "Speed_Dial_2", Access: AccessNA}, {Name: "Speed_Dial_3", Access: AccessRO},
	}, ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		changes []Change
	}{
		{"the defaults as they are", nil},
		{"a profile on top", []Change{Set("Station_Name", "spa0001"), Set("User_ID_1_", "0001"), Set("GPP_B", "x")}},
		{"a value set back to the factory's", []Change{Set("Line_Enable_1_", "Yes"), Set("GPP_A", "")}},
		{"accesses changed back and again", []Change{{Name: "Speed_Dial_2", Access: AccessRW}, {Name: "Speed_Dial_4", Access: AccessNA}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, err := base.Apply(tc.changes, ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			values, access := s.Overrides()
			want, wantSkipped := FromOverrides(cat, values, access)
			got, gotSkipped := FromOverridesOn(base, cat, values, access)
			if len(gotSkipped) != len(wantSkipped) {
				t.Errorf("skipped %v, want %v", gotSkipped, wantSkipped)
			}
			if d := want.Diff(got); !d.Empty() {
				t.Errorf("FromOverridesOn differs from FromOverrides in %v", d)
			}
			for i := 0; i < cat.Len(); i++ {
				if got.ValueAt(i) != s.ValueAt(i) || got.AccessAt(i) != s.AccessAt(i) {
					t.Fatalf("parameter %d: %q %s, want %q %s", i, got.ValueAt(i), got.AccessAt(i), s.ValueAt(i), s.AccessAt(i))
				}
			}
			shared := 0
			for c := range got.values {
				if &got.values[c][0] == &base.values[c][0] {
					shared++
				}
			}
			if differ := len(base.Diff(got).Values); shared < len(got.values)-differ {
				t.Errorf("%d of %d chunks shared with base, want at least %d (%d values differ)", shared, len(got.values), len(got.values)-differ, differ)
			}
		})
	}
	if got, _ := FromOverridesOn(base, cat, map[string]string{}, map[string]string{}); !NewSnapshot(cat).Diff(got).Empty() {
		t.Errorf("an empty flash on base: differs from the factory in %v", NewSnapshot(cat).Diff(got))
	}
}
