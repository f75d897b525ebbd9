package sip

import (
	"context"
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// sipgoLogger bridges sipgo's slog lines into log (named "sip.sipgo", with the phone's
// fields). sipgo logs per message at every level ("failed to parse" with the datagram at
// error level, unmatched retransmissions at info): all its lines are lowered to debug, so
// that a hostile peer cannot flood the phone's log; the agent logs its own decisions.
func sipgoLogger(log *zap.Logger) *slog.Logger {
	return slog.New(debugHandler{zapslog.NewHandler(log.Core(), zapslog.WithName(log.Name()+".sipgo"))})
}

// debugHandler lowers every record to debug.
type debugHandler struct{ h slog.Handler }

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{d.h.WithAttrs(attrs)}
}

func (d debugHandler) WithGroup(name string) slog.Handler { return debugHandler{d.h.WithGroup(name)} }
