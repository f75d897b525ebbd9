package phone

import (
	"sync"

	"github.com/spa900/spa900/provisioning"
)

// ruleKey is a rule's kind and text.
type ruleKey struct {
	kind provisioning.RuleKind
	text string
}

// maxCachedRules bounds the rules a fleet keeps parsed: a fleet's phones have one
// Profile_Rule text or a few ($MA in it expands later), unless a server gives each its
// own, which then gains nothing from a cache.
const maxCachedRules = 256

// ruleCache keeps the rules a fleet's phones parsed, by kind and text: every resync of a
// phone parses its four Profile_Rule* and its Upgrade_Rule, the same texts as the last time
// and as the other phones'. nil keeps none (a single phone). Safe for concurrent use.
type ruleCache struct {
	mu    sync.Mutex
	rules map[ruleKey]*provisioning.Rule
}

// parseRule is provisioning.ParseRule, once per text for the fleet. A rule is immutable once
// parsed (safe for concurrent use); a text that does not parse is parsed again each time,
// for its error.
func (c *ruleCache) parseRule(text string, kind provisioning.RuleKind) (*provisioning.Rule, error) {
	if c == nil {
		return provisioning.ParseRule(text, kind)
	}
	k := ruleKey{kind, text}
	c.mu.Lock()
	r, ok := c.rules[k]
	c.mu.Unlock()
	if ok {
		return r, nil
	}
	r, err := provisioning.ParseRule(text, kind)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.rules) >= maxCachedRules {
		clear(c.rules) // texts of phones of their own: parsed anew from here on
	}
	if c.rules == nil {
		c.rules = make(map[ruleKey]*provisioning.Rule)
	}
	c.rules[k] = r
	c.mu.Unlock()
	return r, nil
}
