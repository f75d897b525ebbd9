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
//
// The attributes and groups sipgo adds to its loggers (a handful per agent: UA, transport
// and transaction layers, server, client) are kept aside and handed to zap only when a line
// is written: zap encodes a logger's fields when it is made, about 5 KB per agent that a
// fleet of ten thousand phones would pay for lines that are never written unless the level
// is debug.
func sipgoLogger(log *zap.Logger) *slog.Logger {
	return slog.New(debugHandler{h: zapslog.NewHandler(log.Core(), zapslog.WithName(log.Name()+".sipgo"))})
}

// debugHandler lowers every record to debug, and applies its attributes and groups only to
// records that are written.
type debugHandler struct {
	h   slog.Handler
	ops []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	h := d.h
	for _, op := range d.ops {
		h = op(h)
	}
	return h.Handle(ctx, r)
}

func (d debugHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	return debugHandler{h: d.h, ops: append(d.ops[:len(d.ops):len(d.ops)], op)}
}

func (d debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return d.with(func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) })
}

func (d debugHandler) WithGroup(name string) slog.Handler {
	return d.with(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}
