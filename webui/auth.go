package webui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
	"go.uber.org/zap"

	"github.com/spa900/spa900/phone"
	"github.com/spa900/spa900/provisioning/config"
)

// nonceLifetime is how long a Digest nonce is accepted. A client that presents an older one
// with otherwise right credentials is challenged again with stale=true, and browsers retry
// without asking the user (RFC 7616 §3.3).
const nonceLifetime = 5 * time.Minute

// authenticate returns the account the request is made as, or writes the 401 challenge (or
// 503 while the phone boots) and returns false. need is the account a page requires:
// AccountAdmin for /admin/... and the API, AccountUser for the user pages.
//
// SPA-BEHAVIOUR §5.2, DECISIONS 16: the accounts have fixed names, "admin" (Admin_Passwd)
// and "user" (User_Password); a password is asked only when it is set, so with no admin
// password the admin pages are open, and the user pages are open while User_Password is
// empty. The admin may open the user pages too. Both HTTP Digest (RFC 7616, MD5, qop=auth)
// and Basic credentials are accepted; wrong ones get the challenge again.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request, need Account) (Account, bool) {
	cfg := h.unit.Config() // the status's Config, read without building a status
	if cfg == nil {
		writeError(w, r, errorStatus(phone.ErrBooting), phone.ErrBooting.Error())
		return 0, false
	}
	adminPw := cfg.Get(config.AdminPasswd)
	userPw := cfg.Get(config.UserPassword)
	realm := authRealm(h.unit.Model())

	// Who may answer, with which password.
	type cand struct {
		acct Account
		pw   string
	}
	cands := []cand{{AccountAdmin, adminPw}}
	if need == AccountUser {
		cands = append(cands, cand{AccountUser, userPw})
	}

	authz := r.Header.Get("Authorization")
	if authz != "" {
		client := clientKey(r.RemoteAddr)
		if wait := h.logins.blocked(client); wait > 0 {
			h.refusal(&h.loginThrottled, msgLoginThrottled).note(zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path),
				zap.Duration("retry_in", wait.Round(time.Second)))
			w.Header().Set("Retry-After", retryAfter(wait))
			writeError(w, r, http.StatusTooManyRequests, "too many failed logins from this address; try again in "+retryAfter(wait)+" s")
			return 0, false
		}
		name, verdict := h.checkCredentials(r, authz, realm, func(name string) (string, bool) {
			for _, c := range cands {
				if c.acct.String() == name {
					return c.pw, true
				}
			}
			return "", false
		})
		switch verdict {
		case credOK:
			h.logins.succeeded(client)
			if name == AccountAdmin.String() {
				return AccountAdmin, true
			}
			return AccountUser, true
		case credStale:
			// Right credentials on an old nonce: the browser retries on a new one, without
			// asking the user (RFC 7616 §3.3). Not a failure.
		case credReplay:
			h.refusal(&h.loginRefused, msgLoginRefused).note(zap.String("account", safeName(name)), zap.String("remote", r.RemoteAddr),
				zap.String("path", r.URL.Path), zap.String("reason", "digest nonce count used before (replay)"))
		default:
			wait := h.logins.failed(client)
			fields := []zap.Field{zap.String("account", safeName(name)), zap.String("remote", r.RemoteAddr),
				zap.String("path", r.URL.Path), zap.String("reason", "wrong credentials")}
			if wait > 0 {
				fields = append(fields, zap.Duration("shut_out_for", wait))
			}
			h.refusal(&h.loginRefused, msgLoginRefused).note(fields...)
		}
		h.challenge(w, r, realm, verdict == credStale || verdict == credReplay)
		return 0, false
	}

	// No credentials: open when the password that guards this level is empty.
	switch {
	case need == AccountAdmin && adminPw == "":
		return AccountAdmin, true
	case need == AccountUser && userPw == "":
		return AccountUser, true
	}
	h.challenge(w, r, realm, false)
	return 0, false
}

