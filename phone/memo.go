package phone

import (
	"hash/maphash"

	"github.com/spa900/spa900/provisioning"
	"github.com/spa900/spa900/provisioning/config"
)

// profileMemo remembers the last profile a phone's resync applied, when it was the resync's
// only step and its result is in force: its bytes (their hash and length), what it was read
// with, and that configuration (snap). A re-triggered or periodic resync fetches the same
// bytes again and again: when the configuration in force is still snap (the same snapshot)
// and the bytes and the options are the same, reading and applying them changes nothing, so
// the resync takes that outcome without reading them: applying a profile sets values and
// accesses, each normalized by its parameter alone, so applying it to what it made gives the
// same again, with the same valid changes, unknown names and skipped values (only profiles
// with none skipped and no encoding warning are remembered). Its events, logs, status and
// report are those of a decoded one; the bytes are held until the loop has applied the result, and read then if the
// configuration moved meanwhile (a web edit), or in the job if another profile of the same
// resync follows. The hash is keyed by a seed of the phone's own (hash/maphash): two
// different bodies of the same length agree with a chance of 2⁻⁶⁴.
//
// A memo is immutable once made: the loop keeps one (provState.memo) and gives it to the
// resync it starts.
type profileMemo struct {
	seed maphash.Seed
	hash uint64
	size int

	// snap is the configuration the profile was applied to, and what it made of it.
	snap *config.Snapshot
	// key, hasKey, alias and acceptSHA256 are what the profile was read with: the expanded
	// --key and --alias texts (hasAlias: the rule had an --alias), the SHA-256 acceptance.
	key, alias       string
	hasKey, hasAlias bool
	acceptSHA256     bool

	// changes is the number of changes the profile applied, unknown its unknown names (at
	// most maxNamesShown, cloned).
	changes int
	unknown []string
}

// memoInput is what a resync's first profile was read with, to compare with a memo.
type memoInput struct {
	snap             *config.Snapshot
	key, alias       string
	hasKey, hasAlias bool
	acceptSHA256     bool
}

// matches reports whether m is the memo of body read with in: for its snapshot, or one of
// the same values (the phone's configuration built again from its flash at a boot).
func (m *profileMemo) matches(in memoInput, body []byte, sum uint64) bool {
	if m == nil || m.size != len(body) || m.hash != sum || m.key != in.key || m.hasKey != in.hasKey ||
		m.alias != in.alias || m.hasAlias != in.hasAlias || m.acceptSHA256 != in.acceptSHA256 {
		return false
	}
	return m.snap == in.snap || (m.snap.Catalog() == in.snap.Catalog() && m.snap.Diff(in.snap).Empty())
}

// newMemo is the memo of a profile read with in, of the given hash, size and outcome; nil
// when the outcome is not one a memo stands for (values skipped, an encoding warning, more
// unknown names than are shown).
func newMemo(seed maphash.Seed, sum uint64, size int, in memoInput, changes int, unknown []string, skipped int, warning string) *profileMemo {
	if skipped > 0 || warning != "" || len(unknown) > maxNamesShown {
		return nil
	}
	return &profileMemo{
		seed: seed, hash: sum, size: size, snap: in.snap,
		key: in.key, alias: in.alias, hasKey: in.hasKey, hasAlias: in.hasAlias, acceptSHA256: in.acceptSHA256,
		changes: changes, unknown: firstNames(unknown),
	}
}

// memoHit is a resync's first profile taken from its memo: its bytes, held until its
// changes are known to be needed or not.
type memoHit struct {
	memo *profileMemo
	body []byte
	rb   *resyncBuffer // the lent buffer body is in (nil: none)
	opts provisioning.ReadOptions
}

// read reads the held profile as the resync would have: its valid changes for h.memo.snap.
func (h *memoHit) read() ([]config.Change, error) {
	work := h.memo.snap
	prof, _, err := provisioning.ReadProfile(work.Catalog(), h.body, h.opts)
	if err != nil {
		return nil, withText(provisioning.ReadErrText(err), err)
	}
	_, _, changes, _, err := work.ApplyValid(prof.Changes, config.ApplyOptions{})
	if err != nil {
		return nil, withText("invalid profile: "+err.Error(), err)
	}
	return changes, nil
}

// release gives the held bytes back to l.
func (h *memoHit) release(l *lender) {
	if h == nil {
		return
	}
	l.putBody(h.rb, h.body)
	h.rb, h.body = nil, nil
}
