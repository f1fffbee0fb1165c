// Package unixsock is what the server and the client of this example agree on, like the shared
// header of a C example: the default socket path, the limits of a path, the line protocol, the
// socket file's mode, and the few calls around a Unix stream socket that the net package hides:
// what to do with a socket file found at the path (RemoveStale), the peer's credentials
// (PeerCred, SO_PEERCRED) and passing an open descriptor (SendFd and Recvmsg, SCM_RIGHTS).
// exit.go is how both programs parse their flags and end on a signal, the same in every example
// of the cookbook.
//
// A Unix stream socket is a connection between two processes of one machine, named by a path in
// the file system (or by a name in the abstract namespace): the server binds and listens, each
// client connects, and both ends read and write until either closes. At the API it is a network
// socket, with AF_UNIX where TCP has AF_INET.
package unixsock

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultPath is the socket that the server listens on and the client connects to when no -path
// is given.
var DefaultPath = filepath.Join(os.TempDir(), "ipc-unix.sock")

// Mode is the permission of the socket file that the server makes: only its owner may connect.
// Connecting to a socket needs write permission on its file, so the file's mode is the access
// control of a socket in the file system (an abstract name has none).
const Mode = 0o600

// MaxLine is the longest request line, in bytes, its newline not counted. A longer line gets its
// connection closed: a server that buffered whatever a client sends until a newline comes would
// let one client take all its memory.
const MaxLine = 64 * 1024

// SunPathLen is the size of sun_path in struct sockaddr_un on Linux: 108 bytes, which hold a
// path and the NUL that ends it, so a path has at most 107 bytes. An abstract name (see
// Abstract) needs no NUL, and may use all 108 with its leading '@' (a NUL byte on the wire).
const SunPathLen = len(unix.RawSockaddrUnix{}.Path)

// Abstract says whether path names a socket in Linux's abstract namespace: it starts with '@',
// which Go turns into the NUL byte that starts such a name in sun_path. An abstract socket has no
// file: no mode, no owner, no stale file after a crash (it goes when its last descriptor is
// closed); anyone in the same network namespace may connect to it.
func Abstract(path string) bool {
	return len(path) > 0 && path[0] == '@'
}

// CheckPath refuses a path that does not fit in sun_path, with one line that names the limit,
// before any system call fails with a bare "invalid argument".
func CheckPath(path string) error {
	switch {
	case path == "":
		return errors.New("-path is empty: want the path of a socket, or @name for an abstract one")
	case path == "@":
		return errors.New("-path @: an abstract name needs at least one character after the @")
	case Abstract(path) && len(path) > SunPathLen:
		return fmt.Errorf("abstract socket name %s is %d bytes, longer than a Unix socket address allows: sun_path holds %d bytes (pass a shorter name)", path, len(path), SunPathLen)
	case !Abstract(path) && len(path)+1 > SunPathLen:
		return fmt.Errorf("socket path %s is %d bytes, longer than a Unix socket address allows: sun_path holds %d bytes with the path's final NUL, so %d at most (pass a shorter path, or a relative one from a nearby directory)", path, len(path), SunPathLen, SunPathLen-1)
	}
	return nil
}

// Upper is the server's answer to a request line: the line in upper case (Unicode, as
// bytes.ToUpper does it; a byte that is not valid UTF-8 becomes U+FFFD).
func Upper(line []byte) []byte {
	return bytes.ToUpper(line)
}

// RemoveStale makes way for a server at path, if something is there, and trusts nothing it
// finds:
//   - nothing: nothing to do;
//   - not a socket (a regular file, a directory, a symbolic link...): refused, untouched;
//   - a socket that a server answers on (connect(2) succeeds): refused, untouched: that server
//     is alive, and removing its file would only cut it off from new clients;
//   - a socket on which connect fails with ECONNREFUSED: nothing listens on it; it was left by a
//     server that died without removing it (a crash, kill -9). It is removed, if it is ours,
//     and RemoveStale returns true, so that the caller says so;
//   - any other failure of connect (EACCES: another user's socket): refused, untouched.
//
// The server then binds; if another server takes the path in between, bind fails with
// EADDRINUSE, and nothing is lost.
func RemoveStale(path string) (removed bool, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); errors.Is(err, unix.ENOENT) {
		return false, nil
	} else if err != nil {
		return false, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return false, fmt.Errorf("%s is %s, not a socket; refusing to touch it (remove it yourself, or pass another -path)", path, kind(st.Mode))
	}
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		c.Close()
		return false, fmt.Errorf("connect %s: a server is listening on it already; refusing to replace it (stop that server first, or pass another -path)", path)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		return false, fmt.Errorf("connect %s: %w; refusing to touch it (pass another -path)", path, unwrap(err))
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return false, fmt.Errorf("%s is a stale socket (nothing listens on it) that belongs to uid %d, not to you (uid %d); refusing to remove it (pass another -path)", path, st.Uid, uid)
	}
	if err := unix.Unlink(path); err != nil {
		return false, &os.PathError{Op: "unlink", Path: path, Err: err}
	}
	return true, nil
}