// authRealm is the realm of the challenges: the product name, as the browser prompt shows it.
func authRealm(model string) string {
	return "Linksys " + model
}

// safeName keeps a user name fit for a log line: the two account names, or "other".
func safeName(name string) string {
	if name == AccountAdmin.String() || name == AccountUser.String() || name == "" {
		return name
	}
	return "other"
}

// challenge writes the 401 with a Digest and a Basic challenge (DECISIONS 16).
func (h *handler) challenge(w http.ResponseWriter, r *http.Request, realm string, stale bool) {
	c := digest.Challenge{
		Realm:     realm,
		Nonce:     h.newNonce(time.Now()),
		Algorithm: "MD5",
		QOP:       []string{"auth"},
		Stale:     stale,
	}
	w.Header().Add("WWW-Authenticate", c.String())
	w.Header().Add("WWW-Authenticate", `Basic realm="`+strings.ReplaceAll(realm, `"`, "")+`"`)
	writeError(w, r, http.StatusUnauthorized, "authentication required")
}

// credVerdict is what checkCredentials found.
type credVerdict int

const (
	credWrong  credVerdict = iota // wrong or malformed credentials
	credOK                        // right
	credStale                     // right but for an expired, or forgotten, nonce
	credReplay                    // right, on a nonce count used before: a captured header
)

