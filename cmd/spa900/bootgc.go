package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"sync"

	"go.uber.org/zap"
)

// bootGCPercent is the collector's goal (GOGC) while a fleet powers on: the heap may grow to
// five times what the last collection found live, where Go's default lets it double.
//
// A fleet's heap grows from nothing to its steady size while its phones are made and boot
// (10,000 phones with their lines off: some 300 MB live by the end of the boot storm), and at
// Go's default every doubling on the way is a collection that marks all that lives: twelve
// collections, 1.5 s of the fleet's CPU, the last three marking 143, 262 and 304 MB. At 400:
// four collections, 1.06 s (GODEBUG=gctrace=1, the boot storm of BenchmarkProvisioningStorm
// at 10,000 phones, load 5). The price is the heap's peak during the storm (gctrace: 621 MB
// at the last collection against 542), bounded by the memory limit when one is in force
// (--memory-limit, a container's): the runtime collects to stay under it whatever the goal.
//
// A power cycle's storm is not raised: its phones replace phones the heap already holds, so a
// higher goal would only put its collections after the storm, not spare them.
const bootGCPercent = 400

// bootGC raises the collector's goal (runtime/debug.SetGCPercent) from a fleet's start,
// before its units are made, until its power-on storm is over ("storm done"), and then puts
// the goal back. With GOGC set in the environment it changes nothing: the user chose.
type bootGC struct {
	log  *zap.Logger
	once sync.Once
	was  int  // the goal before; immutable after raiseBootGC
	set  bool // whether raiseBootGC raised it; immutable after raiseBootGC

	collected chan struct{} // closed when the collection restore started is over
}

// raiseBootGC raises the collector's goal for a fleet's power-on, and says so in one line.
func raiseBootGC(log *zap.Logger) *bootGC {
	g := &bootGC{log: log, collected: make(chan struct{})}
	if v, ok := os.LookupEnv("GOGC"); ok {
		log.Debug("collector goal kept while the fleet boots", zap.String("gogc", v), zap.String("reason", "GOGC is set"))
		return g
	}
	was := debug.SetGCPercent(bootGCPercent)
	if was == bootGCPercent {
		// Another fleet of this process raised it (a lab, tests): that one puts it back.
		// Restoring here too could leave the raised goal for good, when the other fleet's
		// restore came first and this one's put back what it had found: the raised goal.
		log.Debug("collector goal kept while the fleet boots", zap.Int("gogc", was), zap.String("reason", "raised already"))
		return g
	}
	g.was, g.set = was, true
	log.Info("collector goal raised while the fleet boots", zap.Int("gogc", bootGCPercent), zap.Int("was", g.was))
	return g
}

// restore puts the collector's goal back, once (the first storm is over, or the fleet
// stops); reason says which in its line. With collect (the storm is over) it then collects at
// once, on a goroutine of its own (collected is closed when that is done), and says so in
// the same line.
//
// Why collect: under the raised goal the storm left up to four times the live heap behind
// (10,000 phones: 486 MB allocated against 287 MB live, the restored goal at 574 MB), and the
// first work after it, the resyncs a provisioning server asks of every phone once they are
// up, ran into that goal after 88 MB and paid a collection of the whole heap in its midst
// (gc-N.mem of BenchmarkProvisioningStorm's re-triggered storm: one collection in it, 5-16 %
// of its profile in the collector's marking). The runtime collects an idle process on its
// own only after two minutes. Collected while the fleet rests, the heap starts again from
// what lives, with the whole restored goal ahead of it; the collection costs what the next
// one would have, once.
func (g *bootGC) restore(reason string, collect bool) {
	if g == nil || !g.set {
		return
	}
	g.once.Do(func() {
		debug.SetGCPercent(g.was)
		g.log.Info("collector goal restored", zap.Int("gogc", g.was), zap.String("reason", reason), zap.Bool("collect", collect))
		if collect {
			go func() {
				runtime.GC()
				close(g.collected)
			}()
		}
	})
}
