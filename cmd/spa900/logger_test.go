package main

import (
	"bytes"
	"strings"
	"testing"
)

// A fleet's log lines are written in batches, and every one of them is written by the end.
func TestFleetLoggerWritesEveryLine(t *testing.T) {
	var out bytes.Buffer
	log, stop, err := newFleetLogger("info", "json", &out)
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		log.Info("phone booted")
	}
	log.Debug("below the level")
	stop()
	if n := strings.Count(out.String(), `"msg":"phone booted"`); n != 1000 {
		t.Fatalf("%d lines written of 1000", n)
	}
	if strings.Contains(out.String(), "below the level") {
		t.Fatal("a debug line written at level info")
	}
	if _, _, err := newFleetLogger("loud", "json", &out); err == nil {
		t.Fatal("level loud accepted")
	}
}
