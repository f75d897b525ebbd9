package media

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// manual opens a session and starts it outside the pacer, so a test drives its ticks.
func manual(t testing.TB, e *Engine, n Negotiated) *Session {
	t.Helper()
	s, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.n = n
	s.ptime = n.PacketTime
	s.spf = samplesPer(n.PacketTime)
	s.started = true
	s.frameAt = 0
	s.mu.Unlock()
	return s
}

// manualPair opens two manual sessions sending to each other.
func manualPair(t testing.TB, e *Engine, n Negotiated) (a, c *Session) {
	t.Helper()
	a, c = manual(t, e, n), manual(t, e, n)
	a.mu.Lock()
	a.n.Remote = c.LocalAddr()
	a.mu.Unlock()
	c.mu.Lock()
	c.n.Remote = a.LocalAddr()
	c.mu.Unlock()
	return a, c
}

// TestNoAllocationPerPacket: in steady state, sending a packet (tone source, analysis on),
// receiving it, playing it out and analysing it allocate nothing.
func TestNoAllocationPerPacket(t *testing.T) {
	e, _ := testEngine(t, SessionConfig{Analyze: true})
	n := pcmu20
	a, b := manualPair(t, e, n)
	a.Play(NewTestTone(1000, -10), "tone")
	due := int64(0)
	step := func() {
		a.tick(due)
		b.tick(due)
		due += int64(20 * time.Millisecond)
	}
	for i := 0; i < 200; i++ { // warm up: buffers, analysis windows, events
		step()
	}
	if allocs := testing.AllocsPerRun(500, step); allocs != 0 {
		t.Errorf("%.2f allocations per packet sent and received, want 0", allocs)
	}
	if b.Stats().PacketsRecv == 0 {
		t.Error("nothing received")
	}
	_ = netip.AddrPort{}
}

// FuzzReceive feeds arbitrary datagrams to the RTP and RTCP receive paths of a started
// session, with each loopback mode in turn: no panic, the counters stay consistent, playout
// goes on.
func FuzzReceive(f *testing.F) {
	f.Add([]byte{0x80, 0x00, 0x00, 0x01, 0, 0, 0, 160, 0, 0, 0, 7, 0xff, 0xff})
	f.Add([]byte{0x80, 0x65, 0x00, 0x02, 0, 0, 1, 64, 0, 0, 0, 7, 5, 0x8a, 0x03, 0x20})
	f.Add([]byte{0xa0, 0x00, 0x00, 0x03, 0, 0, 0, 160, 0, 0, 0, 7, 1, 2, 3, 2})
	f.Add([]byte{0x81, 0xc8, 0x00, 0x0c, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 7})
	f.Add([]byte{0x90, 0x00, 0x00, 0x04, 0, 0, 0, 160, 0, 0, 0, 7, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 9})
	base := uint16(20000 + 2*rand.IntN(19000))
	e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 99, Seed: 1, Session: SessionConfig{Analyze: true}})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	s := manual(f, e, pcmu20)
	from := netip.MustParseAddrPort("127.0.0.1:9")
	at := int64(0)
	f.Fuzz(func(t *testing.T, b []byte) {
		s.SetLoopback(Loopback(len(b) % 3)) // off, media or packet loopback: each receive path
		s.mu.Lock()
		at += int64(10 * time.Millisecond)
		before := s.st.c.packetsRecv.Load()
		s.receive(b, from, at)
		s.frame(at)
		if s.st.c.packetsRecv.Load() != before+1 {
			t.Fatal("packet not counted")
		}
		s.mu.Unlock()
		s.handleRTCP(b, from, at, time.Now())
		_ = s.Stats()
	})
}

// BenchmarkTick measures one packet time of a call on the pacer: send one packet (tone source,
// analysis on), receive and play out one, on both sessions of a loopback pair.
//
//	go test -run '^$' -bench Tick -benchmem ./media
func BenchmarkTick(b *testing.B) {
	for _, analyze := range []bool{true, false} {
		name := "analysis"
		if !analyze {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			base := uint16(20000 + 2*rand.IntN(19000))
			e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 99, Seed: 1, Session: SessionConfig{Analyze: analyze}})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			a, c := manualPair(b, e, pcmu20)
			a.Play(NewTestTone(1000, -10), "tone")
			c.Play(NewTestTone(700, -10), "tone")
			due := int64(0)
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0 := threadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.tick(due)
				c.tick(due)
				due += int64(20 * time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/packet")
			// CPU time of this thread per packet: unlike wall time, it does not count the time
			// other processes of a loaded machine held the core.
			b.ReportMetric(float64(threadCPU()-cpu0)/float64(2*b.N), "cpu-ns/packet")
		})
	}
}
