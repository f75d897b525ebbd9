package phone

import (
	"bytes"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// A line's logger writes what the phone's "sip" logger with the line's field made lazily
// (zap's WithLazy) wrote, byte for byte: the phone's fields, "line", then the call's, at
// every level the core takes and through With; and nothing below the core's level.
func TestLineLogWritesAsWithLazy(t *testing.T) {
	var got, want bytes.Buffer
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "" // the two writes are at different instants
	logger := func(buf *bytes.Buffer) *zap.Logger {
		core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(buf), zapcore.InfoLevel)
		return zap.New(core).Named("fleet").WithLazy(zap.String("phone", "000e08000001"))
	}
	st := &state{p: &Phone{sipLog: logger(&got).Named("sip")}}
	old := logger(&want).Named("sip")
	for _, n := range []int{1, 4} {
		write := func(l *zap.Logger) {
			l.Debug("not written", zap.Int("x", 1))
			l.Info("registered", zap.String("code", "200"))
			l.Warn("extension out of service", zap.String("reason", "test"))
			l.With(zap.String("call_id", "abc")).Info("call failed", zap.Int("code", 486))
			l.With(zap.String("event", "dialog")).With(zap.Int("appearance", 2)).Error("shared", zap.Bool("b", true))
			l.WithLazy(zap.String("event", "message-summary")).Info("subscribed")
		}
		write(st.lineLog(n))
		write(old.WithLazy(zap.Int("line", n)))
	}
	if got.String() != want.String() {
		t.Fatalf("lineLog wrote\n%s\nWithLazy wrote\n%s", got.String(), want.String())
	}
	if !bytes.Contains(got.Bytes(), []byte(`"logger":"fleet.sip"`)) || !bytes.Contains(got.Bytes(), []byte(`"phone":"000e08000001","line":4,"call_id":"abc"`)) {
		t.Fatalf("fields or name missing:\n%s", got.String())
	}
}
