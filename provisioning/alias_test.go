package provisioning

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseAliasMap(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []Alias
	}{
		{
			name: "manual example",
			text: "/auth-secret = /flat-profile/Password_1_ ;",
			want: []Alias{{Path: []string{"auth-secret"}, Param: "Password_1_"}},
		},
		{
			name: "several entries white space free",
			text: " /account/user=/flat-profile/User_ID_1_;\n\t/account/auth-secret = /flat-profile/Password_1_ ; /line2/auth-secret=/flat-profile/Password_2_",
			want: []Alias{
				{Path: []string{"account", "user"}, Param: "User_ID_1_"},
				{Path: []string{"account", "auth-secret"}, Param: "Password_1_"},
				{Path: []string{"line2", "auth-secret"}, Param: "Password_2_"},
			},
		},
		{name: "empty", text: "", want: nil},
		{name: "blank", text: "  \n ", want: nil},
		{name: "trailing semicolons", text: "/a = /flat-profile/B;;", want: []Alias{{Path: []string{"a"}, Param: "B"}}},
		{name: "without leading slash", text: "top/a = /flat-profile/B", want: []Alias{{Path: []string{"top", "a"}, Param: "B"}}},
		{name: "thirty entries", text: strings.Repeat("/a = /flat-profile/B ;", 30), want: func() []Alias {
			var out []Alias
			for range 30 {
				out = append(out, Alias{Path: []string{"a"}, Param: "B"})
			}
			return out
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAliasMap(tt.text)
			if err != nil {
				t.Fatalf("ParseAliasMap(%q): %v", tt.text, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAliasMap(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseAliasMapErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{name: "too many", text: strings.Repeat("/a = /flat-profile/B ;", 31), want: "alias map: more than 30 entries"},
		{name: "no equals", text: "/a /flat-profile/B", want: `alias map: entry 1: expected "/element/path = /flat-profile/Param_Name"`},
		{name: "wrong target root", text: "/a = /profile/B", want: `alias map: entry 1: right-hand side must be "/flat-profile/Param_Name"`},
		{name: "target too deep", text: "/a = /flat-profile/x/B", want: `alias map: entry 1: right-hand side must be "/flat-profile/Param_Name"`},
		{name: "target without slash", text: "/a = flat-profile/B", want: `alias map: entry 1: right-hand side must be "/flat-profile/Param_Name"`},
		{name: "empty left", text: "= /flat-profile/B", want: "alias map: entry 1: left-hand side: empty path"},
		{name: "double slash", text: "/a//b = /flat-profile/B", want: "alias map: entry 1: left-hand side: empty element name in path"},
		{name: "bad element name", text: "/a b = /flat-profile/B", want: `alias map: entry 1: left-hand side: "a b" is not an XML element name`},
		{name: "second entry", text: "/a = /flat-profile/B ; /c = ", want: "alias map: entry 2: right-hand side: empty path"},
		{name: "empty entry in the middle", text: "/a = /flat-profile/B ;; /c = /flat-profile/D", want: `alias map: entry 2: empty entry (";;")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAliasMap(tt.text)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseAliasMap(%q) error = %v, want ErrSyntax", tt.text, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

func TestMatchAlias(t *testing.T) {
	aliases, err := ParseAliasMap("/auth-secret = /flat-profile/Password_1_ ; /line2/auth-secret = /flat-profile/Password_2_ ; /cfg/account/user = /flat-profile/User_ID_1_ ; /Dup = /flat-profile/First ; /Dup = /flat-profile/Second")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   []string
		want   string
		wantOK bool
	}{
		{name: "suffix anywhere", path: []string{"top", "line1", "auth-secret"}, want: "Password_1_", wantOK: true},
		{name: "longest alias wins", path: []string{"top", "line2", "auth-secret"}, want: "Password_2_", wantOK: true},
		{name: "exact path", path: []string{"auth-secret"}, want: "Password_1_", wantOK: true},
		{name: "full path", path: []string{"cfg", "account", "user"}, want: "User_ID_1_", wantOK: true},
		{name: "deeper root", path: []string{"x", "cfg", "account", "user"}, want: "User_ID_1_", wantOK: true},
		{name: "partial path does not match", path: []string{"account", "user"}, wantOK: false},
		{name: "case-sensitive", path: []string{"Auth-Secret"}, wantOK: false},
		{name: "not the last element", path: []string{"auth-secret", "value"}, wantOK: false},
		{name: "earliest of equal length", path: []string{"Dup"}, want: "First", wantOK: true},
		{name: "empty path", path: nil, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := MatchAlias(aliases, tt.path)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("MatchAlias(%v) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
	if _, ok := MatchAlias(nil, []string{"a"}); ok {
		t.Error("MatchAlias with no aliases matched")
	}
}
