package shmsysv_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	shmsysv "example.com/ipc/02-shm-sysv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The arithmetic, on values chosen to show each mask: only the low 8 bits of the project id
// and of st_dev, and the low 16 bits of st_ino, survive.
func TestFtokArithmetic(t *testing.T) {
	for _, c := range []struct {
		dev, ino uint64
		proj     int
		want     uint32
	}{
		{dev: 0xfe00, ino: 246947, proj: 'M', want: 0x4d00c4a3}, // /tmp on the machine this was written on, as C's ftok printed it
		{dev: 0x15, ino: 1, proj: 1, want: 0x01150001},
		{dev: 0x1234, ino: 0x12345678, proj: 0x12, want: 0x12345678},
		{dev: 0, ino: 0xffff, proj: 0x1ff, want: 0xff00ffff},             // 0x1ff: the low 8 bits only
		{dev: 0, ino: 0x10000, proj: 0x100, want: 0x00000000},            // proj 256 is proj 0, inode 65536 is 0
		{dev: unix.Mkdev(259, 0x1ab), ino: 7, proj: 1, want: 0x01ab0007}, // the low byte of the whole dev_t: the minor's, in glibc's encoding
		{dev: unix.Mkdev(0x1ff, 0x2cd), ino: 7, proj: 200, want: 0xc8cd0007},
	} {
		assert.Equal(t, c.want, shmsysv.FtokOf(c.dev, c.ino, c.proj), "dev %#x ino %#x proj %#x", c.dev, c.ino, c.proj)
	}
}

// Ftok on real files, against the device and inode numbers that os.Stat reports for them.
// (testdata/script/c_peer.txtar compares with glibc's own ftok.)
func TestFtokOfRealFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, path := range []string{dir, file, "/", "/proc", "/dev/null", os.TempDir()} {
		fi, err := os.Stat(path)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		for _, proj := range []int{1, 'M', 255} {
			want := uint32(proj)<<24 | uint32(st.Dev%256)<<16 | uint32(st.Ino%65536)
			got, err := shmsysv.Ftok(path, proj)
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s %d", path, proj)
		}
	}
}

// Like C's ftok, Ftok follows a symbolic link: it names the file the link points to.
func TestFtokFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, nil, 0o600))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	a, err := shmsysv.Ftok(target, 'M')
	require.NoError(t, err)
	b, err := shmsysv.Ftok(link, 'M')
	require.NoError(t, err)
	assert.Equal(t, a, b)
}

// A file removed and made again gets a new inode, and so (usually) a new key: the pitfall
// that makes ftok want a file that stays put.
func TestFtokChangesWhenTheFileIsMadeAgain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	keep := filepath.Join(dir, "keep") // holds on to the old inode, so it cannot be reused
	require.NoError(t, os.Link(path, keep))
	before, err := shmsysv.Ftok(path, 'M')
	require.NoError(t, err)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	after, err := shmsysv.Ftok(path, 'M')
	require.NoError(t, err)
	var st1, st2 unix.Stat_t
	require.NoError(t, unix.Stat(keep, &st1))
	require.NoError(t, unix.Stat(path, &st2))
	if st1.Ino%65536 != st2.Ino%65536 {
		assert.NotEqual(t, before, after)
	}
}

func TestFtokMissingFile(t *testing.T) {
	_, err := shmsysv.Ftok(filepath.Join(t.TempDir(), "missing"), 'M')
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, "ftok: stat ")
}

