package provisioning

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		defaultHost string
		want        URL
		wantString  string
	}{
		{
			name: "factory default rule over option 66", raw: "/spa942.cfg", defaultHost: "10.0.0.5",
			want: URL{Scheme: "tftp", Host: "10.0.0.5", Port: 69, Path: "/spa942.cfg"}, wantString: "tftp://10.0.0.5:69/spa942.cfg",
		},
		{
			name: "option 66 with a port", raw: "/000e08012345.cfg", defaultHost: "tftp.lan:6969",
			want: URL{Scheme: "tftp", Host: "tftp.lan", Port: 6969, Path: "/000e08012345.cfg"}, wantString: "tftp://tftp.lan:6969/000e08012345.cfg",
		},
		{
			name: "server without scheme is tftp", raw: "192.168.1.130/profiles/init.cfg",
			want: URL{Scheme: "tftp", Host: "192.168.1.130", Port: 69, Path: "/profiles/init.cfg"}, wantString: "tftp://192.168.1.130:69/profiles/init.cfg",
		},
		{
			name: "http with port", raw: "http://neptune.speak.net:8080/prov/dir/file.cfg",
			want: URL{Scheme: "http", Host: "neptune.speak.net", Port: 8080, Path: "/prov/dir/file.cfg"}, wantString: "http://neptune.speak.net:8080/prov/dir/file.cfg",
		},
		{
			name: "http default port", raw: "http://remote.server.com/Linksys/000e08012345.cfg",
			want: URL{Scheme: "http", Host: "remote.server.com", Port: 80, Path: "/Linksys/000e08012345.cfg"}, wantString: "http://remote.server.com:80/Linksys/000e08012345.cfg",
		},
		{
			name: "https with query", raw: "https://secure.me.com/profile?Linksys000E08012345",
			want: URL{Scheme: "https", Host: "secure.me.com", Port: 443, Path: "/profile?Linksys000E08012345"}, wantString: "https://secure.me.com:443/profile?Linksys000E08012345",
		},
		{
			name: "empty query kept", raw: "http://p.tel.com/lost-reg?",
			want: URL{Scheme: "http", Host: "p.tel.com", Port: 80, Path: "/lost-reg?"}, wantString: "http://p.tel.com:80/lost-reg?",
		},
		{
			name: "scheme case", raw: "HTTP://Host/x",
			want: URL{Scheme: "http", Host: "Host", Port: 80, Path: "/x"}, wantString: "http://Host:80/x",
		},
		{
			name: "explicit tftp", raw: "tftp://tftp.lan/spa942.cfg", defaultHost: "ignored",
			want: URL{Scheme: "tftp", Host: "tftp.lan", Port: 69, Path: "/spa942.cfg"}, wantString: "tftp://tftp.lan:69/spa942.cfg",
		},
		{
			name: "http without server uses default host", raw: "http:///x.cfg", defaultHost: "192.0.2.1",
			want: URL{Scheme: "http", Host: "192.0.2.1", Port: 80, Path: "/x.cfg"}, wantString: "http://192.0.2.1:80/x.cfg",
		},
		{
			name: "IPv6", raw: "http://[2001:db8::1]:8080/p",
			want: URL{Scheme: "http", Host: "2001:db8::1", Port: 8080, Path: "/p"}, wantString: "http://[2001:db8::1]:8080/p",
		},
		{
			name: "IPv6 default port", raw: "https://[::1]/p",
			want: URL{Scheme: "https", Host: "::1", Port: 443, Path: "/p"}, wantString: "https://[::1]:443/p",
		},
		{
			name: "root path", raw: "http://h/",
			want: URL{Scheme: "http", Host: "h", Port: 80, Path: "/"}, wantString: "http://h:80/",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.raw, tt.defaultHost)
			if err != nil {
				t.Fatalf("ParseURL(%q, %q): %v", tt.raw, tt.defaultHost, err)
			}
			if *got != tt.want {
				t.Errorf("ParseURL(%q, %q) = %+v, want %+v", tt.raw, tt.defaultHost, *got, tt.want)
			}
			if s := got.String(); s != tt.wantString {
				t.Errorf("String() = %q, want %q", s, tt.wantString)
			}
		})
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name        string
		raw         string
		defaultHost string
		want        error
		wantText    string
	}{
		{name: "no server and no option 66", raw: "/spa942.cfg", want: ErrNoServer, wantText: "no server in the URL and no TFTP server (option 66) known"},
		{name: "http no server no default", raw: "http:///x", want: ErrNoServer},
		{name: "empty", raw: "", want: ErrSyntax, wantText: "url: empty URL"},
		{name: "relative path", raw: "spa942.cfg", want: ErrSyntax, wantText: "url: no path"},
		{name: "no path after host", raw: "http://host", want: ErrSyntax},
		{name: "query before path", raw: "http://host?x=/y", want: ErrSyntax},
		{name: "ftp scheme", raw: "ftp://host/x", want: ErrSyntax, wantText: `url: unsupported scheme "ftp" (want tftp, http or https)`},
		{name: "userinfo", raw: "http://user:secret@host/x", want: ErrSyntax},
		{name: "space", raw: "http://host/a b", want: ErrSyntax},
		{name: "bad port", raw: "http://host:http/x", want: ErrSyntax},
		{name: "port zero", raw: "http://host:0/x", want: ErrSyntax},
		{name: "port too big", raw: "http://host:65536/x", want: ErrSyntax},
		{name: "empty port", raw: "http://host:/x", want: ErrSyntax},
		{name: "bare IPv6", raw: "http://2001:db8::1/x", want: ErrSyntax},
		{name: "unclosed IPv6", raw: "http://[::1/x", want: ErrSyntax},
		{name: "bad IPv6", raw: "http://[zz]/x", want: ErrSyntax},
		{name: "empty host with port", raw: "http://:80/x", want: ErrSyntax},
		{name: "bad character in host", raw: "http://a|b/x", want: ErrSyntax},
		{name: "bad default host", raw: "/x", defaultHost: "a b", want: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.raw, tt.defaultHost)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseURL(%q, %q) = %+v, %v; want %v", tt.raw, tt.defaultHost, u, err, tt.want)
			}
			if tt.wantText != "" && !strings.HasPrefix(err.Error(), tt.wantText) {
				t.Errorf("error %q, want it to start with %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q leaks the password", err)
			}
		})
	}
}

func TestDefaultPort(t *testing.T) {
	for scheme, want := range map[string]int{"tftp": 69, "http": 80, "https": 443, "ftp": 0} {
		if got := DefaultPort(scheme); got != want {
			t.Errorf("DefaultPort(%q) = %d, want %d", scheme, got, want)
		}
	}
}