// unwrap takes the errno out of a *net.OpError and its *os.SyscallError, so that a message
// reads "connect s.sock: permission denied" and not "connect s.sock: dial unix s.sock: connect:
// permission denied".
func unwrap(err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// DialError says why the client could not connect to the server at path, with the usual fix.
func DialError(path string, err error) error {
	errno := unwrap(err)
	switch {
	case errors.Is(errno, unix.ENOENT):
		return fmt.Errorf("connect %s: %w (is the server running? start it first)", path, errno)
	case errors.Is(errno, unix.ECONNREFUSED) && Abstract(path):
		return fmt.Errorf("connect %s: %w (nothing listens on this abstract name: is the server running? start it first)", path, errno)
	case errors.Is(errno, unix.ECONNREFUSED):
		return fmt.Errorf("connect %s: %w (a stale socket file that nothing listens on: is the server running? start it first)", path, errno)
	case errors.Is(errno, unix.EACCES):
		return fmt.Errorf("connect %s: %w (the socket file is another user's, with mode %#o)", path, errno, Mode)
	case errors.Is(errno, unix.ENOTSOCK):
		return fmt.Errorf("connect %s: %w (pass the path of the server's socket)", path, errno)
	}
	return fmt.Errorf("connect %s: %w", path, errno)
}

// PeerCred returns the credentials of the process at the other end of c: getsockopt(2)
// SO_PEERCRED, which the kernel filled in when the connection was made (connect(2) for the
// server's end), so the peer cannot lie about them. Only Unix sockets have this: a TCP server
// knows an address, not a user.
func PeerCred(c *net.UnixConn) (*unix.Ucred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	err = rc.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil {
		return nil, err
	}
	if credErr != nil {
		return nil, os.NewSyscallError("getsockopt SO_PEERCRED", credErr)
	}
	return cred, nil
}

// SendFd sends the open descriptor fd over c, as an SCM_RIGHTS control message of sendmsg(2),
// with data: at least one byte. A control message travels with data, and a stream socket does
// not send zero bytes of data at all (a sendmsg with none sends nothing, on Linux, and the
// descriptor is lost). The receiver gets its own descriptor for the same open file: the same
// offset and the same access mode, whoever may or may not open the file by name.
func SendFd(c *net.UnixConn, fd int, data []byte) error {
	if len(data) == 0 {
		return errors.New("SendFd: a descriptor needs at least one byte of data to travel with")
	}
	n, _, err := c.WriteMsgUnix(data, unix.UnixRights(fd), nil)
	if err != nil {
		return err
	}
	if n != len(data) {
		return fmt.Errorf("sendmsg: sent %d of %d bytes", n, len(data))
	}
	return nil
}

// MaxFds is how many descriptors a Recvmsg has room for in one control message. A sender that
// sends more gets its message truncated (MSG_CTRUNC): the descriptors that did not fit are
// closed by the kernel, the others are ours, and Recvmsg closes them.
const MaxFds = 4

// Recvmsg is recvmsg(2) on c: it reads data into p and returns the descriptors that came with it
// (SCM_RIGHTS), which the caller must close, every one, or they stay open in this process.
//
// It passes MSG_CMSG_CLOEXEC, which sets close-on-exec on each descriptor as the kernel installs
// it: without it, a descriptor received just as another goroutine forks and execs a program
// would leak into that program (O_CLOEXEC set afterwards, with fcntl, comes too late). (net's
// ReadMsgUnix passes it too, on Linux; this shows it, and the MSG_CTRUNC check, which net leaves
// to its caller.)
//
// If the control message was truncated (MSG_CTRUNC: more descriptors than room), Recvmsg closes
// those that did arrive and returns an error with the data read. At end of file it returns 0 and
// io.EOF, as an io.Reader does; a deadline set on c ends its wait (os.ErrDeadlineExceeded).
func Recvmsg(c *net.UnixConn, p []byte) (n int, fds []int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, nil, err
	}
	oob := make([]byte, unix.CmsgSpace(MaxFds*4))
	var oobn, flags int
	var recvErr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, flags, _, recvErr = unix.Recvmsg(int(fd), p, oob, unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN // false: wait (in Go's poller) until there is data
	})
	if err != nil {
		return 0, nil, err
	}
	if recvErr != nil {
		return 0, nil, os.NewSyscallError("recvmsg", recvErr)
	}
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return n, nil, os.NewSyscallError("recvmsg: parse control message", err)
		}
		for _, m := range msgs {
			rights, err := unix.ParseUnixRights(&m)
			if err == nil {
				fds = append(fds, rights...)
			}
		}
	}
	if flags&unix.MSG_CTRUNC != 0 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return n, nil, fmt.Errorf("recvmsg: control message truncated (MSG_CTRUNC): the peer sent more than %d descriptors; closed the %d that arrived", MaxFds, len(fds))
	}
	if n == 0 && len(p) > 0 {
		return 0, fds, io.EOF
	}
	return n, fds, nil
}

// kind names the type of file in an st_mode.
func kind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	}
	return "a special file"
}
