package phone

// End-to-end tests of the firmware upgrade (SPA-BEHAVIOUR §4.2, §4.4 "Upgrade path", §5.4;
// DECISIONS 15) against real peers: nginx and tftpd-hpa serve the profile and the images, the
// phone fetches them with its real fetcher from 127.0.0.1, and the assertions read nginx's
// access log (User-Agent, URI) as well as the phone's events and status.

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
	"github.com/spa900/spa900/provisioning/provtest"
)

const (
	upgMAC     = "000e08aabbcc"
	upgProfile = "/spa" + upgMAC + ".cfg" // Profile_Rule http://…/spa$MA.cfg, expanded
	upgImage   = "/spa942-5-1-18.bin"
	upgFrom    = DefaultSoftware // 5.1.10
	upgTo      = "5.1.18"
	upgImgSize = 1 << 20 // about the size of a real image, so the download takes real time
)

// upgStart is the manual clock's start: a fixed instant, so retry times are exact.
var upgStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// upgUnit starts a unit on the real network (its own fetcher, from 127.0.0.1) with a manual
// clock and the given factory defaults (name, value pairs), and waits for its first boot.
func upgUnit(t *testing.T, sets ...string) (*Unit, *ManualClock, <-chan Event) {
	t.Helper()
	clock := NewManualClock(upgStart)
	u, events := startUnit(t, Options{MAC: upgMAC, Defaults: defaults(sets...), Clock: clock, IP: "127.0.0.1"}, nil)
	if st := u.Status(); st.Software != upgFrom {
		t.Fatalf("first boot on %s, want %s", st.Software, upgFrom)
	}
	return u, clock, events
}

// upgBuild builds an image of the project's format (DECISIONS 15), padded to size bytes.
func upgBuild(t *testing.T, model, version string, size int) []byte {
	t.Helper()
	b, err := firmware.Build(firmware.Image{
		Models: []string{model}, Version: version, Built: time.Unix(1700000000, 0),
		Payload: []byte("spa900 test firmware " + model + " " + version),
	}, size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upgUA is the HTTP User-Agent of the unit of upgUnit running version (DECISIONS 4).
func upgUA(version string) string {
	mac := net.HardwareAddr{0x00, 0x0e, 0x08, 0xaa, 0xbb, 0xcc} // upgMAC
	return "Linksys/SPA-942-" + version + " (" + SerialFromMAC(mac) + ")"
}

// upgGets returns the access log lines of GET uri.
func upgGets(t *testing.T, ng *provtest.Nginx, uri string) []provtest.AccessEntry {
	t.Helper()
	var out []provtest.AccessEntry
	for _, e := range ng.AccessLog(t) {
		if e.Method == "GET" && e.URI == uri {
			out = append(out, e)
		}
	}
	return out
}

// upgWaitGets waits until nginx has logged n GETs of uri and returns them. nginx logs a
// request after answering it, so a phone that has its answer may be ahead of the log; like
// [provtest.Nginx.WaitAccess], this polls the log file until a deadline.
func upgWaitGets(t *testing.T, ng *provtest.Nginx, uri string, n int) []provtest.AccessEntry {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		got := upgGets(t, ng, uri)
		if len(got) >= n {
			return got
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("GET %s: %d in the access log, want %d; log: %+v", uri, len(got), n, ng.AccessLog(t))
		}
	}
}

// upgCount counts the events of kind (with op, when op is not "") the bus has kept.
func upgCount(u *Unit, kind, op string) int {
	n := 0
	for _, e := range u.Bus().Since(0) {
		if e.Kind == kind && (op == "" || e.Data["op"] == op) {
			n++
		}
	}
	return n
}

// upgSyslog is a syslog server on a free UDP port of 127.0.0.1: the messages it receives
// arrive on the returned channel.
func upgSyslog(t *testing.T) (addr string, msgs <-chan string) {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case ch <- string(buf[:n]):
			default: // the test reads only what it looks for
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return conn.LocalAddr().String(), ch
}

// upgWaitSyslog waits for a syslog message containing want.
func upgWaitSyslog(t *testing.T, msgs <-chan string, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, want) {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("no syslog message with %q", want)
		}
	}
}

