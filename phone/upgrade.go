package phone

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
	"github.com/spa900/spa900/provisioning/firmware"
)

// upgState is the loop's upgrade bookkeeping (SPA-BEHAVIOUR §4.2, §4.4 "Upgrade path").
type upgState struct {
	retryAt     time.Time // next retry after a failure; zero: none
	retryIdx    int
	upgst       int    // $UPGST: 1 first attempt, 2 retry after failure
	err         string // $UPGERR: $ERR of the previous attempt
	lastAttempt time.Time
	lastURL     string
	lastResult  string
	running     bool
	// failedURL and failedRule are the expanded URL and the Upgrade_Rule text of the last
	// failed attempt of this boot: a resync does not try them again; only the retry timer,
	// a request, a new rule or expansion, or a reboot does (§4.4 "Upgrade path").
	failedURL  string
	failedRule string
}

// upgradeOp is an upgrade waiting for the idle gate.
type upgradeOp struct {
	reason string
	url    *provisioning.URL
	rule   string // the Upgrade_Rule text that selected it; "" for an explicit request
	since  time.Time
}

// maxImageSize bounds a firmware download; real SPA942 images are about 3-4 MB.
const maxImageSize = 16 << 20

// upgBoot finishes an upgrade that rebooted into its new version: $ERR holds the version and
// Log_Upgrade_Success_Msg is sent (SPA-BEHAVIOUR §4.2).
func (st *state) upgBoot() {
	st.upg.upgst = 1
	st.upg.err = st.flash.Upgrade.LastError
	if !st.flash.Upgrade.JustUpgraded {
		return
	}
	u := st.flash.Upgrade
	st.upg.lastURL, st.upg.lastResult = u.LastURL, "success"
	st.p.log.Info("upgrade done", zap.String("from", u.PreviousSW), zap.String("to", st.p.id.Software), zap.String("url", u.LastURL))
	st.emit(EventUpgradeResult, map[string]any{"result": "success", "url": u.LastURL, "from": u.PreviousSW, "version": st.p.id.Software, "err": st.p.id.Software})
	vars := st.vars()
	vars.ERR = st.p.id.Software
	if parsed, err := provisioning.ParseURL(u.LastURL, ""); err == nil {
		vars.URL = parsed
		vars.SERVIP = parsed.Host
	}
	st.sendLogAsync(config.LogUpgradeSuccessMsg, vars)
	st.prov.err = st.p.id.Software
	st.flash.Upgrade.JustUpgraded = false
	if err := st.saveFlash(); err != nil {
		st.p.log.Error("flash not saved", zap.Error(err))
	}
}

// upgFire runs the upgrade retry timer: Upgrade_Rule is evaluated again.
func (st *state) upgFire(now time.Time) {
	if st.upg.retryAt.IsZero() || now.Before(st.upg.retryAt) {
		return
	}
	st.upg.retryAt = time.Time{}
	st.upg.upgst = 2
	st.evalUpgradeRule("retry")
}

// upgAfterResync evaluates Upgrade_Rule after a resync (SPA-BEHAVIOUR §4.4).
func (st *state) upgAfterResync() {
	if !st.upg.retryAt.IsZero() {
		return // a failed upgrade waits for its retry timer
	}
	st.evalUpgradeRule("after resync")
}

