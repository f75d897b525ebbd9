package webui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
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
	st := h.unit.Status()
	if st == nil || st.Config == nil {
		writeError(w, r, errorStatus(phone.ErrBooting), phone.ErrBooting.Error())
		return 0, false
	}
	adminPw := st.Config.Get(config.AdminPasswd)
	userPw := st.Config.Get(config.UserPassword)
	realm := authRealm(st)

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
		name, ok, stale := h.checkCredentials(r, authz, realm, func(name string) (string, bool) {
			for _, c := range cands {
				if c.acct.String() == name {
					return c.pw, true
				}
			}
			return "", false
		})
		if ok {
			if name == AccountAdmin.String() {
				return AccountAdmin, true
			}
			return AccountUser, true
		}
		if !stale {
			h.log.Info("login refused", zap.String("account", safeName(name)),
				zap.String("remote", r.RemoteAddr), zap.String("path", r.URL.Path),
				zap.String("reason", "wrong credentials"))
		}
		h.challenge(w, r, realm, stale)
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
func authRealm(st *phone.Status) string {
	return "Linksys " + st.Model
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

// checkCredentials checks an Authorization header against the accounts password knows.
// It returns the user name presented, whether the credentials are right, and whether they
// would have been right but for an expired nonce.
func (h *handler) checkCredentials(r *http.Request, authz, realm string, password func(name string) (string, bool)) (name string, ok, stale bool) {
	if user, pass, isBasic := r.BasicAuth(); isBasic {
		want, known := password(user)
		if !known {
			return user, false, false
		}
		return user, constantEqual(pass, want), false
	}
	if !digest.IsDigest(authz) {
		return "", false, false
	}
	cred, err := digest.ParseCredentials(authz)
	if err != nil {
		return "", false, false
	}
	want, known := password(cred.Username)
	if !known || cred.Userhash || cred.Realm != realm || (cred.URI != r.RequestURI && cred.URI != r.URL.RequestURI()) {
		return cred.Username, false, false
	}
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
	default:
		return cred.Username, false, false
	}
	chal := &digest.Challenge{Realm: realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm}
	switch cred.QOP {
	case "auth":
		chal.QOP = []string{"auth"}
	case "": // RFC 2069 clients
	default:
		return cred.Username, false, false
	}
	exp, err := digest.Digest(chal, digest.Options{
		Method: r.Method, URI: cred.URI, Username: cred.Username, Password: want,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || !constantEqual(strings.ToLower(cred.Response), exp.Response) {
		return cred.Username, false, false
	}
	valid, fresh := h.checkNonce(cred.Nonce, time.Now())
	if !valid {
		return cred.Username, false, false
	}
	if !fresh {
		return cred.Username, false, true
	}
	return cred.Username, true, false
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

// checkNonce reports whether a nonce was made by this handler, and whether it is still
// within its lifetime at now.
func (h *handler) checkNonce(nonce string, now time.Time) (valid, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 8+16 {
		return false, false
	}
	if !hmac.Equal(b[8:], h.nonceMAC(b[:8])) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	age := now.Sub(issued)
	return true, age >= -time.Minute && age <= nonceLifetime
}

func (h *handler) nonceMAC(ts []byte) []byte {
	m := hmac.New(sha256.New, h.nonceKey[:])
	m.Write(ts)
	return m.Sum(nil)[:16]
}
