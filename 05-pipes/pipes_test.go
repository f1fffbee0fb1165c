package pipes_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	pipes "example.com/ipc/05-pipes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// chunks collects what Chunks yields, copying each chunk (it is only valid until the next).
func chunks(t *testing.T, n int, args []string, in io.Reader) [][]byte {
	t.Helper()
	var out [][]byte
	for chunk, err := range pipes.Chunks(n, args, in) {
		require.NoError(t, err)
		out = append(out, bytes.Clone(chunk))
	}
	return out
}

func TestChunksSources(t *testing.T) {
	assert.Equal(t, "1\n2\n3\n4\n5\n", string(bytes.Join(chunks(t, 5, nil, nil), nil)))
	assert.Empty(t, chunks(t, 0, []string{"ignored"}, nil), "-n 0 writes nothing")
	assert.Equal(t, "a\nb c\n\n", string(bytes.Join(chunks(t, -1, []string{"a", "b c", ""}, nil), nil)))

	// Standard input, byte for byte: a carriage return, a NUL, an empty line, a line longer
	// than bufio.Scanner's 64 KiB limit, and a last line without a newline.
	raw := "cr\r\nnul\x00\n\n" + strings.Repeat("x", 200000) + "\nno newline"
	assert.Equal(t, raw, string(bytes.Join(chunks(t, -1, nil, strings.NewReader(raw)), nil)))
	assert.Empty(t, chunks(t, -1, nil, strings.NewReader("")))
}

// Every chunk is whole lines: at most PipeBuf bytes of them, or a single longer line alone.
func TestChunksNeverSplitALine(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var in bytes.Buffer
	for i := 0; i < 3000; i++ {
		n := rnd.IntN(pipes.PipeBuf + 2) // lines of 1 to PipeBuf+1 bytes with the newline
		if i%7 == 0 {
			n = rnd.IntN(100000)
		}
		in.WriteString(strings.Repeat("x", n) + "\n")
	}
	in.WriteString("last, no newline")
	want := bytes.Clone(in.Bytes())

	got := chunks(t, -1, nil, &in)
	assert.Equal(t, want, bytes.Join(got, nil))
	for i, c := range got {
		if i < len(got)-1 {
			assert.Equal(t, byte('\n'), c[len(c)-1], "chunk %d ends inside a line", i)
		}
		if len(c) > pipes.PipeBuf {
			assert.Equal(t, -1, bytes.IndexByte(c[:len(c)-1], '\n'), "chunk %d of %d bytes holds more than one line", i, len(c))
		}
	}
	// Short lines share chunks: far fewer writes than lines.
	assert.Less(t, len(chunks(t, 100000, nil, nil)), 1000)
}

// A line is written before Chunks reads on, if that read may block: "first" comes out while
// the rest of its input is still to come (a person typing, a slow pipe).
func TestChunksDoNotHoldALineBack(t *testing.T) {
	pr, pw := io.Pipe()
	release := make(chan struct{})
	go func() {
		pw.Write([]byte("first\nsec"))
		select {
		case <-release:
			pw.Write([]byte("ond\n"))
			pw.Close()
		case <-time.After(10 * time.Second):
			pw.CloseWithError(errors.New("Chunks held back the first line until more input came"))
		}
	}()
	var got []string
	for chunk, err := range pipes.Chunks(-1, nil, pr) {
		require.NoError(t, err)
		got = append(got, string(chunk))
		if len(got) == 1 {
			close(release)
		}
	}
	assert.Equal(t, []string{"first\n", "second\n"}, got)
}

func TestChunksReportReadErrors(t *testing.T) {
	in := io.MultiReader(strings.NewReader("ok\n"), iotest{errors.New("disk on fire")})
	var got []string
	var gotErr error
	for chunk, err := range pipes.Chunks(-1, nil, in) {
		if err != nil {
			gotErr = err
			continue
		}
		got = append(got, string(chunk))
	}
	assert.Equal(t, []string{"ok\n"}, got, "the lines read before the error are written")
	assert.EqualError(t, gotErr, "disk on fire")
}

type iotest struct{ err error }

func (r iotest) Read([]byte) (int, error) { return 0, r.err }

func TestCount(t *testing.T) {
	var c pipes.Count
	assert.Equal(t, "0 lines, 0 bytes", c.String())
	c.Add([]byte("a\nb"))
	assert.Equal(t, "2 lines, 3 bytes", c.String(), "a last line without a newline counts")
	c.Add([]byte("c\n"))
	assert.Equal(t, "2 lines, 5 bytes", c.String(), "a line read in two pieces counts once")
	c.Add(nil)
	assert.Equal(t, "2 lines, 5 bytes", c.String())
	var one pipes.Count
	one.Add([]byte("x"))
	assert.Equal(t, "1 line, 1 byte", one.String())
}

