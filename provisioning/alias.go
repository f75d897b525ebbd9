package provisioning

import (
	"fmt"
	"strings"
)

// MaxAliases is the largest number of entries of an --alias map (SPA-BEHAVIOUR §2.4).
const MaxAliases = 30

// Alias is one entry of an --alias map: XML elements whose path ends with Path are read as the
// parameter Param (SPA-BEHAVIOUR §2.4).
type Alias struct {
	// Path is the element path as written on the left-hand side, split at "/", e.g.
	// ["account", "auth-secret"] for "/account/auth-secret".
	Path []string
	// Param is the parameter name of the right-hand side, e.g. "Password_1_" for
	// "/flat-profile/Password_1_".
	Param string
}

// ParseAliasMap parses the macro-expanded content of the GPP parameter named by --alias:
// entries `/path/of/xml/element = /flat-profile/Param_Name ;`, the last ";" optional, white
// space free (SPA-BEHAVIOUR §2.4). Paths are made of element names separated by "/"; the
// leading "/" of the left-hand side is optional and means nothing more: every path matches as
// a suffix (see [MatchAlias]). The right-hand side must be /flat-profile/ and one name. At most
// [MaxAliases] entries; an empty map is allowed.
func ParseAliasMap(text string) ([]Alias, error) {
	var out []Alias
	entries := strings.Split(text, ";")
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			if i == len(entries)-1 || strings.TrimSpace(strings.Join(entries[i+1:], "")) == "" {
				break
			}
			return nil, aliasError(len(out)+1, "empty entry (\";;\")")
		}
		n := len(out) + 1
		if n > MaxAliases {
			return nil, &SyntaxError{What: "alias map", Msg: fmt.Sprintf("more than %d entries", MaxAliases)}
		}
		left, right, ok := strings.Cut(e, "=")
		if !ok {
			return nil, aliasError(n, `expected "/element/path = /flat-profile/Param_Name"`)
		}
		path, err := splitElementPath(strings.TrimSpace(left))
		if err != nil {
			return nil, aliasError(n, "left-hand side: "+err.Error())
		}
		target, err := splitElementPath(strings.TrimSpace(right))
		if err != nil {
			return nil, aliasError(n, "right-hand side: "+err.Error())
		}
		if len(target) != 2 || target[0] != "flat-profile" || !strings.HasPrefix(strings.TrimSpace(right), "/") {
			return nil, aliasError(n, `right-hand side must be "/flat-profile/Param_Name"`)
		}
		out = append(out, Alias{Path: path, Param: target[1]})
	}
	return out, nil
}

func aliasError(n int, msg string) error {
	return &SyntaxError{What: "alias map", Msg: fmt.Sprintf("entry %d: %s", n, msg)}
}

// splitElementPath splits "/a/b" (or "a/b") into element names.
func splitElementPath(s string) ([]string, error) {
	s = strings.TrimPrefix(s, "/")
	if s == "" {
		return nil, errorString("empty path")
	}
	parts := strings.Split(s, "/")
	for _, p := range parts {
		if !isXMLName(p) {
			if p == "" {
				return nil, errorString("empty element name in path")
			}
			return nil, fmt.Errorf("%q is not an XML element name", p)
		}
	}
	return parts, nil
}

// isXMLName reports whether s is an ASCII XML name (letters, digits, "_", "-", ".", ":"; not
// starting with a digit, "-" or ".").
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c) || c == '_' || c == ':':
		case i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// MatchAlias returns the parameter an XML element maps to. path is the element's path from
// the document root, outermost first (["top", "account", "auth-secret"]). An alias matches when
// its Path is a suffix of path, comparing names exactly (XML names are case-sensitive), so
// `/auth-secret = …` matches an auth-secret element anywhere. When several match, the longest
// alias path wins, then the earliest entry; so `/line2/auth-secret` beats `/auth-secret` for
// a /…/line2/auth-secret element whatever their order [inf].
func MatchAlias(aliases []Alias, path []string) (param string, ok bool) {
	best := -1
	for _, a := range aliases {
		if len(a.Path) == 0 || len(a.Path) > len(path) || len(a.Path) <= best {
			continue
		}
		tail := path[len(path)-len(a.Path):]
		match := true
		for i := range tail {
			if tail[i] != a.Path[i] {
				match = false
				break
			}
		}
		if match {
			best, param, ok = len(a.Path), a.Param, true
		}
	}
	return param, ok
}
