package webui

import (
	"io"
	"runtime"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/phone"
)

// TestServerHeapPerPhone bounds what a phone's web server holds of the heap before anyone
// browses it, as a fleet makes one for each of its phones: the handler, its tables and
// logs. The logger is one as a fleet gives a phone (a core, a field).
func TestServerHeapPerPhone(t *testing.T) {
	u := testUnit(t, phone.Options{})
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel)).
		With(zap.String("phone", "001"))
	const n = 2000
	servers := make([]*Server, n)
	before := heapAlloc()
	for i := range servers {
		servers[i] = NewServer(u, "127.0.0.1:0", Options{Logger: log, AllowHosts: []string{"phones.example"}})
	}
	per := int64(heapAlloc()-before) / n
	runtime.KeepAlive(servers)
	t.Logf("a web server not yet serving holds %d bytes of the heap", per)
	const bound = 1200
	if per > bound {
		t.Errorf("a web server holds %d bytes of the heap, want at most %d", per, bound)
	}
}

// TestServerErrorLog: net/http's error lines reach the server's log as zap.NewStdLog's
// logger wrote them (the "webui.http" logger, info, the line trimmed), though that logger is
// named only when a line comes.
func TestServerErrorLog(t *testing.T) {
	u := testUnit(t, phone.Options{})
	core, logs := observer.New(zap.InfoLevel)
	s := NewServer(u, "127.0.0.1:0", Options{Logger: zap.New(core)})
	s.errLog.Printf("http: TLS handshake error from %s: %s\n", "127.0.0.1:1", "EOF")
	got := logs.All()
	if len(got) != 1 || got[0].LoggerName != "webui.http" || got[0].Level != zap.InfoLevel ||
		got[0].Message != "http: TLS handshake error from 127.0.0.1:1: EOF" {
		t.Fatalf("logged %+v, want one info line of webui.http, trimmed", got)
	}
}