// evalUpgradeRule selects the upgrade URL of Upgrade_Rule and queues the upgrade, unless the
// same expanded URL of the same rule was already installed (loop protection, §4.2).
func (st *state) evalUpgradeRule(why string) {
	if !st.snap.Bool(config.UpgradeEnable) || st.pending.upgrade != nil || st.upg.running {
		return
	}
	text := st.snap.Get(config.UpgradeRule)
	rule, err := st.p.opts.rules.parseRule(text, provisioning.UpgradeRule)
	if err != nil {
		st.upgFailed(nil, withText("Upgrade_Rule: "+err.Error(), err))
		return
	}
	if rule.Empty() {
		return
	}
	vars := st.vars()
	alt, ok, err := rule.Select(vars)
	if err != nil {
		st.upgFailed(nil, withText("Upgrade_Rule: "+err.Error(), err))
		return
	}
	if !ok {
		return
	}
	if len(alt.Assign) > 0 {
		var changes []config.Change
		for _, a := range alt.Assign {
			changes = append(changes, config.Set(config.AssignedName(a.Name), provisioning.Expand(a.Value, vars)))
		}
		st.applyChanges(config.UpgradeRule, changes, config.ApplyOptions{}, nil, skippedValues{}, func(_ config.Diff, err error) {
			if err != nil {
				st.upgFailed(nil, withText("Upgrade_Rule assignment: "+err.Error(), err))
				return
			}
			st.queueRuleUpgrade(why, text, alt, st.vars())
		})
		return
	}
	st.queueRuleUpgrade(why, text, alt, vars)
}

// queueRuleUpgrade queues the upgrade to the URL of the alternative of Upgrade_Rule (text)
// that was selected, unless loop protection says no.
func (st *state) queueRuleUpgrade(why, text string, alt *provisioning.Alternative, vars *provisioning.Vars) {
	if alt.URL == "" {
		return
	}
	u, err := provisioning.ParseURL(alt.ExpandURL(vars), st.p.opts.TFTPServer)
	if err != nil {
		st.upgFailed(nil, withText(err.Error(), err))
		return
	}
	if last := st.flash.Upgrade; last.LastURL == u.String() && last.LastRule == text {
		st.p.log.Debug("upgrade not repeated", zap.String("url", u.String()), zap.String("reason", "already installed from this URL and rule"))
		return
	}
	// Without this, Upgrade_Error_Retry_Delay 0 (no retry timer) would loop: attempt, failure,
	// Resync_After_Upgrade_Attempt, the rule selects the same URL, attempt...
	if why == "after resync" && st.upg.failedURL == u.String() && st.upg.failedRule == text {
		st.p.log.Debug("upgrade not repeated", zap.String("url", u.String()), zap.String("reason", "failed from this URL and rule; retries follow Upgrade_Error_Retry_Delay"))
		return
	}
	st.queueUpgrade(&upgradeOp{reason: "Upgrade_Rule " + why, url: u, rule: text})
}

// requestUpgrade is the upgrade URL of the web page and the API (SPA-BEHAVIOUR §5.4). The
// page answers at once; the upgrade waits until the phone is not in use.
func (st *state) requestUpgrade(rawURL, requester string) (Outcome, error) {
	if !st.snap.Bool(config.UpgradeEnable) {
		return 0, ErrUpgradeDisabled
	}
	if rawURL == "" {
		st.evalUpgradeRule("on request")
	} else {
		u, err := provisioning.ParseURL(rawURL, requester)
		if err != nil {
			return 0, fmt.Errorf("%w: upgrade URL: %w", ErrInvalidRequest, err)
		}
		st.upg.upgst = 1
		st.queueUpgrade(&upgradeOp{reason: "request", url: u})
	}
	if st.idle() {
		return OutcomeStarted, nil
	}
	return OutcomeDeferred, nil
}

func (st *state) queueUpgrade(op *upgradeOp) {
	if st.pending.upgrade != nil || st.upg.running {
		return
	}
	op.since = st.p.clock.Now()
	st.pending.upgrade = op
	if !st.idle() {
		st.p.log.Info("upgrade deferred", zap.String("reason", st.busyReason()), zap.String("url", op.url.String()))
		st.emit(EventDeferred, map[string]any{"op": "upgrade", "reason": st.busyReason(), "url": op.url.String()})
		st.p.opts.Counters.deferred("upgrade")
	}
}

