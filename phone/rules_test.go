package phone

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/spa900/spa900/provisioning"
)

// TestRuleCacheParsesOnce: a fleet's phones get one parse of a text of a kind, the same
// rule as ParseRule's; another kind is parsed apart (Upgrade_Rule refuses what Profile_Rule
// takes), a text that does not parse keeps failing, and the cache stays bounded.
func TestRuleCacheParsesOnce(t *testing.T) {
	c := new(ruleCache)
	const text = "[--key k] http://p.example/spa$MA.xml"
	r1, err := c.parseRule(text, provisioning.ProfileRule)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.parseRule(text, provisioning.ProfileRule)
	if err != nil || r2 != r1 {
		t.Fatalf("second parse = %p, %v; want the first's %p", r2, err, r1)
	}
	if want, _ := provisioning.ParseRule(text, provisioning.ProfileRule); !reflect.DeepEqual(r1, want) {
		t.Fatalf("cached rule %+v, ParseRule's %+v", r1, want)
	}
	if _, err := c.parseRule(text, provisioning.UpgradeRule); err == nil {
		t.Fatal("Upgrade_Rule with options parsed: the Profile_Rule's parse was taken for it")
	}
	for range 2 {
		if _, err := c.parseRule("(bad", provisioning.ProfileRule); err == nil {
			t.Fatal("a rule that does not parse parsed")
		}
	}
	var nilCache *ruleCache
	if r, err := nilCache.parseRule(text, provisioning.ProfileRule); err != nil || r.Empty() {
		t.Fatalf("nil cache: %v, %v", r, err)
	}
	for i := range 3 * maxCachedRules {
		if _, err := c.parseRule("http://p.example/"+strconv.Itoa(i), provisioning.ProfileRule); err != nil {
			t.Fatal(err)
		}
		if n := len(c.rules); n > maxCachedRules {
			t.Fatalf("%d rules kept, at most %d", n, maxCachedRules)
		}
	}
}
