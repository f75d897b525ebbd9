package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// The agent challenges the requests it must not act on unauthenticated (control NOTIFYs,
// SPA-BEHAVIOUR §6; INVITEs with Auth_INVITE) with HTTP digest (RFC 2617, qop=auth, MD5 as
// the SPA of that era) against the extension's own credentials. Nonces are stateless: a time
// stamp signed with the agent's random key, valid for nonceLife; an older one is answered
// with stale=true so the sender retries at once.

const nonceLife = 5 * time.Minute

// key returns the agent's nonce key, made at the first call.
func (a *Agent) key() *[32]byte {
	if k := a.nonceKey.Load(); k != nil {
		return k
	}
	k := new([32]byte)
	rand.Read(k[:])
	if a.nonceKey.CompareAndSwap(nil, k) {
		return k
	}
	return a.nonceKey.Load()
}

// newNonce returns a signed nonce for now.
func (a *Agent) newNonce(now time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	mac := hmac.New(sha256.New, a.key()[:])
	mac.Write(b[:8])
	copy(b[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce reports whether nonce is one of the agent's (ok) and still fresh.
func (a *Agent) checkNonce(nonce string, now time.Time) (ok, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false, false
	}
	mac := hmac.New(sha256.New, a.key()[:])
	mac.Write(b[:8])
	if !hmac.Equal(b[8:], mac.Sum(nil)[:16]) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return true, now.Sub(issued) < nonceLife && !issued.After(now.Add(time.Second))
}

// authResult is what checking a request's credentials found.
type authResult uint8

const (
	authMissing authResult = iota // no (usable) Authorization: challenge
	authStale                     // the right answer to an old nonce: challenge, stale=true
	authWrong                     // credentials that do not match: challenge again
	authOK
)

// checkAuth verifies req's Authorization against the extension's credentials.
func (a *Agent) checkAuth(req *sipmsg.Request) authResult {
	h := req.GetHeader("Authorization")
	if h == nil {
		return authMissing
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return authMissing
	}
	if cred.Username != a.cfg.authUser() || cred.Realm != a.realm() {
		return authWrong
	}
	ok, fresh := a.checkNonce(cred.Nonce, time.Now())
	if !ok {
		return authMissing
	}
	chal := &digest.Challenge{Realm: cred.Realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5", "SHA-256":
	default:
		return authWrong
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: a.cfg.authUser(), Password: a.cfg.Password,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || !hmac.Equal([]byte(want.Response), []byte(cred.Response)) {
		return authWrong
	}
	if !fresh {
		return authStale
	}
	return authOK
}

// challenge answers req with 401 and a fresh challenge.
func (a *Agent) challenge(req *sipmsg.Request, tx sipmsg.ServerTransaction, stale bool) {
	chal := digest.Challenge{Realm: a.realm(), Nonce: a.newNonce(time.Now()), Algorithm: "MD5",
		QOP: []string{"auth"}, Stale: stale}
	a.respond(req, tx, sipmsg.StatusUnauthorized, "Unauthorized", sipmsg.NewHeader("WWW-Authenticate", chal.String()))
}