// checkCredentials checks an Authorization header against the accounts password knows. It
// returns the user name presented and the verdict.
func (h *handler) checkCredentials(r *http.Request, authz, realm string, password func(name string) (string, bool)) (string, credVerdict) {
	if user, pass, isBasic := r.BasicAuth(); isBasic {
		want, known := password(user)
		if !known || !constantEqual(pass, want) {
			return user, credWrong
		}
		return user, credOK
	}
	if !digest.IsDigest(authz) {
		return "", credWrong
	}
	cred, err := digest.ParseCredentials(authz)
	if err != nil {
		return "", credWrong
	}
	want, known := password(cred.Username)
	if !known || cred.Userhash || cred.Realm != realm || (cred.URI != r.RequestURI && cred.URI != r.URL.RequestURI()) {
		return cred.Username, credWrong
	}
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
	default:
		return cred.Username, credWrong
	}
	chal := &digest.Challenge{Realm: realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	switch cred.QOP {
	case "auth":
		chal.QOP = []string{"auth"}
	case "": // RFC 2069 clients
	default:
		return cred.Username, credWrong
	}
	exp, err := digest.Digest(chal, digest.Options{
		Method: r.Method, URI: cred.URI, Username: cred.Username, Password: want,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || !constantEqual(strings.ToLower(cred.Response), exp.Response) {
		return cred.Username, credWrong
	}
	now := time.Now()
	issued, valid, fresh := h.checkNonce(cred.Nonce, now)
	switch {
	case !valid:
		return cred.Username, credWrong
	case !fresh:
		return cred.Username, credStale
	}
	nc := 1 // RFC 2069: no count, so a nonce serves one request
	if cred.QOP != "" {
		nc = cred.Nc
	}
	switch h.nonces.use(cred.Nonce, issued, nc) {
	case nonceForgotten:
		return cred.Username, credStale
	case nonceReplayed:
		return cred.Username, credReplay
	}
	return cred.Username, credOK
}

// constantEqual compares two secrets in constant time (for equal lengths; the length of a
// password is not hidden, as with any comparison that must end).
func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// newNonce makes a Digest nonce: the issue time and an HMAC of it under the handler's
// random key, so that nonces cannot be forged, need no table, and expire.
func (h *handler) newNonce(at time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixNano()))
	copy(b[8:], h.nonceMAC(b[:8]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce reports whether a nonce was made by this handler, when, and whether it is still
// within its lifetime at now.
func (h *handler) checkNonce(nonce string, now time.Time) (issued time.Time, valid, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 8+16 {
		return time.Time{}, false, false
	}
	if !hmac.Equal(b[8:], h.nonceMAC(b[:8])) {
		return time.Time{}, false, false
	}
	issued = time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	age := now.Sub(issued)
	return issued, true, age >= -time.Minute && age <= nonceLifetime
}

// Digest replay (issue 9 item 7: a captured Digest header was accepted again and again for
// the nonce's five minutes; on /admin/reboot it repeated the reboot). Every nonce in use has
// the counts (nc) it was used with, as an anti-replay window of nonceWindow counts below the
// highest seen: a count is accepted once, in any order within the window (a browser's
// parallel requests may arrive out of order); one seen before, or below the window, is a
// replay, answered with a new challenge marked stale=true, as an expired nonce is (a client
// that holds the password retries at once; one that replays a captured header cannot). The
// table is bounded (maxNonces): when full, the nonce issued first is forgotten, and so is
// every nonce issued no later than the forgotten ones (answered stale=true), so that
// forgetting never makes a nonce usable again. RFC 7616 §3.3, §5.7.
const (
	maxNonces   = 512
	nonceWindow = 64
)

// nonceUse is what nonceTable.use found.
type nonceUse int

const (
	nonceFresh     nonceUse = iota // a count not used before: accept
	nonceReplayed                  // a count used before, or below the window
	nonceForgotten                 // the nonce is older than what the table remembers
)

// nonceTable remembers the counts each nonce was used with.
type nonceTable struct {
	mu        sync.Mutex
	m         map[string]*nonceCounts // guarded by mu
	forgotten time.Time               // guarded by mu: nonces issued up to then are forgotten
}

// nonceCounts are the counts seen of one nonce: the highest, and a bit for each of the
// nonceWindow counts below it (bit 0: the highest itself).
type nonceCounts struct {
	issued time.Time
	high   int
	seen   uint64
}

// newNonceTable returns an empty table; its map is made at the first nonce (most phones of a
// fleet never see one).
func newNonceTable() *nonceTable { return &nonceTable{} }

// use records count nc of nonce, issued at issued, and says whether it may be accepted.
func (t *nonceTable) use(nonce string, issued time.Time, nc int) nonceUse {
	t.mu.Lock()
	defer t.mu.Unlock()
	if nc <= 0 {
		return nonceReplayed
	}
	c := t.m[nonce]
	if c == nil {
		if !issued.After(t.forgotten) {
			return nonceForgotten
		}
		if len(t.m) >= maxNonces {
			t.forgetOldestLocked()
		}
		if t.m == nil {
			t.m = map[string]*nonceCounts{}
		}
		t.m[nonce] = &nonceCounts{issued: issued, high: nc, seen: 1}
		return nonceFresh
	}
	switch d := c.high - nc; {
	case d < 0: // a new highest count
		if -d >= nonceWindow {
			c.seen = 0
		} else {
			c.seen <<= uint(-d)
		}
		c.seen |= 1
		c.high = nc
	case d >= nonceWindow || c.seen&(1<<uint(d)) != 0:
		return nonceReplayed
	default:
		c.seen |= 1 << uint(d)
	}
	return nonceFresh
}

// forgetOldestLocked forgets the nonces issued first, expired ones included.
func (t *nonceTable) forgetOldestLocked() {
	var oldest string
	var at time.Time
	for n, c := range t.m {
		if at.IsZero() || c.issued.Before(at) {
			oldest, at = n, c.issued
		}
	}
	delete(t.m, oldest)
	if at.After(t.forgotten) {
		t.forgotten = at
	}
	// Expired nonces are refused before they reach the table; let them go too.
	limit := time.Now().Add(-nonceLifetime - time.Minute)
	for n, c := range t.m {
		if c.issued.Before(limit) {
			delete(t.m, n)
			if c.issued.After(t.forgotten) {
				t.forgotten = c.issued
			}
		}
	}
}

// size returns the count of nonces remembered.
func (t *nonceTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

func (h *handler) nonceMAC(ts []byte) []byte {
	m := hmac.New(sha256.New, h.nonceKey[:])
	m.Write(ts)
	return m.Sum(nil)[:16]
}
