package lab

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Fetch is one request the provisioning server answered.
type Fetch struct {
	Time      time.Time `json:"time"`
	Path      string    `json:"path"`
	MAC       string    `json:"mac,omitempty"` // the phone the path names, when it names one
	Remote    string    `json:"remote"`
	UserAgent string    `json:"user_agent"`
	Status    int       `json:"status"`
}

// fetchesKept bounds the fetches a ProvServer remembers.
const fetchesKept = 1024

// ProvServer is the lab's provisioning server: it serves each phone its profile at
// /spa<mac>.cfg (the MAC in lower-case hex, as the device's $MA expands it; upper case is
// served too), the path of the lab phones' Profile_Rule (http://host:port/spa$MA.cfg).
// Anything else is 404. It keeps the last fetches (and logs each at debug; a refused one at
// info). Safe for concurrent use.
type ProvServer struct {
	// Immutable after NewProvServer.
	byMAC map[string][]byte // lower-case MAC → profile
	log   *zap.Logger

	mu      sync.Mutex
	fetches []Fetch // guarded by mu; the newest last, at most fetchesKept
}

// NewProvServer returns the server of profiles.
func NewProvServer(profiles []Profile, log *zap.Logger) *ProvServer {
	if log == nil {
		log = zap.NewNop()
	}
	s := &ProvServer{byMAC: map[string][]byte{}, log: log.Named("prov")}
	for _, p := range profiles {
		s.byMAC[strings.ToLower(p.MAC)] = p.Data
	}
	return s
}

// ProfilePath is the path of the profile of the phone with mac (12 hex digits).
func ProfilePath(mac string) string { return "/spa" + strings.ToLower(mac) + ".cfg" }

// ServeHTTP serves a profile.
func (s *ProvServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f := Fetch{Time: time.Now(), Path: r.URL.Path, Remote: r.RemoteAddr, UserAgent: r.UserAgent()}
	if len(f.Path) > 256 {
		f.Path = f.Path[:256]
	}
	if len(f.UserAgent) > 256 {
		f.UserAgent = f.UserAgent[:256]
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/spa")
	mac, ok2 := strings.CutSuffix(name, ".cfg")
	data, found := s.byMAC[strings.ToLower(mac)]
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		f.Status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", f.Status)
	case !ok || !ok2 || !found:
		f.Status = http.StatusNotFound
		http.NotFound(w, r)
		s.log.Info("profile not found", zap.String("path", f.Path), zap.String("remote", f.Remote), zap.String("user_agent", f.UserAgent))
	default:
		f.Status, f.MAC = http.StatusOK, strings.ToUpper(mac)
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(data)
		s.log.Debug("profile served", zap.String("phone", f.MAC), zap.String("remote", f.Remote))
	}
	s.mu.Lock()
	s.fetches = append(s.fetches, f)
	if len(s.fetches) > fetchesKept {
		s.fetches = append(s.fetches[:0:0], s.fetches[len(s.fetches)-fetchesKept/2:]...)
	}
	s.mu.Unlock()
}

// Fetches returns the requests answered, oldest first (the last 512 to 1024 of them).
func (s *ProvServer) Fetches() []Fetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fetch(nil), s.fetches...)
}
