package provisioning

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		enabled bool
		str     string
		delays  []time.Duration // Delay(0), Delay(1), … without randomness
	}{
		{name: "default periodic", in: "3600", enabled: true, str: "3600", delays: []time.Duration{time.Hour, time.Hour, time.Hour}},
		{name: "manual retry list", in: "1800,3600,7200,14400", enabled: true, str: "1800,3600,7200,14400",
			delays: []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour, 4 * time.Hour}},
		{name: "random extra", in: "3600+600", enabled: true, str: "3600+600", delays: []time.Duration{time.Hour}},
		{name: "list with random extras", in: "1800+300,3600+600,7200+900", enabled: true, str: "1800+300,3600+600,7200+900",
			delays: []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 2 * time.Hour}},
		{name: "upgrade retry example", in: "1800,3600,7200,14400+3600", enabled: true, str: "1800,3600,7200,14400+3600"},
		{name: "white space", in: " 1800 + 300 , 3600 ", enabled: true, str: "1800+300,3600"},
		{name: "empty disabled", in: "", enabled: false, str: "0"},
		{name: "blank disabled", in: "  ", enabled: false, str: "0"},
		{name: "zero disabled", in: "0", enabled: false, str: "0"},
		{name: "zero plus zero disabled", in: "0+0", enabled: false, str: "0"},
		{name: "leading zeros", in: "0030", enabled: true, str: "30", delays: []time.Duration{30 * time.Second}},
		{name: "zero with random is enabled", in: "0+30", enabled: true, str: "0+30", delays: []time.Duration{0}},
		{name: "zero step in a list", in: "0,60", enabled: true, str: "0,60", delays: []time.Duration{0, time.Minute, time.Minute}},
		{name: "largest", in: "2147483647", enabled: true, str: "2147483647"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSchedule(tt.in)
			if err != nil {
				t.Fatalf("ParseSchedule(%q): %v", tt.in, err)
			}
			if s.Enabled() != tt.enabled {
				t.Errorf("Enabled() = %v, want %v", s.Enabled(), tt.enabled)
			}
			if got := s.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			for i, want := range tt.delays {
				got, ok := s.Delay(i, nil)
				if !ok || got != want {
					t.Errorf("Delay(%d, nil) = %v, %v; want %v, true", i, got, ok, want)
				}
			}
			if !tt.enabled {
				if d, ok := s.Delay(0, rand.New(rand.NewPCG(1, 2))); ok || d != 0 {
					t.Errorf("disabled Delay = %v, %v; want 0, false", d, ok)
				}
			}
		})
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: "-1", want: "schedule: element 1: delay must be whole seconds (digits only)"},
		{in: "1h", want: "schedule: element 1: delay must be whole seconds (digits only)"},
		{in: "1.5", want: "schedule: element 1: delay must be whole seconds (digits only)"},
		{in: "60,", want: "schedule: element 2: missing delay"},
		{in: ",60", want: "schedule: element 1: missing delay"},
		{in: "60+", want: "schedule: element 1: missing random extra"},
		{in: "60+x", want: "schedule: element 1: random extra must be whole seconds (digits only)"},
		{in: "60+1+2", want: "schedule: element 1: random extra must be whole seconds (digits only)"},
		{in: "2147483648", want: "schedule: element 1: delay larger than 2147483647 seconds"},
		{in: "99999999999999999999999", want: "schedule: element 1: delay larger than 2147483647 seconds"},
		{in: strings.Repeat("1,", 64) + "1", want: "schedule: more than 64 elements"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseSchedule(tt.in)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseSchedule(%q) error = %v, want ErrSyntax", tt.in, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestScheduleRandomExtra(t *testing.T) {
	s, err := ParseSchedule("1800+300,14400+3600")
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(7, 7))
	seen := map[time.Duration]bool{}
	for i := range 2000 {
		idx := i % 3 // 0, then 1 and 2 (past the end: the last step)
		d, ok := s.Delay(idx, rnd)
		if !ok {
			t.Fatal("Delay not ok")
		}
		lo, hi := 1800*time.Second, 2100*time.Second
		if idx > 0 {
			lo, hi = 4*time.Hour, 5*time.Hour
		}
		if d < lo || d > hi {
			t.Fatalf("Delay(%d) = %v, want within [%v, %v]", idx, d, lo, hi)
		}
		if d%time.Second != 0 {
			t.Fatalf("Delay(%d) = %v, not whole seconds", idx, d)
		}
		if idx == 0 {
			seen[d] = true
		}
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct delays for +300 over ~667 draws", len(seen))
	}
	// Deterministic for a seeded source.
	a, _ := s.Delay(0, rand.New(rand.NewPCG(1, 1)))
	b, _ := s.Delay(0, rand.New(rand.NewPCG(1, 1)))
	if a != b {
		t.Errorf("same seed gave %v and %v", a, b)
	}
	if d, _ := s.Delay(-5, nil); d != 1800*time.Second {
		t.Errorf("Delay(-5) = %v, want the first step", d)
	}
	steps := s.Steps()
	steps[0].Base = 0
	if d, _ := s.Delay(0, nil); d != 1800*time.Second {
		t.Errorf("Steps() exposed the schedule's own slice")
	}
}

func TestRandomDelay(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name  string
		units int
		max   time.Duration
	}{
		{name: "default 2 units is 40 s", units: 2, max: 40 * time.Second},
		{name: "one unit", units: 1, max: 20 * time.Second},
		{name: "zero disables", units: 0, max: 0},
		{name: "negative disables", units: -3, max: 0},
		{name: "huge", units: 1 << 40, max: time.Duration(1<<31-1) / 20 * 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var top time.Duration
			for range 500 {
				d := RandomDelay(tt.units, rnd)
				if d < 0 || d > tt.max || d%time.Second != 0 {
					t.Fatalf("RandomDelay(%d) = %v, want whole seconds in [0, %v]", tt.units, d, tt.max)
				}
				top = max(top, d)
			}
			if tt.max > 0 && top < tt.max/2 {
				t.Errorf("RandomDelay(%d) never above %v in 500 draws", tt.units, top)
			}
		})
	}
	if d := RandomDelay(5, nil); d != 0 {
		t.Errorf("RandomDelay with nil rnd = %v, want 0", d)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"3600", "1800,3600,7200,14400", "3600+600", "1800+300,3600+600,7200+900",
		"", "0", "0+0", "1,2,3+", "+", ",", "2147483647+2147483647", " 1 , 2 "} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, idx int) {
		sch, err := ParseSchedule(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseSchedule(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		d, ok := sch.Delay(idx, rand.New(rand.NewPCG(1, 2)))
		if ok != sch.Enabled() || d < 0 {
			t.Fatalf("Delay(%d) of %q = %v, %v", idx, s, d, ok)
		}
		again, err := ParseSchedule(sch.String())
		if err != nil || again.String() != sch.String() {
			t.Fatalf("round trip of %q via %q: %q, %v", s, sch.String(), again.String(), err)
		}
	})
}

// BenchmarkParseSchedule is a phone's Resync_Periodic and Resync_Error_Retry_Delay, parsed
// at the end of every resync.
func BenchmarkParseSchedule(b *testing.B) {
	for _, s := range []string{"3600", "30,60,120,240,480,960,1920,3840+600"} {
		b.Run(s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseSchedule(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
