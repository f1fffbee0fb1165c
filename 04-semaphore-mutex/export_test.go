package semmutex

// FtokOf exposes the arithmetic of Ftok to the tests, to try devices and inodes that no file at
// hand has.
var FtokOf = ftok