// TestUpgradeEndToEnd is issue 4's acceptance scenario: a phone on 5.1.10 with a conditional
// Upgrade_Rule resyncs from nginx, upgrades once over HTTP (nginx) or TFTP (tftpd-hpa), boots
// 5.1.18, resyncs again with the new version in its User-Agent, and does not loop, not even
// after a periodic resync (SPA-BEHAVIOUR §4.2 loop protection, §4.4 "Upgrade path").
func TestUpgradeEndToEnd(t *testing.T) {
	img := upgBuild(t, "SPA942", upgTo, upgImgSize)
	tests := []struct {
		name string
		tftp bool
	}{
		{name: "http"},
		{name: "tftp", tftp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ng := provtest.StartNginx(t, provtest.Options{})
			ng.WriteFile(t, upgProfile, []byte(profile(`<GPP_A>provisioned</GPP_A>`)))
			imageURL := ng.HTTPURL(upgImage)
			if tt.tftp {
				d := provtest.StartTFTPD(t, t.TempDir())
				d.WriteFile(t, upgImage, img)
				imageURL = "tftp://" + d.Addr() + upgImage
			} else {
				ng.WriteFile(t, upgImage, img)
			}
			sysAddr, syslog := upgSyslog(t)
			start := time.Now()
			u, clock, events := upgUnit(t,
				config.ProfileRule, ng.HTTPURL("/spa$MA.cfg"), config.ResyncRandomDelay, "0",
				config.ResyncPeriodic, "600", config.SyslogServer, sysAddr,
				config.UpgradeRule, "($SWVER ne "+upgTo+")? "+imageURL)

			// Boot resync with the old version, then the rule selects the image.
			if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" || res.Data["prvst"] != prvstBoot {
				t.Fatalf("boot resync: %v", res.Data)
			}
			if e := upgWaitGets(t, ng, upgProfile, 1)[0]; e.UserAgent != upgUA(upgFrom) || e.Status != 200 {
				t.Fatalf("boot resync: %+v, want User-Agent %q and 200", e, upgUA(upgFrom))
			}
			req := waitEvent(t, events, EventUpgradeRequest)
			if req.Data["url"] != imageURL || req.Data["upgst"] != 1 {
				t.Fatalf("upgrade request %v, want url %s, upgst 1", req.Data, imageURL)
			}
			upgWaitSyslog(t, syslog, "Requesting upgrade "+imageURL)

			// Flash, reboot, boot on the new version and report it.
			if sd := waitEvent(t, events, EventShutdown); sd.Data["reason"] != "reboot" {
				t.Fatalf("shutdown %v, want a reboot", sd.Data)
			}
			if boot := waitEvent(t, events, EventBoot); boot.Data["software"] != upgTo || boot.Data["boot_count"] != 2 {
				t.Fatalf("boot after upgrade %v, want software %s, boot 2", boot.Data, upgTo)
			}
			res := waitEvent(t, events, EventUpgradeResult)
			if res.Data["result"] != "success" || res.Data["from"] != upgFrom || res.Data["version"] != upgTo || res.Data["err"] != upgTo {
				t.Fatalf("upgrade result %v, want success from %s to %s, $ERR %s", res.Data, upgFrom, upgTo, upgTo)
			}
			upgWaitSyslog(t, syslog, "Successful upgrade "+imageURL+" -- "+upgTo)

			// Resync_After_Upgrade_Attempt: a resync at once, with the new User-Agent.
			if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" {
				t.Fatalf("resync after upgrade: %v", res.Data)
			}
			if e := upgWaitGets(t, ng, upgProfile, 2)[1]; e.UserAgent != upgUA(upgTo) {
				t.Fatalf("resync after upgrade: User-Agent %q, want %q", e.UserAgent, upgUA(upgTo))
			}
			st := u.Status()
			if st.Software != upgTo || st.UserAgent != upgUA(upgTo) || st.Info.SoftwareVersion != upgTo ||
				st.SIPAgent != "Linksys/SPA942-"+upgTo {
				t.Errorf("status: software %q, User-Agent %q, Info %q, SIP %q; want %s everywhere",
					st.Software, st.UserAgent, st.Info.SoftwareVersion, st.SIPAgent, upgTo)
			}
			if up := st.Upgrade; up.Running != upgTo || up.Previous != upgFrom || up.LastResult != "success" ||
				up.LastURL != imageURL || up.State != "idle" || up.NextRetry != nil {
				t.Errorf("upgrade status %+v", up)
			}
			if st.Config.Get("GPP_A") != "provisioned" {
				t.Errorf("GPP_A = %q: the profile was not applied", st.Config.Get("GPP_A"))
			}

			// A periodic resync evaluates the rule again: $SWVER is 5.1.18 now, no download.
			clock.Advance(600 * time.Second)
			if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstPeriodic || res.Data["result"] != "success" {
				t.Fatalf("periodic resync: %v", res.Data)
			}
			// The status of the resync's turn: an upgrade it started would show here.
			if st := u.Status(); st.State != StateRunning || st.Upgrade.State != "idle" || st.BootCount != 2 {
				t.Fatalf("after the periodic resync: state %s, upgrade %s, boot %d; want no new upgrade",
					st.State, st.Upgrade.State, st.BootCount)
			}
			gets := upgWaitGets(t, ng, upgProfile, 3)
			if e := gets[2]; e.UserAgent != upgUA(upgTo) {
				t.Errorf("periodic resync: User-Agent %q", e.UserAgent)
			}
			if n := upgCount(u, EventUpgradeRequest, ""); n != 1 {
				t.Errorf("%d upgrade downloads, want exactly 1", n)
			}
			if !tt.tftp {
				images := upgGets(t, ng, upgImage)
				if len(images) != 1 || images[0].UserAgent != upgUA(upgFrom) || images[0].BytesSent != upgImgSize {
					t.Errorf("image GETs %+v, want one by %q of %d bytes", images, upgUA(upgFrom), upgImgSize)
				}
			}
			t.Logf("%s: boot, resync, %d-byte upgrade, reboot, two resyncs in %v", tt.name, len(img), time.Since(start))
		})
	}
}

