package phone

import (
	"errors"
	"time"
)

// upgState is the loop's upgrade bookkeeping (SPA-BEHAVIOUR §4.2).
type upgState struct {
	retryAt time.Time
}

// upgradeOp is an upgrade waiting for the idle gate.
type upgradeOp struct {
	reason string
	since  time.Time
}

func (st *state) upgBoot()                 {}
func (st *state) upgFire(now time.Time)    {}
func (st *state) startUpgrade()            {}
func (st *state) upgStatus() UpgradeStatus { return UpgradeStatus{} }

func (st *state) requestUpgrade(rawURL, requester string) (Outcome, error) {
	return 0, errors.New("upgrade: not wired yet")
}
