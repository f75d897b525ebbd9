package provisioning

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// openDir returns an import opener that reads files from dir.
func openDir(dir string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, filepath.Clean("/"+name)))
	}
}

func TestCompileSPCGolden(t *testing.T) {
	src := readTestdata(t, "spc/base.txt")
	got, err := CompileSPC(src, openDir(filepath.Join("testdata", "spc")))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "spc", "base.xml.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("CompileSPC(base.txt) =\n%s\nwant\n%s", got, want)
	}
	// The compiled profile is what DecodeProfile accepts; the source is not (DECISIONS 7).
	if _, err := DecodeProfile(got, "", false); err != nil {
		t.Errorf("DecodeProfile(compiled) = %v", err)
	}
	if _, err := DecodeProfile(src, "", false); !errors.Is(err, ErrCorruptFile) {
		t.Errorf("DecodeProfile(source) = %v, want ErrCorruptFile", err)
	}
}

func TestCompileSPC(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the elements, one per line, without the <flat-profile> wrapper
	}{
		{name: "read-write", src: `User_Password ! "" ;`, want: `<User_Password ua="rw"></User_Password>`},
		{name: "read-only", src: `Line_Enable[1] ? "Yes" ;`, want: `<Line_Enable_1_ ua="ro">Yes</Line_Enable_1_>`},
		{name: "no marker is na", src: `Admin_Passwd "some secret" ;`, want: `<Admin_Passwd ua="na">some secret</Admin_Passwd>`},
		{name: "missing value leaves it unchanged", src: `Speed_Dial_2 ! ;`, want: `<Speed_Dial_2 ua="rw"/>`},
		{name: "missing value no marker", src: `GPP_B;`, want: `<GPP_B ua="na"/>`},
		{name: "marker glued", src: `A!"1";B?"2";`, want: "<A ua=\"rw\">1</A>\n<B ua=\"ro\">2</B>"},
		{name: "slash and index", src: `SIP_ToS/DiffServ_Value[1] "0x68" ;`, want: `<SIP_ToS_DiffServ_Value_1_ ua="na">0x68</SIP_ToS_DiffServ_Value_1_>`},
		{name: "parentheses", src: `Time_Offset_(HH/mm) "0/0" ;`, want: `<Time_Offset__HH_mm_ ua="na">0/0</Time_Offset__HH_mm_>`},
		{name: "hyphen", src: `Auth_Resync-Reboot[1] "No" ;`, want: `<Auth_Resync-Reboot_1_ ua="na">No</Auth_Resync-Reboot_1_>`},
		{name: "escaping", src: `Dial_Plan[1] "(<:1>xx|9,<&>\'x)" ;`, want: `<Dial_Plan_1_ ua="na">(&lt;:1&gt;xx|9,&lt;&amp;&gt;\'x)</Dial_Plan_1_>`},
		{name: "value with semicolons and hash", src: `Ring1 "n=Classic;w=3 # not a comment" ;`, want: `<Ring1 ua="na">n=Classic;w=3 # not a comment</Ring1>`},
		{name: "duplicates kept in order", src: "A \"1\" ;\nA \"2\" ;", want: "<A ua=\"na\">1</A>\n<A ua=\"na\">2</A>"},
		{name: "comments and blank lines", src: "# *** Section\n\n   # indented\nA \"1\" ; # trailing\n", want: `<A ua="na">1</A>`},
		{name: "statement across lines", src: "A\n!\n\"1\"\n;", want: `<A ua="rw">1</A>`},
		{name: "crlf", src: "A \"1\" ;\r\nB \"2\" ;\r\n", want: "<A ua=\"na\">1</A>\n<B ua=\"na\">2</B>"},
		{name: "utf-8 value", src: `Station_Name "Café" ;`, want: `<Station_Name ua="na">Café</Station_Name>`},
		{name: "empty source", src: "", want: ""},
		{name: "name starting import is a name", src: `importance "x" ;`, want: `<importance ua="na">x</importance>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompileSPC([]byte(tt.src), nil)
			if err != nil {
				t.Fatalf("CompileSPC(%q): %v", tt.src, err)
			}
			want := "<flat-profile>\n"
			for _, l := range strings.Split(tt.want, "\n") {
				if l != "" {
					want += "  " + l + "\n"
				}
			}
			want += "</flat-profile>\n"
			if string(got) != want {
				t.Errorf("CompileSPC(%q) =\n%s\nwant\n%s", tt.src, got, want)
			}
		})
	}
}

func TestCompileSPCErrors(t *testing.T) {
	files := map[string]string{
		"self.txt":   "import self.txt\n",
		"a.txt":      "X \"1\" ;\nimport b.txt\n",
		"b.txt":      "import a.txt\n",
		"bad.txt":    "A \"1\" ;\nB \"2\"\n",
		"nested.txt": "import nested2.txt\n",
	}
	open := func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		if strings.HasPrefix(name, "deep") { // deep0 imports deep1 …
			var n int
			fmt.Sscanf(name, "deep%d", &n)
			return fmt.Appendf(nil, "import deep%d\n", n+1), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		name    string
		src     string
		open    func(string) ([]byte, error)
		want    string
		wantErr error
	}{
		{name: "missing semicolon at end", src: "A \"1\"", want: `spc: line 1: statement for A not ended by ";"`},
		{name: "missing semicolon before next", src: "A \"1\"\nB \"2\" ;", want: `spc: line 1: statement for A not ended by ";" before "B"`},
		{name: "two values", src: `A "1" "2" ;`, want: "spc: line 1: A has two values"},
		{name: "unterminated value", src: "\n\nA \"1 ;", want: "spc: line 3: unterminated quoted value (values end on the line they start)"},
		{name: "value without name", src: `"1" ;`, want: "spc: line 1: value without a parameter name"},
		{name: "marker after value", src: `A "1" ! ;`, want: `spc: line 1: access marker '!' of A must come right after the name`},
		{name: "two markers", src: `A ! ? "1" ;`, want: `spc: line 1: access marker '?' of A must come right after the name`},
		{name: "marker alone", src: `! "1" ;`, want: `spc: line 1: access marker '!' without a parameter name`},
		{name: "semicolon alone", src: "A \"1\" ; ;", want: `spc: line 1: ";" without a statement`},
		{name: "bad name", src: `9lives "1" ;`, want: `spc: line 1: "9lives" is not a parameter name`},
		{name: "bad name char", src: `A=B "1" ;`, want: `spc: line 1: "A=B" is not a parameter name`},
		{name: "control character", src: "A \"a\x01b\" ;", want: "spc: line 1: control character in the value of A"},
		{name: "invalid utf-8", src: "A \"\xff\" ;", want: "spc: not valid UTF-8 text"},
		{name: "import without opener", src: "import x.txt", want: `spc: line 1: import "x.txt": imports are not available here`},
		{name: "import without name", src: "import   \n", open: open, want: "spc: line 1: import without a file name"},
		{name: "import missing file", src: "A \"1\" ;\nimport nope.txt", open: open, want: `spc: line 2: import "nope.txt": file does not exist`, wantErr: fs.ErrNotExist},
		{name: "import self", src: "import self.txt", open: open, want: `spc: self.txt: line 1: import "self.txt": import cycle (self.txt → self.txt)`},
		{name: "import cycle", src: "import a.txt", open: open, want: `spc: b.txt: line 1: import "a.txt": import cycle (a.txt → b.txt → a.txt)`},
		{name: "error inside import names the file", src: "import bad.txt", open: open, want: `spc: bad.txt: line 2: statement for B not ended by ";"`},
		{name: "import while a statement is open", src: "A \"1\"\nimport a.txt", open: open, want: `spc: line 1: statement for A not ended by ";" before the import`},
		{name: "too deep", src: "import deep0", open: open, want: fmt.Sprintf(`spc: deep%d: line 1: import "deep%d": imports nested deeper than %d levels`, MaxImportDepth-1, MaxImportDepth, MaxImportDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CompileSPC([]byte(tt.src), tt.open)
			if err == nil {
				t.Fatalf("CompileSPC(%q) = %s, want an error", tt.src, got)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			var se *SyntaxError
			if tt.wantErr == nil && !errors.As(err, &se) {
				t.Errorf("error %v is not a *SyntaxError", err)
			}
		})
	}
}

func TestCompileSPCImportBomb(t *testing.T) {
	// Each level imports the next twice: 2^7 copies of a 256 KiB leaf is more than 16 MiB.
	leaf := []byte(strings.Repeat("# padding padding padding padding padding padding padding pad\n", 4096))
	open := func(name string) ([]byte, error) {
		var n int
		if _, err := fmt.Sscanf(name, "l%d", &n); err != nil {
			return nil, err
		}
		if n >= MaxImportDepth-1 {
			return leaf, nil
		}
		return fmt.Appendf(nil, "import l%d\nimport l%d\n", n+1, n+1), nil
	}
	_, err := CompileSPC([]byte("import l0\n"), open)
	if err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Errorf("CompileSPC(import bomb) error = %v, want the size limit", err)
	}
}

func FuzzCompileSPC(f *testing.F) {
	for _, s := range []string{
		"Provision_Enable ! \"Yes\" ;", "Line_Enable[1] ? \"Yes\" ;", "Speed_Dial_2 ! ;", "# c\nA \"1\" ; B \"<&>\" ;",
		"import a\n", "import self\n", "A\n!\n\"1\"\n;", "A \"1", "\"", ";", "!", "import", "SIP_ToS/DiffServ_Value[1] \"0x68\" ;",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		open := func(name string) ([]byte, error) {
			switch name {
			case "a":
				return []byte("X \"1\" ;\nimport b\n"), nil
			case "b":
				return src, nil // may import a again: a cycle or deep nesting
			case "self":
				return []byte("import self\n"), nil
			}
			return nil, fs.ErrNotExist
		}
		out, err := CompileSPC(src, open)
		if err != nil {
			return
		}
		if !IsFlatProfile(out) || !bytes.HasSuffix(out, []byte("</flat-profile>\n")) {
			t.Fatalf("CompileSPC(%q) = %q: not a flat profile", src, out)
		}
		// Every element line is well formed: `  <Name ua="xx">…</Name>` or `  <Name ua="xx"/>`.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for _, l := range lines[1 : len(lines)-1] {
			if !strings.HasPrefix(l, "  <") || !strings.HasSuffix(l, ">") || strings.Count(l, "<") > 2 || strings.Contains(l[3:], "\"\"") {
				t.Fatalf("CompileSPC(%q): bad line %q", src, l)
			}
		}
	})
}
