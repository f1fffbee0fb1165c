package unixsock_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// must panics on an error (a panic, unlike log.Fatal, runs the deferred clean-ups), or returns v.
func must[T any](v T, err error) T {
	check(err)
	return v
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// A server and a client in one process: the server listens on a socket file, accepts the
// client's connection, asks the kernel who the client is, and answers its line in upper case.
func Example() {
	// A directory that only we may enter, for the socket file (the programs use $TMPDIR).
	dir := must(os.MkdirTemp("", "unixsock-example-"))
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "s.sock")

	// socket(2), bind(2) and listen(2), in net.ListenUnix. bind makes the file with mode 0777
	// less the umask: a umask of 0177 makes it 0600 from its first moment.
	old := unix.Umask(0o177)
	l := must(net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"}))
	unix.Umask(old)
	defer l.Close() // closes the socket, and removes the file
	fmt.Println("socket file:", must(os.Lstat(path)).Mode())

	go func() { // the server: accept(2) one connection, read one line, answer it
		c := must(l.AcceptUnix())
		defer c.Close()
		// getsockopt(2) SO_PEERCRED: the client's pid, uid and gid, recorded at its connect(2).
		var cred *unix.Ucred
		must(c.SyscallConn()).Control(func(fd uintptr) {
			cred = must(unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED))
		})
		fmt.Println("server: the client is this process:", int(cred.Pid) == os.Getpid())
		c.Write(bytes.ToUpper(must(bufio.NewReader(c).ReadBytes('\n'))))
	}()

	// The client: connect(2), then a line each way on the same connection.
	c := must(net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"}))
	defer c.Close()
	c.Write([]byte("hello, server\n"))
	fmt.Print("client: ", must(bufio.NewReader(c).ReadString('\n')))
	// Output:
	// socket file: Srw-------
	// server: the client is this process: true
	// client: HELLO, SERVER
}

// A descriptor passed over a Unix socket with SCM_RIGHTS: the receiver reads a file that it
// never opened, and that no name reaches any more.
func Example_passDescriptor() {
	// socketpair(2): two connected Unix stream sockets, as connect and accept would give.
	sv := must(unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0))
	defer unix.Close(sv[0])
	defer unix.Close(sv[1])

	// A file with no name: made, opened, then removed; only its descriptor reaches it.
	f := must(os.CreateTemp("", "unixsock-example-"))
	check(os.Remove(f.Name()))
	fmt.Fprintln(f, "read through a descriptor passed with SCM_RIGHTS")
	must(f.Seek(0, io.SeekStart)) // the receiver shares this offset: the open file is one

	// sendmsg(2): the descriptor in an SCM_RIGHTS control message, with one byte of data,
	// without which a stream socket sends nothing, the descriptor included.
	check(unix.Sendmsg(sv[0], []byte{'\n'}, unix.UnixRights(int(f.Fd())), nil, 0))
	f.Close() // ours only: the receiver has a descriptor of its own, to the same open file

	// recvmsg(2) with room for one descriptor; MSG_CMSG_CLOEXEC sets close-on-exec on it.
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, flags, _, err := unix.Recvmsg(sv[1], make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
	check(err)
	if flags&unix.MSG_CTRUNC != 0 { // no room for them all: the rest were closed, and lost
		panic("control message truncated")
	}
	cmsgs := must(unix.ParseSocketControlMessage(oob[:oobn]))
	fds := must(unix.ParseUnixRights(&cmsgs[0]))
	got := os.NewFile(uintptr(fds[0]), "received") // every descriptor received must be closed
	defer got.Close()
	fmt.Print(string(must(io.ReadAll(got))))
	// Output: read through a descriptor passed with SCM_RIGHTS
}
