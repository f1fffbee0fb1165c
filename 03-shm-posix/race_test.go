//go:build race

package shmposix_test

import "os"

// Under go test -race, the programs the scripts run are built with the race detector too,
// which also checks the unsafe.Pointer conversion of the mapping (checkptr). Without
// atexit_sleep_ms=0 each of them would sleep a second before exiting.
func init() {
	buildFlags = append(buildFlags, "-race")
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}
