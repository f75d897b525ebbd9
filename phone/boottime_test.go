package phone

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/spa900/spa900/provisioning/config"
)

// A boot builds its phone during the boot time, and writes and says nothing until the time is
// over: a power cut during the boot time leaves the boot count as it was and logs no line of
// the boot ("flash values ignored" included); the next boot, whole, counts one boot and says
// what the flash held that it ignored.
func TestPowerCutDuringBootTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flash.json")
	fl, err := NewUnit(Options{Flash: config.NewFileFlash(path), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := fl.opts.Flash.Load()
	if err != nil {
		t.Fatal(err)
	}
	saved.Values["No_Such_Parameter"] = "x" // skipped by the boot's configuration, and said
	if err := fl.opts.Flash.Save(saved); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	u, err := NewUnit(Options{Flash: config.NewFileFlash(path), Logger: zap.New(core), BootTime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cut := context.WithCancelCause(t.Context())
	cut(errPowerCut) // the power goes while the boot time runs: the build is done, the wait is not
	if p, err := u.boot(ctx); !errors.Is(err, context.Canceled) || p != nil {
		t.Fatalf("boot during a power cut: %v, %v; want no phone, canceled", p, err)
	}
	if got, err := u.opts.Flash.Load(); err != nil || got.BootCount != 0 {
		t.Fatalf("after a power cut during the boot time: boot count %d (%v), want 0", got.BootCount, err)
	}
	if n := logs.Len(); n != 0 {
		t.Fatalf("a boot whose power was cut during its boot time logged %d lines: %v", n, logs.All())
	}

	u.opts.BootTime = 0
	p, err := u.boot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := u.opts.Flash.Load(); err != nil || got.BootCount != 1 || p.st.flash.BootCount != 1 {
		t.Fatalf("a whole boot: boot count %d in flash (%v), %d in the phone, want 1", got.BootCount, err, p.st.flash.BootCount)
	}
	if ignored := logs.FilterMessage("flash values ignored").All(); len(ignored) != 1 {
		t.Fatalf("a whole boot said %d times that it ignored flash values, want once: %v", len(ignored), logs.All())
	}
}
