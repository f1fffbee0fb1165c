// Package pipes is what the writer, the reader and the parent of this example agree on, like
// the shared header of a C example: how the lines are cut into write(2) calls, so that lines
// from several writers into one pipe never mix, and how lines are counted.
package pipes

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"iter"
	"strconv"
	"sync/atomic"
)

// PipeBuf is PIPE_BUF from <limits.h>, which x/sys/unix lacks: POSIX promises that a write(2)
// of at most PipeBuf bytes to a pipe is atomic. Its bytes land in the pipe together, never mixed
// with another writer's, and a blocking writer waits until there is room for all of them
// rather than writing part. A longer write may be split, and other writers' bytes may land in
// between its parts. POSIX asks for at least 512; Linux gives 4096.
const PipeBuf = 4096

// Chunks yields what the writer and the parent write, in order: with n >= 0, the numbers 1 to n,
// one a line; else each of args as a line; else the lines read from in, byte for byte (a last
// line without a newline stays without one).
//
// Each chunk is meant for one write(2), and holds whole lines only, so that no line is ever split
// across two writes: at most PipeBuf bytes of them, so the write is atomic, or else a single
// line longer than PipeBuf, alone. Lines of any length are read whole (no 64 KiB limit, as with
// bufio.Scanner), at the price of holding a long line in memory. Several short lines share a
// chunk, which saves system calls; but when reading from in, whatever is pending is yielded
// before any read that may block, so that a line typed at a terminal goes through at once.
//
// A chunk is valid until the next one is asked for. An error reading in is yielded last.
func Chunks(n int, args []string, in io.Reader) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		var pending []byte // whole lines, at most PipeBuf bytes
		flush := func() bool {
			if len(pending) == 0 {
				return true
			}
			ok := yield(pending, nil)
			pending = pending[:0]
			return ok
		}
		add := func(line []byte) bool {
			if len(pending)+len(line) > PipeBuf && !flush() {
				return false
			}
			if len(line) > PipeBuf {
				return yield(line, nil) // alone: one write(2), but not an atomic one
			}
			pending = append(pending, line...)
			return true
		}

		switch {
		case n >= 0:
			var line []byte
			for i := 1; i <= n; i++ {
				line = append(strconv.AppendInt(line[:0], int64(i), 10), '\n')
				if !add(line) {
					return
				}
			}
		case len(args) > 0:
			for _, arg := range args {
				if !add(append([]byte(arg), '\n')) {
					return
				}
			}
		default:
			br := bufio.NewReaderSize(in, 64<<10)
			var long []byte
			for {
				// No whole line left in the buffer: the next read(2) may block, so write what
				// is pending first.
				if buffered, _ := br.Peek(br.Buffered()); bytes.IndexByte(buffered, '\n') < 0 && !flush() {
					return
				}
				line, err := br.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					long = append(long[:0], line...)
					for err == bufio.ErrBufferFull {
						line, err = br.ReadSlice('\n')
						long = append(long, line...)
					}
					line = long
				}
				if len(line) > 0 && !add(line) {
					return
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					if flush() {
						yield(nil, err)
					}
					return
				}
			}
		}
		flush()
	}
}

// Count counts the lines and bytes that went through a program. A last line without a newline
// counts as a line. The counts may be read (String) while another goroutine adds to them.
type Count struct {
	lines, bytes atomic.Int64
	open         atomic.Bool // the last byte added was not a newline
}

// Add counts p, the next bytes of the stream.
func (c *Count) Add(p []byte) {
	if len(p) == 0 {
		return
	}
	c.lines.Add(int64(bytes.Count(p, []byte{'\n'})))
	c.bytes.Add(int64(len(p)))
	c.open.Store(p[len(p)-1] != '\n')
}

// Lines returns the number of lines so far, counting a last line without a newline.
func (c *Count) Lines() int64 {
	n := c.lines.Load()
	if c.open.Load() {
		n++
	}
	return n
}

// Bytes returns the number of bytes so far.
func (c *Count) Bytes() int64 { return c.bytes.Load() }

// String says "3 lines, 6 bytes".
func (c *Count) String() string {
	return fmt.Sprintf("%d %s, %d %s", c.Lines(), plural(c.Lines(), "line"), c.Bytes(), plural(c.Bytes(), "byte"))
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