// The kernel's side of the story, checked on a real pipe.

// pipe2 returns a new pipe's ends, closed when the test ends.
func pipe2(t *testing.T, flags int) (r, w int) {
	t.Helper()
	var fds [2]int
	require.NoError(t, unix.Pipe2(fds[:], flags|unix.O_CLOEXEC))
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// A pipe holds F_GETPIPE_SZ bytes (64 KiB unless changed); then a writer must wait, here
// with EAGAIN because the write end is non-blocking.
func TestPipeCapacity(t *testing.T) {
	_, w := pipe2(t, unix.O_NONBLOCK)
	size, err := unix.FcntlInt(uintptr(w), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	t.Logf("F_GETPIPE_SZ: %d bytes", size)

	block := make([]byte, pipes.PipeBuf)
	total := 0
	for {
		n, err := unix.Write(w, block)
		if err == unix.EAGAIN {
			break
		}
		require.NoError(t, err)
		total += n
		require.LessOrEqual(t, total, size, "the pipe took more than F_GETPIPE_SZ")
	}
	assert.Equal(t, size, total)
}

// A blocking write into a full pipe waits until a reader makes room.
func TestFullPipeBlocksTheWriter(t *testing.T) {
	r, w := pipe2(t, 0)
	size, err := unix.FcntlInt(uintptr(w), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	_, err = unix.Write(w, make([]byte, size))
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() { _, err := unix.Write(w, []byte("x")); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a write into a full pipe returned at once (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	_, err = unix.Read(r, make([]byte, pipes.PipeBuf))
	require.NoError(t, err)
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the write still waits after the reader made room")
	}
}

// onePagePipe returns a non-blocking pipe shrunk to one page (F_SETPIPE_SZ), so that filling
// it takes one write.
func onePagePipe(t *testing.T) (r, w int) {
	if os.Getpagesize() != pipes.PipeBuf {
		t.Skipf("page size %d: this test counts on 4096-byte pages", os.Getpagesize())
	}
	r, w = pipe2(t, unix.O_NONBLOCK)
	_, err := unix.FcntlInt(uintptr(w), unix.F_SETPIPE_SZ, pipes.PipeBuf)
	require.NoError(t, err)
	return r, w
}

// A write of at most PIPE_BUF bytes is all or nothing: with too little room it writes
// nothing (EAGAIN here; a blocking write would wait), never a part.
func TestShortWriteIsAllOrNothing(t *testing.T) {
	_, w := onePagePipe(t)
	_, err := unix.Write(w, bytes.Repeat([]byte("a"), 4000))
	require.NoError(t, err)
	n, err := unix.Write(w, bytes.Repeat([]byte("b"), 200))
	assert.ErrorIs(t, err, unix.EAGAIN)
	assert.LessOrEqual(t, n, 0, "a 200-byte write was split: %d bytes went in", n)
}

// A write of more than PIPE_BUF bytes may be split: the kernel takes what fits and returns a
// short count, and another writer's line can land before the rest. That is how two lines
// longer than PIPE_BUF, each written whole with one write(2), come out mixed. (A blocking
// writer does the same inside one call: it fills the pipe, sleeps, and goes on after readers
// and other writers have had their turn.)
func TestLongWriteCanBeSplit(t *testing.T) {
	r, w := onePagePipe(t)
	long := append(bytes.Repeat([]byte("a"), 4999), '\n') // 5000 bytes: one line
	n, err := unix.Write(w, long)
	require.NoError(t, err)
	require.Equal(t, pipes.PipeBuf, n, "the kernel took all of a write bigger than the pipe")

	var out []byte
	buf := make([]byte, 8192)
	k, err := unix.Read(r, buf)
	require.NoError(t, err)
	out = append(out, buf[:k]...)
	_, err = unix.Write(w, []byte("b\n")) // another writer gets in
	require.NoError(t, err)
	_, err = unix.Write(w, long[n:]) // the rest of the long line
	require.NoError(t, err)
	k, err = unix.Read(r, buf)
	require.NoError(t, err)
	out = append(out, buf[:k]...)

	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	assert.Equal(t, []string{strings.Repeat("a", 4096) + "b", strings.Repeat("a", 903)}, lines)
}
