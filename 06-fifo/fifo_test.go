package fifo_test

import (
	"os"
	"path/filepath"
	"testing"

	fifo "example.com/ipc/06-fifo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMakeCreatesWithMode0600(t *testing.T) {
	old := unix.Umask(0)
	defer unix.Umask(old)
	path := filepath.Join(t.TempDir(), "f.fifo")

	made, err := fifo.Make(path)
	require.NoError(t, err)
	require.NotNil(t, made, "Make did not report that it made the FIFO")
	st, err := os.Lstat(path)
	require.NoError(t, err)
	assert.Equal(t, os.ModeNamedPipe|0o600, st.Mode())

	// A second Make finds the FIFO there and did not make it: it must not remove it.
	again, err := fifo.Make(path)
	require.NoError(t, err)
	assert.Nil(t, again)

	require.NoError(t, made.Remove())
	assert.NoFileExists(t, path)
}

func TestRemoveOnlyWhatItMade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.fifo")
	made, err := fifo.Make(path)
	require.NoError(t, err)
	require.NotNil(t, made)

	// Someone removes our FIFO and makes another at the same path: it is not ours to remove.
	require.NoError(t, os.Remove(path))
	require.NoError(t, unix.Mkfifo(path, 0o600))
	assert.ErrorContains(t, made.Remove(), "it is no longer the FIFO this program made")
	assert.FileExists(t, path)

	assert.ErrorContains(t, made.Remove(), "Remove was called before")

	// Nothing at the path: nothing to remove.
	require.NoError(t, os.Remove(path))
	made, err = fifo.Make(path)
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	assert.ErrorContains(t, made.Remove(), "no such file or directory")
}

func TestMakeAndOpenRefuse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("keep"), 0o600))
	target := filepath.Join(dir, "target.fifo")
	require.NoError(t, unix.Mkfifo(target, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	dangling := filepath.Join(dir, "dangling")
	require.NoError(t, os.Symlink(filepath.Join(dir, "nothing"), dangling))

	for _, tc := range []struct{ path, want string }{
		{file, "is a regular file, not a FIFO"},
		{dir, "is a directory, not a FIFO"},
		{link, "is a symbolic link"},
		{dangling, "is a symbolic link"},
	} {
		_, err := fifo.Make(tc.path)
		assert.ErrorContains(t, err, tc.want, "Make %s", tc.path)
		// Open with O_NONBLOCK, so that opening a FIFO would not block the test.
		f, err := fifo.Open(tc.path, unix.O_WRONLY|unix.O_NONBLOCK)
		if f != nil {
			f.Close()
		}
		if tc.path != dir { // a directory cannot be opened for writing at all (EISDIR)
			assert.ErrorContains(t, err, tc.want, "Open %s", tc.path)
		}
	}
	assert.NoFileExists(t, filepath.Join(dir, "nothing"))
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(data))

	_, err = fifo.Make(filepath.Join(dir, "missing", "f.fifo"))
	assert.ErrorContains(t, err, "does not exist")
}

func TestRefuseAnotherUsersFIFO(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give a FIFO to another user")
	}
	path := filepath.Join(t.TempDir(), "theirs.fifo")
	require.NoError(t, unix.Mkfifo(path, 0o666))
	require.NoError(t, os.Chown(path, 65534, 65534))
	_, err := fifo.Make(path)
	assert.ErrorContains(t, err, "belongs to uid 65534, not to you (uid 0)")
	_, err = fifo.Open(path, unix.O_RDONLY|unix.O_NONBLOCK)
	assert.ErrorContains(t, err, "belongs to uid 65534, not to you (uid 0)")
}

// A hard link to a FIFO of ours passes O_NOFOLLOW and the owner check; it is refused, under
// either name, and both names stay.
func TestRefuseHardLinkedFIFO(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.fifo")
	link := filepath.Join(dir, "link.fifo")
	require.NoError(t, unix.Mkfifo(orig, 0o600))
	require.NoError(t, os.Link(orig, link))
	for _, path := range []string{orig, link} {
		_, err := fifo.Make(path)
		assert.ErrorContains(t, err, path+" has 2 hard links; refusing to use it")
		f, err := fifo.Open(path, unix.O_RDONLY|unix.O_NONBLOCK)
		if f != nil {
			f.Close()
		}
		assert.ErrorContains(t, err, path+" has 2 hard links; refusing to use it")
	}
	assert.FileExists(t, orig)
	assert.FileExists(t, link)
}

