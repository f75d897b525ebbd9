// Command spa900 is a software Linksys SPA 900-series IP phone.
//
//	spa900 [flags]                 run one phone (SPA942 on the embedded defaults)
//	spa900 fleet [flags]           run many phones in one process
//	spa900 health [flags]          exit 0 when a phone is in service (container health checks)
//	spa900 lab [flags]             phones, a provisioning server and a registrar: a lab in one command
//	spa900 profile encrypt|decrypt|compile|check ...
//	spa900 firmware build|inspect ...
//
// Run `spa900 -h` for the flags. Every flag of every subcommand can also be given in the
// environment, as SPA900_ and the flag's name in capitals (env.go); the command line wins.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
	case errors.As(err, &ue):
		fmt.Fprintln(os.Stderr, "spa900:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "spa900:", err)
		os.Exit(1)
	}
}

// errHelp ends a command whose usage was asked for (-h): exit status 0.
var errHelp = errors.New("help shown")

// usageError is a bad flag or value: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }
