package phone

import "errors"

// ErrReboot is returned by [Phone.Run] when the phone reboots; the [Unit] boots it again.
var ErrReboot = errors.New("reboot")

// ErrBooting is returned for requests made while the phone boots and answers nothing.
var ErrBooting = errors.New("phone is booting")

// ErrClosed is returned for requests to a phone that has stopped.
var ErrClosed = errors.New("phone stopped")

// ErrProvisioningDisabled is returned for a resync request while Provision_Enable is No.
var ErrProvisioningDisabled = errors.New("provisioning is disabled (Provision_Enable is No)")

// ErrUpgradeDisabled is returned for an upgrade request while Upgrade_Enable is No.
var ErrUpgradeDisabled = errors.New("upgrade is disabled (Upgrade_Enable is No)")

// ErrInvalidRequest is wrapped by errors about a request's own content (a bad URL, a bad
// profile); the HTTP layer answers them with 400.
var ErrInvalidRequest = errors.New("invalid request")

// ErrNotSupported is wrapped when the phone knows what is asked and cannot do it (a vertical
// service code of a feature spa900 does not have, such as call back on busy); the HTTP layer
// answers 501.
var ErrNotSupported = errors.New("not supported")

// ErrOpenFiles is returned when a fleet's phones need more open files than the process may
// have ([Fleet.PlanFiles]).
var ErrOpenFiles = errors.New("open file limit too low for the fleet")
