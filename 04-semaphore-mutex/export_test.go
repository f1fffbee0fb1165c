package semmutex

import "time"

// FtokOf exposes the arithmetic of Ftok to the tests, to try devices and inodes that no file at
// hand has.
var FtokOf = ftok

// SetInitWait shortens Open's bound on the wait for another process to initialise a set, for
// the time of a test.
func SetInitWait(t interface{ Cleanup(func()) }, d time.Duration) {
	old := initWait
	initWait = d
	t.Cleanup(func() { initWait = old })
}
