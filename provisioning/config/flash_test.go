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

const flashChildEnv = "SPA900_FLASH_WRITER"

// TestMain lets the test binary act as the child that writes flash until it is killed.
func TestMain(m *testing.M) {
	if path := os.Getenv(flashChildEnv); path != "" {
		flashWriter(path)
		return
	}
	os.Exit(m.Run())
}

// flashWriter saves generation after generation, announcing each on stdout.
func flashWriter(path string) {
	f := NewFileFlash(path)
	filler := strings.Repeat("x", 4096) // a realistic flash of a few tens of kB
	for gen := 1; ; gen++ {
		values := map[string]string{"GPP_A": strconv.Itoa(gen)}
		for i := 0; i < 16; i++ {
			values[fmt.Sprintf("Speed_Dial_%d", i)] = filler
		}
		if err := f.Save(&Flash{Model: "SPA942", MAC: "000E08AABBCC", BootCount: gen, Values: values}); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(gen)
	}
}

// TestFlashSurvivesKill kills a process in the middle of its flash writes, again and again,
// and always finds a whole flash: the last one announced, or the one being written.
func TestFlashSurvivesKill(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flash.json")
	rnd := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), flashChildEnv+"="+path)
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

		fl, err := NewFileFlash(path).Load()
		if err != nil {
			t.Fatalf("round %d: flash unreadable after kill -9: %v", round, err)
		}
		gen, _ := strconv.Atoi(fl.Values["GPP_A"])
		if gen < announced || gen > announced+1 || fl.BootCount != gen {
			t.Fatalf("round %d: flash holds generation %d (boot count %d), last announced %d", round, gen, fl.BootCount, announced)
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