// pollIn polls fd without waiting and returns the events it reports.
func pollIn(t *testing.T, f *os.File) int16 {
	p := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}}
	_, err := unix.Poll(p, 0)
	require.NoError(t, err)
	return p[0].Revents
}

// The kernel's behaviour that the programs rely on, shown step by step (fifo(7), pipe(7)).
func TestFIFOSemantics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.fifo")
	made, err := fifo.Make(path)
	require.NoError(t, err)
	defer made.Remove()

	// A writer's O_NONBLOCK open fails with ENXIO while no reader has the FIFO open.
	_, err = fifo.Open(path, unix.O_WRONLY|unix.O_NONBLOCK)
	assert.ErrorIs(t, err, unix.ENXIO)

	// A reader's O_NONBLOCK open succeeds at once. With no writer yet, poll reports nothing,
	// but read returns 0, end of file: that is why the reader polls before reading.
	r, err := fifo.Open(path, unix.O_RDONLY|unix.O_NONBLOCK)
	require.NoError(t, err)
	defer r.Close()
	assert.Zero(t, pollIn(t, r), "poll reports an event before any writer came")
	var buf [16]byte
	n, err := unix.Read(int(r.Fd()), buf[:])
	assert.NoError(t, err)
	assert.Zero(t, n)

	// Now a writer can open it without waiting. What it writes makes the reader readable.
	w, err := fifo.Open(path, unix.O_WRONLY|unix.O_NONBLOCK)
	require.NoError(t, err)
	assert.Zero(t, pollIn(t, r), "poll reports an event when a writer opened but wrote nothing")
	_, err = w.Write([]byte("hi\n"))
	require.NoError(t, err)
	assert.Equal(t, int16(unix.POLLIN), pollIn(t, r))
	n, err = unix.Read(int(r.Fd()), buf[:])
	require.NoError(t, err)
	assert.Equal(t, "hi\n", string(buf[:n]))

	// The writer closes: POLLHUP, and it stays, so that a reader -follow that kept this
	// descriptor would spin. A descriptor opened after it does not report it.
	require.NoError(t, w.Close())
	assert.Equal(t, int16(unix.POLLHUP), pollIn(t, r))
	assert.Equal(t, int16(unix.POLLHUP), pollIn(t, r))
	r2, err := fifo.Open(path, unix.O_RDONLY|unix.O_NONBLOCK)
	require.NoError(t, err)
	defer r2.Close()
	assert.Zero(t, pollIn(t, r2), "a new descriptor reports an earlier writer's hangup")

	// Data written while the reader switches descriptors stays in the pipe: it is one pipe,
	// which keeps its content as long as any reader or writer has it open.
	w, err = fifo.Open(path, unix.O_WRONLY|unix.O_NONBLOCK)
	require.NoError(t, err)
	_, err = w.Write([]byte("kept\n"))
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, r.Close())
	assert.Equal(t, int16(unix.POLLIN|unix.POLLHUP), pollIn(t, r2))
	n, err = unix.Read(int(r2.Fd()), buf[:])
	require.NoError(t, err)
	assert.Equal(t, "kept\n", string(buf[:n]))
}

// A write of at most PIPE_BUF bytes to a pipe with O_NONBLOCK is all or nothing: with too
// little room it fails with EAGAIN and writes none of it. Longer writes may be split.
func TestWriteOfPipeBufIsAtomic(t *testing.T) {
	const pipeBuf = 4096 // PIPE_BUF on Linux, from <limits.h>
	var p [2]int
	require.NoError(t, unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC))
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	size, err := unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)

	// Fill the pipe but for pipeBuf-1 bytes.
	filler := make([]byte, size-(pipeBuf-1))
	n, err := unix.Write(p[1], filler)
	require.NoError(t, err)
	require.Equal(t, len(filler), n)

	// A PIPE_BUF write does not fit: none of it is written.
	_, err = unix.Write(p[1], make([]byte, pipeBuf))
	assert.ErrorIs(t, err, unix.EAGAIN)
	// A longer write is cut to what fits: once a reader has made some room, part of it is
	// written, and another writer's bytes could follow that part.
	n, err = unix.Read(p[0], make([]byte, pipeBuf))
	require.NoError(t, err)
	require.Equal(t, pipeBuf, n)
	n, err = unix.Write(p[1], make([]byte, 2*pipeBuf))
	require.NoError(t, err)
	assert.Greater(t, n, 0)
	assert.Less(t, n, 2*pipeBuf)
}
