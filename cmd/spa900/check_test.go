package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spa900/spa900/provisioning"
)

// checkFile runs `spa900 profile check [args] FILE` on a profile written for the test and
// returns the report (--json), the text output and whether it exited 1.
func checkFile(t *testing.T, profile []byte, args ...string) (*provisioning.CheckReport, string, bool) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "p.xml")
	if err := os.WriteFile(file, profile, 0o644); err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	errText := run(t.Context(), append(append([]string{"profile", "check"}, args...), file), &text, io.Discard)
	errJSON := run(t.Context(), append(append([]string{"profile", "check", "--json"}, args...), file), &js, io.Discard)
	if (errText == nil) != (errJSON == nil) {
		t.Fatalf("text and --json disagree on the exit: %v, %v", errText, errJSON)
	}
	var rep provisioning.CheckReport
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, js.String())
	}
	return &rep, text.String(), errText != nil
}

// line returns the report line of a parameter.
func line(t *testing.T, rep *provisioning.CheckReport, param string) provisioning.CheckLine {
	t.Helper()
	for _, l := range rep.Lines {
		if l.Param == param {
			return l
		}
	}
	t.Fatalf("no line for %s in %+v", param, rep.Lines)
	return provisioning.CheckLine{}
}

// TestProfileCheckLinter: `profile check` reports what a SPA942 5.1 would do with each of
// issue 8's cases, line by line, and exits 1 only where a real phone refuses the profile.
func TestProfileCheckLinter(t *testing.T) {
	t.Run("skipped values, GMT offsets, unknown names", func(t *testing.T) {
		rep, text, refused := checkFile(t, []byte("<flat-profile>\n<Time_Zone>GMT-5:00</Time_Zone>\n"+
			"<Resync_Periodic>daily</Resync_Periodic>\n<Line_Enable_6_>Yes</Line_Enable_6_>\n<Call_Park_Enable>Yes</Call_Park_Enable>\n"+
			"<Current_IP>1.2.3.4</Current_IP>\n<Password_1_>s3cret</Password_1_>\n</flat-profile>\n"))
		if refused || rep.Refused {
			t.Fatalf("refused: %s", text)
		}
		if l := line(t, rep, "Time_Zone"); l.Line != 2 || l.Status != provisioning.CheckApplied || l.Value != "GMT-05:00" || l.Written != "GMT-5:00" {
			t.Errorf("Time_Zone %+v", l)
		}
		if l := line(t, rep, "Resync_Periodic"); l.Status != provisioning.CheckSkipped || l.Written != "daily" || l.Reason == "" {
			t.Errorf("Resync_Periodic %+v", l)
		}
		if l := line(t, rep, "Line_Enable_6_"); l.Status != provisioning.CheckUnknown || !strings.HasPrefix(l.Reason, "not on this model") {
			t.Errorf("Line_Enable_6_ %+v", l)
		}
		if l := line(t, rep, "Call_Park_Enable"); l.Status != provisioning.CheckUnknown || l.Reason != "not a 5.1 parameter" {
			t.Errorf("Call_Park_Enable %+v", l)
		}
		if l := line(t, rep, "Current_IP"); !strings.Contains(l.Reason, "status field") {
			t.Errorf("Current_IP %+v", l)
		}
		if l := line(t, rep, "Password_1_"); l.Value != "(secret)" || strings.Contains(text, "s3cret") {
			t.Errorf("a secret shown: %+v\n%s", l, text)
		}
		if c := rep.Counts; c.Elements != 6 || c.Applied != 2 || c.Skipped != 1 || c.Unknown != 3 {
			t.Errorf("counts %+v", c)
		}
		want := "a SPA942 5.1 applies this profile: 2 values applied, 1 value skipped, 3 unknown names ignored"
		if rep.Verdict != want || !strings.Contains(text, "verdict: "+want+"\n") {
			t.Errorf("verdict %q, want %q\n%s", rep.Verdict, want, text)
		}
	})
	t.Run("Latin-1 byte", func(t *testing.T) {
		rep, text, refused := checkFile(t, []byte("<flat-profile><Station_Name>R\xe9pertoire</Station_Name></flat-profile>"))
		if refused || rep.Encoding == nil || rep.Encoding.Used != "ISO-8859-1" || rep.Encoding.Warning == "" || len(rep.Notes) != 2 {
			t.Fatalf("report %+v\n%s", rep, text)
		}
		if l := line(t, rep, "Station_Name"); l.Value != "R\u00e9pertoire" {
			t.Errorf("Station_Name %+v", l)
		}
		if !strings.Contains(text, "note: encoding: not valid UTF-8") || !strings.Contains(text, "shows only ASCII") {
			t.Errorf("notes missing:\n%s", text)
		}
	})
	t.Run("mismatched end tag", func(t *testing.T) {
		rep, text, refused := checkFile(t, []byte("<flat-profile>\n<Display_Name_1_>A</Display_Name_1_>\n<Display_Name_2_>B</Display_Name_1_>\n</flat-profile>\n"))
		const want = "corrupt file (line 3: <Display_Name_2_> closed by </Display_Name_1_>)"
		if !refused || !rep.Refused || rep.Error != want || rep.ErrorLine != 3 || !strings.Contains(text, "error: "+want) {
			t.Errorf("report %+v\n%s", rep, text)
		}
	})
	t.Run("SHA-256 key derivation", func(t *testing.T) {
		bin, err := exec.LookPath("openssl")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("openssl missing (CI=true)")
			}
			t.Skip("openssl not found: install it with `sudo apt-get install openssl`")
		}
		cmd := exec.Command(bin, "enc", "-e", "-aes-256-cbc", "-md", "sha256", "-k", "k3y")
		cmd.Stdin = strings.NewReader("<flat-profile><GPP_A>x</GPP_A></flat-profile>")
		enc, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		rep, text, refused := checkFile(t, enc, "-k", "k3y")
		if !refused || rep.KeyDerivation != "sha256" || !strings.Contains(rep.Error, "openssl enc -md md5") {
			t.Errorf("report %+v\n%s", rep, text)
		}
		rep, text, refused = checkFile(t, enc, "-k", "k3y", "--accept-sha256-profiles")
		if refused || line(t, rep, "GPP_A").Value != "x" || !strings.Contains(text, "note: key derived with SHA-256") {
			t.Errorf("with --accept-sha256-profiles: %+v\n%s", rep, text)
		}
	})
}