// startUpgrade downloads, checks and flashes the image on a tracked goroutine. The phone is
// out of service meanwhile (SPA-BEHAVIOUR §4.2).
func (st *state) startUpgrade() {
	op := st.pending.upgrade
	st.pending.upgrade = nil
	st.upg.running = true
	st.upg.lastAttempt = st.p.clock.Now()
	st.upg.lastURL = op.url.String()
	st.phase = StateUpgrading
	st.p.opts.Counters.upgradeStarted()
	vars := st.vars()
	vars.URL = op.url
	out, template := st.syslogOut(), st.snap.Get(config.LogUpgradeRequestMsg)
	st.p.log.Info("upgrade started", zap.String("url", op.url.String()), zap.String("reason", op.reason), zap.Int("upgst", st.upg.upgst))
	st.emit(EventStarted, map[string]any{"op": "upgrade", "reason": op.reason, "url": op.url.String()})
	st.emit(EventUpgradeRequest, map[string]any{"url": op.url.String(), "upgst": st.upg.upgst})
	limit := st.snap.Get(config.DowngradeRevLimit)
	model := st.p.id.Model.Name
	fetch, log := st.p.fetcher(), st.p.log
	ctx := st.ctx
	st.p.goTracked(func() {
		vars.SERVIP = resolve(ctx, op.url.Host) // DNS: off the loop
		out.send(ctx, template, vars)
		img, err := downloadImage(ctx, fetch, op.url, model, limit, log)
		st.p.post(func(st *state) { st.upgradeDone(op, img, err) })
	})
}

// downloadImage fetches and validates an image: TFTP or HTTP only (5.1 does not upgrade over
// HTTPS, SPA-BEHAVIOUR §4.2), the right model, a good checksum, not below Downgrade_Rev_Limit.
// A redirect is logged with the URL it led to (the URL requested stays the upgrade's own: it
// is what loop protection compares).
func downloadImage(ctx context.Context, f fetcher, u *provisioning.URL, model, limit string, log *zap.Logger) (*firmware.Image, error) {
	if u.Scheme == provisioning.SchemeHTTPS {
		return nil, withText("https not supported", errUpgradeHTTPS)
	}
	got, err := f.fetch(ctx, fetchRequest{URL: u, MaxSize: maxImageSize})
	if got.url != "" {
		log.Info("upgrade redirected", zap.String("url", u.String()), zap.String("to", got.url))
	}
	if err != nil {
		return nil, err
	}
	img, err := firmware.Parse(got.body)
	if err != nil {
		return nil, withText(imageErrText(err), err)
	}
	if err := img.CheckModel(model); err != nil {
		return nil, withText("wrong model: "+err.Error(), err)
	}
	if limit != "" {
		lim, err := provisioning.ParseVersion(limit)
		if err != nil {
			return nil, withText("bad Downgrade_Rev_Limit: "+err.Error(), err)
		}
		v, err := provisioning.ParseVersion(img.Version)
		if err != nil {
			return nil, withText("bad image version: "+err.Error(), err)
		}
		if v.Compare(lim) < 0 {
			return nil, withText(fmt.Sprintf("version %s below Downgrade_Rev_Limit %s", img.Version, limit), errDowngradeLimit)
		}
	}
	return img, nil
}

// Causes of refused upgrades, told apart by [FailureReason].
var (
	errUpgradeHTTPS   = errors.New("firmware upgrade over HTTPS is not supported")
	errDowngradeLimit = errors.New("downgrade below the limit")
)

// imageErrText words an image that failed to parse as $UPGERR: short and fixed, as the device's
// messages are.
func imageErrText(err error) string {
	switch {
	case errors.Is(err, firmware.ErrChecksum):
		return "bad image (checksum)"
	case errors.Is(err, firmware.ErrTruncated):
		return "bad image (truncated)"
	case errors.Is(err, firmware.ErrBadMagic):
		return "bad image (not a firmware image)"
	}
	return "bad image"
}

