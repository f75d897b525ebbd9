package phone

import (
	"errors"
	"time"
)

// provState is the loop's resync bookkeeping (SPA-BEHAVIOUR §4.4).
type provState struct {
	due          time.Time // when the next scheduled resync falls due
	triggerCheck time.Time // next evaluation of Resync_Trigger_1/2
}

// resyncOp is a resync waiting for (or past) the idle gate.
type resyncOp struct {
	reason  string
	since   time.Time
	forceAt time.Time
	running bool
}

func (st *state) provBoot()                      {}
func (st *state) provFire(now time.Time)         {}
func (st *state) provBusy() bool                 { return false }
func (st *state) startResync(forced bool)        {}
func (st *state) provStatus() ProvisioningStatus { return ProvisioningStatus{} }

func (st *state) requestResync(rawURL, requester string) (Outcome, error) {
	return 0, errors.New("resync: not wired yet")
}

func (st *state) requestReport() error { return errors.New("report: not wired yet") }