// TestUpgradeRefusals: a wrong-model image, a corrupted image, a downgrade below
// Downgrade_Rev_Limit and an HTTPS URL are each refused (DECISIONS 15): no reboot, $UPGERR in
// the event and the status, $UPGST 2, a retry after Upgrade_Error_Retry_Delay, which fetches
// again (SPA-BEHAVIOUR §4.2, §4.4 "Upgrade path").
func TestUpgradeRefusals(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, upgProfile, []byte(profile(`<GPP_A>provisioned</GPP_A>`)))
	ng.WriteFile(t, "/spa962.bin", upgBuild(t, "SPA962", upgTo, upgImgSize))
	ng.WriteFile(t, "/spa942-5-1-5.bin", upgBuild(t, "SPA942", "5.1.5", upgImgSize))
	corrupt := upgBuild(t, "SPA942", upgTo, upgImgSize)
	corrupt[len(corrupt)/2] ^= 0x01
	ng.WriteFile(t, "/corrupt.bin", corrupt)
	ng.WriteFile(t, upgImage, upgBuild(t, "SPA942", upgTo, upgImgSize))

	tests := []struct {
		name    string
		path    string // the image of Upgrade_Rule
		https   bool   // on nginx's HTTPS server instead of plain HTTP
		limit   string // Downgrade_Rev_Limit
		wantErr string // $UPGERR, or its start: the checksum error goes on with both hashes
	}{
		{name: "wrong model", path: "/spa962.bin",
			wantErr: "wrong model: firmware image does not fit this model: image is for SPA962, phone is SPA942"},
		{name: "corrupted", path: "/corrupt.bin",
			wantErr: "bad image (checksum)"},
		{name: "downgrade below the limit", path: "/spa942-5-1-5.bin", limit: "5.1.8",
			wantErr: "version 5.1.5 below Downgrade_Rev_Limit 5.1.8"},
		{name: "https", path: upgImage, https: true,
			wantErr: "https not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := ng.HTTPURL(tt.path)
			if tt.https {
				url = ng.HTTPSOptionalURL(tt.path)
			}
			fetched := !tt.https // 5.1 refuses HTTPS before connecting
			uri := tt.path
			before := len(upgGets(t, ng, uri))
			u, clock, events := upgUnit(t,
				config.ProfileRule, ng.HTTPURL("/spa$MA.cfg"), config.ResyncRandomDelay, "0",
				config.UpgradeErrorRetryDelay, "90", config.DowngradeRevLimit, tt.limit,
				config.UpgradeRule, "($SWVER ne "+upgTo+")? "+url)

			if req := waitEvent(t, events, EventUpgradeRequest); req.Data["upgst"] != 1 {
				t.Fatalf("first attempt %v, want upgst 1", req.Data)
			}
			res := waitEvent(t, events, EventUpgradeResult)
			upgErr, _ := res.Data["err"].(string)
			if res.Data["result"] != "failure" || !strings.HasPrefix(upgErr, tt.wantErr) || res.Data["next_in_seconds"] != int64(90) {
				t.Fatalf("upgrade result %v, want failure, err %q, next in 90 s", res.Data, tt.wantErr)
			}
			st := u.Status()
			if st.State != StateRunning || st.Software != upgFrom || st.BootCount != 1 {
				t.Fatalf("after refusal: state %s, software %s, boot %d; want running %s, no reboot", st.State, st.Software, st.BootCount, upgFrom)
			}
			up := st.Upgrade
			if up.LastError != upgErr || up.UPGST != 2 || up.LastResult != "failure" || up.State != "idle" {
				t.Errorf("upgrade status %+v, want $UPGERR %q, $UPGST 2", up, tt.wantErr)
			}
			if want := clock.Now().Add(90 * time.Second); up.NextRetry == nil || !up.NextRetry.Equal(want) {
				t.Errorf("next retry %v, want %v (now + Upgrade_Error_Retry_Delay)", up.NextRetry, want)
			}
			// Resync_After_Upgrade_Attempt, after a failure too; it does not retry the upgrade
			// before the retry timer.
			if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstRequest {
				t.Fatalf("resync after the attempt: %v", res.Data)
			}
			if st := u.Status(); st.Upgrade.State != "idle" || upgCount(u, EventUpgradeRequest, "") != 1 {
				t.Fatalf("the resync after a failed attempt retried at once: upgrade %s", st.Upgrade.State)
			}
			wantGets := before
			if fetched {
				wantGets++
				if e := upgWaitGets(t, ng, uri, wantGets)[wantGets-1]; e.UserAgent != upgUA(upgFrom) {
					t.Errorf("image GET %+v", e)
				}
			}

			// Upgrade_Error_Retry_Delay later: Upgrade_Rule again, $UPGST 2, the same refusal.
			clock.Advance(90 * time.Second)
			if req := waitEvent(t, events, EventUpgradeRequest); req.Data["upgst"] != 2 {
				t.Fatalf("retry %v, want upgst 2", req.Data)
			}
			if res := waitEvent(t, events, EventUpgradeResult); res.Data["result"] != "failure" || res.Data["err"] != upgErr {
				t.Fatalf("retry result %v", res.Data)
			}
			if fetched {
				wantGets++
				upgWaitGets(t, ng, uri, wantGets)
			}
			if got := len(upgGets(t, ng, uri)); got != wantGets {
				t.Errorf("%d GETs of %s, want %d", got, uri, wantGets)
			}
			if st := u.Status(); st.BootCount != 1 || st.Software != upgFrom || upgCount(u, EventBoot, "") != 1 {
				t.Errorf("rebooted after a refused image: boot %d, software %s", st.BootCount, st.Software)
			}
		})
	}
}

// TestUpgradeNoRetry: Upgrade_Error_Retry_Delay 0 means no retry until another trigger
// (DECISIONS 10). The resync that follows the failed attempt, and the periodic ones after
// it, must not try the same image again: that would be a download loop.
func TestUpgradeNoRetry(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, upgProfile, []byte(profile(`<GPP_A>provisioned</GPP_A>`)))
	ng.WriteFile(t, "/spa962.bin", upgBuild(t, "SPA962", upgTo, upgImgSize))
	u, clock, events := upgUnit(t,
		config.ProfileRule, ng.HTTPURL("/spa$MA.cfg"), config.ResyncRandomDelay, "0",
		config.ResyncPeriodic, "600", config.UpgradeErrorRetryDelay, "0",
		config.UpgradeRule, "($SWVER ne "+upgTo+")? "+ng.HTTPURL("/spa962.bin"))

	if res := waitEvent(t, events, EventUpgradeResult); res.Data["result"] != "failure" {
		t.Fatalf("upgrade result %v", res.Data)
	}
	if next := u.Status().Upgrade.NextRetry; next != nil {
		t.Fatalf("next retry %v, want none", next)
	}
	if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstRequest {
		t.Fatalf("resync after the attempt: %v", res.Data)
	}
	if st := u.Status(); st.Upgrade.State != "idle" {
		t.Fatalf("the resync after the failed attempt started it again (upgrade %s)", st.Upgrade.State)
	}
	clock.Advance(600 * time.Second)
	if res := waitEvent(t, events, EventResyncResult); res.Data["prvst"] != prvstPeriodic {
		t.Fatalf("periodic resync: %v", res.Data)
	}
	if st := u.Status(); st.Upgrade.State != "idle" {
		t.Fatalf("the periodic resync started the failed upgrade again (upgrade %s)", st.Upgrade.State)
	}
	upgWaitGets(t, ng, upgProfile, 3)
	if n, gets := upgCount(u, EventUpgradeRequest, ""), upgGets(t, ng, "/spa962.bin"); n != 1 || len(gets) != 1 {
		t.Fatalf("%d attempts, %d GETs of the image; want 1", n, len(gets))
	}
	// An explicit request is another trigger: it tries again.
	if _, err := mustPhone(t, u).RequestUpgrade(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	if res := waitEvent(t, events, EventUpgradeResult); res.Data["result"] != "failure" {
		t.Fatalf("upgrade on request: %v", res.Data)
	}
	upgWaitGets(t, ng, "/spa962.bin", 2)
}

