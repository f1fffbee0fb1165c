//go:build race

package filelock_test

// Under go test -race, build the programs with the race detector too: a data race in one of
// them then prints "WARNING: DATA RACE" and exits 66, and its script fails.
func init() { buildFlags = append(buildFlags, "-race") }