func TestParseKey(t *testing.T) {
	for in, want := range map[string]uint32{
		"1":          1,
		"1234":       1234,
		"0x4d00c4a3": 0x4d00c4a3,
		"0X4D00C4A3": 0x4d00c4a3,
		"0xffffffff": 0xffffffff,
		"4294967295": 0xffffffff,
		"010":        10, // decimal, not octal
		"0x0001":     1,
	} {
		got, err := shmsysv.ParseKey(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "0x", "x10", "-1", "+1", "4294967296", "0x100000000", "0o17", "0b1", "1_000", " 1", "1 ", "0xg"} {
		_, err := shmsysv.ParseKey(in)
		assert.ErrorContains(t, err, "want a number from 1 to 4294967295", "%q", in)
	}
	for _, in := range []string{"0", "0x0", "0x00000000", "00"} {
		_, err := shmsysv.ParseKey(in)
		assert.ErrorContains(t, err, "IPC_PRIVATE", in)
	}
}

func TestCheckProj(t *testing.T) {
	for _, p := range []int{1, 'M', 255} {
		assert.NoError(t, shmsysv.CheckProj(p), p)
	}
	for _, p := range []int{0, -1, 256, 333} {
		assert.ErrorContains(t, shmsysv.CheckProj(p), "want 1 to 255", p)
	}
}

// A key_t is a signed 32-bit int: keys from 0x80000000 up are negative in C.
func TestShmKey(t *testing.T) {
	assert.Equal(t, 1, shmsysv.ShmKey(1))
	assert.Equal(t, 0x7fffffff, shmsysv.ShmKey(0x7fffffff))
	assert.Equal(t, -0x80000000, shmsysv.ShmKey(0x80000000))
	assert.Equal(t, -1, shmsysv.ShmKey(0xffffffff))
}

func TestPutGet(t *testing.T) {
	seg := make([]byte, 8)
	require.NoError(t, shmsysv.Put(seg, []byte("1234567"))) // 7 bytes and the NUL: exactly full
	assert.Equal(t, []byte("1234567\x00"), seg)
	msg, err := shmsysv.Get(seg)
	require.NoError(t, err)
	assert.Equal(t, "1234567", string(msg))

	// The copy stays when the segment changes (or is detached).
	seg[0] = 'X'
	assert.Equal(t, "1234567", string(msg))

	// A shorter message: the NUL ends it, whatever bytes follow.
	require.NoError(t, shmsysv.Put(seg, []byte("ab")))
	assert.Equal(t, []byte("ab\x004567\x00"), seg)
	msg, err = shmsysv.Get(seg)
	require.NoError(t, err)
	assert.Equal(t, "ab", string(msg))

	// The empty message is a NUL alone.
	require.NoError(t, shmsysv.Put(seg, nil))
	msg, err = shmsysv.Get(seg)
	require.NoError(t, err)
	assert.Empty(t, msg)

	// One byte too many is refused, and the segment is unchanged: never truncated.
	copy(seg, "keep me\x00")
	err = shmsysv.Put(seg, []byte("12345678"))
	assert.EqualError(t, err, "the message is 8 bytes; with its NUL it needs 9, but the segment is 8 bytes")
	assert.Equal(t, []byte("keep me\x00"), seg)

	// So is a message with a NUL inside, which a C reader would cut short.
	err = shmsysv.Put(seg, []byte("a\x00b"))
	assert.EqualError(t, err, "the message holds a NUL byte at offset 1, where a C reader would stop")
	assert.Equal(t, []byte("keep me\x00"), seg)

	// A segment with no NUL holds no message.
	_, err = shmsysv.Get([]byte("xxxx"))
	assert.EqualError(t, err, "no NUL byte in its 4 bytes, so it holds no message")
}

// A real segment: created with Mode whatever the umask, written through one attachment and
// read through another, as two processes would.
func TestSegment(t *testing.T) {
	old := unix.Umask(0o077)
	defer unix.Umask(old)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 100, unix.IPC_CREAT|unix.IPC_EXCL|shmsysv.Mode)
	require.NoError(t, err)
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)

	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err)
	assert.Equal(t, uint32(0o600), ds.Perm.Mode&0o777)
	assert.Equal(t, uint64(100), ds.Segsz)
	assert.Equal(t, uint32(os.Geteuid()), ds.Perm.Uid)

	w, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	assert.Len(t, w, 100) // the size asked for, not rounded up to a page
	r, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	require.NoError(t, err)
	// A new segment is all zeros: it holds the empty message.
	msg, err := shmsysv.Get(r)
	require.NoError(t, err)
	assert.Empty(t, msg)

	require.NoError(t, shmsysv.Put(w, []byte("through shared memory")))
	msg, err = shmsysv.Get(r)
	require.NoError(t, err)
	assert.Equal(t, "through shared memory", string(msg))
	require.NoError(t, unix.SysvShmDetach(w))
	require.NoError(t, unix.SysvShmDetach(r))
}

// shmDest is SHM_DEST from <linux/shm.h>, the mode bit of a segment marked for removal.
const shmDest = 0o1000

