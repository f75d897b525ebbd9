package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// envPrefix starts the environment variable of every flag: --model is SPA900_MODEL,
// --log-format SPA900_LOG_FORMAT, --accept-sha256-profiles SPA900_ACCEPT_SHA256_PROFILES.
//
// Compose files and Kubernetes manifests configure containers through the environment, so
// every flag of every subcommand has a variable, derived from its name by [envName] in the one
// flag parser of the program ([parse]); a flag added later has one without further work.
// The variables are shared by the subcommands that have a flag of that name (SPA900_MODEL is
// the --model of the phone, of a fleet and of `profile check`): a container configures one
// phone, and its tools then default to the same model.
//
// Precedence: a flag on the command line wins over its variable. A repeatable flag (--set)
// takes one value per line of its variable, and the command line's values come after them, so
// that a NAME given on the command line wins over the same NAME in the variable while the
// variable's other NAMEs stay.
const envPrefix = "SPA900_"

// envName is the environment variable of a flag: SPA900_ and the name in capitals with
// dashes and dots as underscores.
func envName(flagName string) string {
	return envPrefix + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(flagName))
}

// repeatable is a flag that collects every value it is given (multiFlag).
type repeatable interface{ repeatable() }

func (*multiFlag) repeatable() {}

// applyEnv sets the flags of fs from their environment variables, before the command line is
// parsed over them. A bad value is a usage error naming the variable.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok {
			return
		}
		values := []string{v}
		if _, multi := f.Value.(repeatable); multi {
			values = nonEmptyLines(v)
		}
		for _, v := range values {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s=%q: %v", name, v, e)
				return
			}
		}
	})
	return err
}

// nonEmptyLines splits a repeatable flag's variable into its values: one a line, blank lines
// and the line ends (LF or CRLF) left out.
func nonEmptyLines(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSuffix(line, "\r"); strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// documentEnv adds each flag's variable to its usage text, so that -h lists them.
func documentEnv(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(f.Usage, envPrefix) {
			extra := ""
			if _, multi := f.Value.(repeatable); multi {
				extra = ", one value a line"
			}
			f.Usage += fmt.Sprintf(" (env %s%s)", envName(f.Name), extra)
		}
	})
}