// TestUpgradeWaitsForIdle: off-hook, an upgrade request answers "deferred" at once and nothing
// is downloaded, not even when a forced resync runs meanwhile; on-hook, the phone downloads,
// flashes and reboots (SPA-BEHAVIOUR §4.2 "only when idle", §5.4).
func TestUpgradeWaitsForIdle(t *testing.T) {
	ng := provtest.StartNginx(t, provtest.Options{})
	ng.WriteFile(t, upgProfile, []byte(profile(`<GPP_A>provisioned</GPP_A>`)))
	ng.WriteFile(t, upgImage, upgBuild(t, "SPA942", upgTo, upgImgSize))
	u, clock, events := upgUnit(t,
		config.ProfileRule, ng.HTTPURL("/spa$MA.cfg"), config.ResyncOnReset, "No",
		config.ForcedResyncDelay, "60")
	ctx := t.Context()
	p := mustPhone(t, u)

	if err := p.SetHook(ctx, true); err != nil {
		t.Fatal(err)
	}
	out, err := p.RequestUpgrade(ctx, ng.HTTPURL(upgImage), "127.0.0.1")
	if err != nil || out != OutcomeDeferred {
		t.Fatalf("RequestUpgrade = %v, %v; want deferred", out, err)
	}
	if ev := waitEvent(t, events, EventDeferred); ev.Data["op"] != "upgrade" || ev.Data["reason"] != "handset off-hook" {
		t.Fatalf("deferred %v", ev.Data)
	}
	// Barrier 1: the status of the request's turn says the upgrade waits.
	st := u.Status()
	if st.Upgrade.State != "waiting" || st.State != StateRunning || len(st.Pending) == 0 || st.Pending[0].Op != "upgrade" {
		t.Fatalf("after the request: upgrade %s, state %s, pending %+v", st.Upgrade.State, st.State, st.Pending)
	}
	// Barrier 2: a resync round-trip through nginx. It is deferred too, then forced after
	// Forced_Resync_Delay; the upgrade still waits.
	if out, err := p.RequestResync(ctx, "", ""); err != nil || out != OutcomeDeferred {
		t.Fatalf("RequestResync = %v, %v; want deferred", out, err)
	}
	clock.Advance(60 * time.Second)
	if res := waitEvent(t, events, EventResyncResult); res.Data["result"] != "success" {
		t.Fatalf("forced resync: %v", res.Data)
	}
	upgWaitGets(t, ng, upgProfile, 1)
	if st := u.Status(); st.Upgrade.State != "waiting" || !st.OffHook {
		t.Fatalf("after the forced resync: upgrade %s, off-hook %v", st.Upgrade.State, st.OffHook)
	}
	if got := upgGets(t, ng, upgImage); len(got) != 0 || upgCount(u, EventUpgradeRequest, "") != 0 {
		t.Fatalf("image fetched while off-hook: %+v", got)
	}

	// On-hook: download, flash, reboot into 5.1.18.
	if err := p.SetHook(ctx, false); err != nil {
		t.Fatal(err)
	}
	if req := waitEvent(t, events, EventUpgradeRequest); req.Data["url"] != ng.HTTPURL(upgImage) {
		t.Fatalf("upgrade request %v", req.Data)
	}
	waitEvent(t, events, EventShutdown)
	if boot := waitEvent(t, events, EventBoot); boot.Data["software"] != upgTo {
		t.Fatalf("boot after upgrade %v", boot.Data)
	}
	if res := waitEvent(t, events, EventUpgradeResult); res.Data["result"] != "success" || res.Data["url"] != ng.HTTPURL(upgImage) {
		t.Fatalf("upgrade result %v", res.Data)
	}
	images := upgWaitGets(t, ng, upgImage, 1)
	if len(images) != 1 || images[0].UserAgent != upgUA(upgFrom) || images[0].Status != 200 {
		t.Errorf("image GETs %+v, want one by %q", images, upgUA(upgFrom))
	}
	if st := u.Status(); st.Software != upgTo || st.Upgrade.Previous != upgFrom {
		t.Errorf("status: software %s, previous %s", st.Software, st.Upgrade.Previous)
	}
}