// IPC_RMID on an attached segment only marks it: it stays readable through the attachment,
// with its key set to 0 (IPC_PRIVATE) and SHM_DEST in its mode, and is freed at the last detach.
func TestRemovedSegmentLivesUntilTheLastDetach(t *testing.T) {
	key := uint32(0x02000000) | uint32(os.Getpid())&0xffffff // a key of this test process
	id, err := unix.SysvShmGet(shmsysv.ShmKey(key), 64, unix.IPC_CREAT|unix.IPC_EXCL|shmsysv.Mode)
	require.NoError(t, err)
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		t.Fatal(err)
	}
	require.NoError(t, shmsysv.Put(seg, []byte("still here")))

	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	require.NoError(t, err)
	_, err = unix.SysvShmGet(shmsysv.ShmKey(key), 0, 0)
	assert.ErrorIs(t, err, unix.ENOENT, "the key still finds a removed segment")
	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err)
	assert.Equal(t, int32(0), ds.Perm.Key)
	assert.NotZero(t, ds.Perm.Mode&shmDest)
	msg, err := shmsysv.Get(seg)
	require.NoError(t, err)
	assert.Equal(t, "still here", string(msg))

	require.NoError(t, unix.SysvShmDetach(seg))
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	assert.Error(t, err, "the segment outlived its last detach")
}

// The default key is ftok of the temporary directory, which the scripts point at $WORK/.tmp.
func TestDefaults(t *testing.T) {
	assert.Equal(t, os.TempDir(), shmsysv.DefaultPath)
	assert.EqualValues(t, 77, shmsysv.DefaultProj)
	assert.NoError(t, shmsysv.CheckProj(shmsysv.DefaultProj))
	assert.Equal(t, os.FileMode(0o600), os.FileMode(shmsysv.Mode))
}

// A segment is ours alone if its owner and its creator are us and its mode gives nothing to
// group or others; the other mode bits (SHM_DEST, SHM_LOCKED) do not count.
func TestCheckOwner(t *testing.T) {
	desc := func(uid, cuid, mode uint32) *unix.SysvShmDesc {
		return &unix.SysvShmDesc{Perm: unix.SysvIpcPerm{Uid: uid, Cuid: cuid, Mode: mode}}
	}
	for _, ds := range []*unix.SysvShmDesc{
		desc(1000, 1000, 0o600), desc(1000, 1000, 0o400), desc(1000, 1000, 0o200), desc(1000, 1000, 0),
		desc(1000, 1000, 0o1600), desc(1000, 1000, 0o2600), // SHM_DEST, SHM_LOCKED
	} {
		assert.NoError(t, shmsysv.CheckOwner(0x1234, 7, ds, 1000), "mode %o", ds.Perm.Mode)
	}

	err := shmsysv.CheckOwner(0x1234, 7, desc(65534, 65534, 0o600), 1000)
	assert.EqualError(t, err, "segment key 0x00001234 (shmid 7) belongs to uid 65534, not to you (uid 1000); refusing to use it (pass another -key or -path/-proj)")
	// Handed over with IPC_SET: the owner is us, the creator is not.
	err = shmsysv.CheckOwner(0x1234, 7, desc(1000, 65534, 0o600), 1000)
	assert.EqualError(t, err, "segment key 0x00001234 (shmid 7) was created by uid 65534, not by you (uid 1000), and its creator may change its owner and mode at any time; refusing to use it (pass another -key or -path/-proj)")
	// Made by us, then handed to another user: not ours any more.
	err = shmsysv.CheckOwner(0x1234, 7, desc(65534, 1000, 0o600), 1000)
	assert.ErrorContains(t, err, "belongs to uid 65534, not to you (uid 1000)")
	for _, mode := range []uint32{0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o666, 0o1660} {
		err = shmsysv.CheckOwner(0x1234, 7, desc(1000, 1000, mode), 1000)
		assert.ErrorContains(t, err, "segment key 0x00001234 (shmid 7) has mode 0"+strconv.FormatUint(uint64(mode&0o777), 8)+", which lets group or others attach it; refusing to use it (remove it: ipcrm -m 7, or pass another -key or -path/-proj)")
	}
	// Root is no exception: a segment that nobody made and handed to root is refused.
	err = shmsysv.CheckOwner(0x1234, 7, desc(0, 65534, 0o666), 0)
	assert.ErrorContains(t, err, "was created by uid 65534, not by you (uid 0)")
}
