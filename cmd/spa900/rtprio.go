package main

import (
	"runtime"

	"go.uber.org/zap"

	"github.com/spa900/spa900/media"
)

// rtpScheduler is the media scheduler of the process when --rtp-priority asks for real-time
// pacers, nil when it does not (the phone, or the fleet, makes its own on the default
// policy). It has one pacer for every two Ps GOMAXPROCS had (one at least), and GOMAXPROCS is
// doubled, a process-wide knob set once here: a real-time pacer keeps its P while it sleeps
// only when there are Ps for the rest of the process (media.Scheduler.SetRealtimePriority),
// and without that it waits on waking for a thread of the default policy to give one back, in
// the run queue behind every other process. Half the cores at most: real-time pacers as many
// as the cores wait for each other when they fill them and leave the rest of the machine
// nothing (two processes of two real-time pacers on 2 cores, 1,000 calls each: send-interval
// p99 6.1-7.75 ms; of one: 2.0-2.1 ms, BenchmarkConcurrentCalls on a quiet machine). Whether
// the kernel allows the policy is tried at once and said in one line: without CAP_SYS_NICE the
// pacers run on the default policy, as many as GOMAXPROCS, as without the flag.
func rtpScheduler(prio int, log *zap.Logger) (*media.Scheduler, error) {
	if prio == 0 {
		return nil, nil
	}
	if prio < 0 || prio > 99 {
		return nil, usagef("--rtp-priority: want 0 (off) or 1-99, got %d", prio)
	}
	procs := runtime.GOMAXPROCS(0)
	allowed := media.RealtimeAllowed(prio)
	pacers := procs
	if allowed {
		pacers = max(1, procs/2)
	}
	sched, err := media.NewScheduler(pacers)
	if err != nil {
		return nil, err
	}
	if err := sched.SetRealtimePriority(prio); err != nil {
		sched.Close()
		return nil, err
	}
	if !allowed {
		log.Warn("rtp pacing on the default policy", zap.Int("priority", prio),
			zap.String("reason", "the kernel refused real-time threads (no CAP_SYS_NICE: run as root, or docker --cap-add SYS_NICE)"))
		return sched, nil
	}
	runtime.GOMAXPROCS(2 * procs)
	log.Info("rtp pacing real-time", zap.Int("priority", prio), zap.Int("pacers", pacers), zap.Int("gomaxprocs", 2*procs),
		zap.String("reason", "--rtp-priority: a pacer for every two cores, keeping its slot while it sleeps"))
	return sched, nil
}
