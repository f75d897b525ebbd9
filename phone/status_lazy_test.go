package phone

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spa900/spa900/internal/testlog"
	"github.com/spa900/spa900/provisioning/config"
)

// A phone's status is built when read, also while its loop does not run: before Run (the
// state as the flash gave it) and after the loop's last turn (the state it stopped in),
// without waiting for a loop that is not there; and a unit booting again shows the status
// of the boot that ended, as booting.
func TestStatusBuiltOffTheLoop(t *testing.T) {
	u, err := NewUnit(Options{Flash: config.NewFileFlash(filepath.Join(t.TempDir(), "flash.json")), Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	if st := u.Status(); st.State != StateBooting || st.BootCount != 0 || u.Config() != nil {
		t.Fatalf("before the first boot: state %s, boot count %d, config %v; want booting, 0, none", st.State, st.BootCount, u.Config())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p, err := u.boot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := p.Status()
	if before.State != StateBooting || before.BootCount != 1 || before.MAC != p.Identity().MACHex() {
		t.Fatalf("before Run: state %s, boot count %d, MAC %s; want booting, 1, %s", before.State, before.BootCount, before.MAC, p.Identity().MACHex())
	}
	events := followBus(ctx, u.Bus())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitEvent(t, events, EventBoot)
	if st := p.Status(); st.State != StateRunning {
		t.Fatalf("running: state %s", st.State)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	after := p.Status()
	if after.State != StateStopped || after.BootCount != 1 || after.Config != p.Config() {
		t.Fatalf("after Run: state %s, boot count %d, config kept %v; want stopped, 1, true", after.State, after.BootCount, after.Config == p.Config())
	}
	if again := p.Status(); again.State != after.State || again.BootedAt != after.BootedAt {
		t.Fatalf("read again after Run: %s since %v, then %s since %v", after.State, after.BootedAt, again.State, again.BootedAt)
	}
	v := &bootingView{last: p}
	st := v.status()
	if st.State != StateBooting || st.BootCount != 1 || st.Config != p.Config() || st.BootedAt != after.BootedAt {
		t.Fatalf("booting again: state %s, boot count %d, config kept %v; want booting, 1, true", st.State, st.BootCount, st.Config == p.Config())
	}
	if pr := v.progress(); pr.State != StateBooting || pr.BootCount != 1 {
		t.Fatalf("booting again: progress %+v", pr)
	}
	if v.config() != p.Config() || v.model() != p.Identity().Model.Name {
		t.Fatalf("booting again: config or model not the boot's that ended")
	}
	if p.Status().State != StateStopped {
		t.Fatal("the booting view changed the ended phone's status")
	}
}