// upgradeDone flashes a good image and reboots into it, or arms the retry (§4.2).
func (st *state) upgradeDone(op *upgradeOp, img *firmware.Image, err error) {
	st.upg.running = false
	st.phase = StateRunning
	if err != nil {
		st.upgFailed(op, err)
		return
	}
	// Flash: the new running version and the loop-protection record, in one atomic save.
	prev := st.p.id.Software
	fl := *st.flash
	fl.Software = img.Version
	fl.Upgrade = config.UpgradeState{LastURL: op.url.String(), LastRule: op.rule, PreviousSW: prev, JustUpgraded: true}
	if err := st.p.flash.Save(&fl); err != nil {
		st.upgFailed(op, withText("flash write failed", err))
		return
	}
	*st.flash = fl
	st.upg.lastResult = "success"
	st.upg.err = ""
	st.p.opts.Counters.upgradeEnded(nil)
	st.p.log.Info("upgrade flashed", zap.String("from", prev), zap.String("to", img.Version), zap.String("reason", "rebooting into the new firmware"))
	st.emit(EventDone, map[string]any{"op": "upgrade", "result": "success", "version": img.Version})
	st.pending.reboot = &pendingOp{reason: "upgrade to " + img.Version, since: st.p.clock.Now()}
	st.exit = ErrReboot
}

// upgFailed records a failed attempt: $UPGERR, $UPGST 2, the retry schedule, the failure
// message and, with Resync_After_Upgrade_Attempt, a resync.
func (st *state) upgFailed(op *upgradeOp, err error) {
	text := errText(err)
	st.upg.err, st.upg.lastResult, st.upg.upgst = text, "failure", 2
	st.p.opts.Counters.upgradeEnded(err)
	st.flash.Upgrade.LastError = text // $UPGERR survives a reboot
	if err := st.saveFlash(); err != nil {
		st.p.log.Error("flash not saved", zap.Error(err))
	}
	var nextIn time.Duration
	if sch, perr := provisioning.ParseSchedule(st.snap.Get(config.UpgradeErrorRetryDelay)); perr == nil {
		if d, ok := sch.Delay(st.upg.retryIdx, st.prov.rnd); ok {
			st.upg.retryIdx++
			nextIn = d
			st.upg.retryAt = st.p.clock.Now().Add(d)
		}
	}
	url := ""
	if op != nil {
		url = op.url.String()
		st.upg.failedURL, st.upg.failedRule = url, op.rule
	}
	st.p.log.Warn("upgrade failed", zap.String("url", url), zap.String("err", text), zap.Duration("next_in", nextIn))
	data := map[string]any{"result": "failure", "url": url, "err": text}
	if !st.upg.retryAt.IsZero() {
		data["next_in_seconds"] = int64(nextIn / time.Second)
	}
	st.emit(EventUpgradeResult, data)
	st.emit(EventDone, map[string]any{"op": "upgrade", "result": "failure", "err": text})
	vars := st.vars()
	vars.ERR = text
	st.sendLogAsync(config.LogUpgradeFailureMsg, vars)
	if op != nil && st.snap.Bool(config.ResyncAfterUpgradeAttempt) && st.snap.Bool(config.ProvisionEnable) {
		st.queueResync(&resyncOp{reason: "after upgrade attempt", prvst: prvstRequest})
	}
}

// sendLogAsync sends a Log_* message off the loop.
func (st *state) sendLogAsync(param string, vars *provisioning.Vars) {
	out, template, ctx := st.syslogOut(), st.snap.Get(param), st.ctx
	st.p.goTracked(func() { out.send(ctx, template, vars) })
}

// upgStatus is the Upgrade part of the status.
func (st *state) upgStatus() UpgradeStatus {
	us := UpgradeStatus{
		Enabled: st.snap.Bool(config.UpgradeEnable), State: "idle", Running: st.p.id.Software,
		Previous: st.flash.Upgrade.PreviousSW, LastURL: st.upg.lastURL, LastResult: st.upg.lastResult,
		LastError: st.upg.err, UPGST: st.upg.upgst,
	}
	if st.pending.upgrade != nil {
		us.State = "waiting"
	}
	if st.upg.running {
		us.State = "downloading"
	}
	us.LastAttempt = timePtr(st.upg.lastAttempt)
	us.NextRetry = timePtr(st.upg.retryAt)
	return us
}
