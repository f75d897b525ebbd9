// Package testlog gives tests a zap logger that writes to the test's log while the test
// runs and drops lines written after it has ended.
//
// zaptest's logger panics ("Log in goroutine after Test has completed") when a goroutine
// the test started but does not own logs late: sipgo's server transactions, for one, log
// their termination on their own goroutines after the agent has closed.
package testlog

import (
	"bytes"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger at debug level that writes to t.Log until t's cleanups have run.
// Call it before starting what logs, so that its cleanup runs after theirs.
func New(t testing.TB, opts ...zap.Option) *zap.Logger {
	w := &writer{t: t}
	t.Cleanup(w.close)
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	core := zapcore.NewCore(enc, zapcore.AddSync(w), zapcore.DebugLevel)
	return zap.New(core, append([]zap.Option{zap.ErrorOutput(zapcore.AddSync(w))}, opts...)...)
}

type writer struct {
	mu    sync.RWMutex
	t     testing.TB
	ended bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.ended {
		w.t.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func (w *writer) close() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
}
