package sip

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestSipgoLogger: sipgo's lines are lowered to debug and carry the attributes and groups of
// the logger they were written to, applied only when the line is written.
func TestSipgoLogger(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := sipgoLogger(zap.New(core).Named("phone")).With("caller", "Server").WithGroup("g").With("n", 1)
	log.Error("failed to parse", "err", "bad")
	all := logs.All()
	if len(all) != 1 {
		t.Fatalf("%d lines, want 1", len(all))
	}
	e := all[0]
	if e.Level != zapcore.DebugLevel || e.LoggerName != "phone.sipgo" || e.Message != "failed to parse" {
		t.Errorf("line %v %q %q, want debug phone.sipgo 'failed to parse'", e.Level, e.LoggerName, e.Message)
	}
	m := e.ContextMap()
	g, _ := m["g"].(map[string]any)
	if m["caller"] != "Server" || g == nil || g["n"] != int64(1) || g["err"] != "bad" {
		t.Errorf("fields %v, want caller and the group g with n and err", m)
	}

	quiet, none := observer.New(zapcore.InfoLevel)
	ql := sipgoLogger(zap.New(quiet)).With("caller", "Server")
	if ql.Enabled(context.Background(), 12) {
		t.Error("enabled at info: sipgo's lines are debug")
	}
	ql.Error("failed to parse")
	if none.Len() != 0 {
		t.Errorf("%d lines at info level, want none", none.Len())
	}
}
