package phone

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning/config"
)

// RequestReboot asks for a reboot; it happens when the phone is idle (SPA-BEHAVIOUR §5.4).
// reason says who asked, for the logs and events.
func (p *Phone) RequestReboot(ctx context.Context, reason string) (Outcome, error) {
	var out Outcome
	err := p.do(ctx, func(st *state) error { out = st.requestReboot(reason); return nil })
	return out, err
}

// RequestRestart asks for a warm restart of the voice application; it happens when idle.
func (p *Phone) RequestRestart(ctx context.Context, reason string) (Outcome, error) {
	var out Outcome
	err := p.do(ctx, func(st *state) error { out = st.requestRestart(reason); return nil })
	return out, err
}

// SetHook puts the handset off-hook or back on-hook.
func (p *Phone) SetHook(ctx context.Context, offHook bool) error {
	return p.do(ctx, func(st *state) error {
		if st.offHook == offHook {
			return nil
		}
		st.offHook = offHook
		st.emit(EventHook, map[string]any{"offhook": offHook})
		return nil
	})
}

// ApplyResult reports what applying a profile did.
type ApplyResult struct {
	Changed       []string `json:"changed"`
	AccessChanged []string `json:"access_changed"`
	Unknown       []string `json:"unknown"`
	// Skipped are the first values left out because their parameters cannot take them;
	// SkippedCount counts all of them (DECISIONS 8).
	Skipped      []config.Skipped `json:"skipped"`
	SkippedCount int              `json:"skipped_count"`
	// EncodingWarning says how the document was read when it is not what it declares.
	EncodingWarning string `json:"encoding_warning,omitempty"`
	Elements        int    `json:"elements"`
	Restart         bool   `json:"restart"`
}

// ApplyProfile applies a flat-profile XML document exactly as a resync applies it
// (DECISIONS 8): a document that is not well-formed changes nothing; in a well-formed one,
// unknown names are ignored and values their parameters cannot take are skipped (logged,
// and listed in the result) while the rest applies; restart when idle if anything outside
// the Provisioning tab changed. Errors about the document itself wrap [ErrInvalidRequest].
func (p *Phone) ApplyProfile(ctx context.Context, source string, xml []byte) (*ApplyResult, error) {
	var res *ApplyResult
	err := p.doAsync(ctx, func(st *state, reply func(error)) {
		cat := st.snap.Catalog()
		prof, err := config.DecodeProfile(cat, xml, config.DecodeOptions{})
		if err != nil {
			st.p.log.Warn("profile rejected", zap.String("source", source), zap.Error(err))
			st.emit(EventConfigRejected, map[string]any{"source": source, "error": err.Error()})
			reply(fmt.Errorf("%w: %w", ErrInvalidRequest, err))
			return
		}
		if w := prof.Encoding.Warning; w != "" {
			st.p.log.Warn("profile encoding", zap.String("source", source), zap.String("warning", w), zap.String("read_as", prof.Encoding.Used))
		}
		changes, skipped := cat.SkipInvalid(prof.Changes)
		logSkipped(st.p.log, source, "", skipped)
		var sv skippedValues
		sv.add(skipped)
		st.applyChanges(source, changes, config.ApplyOptions{}, prof.Unknown, sv, func(diff config.Diff, err error) {
			if err != nil {
				reply(applyError(err))
				return
			}
			res = &ApplyResult{Changed: nonNil(diff.Values), AccessChanged: nonNil(diff.Access),
				Unknown: nonNil(prof.Unknown), Skipped: sv.first, SkippedCount: sv.count,
				EncodingWarning: prof.Encoding.Warning, Elements: prof.Elements,
				Restart: cat.NeedsRestart(diff.Values) && len(diff.Values) > 0}
			if res.Skipped == nil {
				res.Skipped = []config.Skipped{}
			}
			reply(nil)
		})
	})
	return res, err
}

// Apply applies changes made on the web pages or the API, as the admin or (opts.User) the
// user account. Validation errors wrap [ErrInvalidRequest]; nothing changes then.
func (p *Phone) Apply(ctx context.Context, source string, changes []config.Change, opts config.ApplyOptions) (config.Diff, error) {
	var diff config.Diff
	err := p.doAsync(ctx, func(st *state, reply func(error)) {
		st.applyChanges(source, changes, opts, nil, skippedValues{}, func(d config.Diff, err error) {
			diff = d
			reply(applyError(err))
		})
	})
	return diff, err
}

// FactoryReset puts the configuration back to the factory defaults (the catalogue's and the
// unit's own Defaults), keeps the identity, and reboots when idle.
func (p *Phone) FactoryReset(ctx context.Context, defaults *config.Snapshot) (Outcome, error) {
	var out Outcome
	err := p.doAsync(ctx, func(st *state, reply func(error)) {
		st.whenSaved(func() {
			fl := *st.flash
			fl.Values, fl.Access = defaults.Overrides()
			st.commitFlash(&fl, func(err error) {
				if err != nil {
					st.p.log.Error("configuration not saved", zap.String("source", "factory-reset"), zap.Error(err))
					reply(err)
					return
				}
				st.snap = defaults
				st.emit(EventConfigApplied, map[string]any{"source": "factory-reset", "changed": []string{}, "access_changed": []string{}, "unknown": []string{}, "unknown_count": 0, "restart": true})
				out = st.requestReboot("factory reset")
				reply(nil)
			})
		})
	})
	return out, err
}

// applyError is what Apply and ApplyProfile return for an error of applyChanges: a refused
// change is the request's fault ([ErrInvalidRequest]); a flash that cannot be written is not.
func applyError(err error) error {
	var ae *config.ApplyError
	if errors.As(err, &ae) {
		return fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return err
}

// RequestResync asks for a resync (SPA-BEHAVIOUR §5.4, §4.4 trigger 5, $PRVST = -1). An empty
// rawURL runs the Profile_Rule sequence; otherwise the phone resyncs once to rawURL, where a
// URL without a server means requester, the host that made the request. It answers at once;
// the resync runs through the idle gate. ErrProvisioningDisabled when Provision_Enable is No.
func (p *Phone) RequestResync(ctx context.Context, rawURL, requester string) (Outcome, error) {
	var out Outcome
	err := p.do(ctx, func(st *state) (err error) { out, err = st.requestResync(rawURL, requester); return err })
	return out, err
}

// RequestUpgrade asks for a firmware upgrade from rawURL (SPA-BEHAVIOUR §5.4): no scheme means
// TFTP, no server means requester. It answers at once; the upgrade waits until the phone is
// idle. ErrUpgradeDisabled when Upgrade_Enable is No. An empty rawURL evaluates Upgrade_Rule.
func (p *Phone) RequestUpgrade(ctx context.Context, rawURL, requester string) (Outcome, error) {
	var out Outcome
	err := p.do(ctx, func(st *state) (err error) { out, err = st.requestUpgrade(rawURL, requester); return err })
	return out, err
}

// RequestReport sends the configuration report to Report_Rule once (SPA-BEHAVIOUR §4.5).
func (p *Phone) RequestReport(ctx context.Context) error {
	return p.do(ctx, func(st *state) error { return st.requestReport() })
}
