package phone

import (
	"context"
	"fmt"
	"hash/maphash"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// resyncJob is one resync, run off the loop on a tracked goroutine. It reads only the
// immutable values it was given and reports a resyncResult.
type resyncJob struct {
	log   *zap.Logger
	emit  func(kind string, data map[string]any)
	fetch fetcher
	clock Clock

	snap *config.Snapshot // the configuration when the resync started
	vars *provisioning.Vars
	// varsFrom is the configuration vars' configuration-derived macros were filled from
	// (fillConfigVars): a rule's are filled again only when its configuration is another.
	varsFrom  *config.Snapshot
	url       string // a one-off URL, or "" for the Profile_Rule sequence
	requester string
	tftp      string // the option-66 TFTP server
	syslog    syslogOut
	// acceptSHA256 accepts profiles encrypted with SHA-256 key derivation (DECISIONS 6).
	acceptSHA256 bool
	// lend lends the buffers of the fetch and the decode (nil: none).
	lend *lender
	// memo is the last profile applied that changed nothing (nil: none), seed the phone's
	// key for the hash of a profile's bytes.
	memo *profileMemo
	seed maphash.Seed
	// rules parses the Profile_Rule* (a fleet's cache of them; nil: each time).
	rules *ruleCache
}

// resyncResult is what a resync did: the changes of every profile it applied (the loop
// applies them to the configuration in force), and its error and $ERR if it failed.
type resyncResult struct {
	changes []config.Change
	// base is the configuration the resync started from, next the one its profiles made of
	// it: when the configuration has not moved meanwhile, the loop takes next as it is
	// instead of applying the changes a second time.
	base, next *config.Snapshot
	unknown    []string
	// skipped are the values left out because their parameters cannot take them; warnings
	// are the profiles' encoding warnings, one per profile at most (DECISIONS 8).
	skipped  skippedValues
	warnings []string
	url      string // the last URL requested, expanded
	err      error
	errText  string
	// lent is the change buffer the first profile was decoded into, holding lentChanges:
	// given back (release) once the loop is done with the changes.
	lent        *[]config.Change
	lentChanges []config.Change
	// fetched is set once a profile was fetched. memo is what the first profile makes the
	// phone remember when it is the resync's last step and the resync changes nothing (nil:
	// nothing). hit, when set, is that profile taken from the job's memo: its changes (the
	// tail of changes) are read only if they are needed (see changesNow).
	fetched bool
	memo    *profileMemo
	hit     *memoHit
}

// release gives the change buffer and held bytes back to l, once nothing reads res.changes
// any more.
func (res *resyncResult) release(l *lender) {
	l.putChanges(res.lent, res.lentChanges)
	res.lent, res.lentChanges, res.changes = nil, nil, nil
	res.hit.release(l)
	res.hit = nil
}

// hasChanges reports whether the resync has changes to apply.
func (res *resyncResult) hasChanges() bool { return len(res.changes) > 0 || res.hit != nil }

// changesNow returns every change of the resync, reading the profile taken from the memo
// if there is one: the loop asks only when the configuration moved under the resync.
func (res *resyncResult) changesNow(l *lender) ([]config.Change, error) {
	if res.hit == nil {
		return res.changes, nil
	}
	ch, err := res.hit.read()
	res.hit.release(l)
	res.hit = nil
	if err != nil {
		return nil, err
	}
	res.changes = append(res.changes, ch...)
	return res.changes, nil
}

// settle is called before a step that follows the first profile: the memo no longer stands
// for the resync, and a profile taken from it is read for its changes.
func (j *resyncJob) settle(res *resyncResult) error {
	res.memo = nil
	_, err := res.changesNow(j.lend)
	return err
}

// run evaluates Profile_Rule, _B, _C and _D in order; the first failure stops the sequence
// (SPA-BEHAVIOUR §2.3). A one-off URL replaces the sequence (§5.4).
func (j *resyncJob) run(ctx context.Context) *resyncResult {
	res := &resyncResult{base: j.snap}
	work := j.snap
	var err error
	if j.url != "" {
		work, err = j.fetchApply(ctx, res, work, j.url, j.requester, provisioning.Options{})
	} else {
		for _, name := range config.ProfileRules() {
			if work, err = j.rule(ctx, res, work, name); err != nil {
				break
			}
		}
	}
	res.next = work
	vars := j.vars
	if err != nil {
		res.err, res.errText = err, errText(err)
		vars.ERR = res.errText
		j.sendLog(ctx, config.LogResyncFailureMsg, vars, work)
	} else {
		vars.ERR = ""
		j.sendLog(ctx, config.LogResyncSuccessMsg, vars, work)
	}
	return res
}

// rule runs one Profile_Rule*: select an alternative, run its assignments, fetch and apply
// its URL (SPA-BEHAVIOUR §2.1).
func (j *resyncJob) rule(ctx context.Context, res *resyncResult, work *config.Snapshot, name string) (*config.Snapshot, error) {
	text := work.Get(name)
	rule, err := j.rules.parseRule(text, provisioning.ProfileRule)
	if err != nil {
		return work, withText(fmt.Sprintf("%s: %v", name, err), err)
	}
	if rule.Empty() {
		return work, nil
	}
	j.fillVars(work)
	alt, ok, err := rule.Select(j.vars)
	if err != nil {
		return work, withText(fmt.Sprintf("%s: %v", name, err), err)
	}
	if !ok {
		return work, nil // no alternative selected: the rule is skipped
	}
	if len(alt.Assign) > 0 {
		if err := j.settle(res); err != nil {
			return work, err
		}
		changes := make([]config.Change, 0, len(alt.Assign))
		for _, a := range alt.Assign {
			changes = append(changes, config.Set(config.AssignedName(a.Name), provisioning.Expand(a.Value, j.vars)))
		}
		next, _, err := work.Apply(changes, config.ApplyOptions{})
		if err != nil {
			return work, withText(fmt.Sprintf("%s: assignment: %v", name, err), err)
		}
		work = next
		res.changes = append(res.changes, changes...)
		j.fillVars(work)
	}
	if alt.URL == "" {
		return work, nil // assignments only: success (§2.1)
	}
	return j.fetchApply(ctx, res, work, alt.ExpandURL(j.vars), j.tftp, alt.Options.Expand(j.vars))
}

// fillVars fills the job's configuration-derived macros from work, unless they are work's.
func (j *resyncJob) fillVars(work *config.Snapshot) {
	if j.varsFrom != work {
		fillConfigVars(j.vars, work)
		j.varsFrom = work
	}
}

// fetchApply fetches one profile, decodes it and applies it to work: a profile that cannot be
// read changes nothing; in one that can, values their parameters cannot take are skipped
// and logged, and the rest applies (DECISIONS 8).
func (j *resyncJob) fetchApply(ctx context.Context, res *resyncResult, work *config.Snapshot, raw, defaultHost string, opts provisioning.Options) (*config.Snapshot, error) {
	first := !res.fetched
	if !first {
		if err := j.settle(res); err != nil {
			return work, err
		}
	}
	res.fetched = true
	u, err := provisioning.ParseURL(raw, defaultHost)
	if err != nil {
		return work, withText(err.Error(), err)
	}
	j.vars.URL = u
	j.vars.SERVIP = resolve(ctx, u.Host)
	res.url = u.String()
	j.sendLog(ctx, config.LogResyncRequestMsg, j.vars, work)
	if ce := j.log.Check(zap.DebugLevel, "resync request"); ce != nil { // no fields built when off
		ce.Write(zap.String("url", res.url), zap.Int("prvst", j.vars.PRVST))
	}
	j.emit(EventResyncRequest, map[string]any{"url": res.url, "prvst": j.vars.PRVST})

	req := fetchRequest{URL: u, User: opts.UID, Password: opts.Pwd}
	if opts.Post != "" {
		if i, ok := provisioning.GPPIndex(opts.Post); ok {
			req.Body = []byte(provisioning.Expand(j.vars.GPP[i], j.vars))
		}
	}
	// The body's buffer is lent when the body comes, not for the wait on the server: at
	// 3,000 resyncs a second, buffers taken with the request were 38 MB of a fleet's live
	// heap (2,400 of them, in flight and pooled), at load 10.
	var rb *resyncBuffer
	if j.lend != nil {
		req.Buffer = func(int64) []byte {
			if rb == nil {
				rb = j.lend.body()
			}
			return rb.b
		}
	}
	got, err := j.fetch.fetch(ctx, req)
	// Nothing the decode returns holds the body's bytes: the buffer goes back when it ends,
	// before the profile is applied.
	giveBack := func() {
		j.lend.putBody(rb, got.body)
		rb, got.body = nil, nil
	}
	defer giveBack()
	if got.serverIP != "" {
		j.vars.SERVIP = got.serverIP
	}
	if got.url != "" {
		// The log, the event, last_url and the Log_* messages' $SCHEME, $SERVIP, $PORT and
		// $PATH name what was fetched, after redirects.
		j.log.Debug("resync redirected", zap.String("url", res.url), zap.String("to", got.url))
		res.url = got.url
		if fu, err := provisioning.ParseURL(got.url, ""); err == nil {
			j.vars.URL = fu
		}
	}
	body := got.body
	if err != nil {
		if isNotFound(err) && !work.Bool(config.ResyncFailsOnFNF) {
			j.log.Info("profile not found, counted as success", zap.String("url", res.url), zap.String("reason", "Resync_Fails_On_FNF is No"))
			return work, nil
		}
		return work, err
	}
	in := memoInput{snap: work, key: opts.Key, hasKey: opts.HasKey, acceptSHA256: j.acceptSHA256}
	var aliases []provisioning.Alias
	if opts.Alias != "" {
		if i, ok := provisioning.GPPIndex(opts.Alias); ok {
			in.alias, in.hasAlias = provisioning.Expand(j.vars.GPP[i], j.vars), true
			if aliases, err = provisioning.ParseAliasMap(in.alias); err != nil {
				return work, withText("alias map: "+err.Error(), err)
			}
		}
	}
	var cb *[]config.Change
	ropts := provisioning.ReadOptions{
		Key: opts.Key, HasKey: opts.HasKey, Aliases: aliases, AcceptSHA256: j.acceptSHA256, Base: work,
	}
	var sum uint64
	seed := j.seed
	if j.memo != nil {
		seed = j.memo.seed // the memo's hash is keyed by its own (made at an earlier boot)
	}
	if first {
		sum = maphash.Bytes(seed, body)
		if m := j.memo; m.matches(in, body, sum) {
			// The bytes this configuration took last time, read the same way: the same
			// outcome, which changed nothing (see profileMemo).
			res.memo = m
			res.unknown = append(res.unknown, m.unknown...)
			if m.changes > 0 {
				res.hit = &memoHit{memo: m, body: body, rb: rb, opts: ropts}
				rb, got.body = nil, nil // held by the hit, not given back here
			}
			return work, nil
		}
	}
	if res.lent == nil { // the first profile of the resync (_B, _C, _D take their own)
		if cb = j.lend.changeBuffer(); cb != nil {
			ropts.Changes = *cb
		}
	}
	prof, _, err := provisioning.ReadProfile(work.Catalog(), body, ropts)
	giveBack()
	if err != nil {
		j.lend.putChanges(cb, nil)
		return work, withText(provisioning.ReadErrText(err), err)
	}
	if cb != nil {
		res.lent, res.lentChanges = cb, prof.Changes
	}
	if w := prof.Encoding.Warning; w != "" {
		j.log.Warn("profile encoding", zap.String("url", res.url), zap.String("warning", w), zap.String("read_as", prof.Encoding.Used))
		res.warnings = append(res.warnings, w)
	}
	// Values their parameters cannot take are skipped, the rest applies: each checked once.
	next, _, changes, skipped, err := work.ApplyValid(prof.Changes, config.ApplyOptions{})
	logSkipped(j.log, "resync", res.url, skipped)
	res.skipped.add(skipped)
	if err != nil {
		return work, withText("invalid profile: "+err.Error(), err)
	}
	if res.changes == nil {
		res.changes = changes // the profile's own: not copied (a 10 KB profile's are 20 KB)
	} else {
		res.changes = append(res.changes, changes...)
	}
	if first {
		res.memo = newMemo(seed, sum, len(body), in, len(changes), prof.Unknown, len(skipped), prof.Encoding.Warning)
	}
	res.unknown = append(res.unknown, prof.Unknown...)
	return next, nil
}

// sendLog sends one of the Log_* messages, as the configuration being applied words it.
func (j *resyncJob) sendLog(ctx context.Context, param string, vars *provisioning.Vars, work *config.Snapshot) {
	j.syslog.send(ctx, work.Get(param), vars)
}

// resolve returns the first address of host ($SERVIP), or host itself.
func resolve(ctx context.Context, host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return host
	}
	return addrs[0]
}
