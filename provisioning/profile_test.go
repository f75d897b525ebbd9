package provisioning

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"

	"github.com/spa900/spa900/provisioning/config"
)

func TestReadProfile(t *testing.T) {
	m, err := config.LookupModel("SPA942")
	if err != nil {
		t.Fatal(err)
	}
	cat := config.CatalogFor(m)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`<account><auth-secret>pw</auth-secret><GPP_A>not a parameter here</GPP_A></account>`))
	zw.Close()
	// A fixed salt: the wrong key below is proven wrong for this file (TestDecodeWrongKeyValidPadding
	// covers a wrong key that gives valid padding).
	enc, err := Encrypt(gz.Bytes(), "k", bytes.NewReader([]byte("saltsalt")))
	if err != nil {
		t.Fatal(err)
	}
	aliases, err := ParseAliasMap("/auth-secret = /flat-profile/Password_1_ ;")
	if err != nil {
		t.Fatal(err)
	}
	prof, _, err := ReadProfile(cat, enc, ReadOptions{Key: "k", HasKey: true, Aliases: aliases})
	if err != nil {
		t.Fatal(err)
	}
	if len(prof.Changes) != 1 || prof.Changes[0].Name != "Password_1_" || prof.Changes[0].Value != "pw" {
		t.Fatalf("changes %+v: want only the aliased Password_1_", prof.Changes)
	}
	if _, _, err := decrypt(enc, "wrong", nil); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the key \"wrong\" gives valid padding for this salt (%v): pick another", err)
	}
	if _, _, err := ReadProfile(cat, enc, ReadOptions{Key: "wrong", HasKey: true}); !errors.Is(err, ErrWrongKey) {
		t.Errorf("wrong key: err = %v", err)
	}
	if _, _, err := ReadProfile(cat, []byte("<flat-profile><GPP_A>x</GPP_B></flat-profile>"), ReadOptions{}); !errors.Is(err, config.ErrMalformedProfile) {
		t.Errorf("malformed: err = %v", err)
	}
}