// TestProfileCheckURL fetches as the phone would: macros expanded, the phone's User-Agent.
func TestProfileCheckURL(t *testing.T) {
	var ua, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua, path = r.UserAgent(), r.URL.Path
		io.WriteString(w, "<flat-profile><GPP_A>fetched</GPP_A></flat-profile>")
	}))
	defer srv.Close()
	var out bytes.Buffer
	err := run(t.Context(), []string{"profile", "check", "--model", "SPA962", "--mac", "00:0e:08:12:34:56", "--url", srv.URL + "/$PN/spa$MA.xml"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if path != "/SPA962/spa000e08123456.xml" || !strings.HasPrefix(ua, "Linksys/SPA-962-5.1.10 (88") {
		t.Errorf("request %s with User-Agent %q", path, ua)
	}
	if !strings.Contains(out.String(), `applied    GPP_A = "fetched"`) || !strings.Contains(out.String(), "as a SPA962 5.1 reads it") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"profile", "check", "--url", srv.URL + "/x", "extra"}, io.Discard, io.Discard); err == nil {
		t.Error("--url and FILE together accepted")
	}
}

// TestReadmeCheckExample: the `profile check --json` example of README.md is what the tool
// writes for the profile it shows (the documentation cannot drift from the output).
func TestReadmeCheckExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "$ spa900 profile check --json spa000e08aabbcc.xml\n```\n\n```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no profile check --json example")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "spa000e08aabbcc.xml")
	os.WriteFile(file, []byte("<flat-profile>\n  <Station_Name>R\xe9ception</Station_Name>\n  <Time_Zone>GMT+1:00</Time_Zone>\n"+
		"  <Resync_Periodic>daily</Resync_Periodic>\n  <Line_Enable_6_>Yes</Line_Enable_6_>\n"+
		"  <Password_1_ ua=\"na\">s3cret</Password_1_>\n</flat-profile>\n"), 0o644)
	t.Chdir(dir)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"profile", "check", "--json", "spa000e08aabbcc.xml"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(example), &want); err != nil {
		t.Fatalf("README example is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("README example differs from the output:\n%s", out.String())
	}
}
