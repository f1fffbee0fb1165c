package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// futexWait tells "look again" (the word had changed) from "stop": Ctrl-C, or a futex(2)
// error, which the reader's wait loop would otherwise retry for ever at full speed.
func TestFutexWait(t *testing.T) {
	word := uint32(1)
	assert.NoError(t, futexWait(context.Background(), &word, 0), "EAGAIN: look again")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, futexWait(ctx, &word, 1), context.Canceled)

	// A word the kernel cannot read: EFAULT, returned, not retried.
	assert.ErrorIs(t, futexWait(context.Background(), nil, 0), unix.EFAULT)
}

// printLine does not start a write once Ctrl-C has come: run then gives the message back
// instead of printing it and keeping it too.
func TestPrintLineAfterCtrlC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, printLine(ctx, []byte("not printed\n")), context.Canceled)
}
