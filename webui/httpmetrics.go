package webui

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// RouteClass groups the URLs of a phone's web server for counting: a bounded label set for
// metrics, whatever paths clients ask for.
type RouteClass int

// Route classes; RouteClassPage also holds the paths that answer 404.
const (
	RouteClassPage    RouteClass = iota // the device's pages and form posts
	RouteClassAction                    // /admin/reboot, /admin/resync, /admin/upgrade, /upgrade
	RouteClassExport                    // /admin/spacfg.xml
	RouteClassAPI                       // /api/v1/ except the event stream
	RouteClassEvents                    // /api/v1/events
	RouteClassHealth                    // /healthz
	RouteClassMetrics                   // /metrics
	RouteClassStatic                    // the style sheet
	numRouteClasses
)

var routeClassNames = [numRouteClasses]string{"page", "action", "export", "api", "events", "health", "metrics", "static"}

// String returns the class's label value: page, action, export, api, events, health,
// metrics, static.
func (c RouteClass) String() string {
	if c < 0 || c >= numRouteClasses {
		return "unknown"
	}
	return routeClassNames[c]
}

// classify returns the route class of a request path.
func classify(path string) RouteClass {
	switch {
	case path == HealthPath, path == ReadyPath:
		return RouteClassHealth
	case path == "/metrics":
		return RouteClassMetrics
	case path == "/api/v1/events":
		return RouteClassEvents
	case strings.HasPrefix(path, "/api/"):
		return RouteClassAPI
	case path == "/admin/spacfg.xml":
		return RouteClassExport
	case path == "/admin/reboot", path == "/admin/resync", path == "/admin/upgrade", path == "/upgrade":
		return RouteClassAction
	case path == stylePath:
		return RouteClassStatic
	}
	return RouteClassPage
}

// countedCodes are the status codes counted one by one; any other is counted as "other".
var countedCodes = [...]int{200, 204, 301, 302, 304, 400, 401, 403, 404, 405, 413, 415, 429, 500, 503}

const numCodes = len(countedCodes) + 1 // + other

func codeIndex(code int) int {
	for i, c := range countedCodes {
		if c == code {
			return i
		}
	}
	return len(countedCodes)
}

// HTTPCounters counts the requests of web servers by route class and status code. One value
// is shared by every server of a fleet (each count is one atomic add), and a metrics
// collector reads it at scrape time ([HTTPCounters.Each]). The zero value is ready to use;
// it is safe for concurrent use.
type HTTPCounters struct {
	n [numRouteClasses][numCodes]atomic.Uint64
}

// Each calls fn for every class and code counted at least once, with the code as a label
// value ("200", …, "other").
func (c *HTTPCounters) Each(fn func(class RouteClass, code string, n uint64)) {
	for cl := range c.n {
		for i := range c.n[cl] {
			v := c.n[cl][i].Load()
			if v == 0 {
				continue
			}
			code := "other"
			if i < len(countedCodes) {
				code = strconv.Itoa(countedCodes[i])
			}
			fn(RouteClass(cl), code, v)
		}
	}
}

func (c *HTTPCounters) add(class RouteClass, code int) { c.n[class][codeIndex(code)].Add(1) }

// countingWriter counts a request once, when its status is known: at the first WriteHeader
// or Write, or when the handler returns without writing (200). A stream is counted when it
// starts.
type countingWriter struct {
	http.ResponseWriter
	c       *HTTPCounters
	class   RouteClass
	counted bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.counted {
		w.counted = true
		w.c.add(w.class, code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	if !w.counted {
		w.counted = true
		w.c.add(w.class, http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes of the event stream).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *countingWriter) done() {
	if !w.counted {
		w.counted = true
		w.c.add(w.class, http.StatusOK)
	}
}
