package media

import (
	"errors"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"

	"github.com/spa900/spa900/internal/testlog"
)

// countQuota is a FileQuota of a test: the files free.
type countQuota struct {
	mu   sync.Mutex
	free int
}

func (q *countQuota) Take(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.free < n {
		return false
	}
	q.free -= n
	return true
}

func (q *countQuota) Give(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.free += n
}

func (q *countQuota) left() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.free
}

// TestEngineFileQuota: a session takes its two files from EngineConfig.Files before it binds
// and gives them back when it closes (itself, or with its engine); with none left, Open
// fails as "too many open files" would, and binds nothing.
func TestEngineFileQuota(t *testing.T) {
	q := &countQuota{free: 2*FilesPerSession + 1}
	base := uint16(20000 + 2*rand.IntN(19000))
	e, err := NewEngine(EngineConfig{IP: loopback, PortMin: base, PortMax: base + 199, Logger: testlog.New(t), Files: q, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a, err := e.Open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Open(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Open(); !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("third session with 1 file left: %v, want too many open files", err)
	}
	if got := q.left(); got != 1 {
		t.Fatalf("%d files left after two sessions and a refusal, want 1", got)
	}
	a.Close()
	a.Close() // once given back, not twice
	if got := q.left(); got != 1+FilesPerSession {
		t.Fatalf("%d files left after a session closed, want %d", got, 1+FilesPerSession)
	}
	if _, err := e.Open(); err != nil {
		t.Fatalf("a session once another closed: %v", err)
	}
	e.Close()
	if got := q.left(); got != 2*FilesPerSession+1 {
		t.Fatalf("%d files left after the engine closed, want all %d", got, 2*FilesPerSession+1)
	}
}
