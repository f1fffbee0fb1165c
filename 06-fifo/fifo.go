// Package fifo is what the writer and reader of this example agree on, like the shared header
// of a C example: the default path of the FIFO, its mode, how it is made, checked and opened,
// and the rule that only the program that made it removes it.
//
// A FIFO (a named pipe) is a pipe with a name in the file system: mkfifo(3) makes the name,
// open(2) connects to the pipe, and the bytes go through the kernel, never to the disk.
package fifo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DefaultPath is the FIFO the programs share when no -path is given.
var DefaultPath = filepath.Join(os.TempDir(), "ipc-fifo")

// Mode is the permission of a FIFO the programs make: only its owner may read or write it.
// (mkfifo(3) applies the umask, which can only take bits away.)
const Mode = 0o600

// Made is a FIFO that this process made, and so must remove. It holds an O_PATH descriptor
// of the FIFO, so that Remove can tell that FIFO from another that has taken its name since:
// the descriptor keeps the FIFO's inode alive, and so its number is not given to another file.
// (An O_PATH descriptor refers to a file without opening it for reading or writing, so it
// does not count as a reader or a writer of the FIFO.)
type Made struct {
	Path string
	fd   int
}

// Make makes sure that a FIFO of ours is at path: it makes one with mkfifo(3) and Mode if
// nothing is there, and otherwise checks what is there as Open does. It returns the Made FIFO
// if it made one, nil if one was already there: that one belongs to whoever made it.
func Make(path string) (*Made, error) {
	err := unix.Mkfifo(path, Mode)
	if errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("mkfifo %s: directory %s does not exist (create it, or pass -path with another path)", path, filepath.Dir(path))
	}
	if errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("mkfifo %s: permission denied (you may not create files in %s; pass -path with another path)", path, filepath.Dir(path))
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, &os.PathError{Op: "mkfifo", Path: path, Err: err}
	}
	made := err == nil
	// Look at what is at path. mkfifo never follows a symlink (it fails with EEXIST, even if
	// the link dangles), and neither does O_NOFOLLOW with O_PATH: it opens the link itself.
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := check(path, &st); err != nil || !made {
		unix.Close(fd)
		return nil, err
	}
	return &Made{Path: path, fd: fd}, nil
}

// Remove removes the FIFO that Make made, if its path still names that FIFO; if another file
// has taken the name, or it is gone, Remove leaves the path alone and says so.
//
// Unlinking removes only the name: a process that has the FIFO open keeps reading and writing
// it, and the kernel frees the pipe when the last descriptor is closed.
//
// Remove releases the descriptor, so call it once.
func (m *Made) Remove() error {
	if m.fd < 0 {
		return fmt.Errorf("not removing %s: Remove was called before", m.Path)
	}
	defer func() {
		unix.Close(m.fd)
		m.fd = -1
	}()
	var ours, now unix.Stat_t
	if err := unix.Fstat(m.fd, &ours); err != nil {
		return &os.PathError{Op: "fstat", Path: m.Path, Err: err}
	}
	if err := unix.Lstat(m.Path, &now); err != nil {
		return fmt.Errorf("not removing %s: %w", m.Path, err)
	}
	if now.Dev != ours.Dev || now.Ino != ours.Ino {
		return fmt.Errorf("not removing %s: it is no longer the FIFO this program made", m.Path)
	}
	if err := unix.Unlink(m.Path); err != nil {
		return &os.PathError{Op: "unlink", Path: m.Path, Err: err}
	}
	return nil
}

// Open opens the FIFO at path with flag (unix.O_RDONLY or unix.O_WRONLY, with or without
// unix.O_NONBLOCK) and returns it as an *os.File in non-blocking mode.
//
// What open(2) does depends on the flag; this is the heart of the example:
//   - O_RDONLY blocks until a writer opens the FIFO; O_WRONLY blocks until a reader does;
//   - O_RDONLY|O_NONBLOCK returns at once, writer or not;
//   - O_WRONLY|O_NONBLOCK returns at once, or fails with ENXIO if no reader has it open.
//
// A blocking open is not ended by a signal: Go installs its handlers with SA_RESTART, and the
// kernel restarts the open after Ctrl-C. The writer shows how to wait for one anyway.
//
// Open is careful with what it finds at path, which may be in a shared directory such as /tmp:
//   - O_NOFOLLOW: a symlink at path fails with ELOOP instead of being followed;
//   - O_NOCTTY: a terminal at path does not become our controlling terminal;
//   - fstat(2) on the open descriptor refuses anything but a FIFO owned by us with no other
//     name (a regular file, say, is never written into: the descriptor is closed before
//     anything is written). Make has checked the path already, without opening it; this
//     catches a swap in between.
//
// The returned file is put in non-blocking mode, so that Go's poller (epoll) waits for its reads
// and writes, and a deadline (set when Ctrl-C arrives) ends those waits.
func Open(path string, flag int) (*os.File, error) {
	fd, err := unix.Open(path, flag|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, symlinkError(path)
	}
	if errors.Is(err, unix.EACCES) {
		return nil, fmt.Errorf("open %s: permission denied (you may not use this FIFO; pass -path with another path)", path)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if err := check(path, &st); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// check refuses anything but a FIFO owned by us, with no other name. A hard link passes
// O_NOFOLLOW and the owner check: anyone may link a FIFO of yours into /tmp (unless
// fs.protected_hardlinks forbids it), and you may link your own; the programs would then read
// or write a FIFO that another program of yours uses under its own name. An st_nlink of 0 is
// no such link: the FIFO has no name left, because the peer that made it removed it after we
// opened it (the writer does so as soon as it has written).
func check(path string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
	case unix.S_IFLNK:
		return symlinkError(path)
	default:
		return fmt.Errorf("%s is %s, not a FIFO; refusing to use it (remove it, or pass -path with another path)", path, kind(st.Mode))
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("%s belongs to uid %d, not to you (uid %d); refusing to use it (pass -path with another path)", path, st.Uid, uid)
	}
	if st.Nlink > 1 { // 0 is fine: the peer that made it has removed it since we opened it
		return fmt.Errorf("%s has %d hard links; refusing to use it (a hard link could make this program read or write a FIFO that another program uses under another name; remove it, or pass -path with another path)", path, st.Nlink)
	}
	return nil
}

func symlinkError(path string) error {
	return fmt.Errorf("%s is a symbolic link, which this program refuses to follow (remove it, or pass -path with another path)", path)
}

// kind names the type of file in an st_mode.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "a special file"
}
