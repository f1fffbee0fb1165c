package tcpsock_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
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

// A server and a client in one process, over TCP on the loopback address: the server listens
// on a port that the kernel picks, accepts the client's connection, and answers each of its
// lines in upper case until the client says that it has nothing more to send.
func Example() {
	// socket(2), bind(2) and listen(2), in net.Listen; port 0 asks the kernel for a free port.
	l := must(net.Listen("tcp", "127.0.0.1:0"))
	defer l.Close()

	go func() { // the server: accept(2) one connection, answer lines until end of file
		c := must(l.Accept())
		defer c.Close()
		fmt.Println("server: a client on the same host:", strings.HasPrefix(c.RemoteAddr().String(), "127.0.0.1:"))
		for s := bufio.NewScanner(c); s.Scan(); {
			fmt.Fprintln(c, strings.ToUpper(s.Text()))
		}
	}()

	// The client: connect(2), one line, then shutdown(2) SHUT_WR: "nothing more from me".
	c := must(net.Dial("tcp", l.Addr().String()))
	defer c.Close()
	fmt.Fprintln(c, "hello, server")
	check(c.(*net.TCPConn).CloseWrite())
	// The connection still reads: every answer, then end of file when the server closes.
	fmt.Print("client: ", string(must(io.ReadAll(c))))
	// Output:
	// server: a client on the same host: true
	// client: HELLO, SERVER
}
