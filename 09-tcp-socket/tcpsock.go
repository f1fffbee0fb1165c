// Package tcpsock is what the server and the client of this example agree on, like the shared
// header of a C example: the default address, the line protocol, and how to read an address
// and the errors of a connection. exit.go is how both programs parse their flags and end on a
// signal, the same in every example of the cookbook.
//
// A TCP stream socket is a connection between two processes, on one machine or on two: the
// server listens on a host and a port, each client connects, and both ends read and write until
// either closes. At the API it is the Unix stream socket of 08-unix-socket, with AF_INET (or
// AF_INET6) where that has AF_UNIX, and an address, HOST:PORT, where that has a path: no file,
// no mode, no owner, no stale file to clean up, and no SO_PEERCRED (a TCP server knows an
// address, not a user).
package tcpsock

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// DefaultAddr is the address that the server listens on and the client connects to when no
// -addr is given: the loopback address, which only this machine's processes can reach, and a
// fixed port, so that both programs agree with no flags. To serve other hosts, the server
// listens on one of the machine's real addresses (or on :PORT, all of them).
const DefaultAddr = "127.0.0.1:7777"

// DefaultTimeout is how long the client waits for a connection to be made. Refused is at once;
// a host that does not answer at all (down, or a firewall that drops packets) would otherwise
// keep it waiting for the kernel's own limit, about two minutes (tcp_syn_retries).
const DefaultTimeout = 5 * time.Second

// MaxLine is the longest request line, in bytes, its newline not counted. A longer line gets its
// connection closed: a server that buffered whatever a client sends until a newline comes would
// let one client take all its memory.
const MaxLine = 64 * 1024

// CheckAddr refuses an address that is not HOST:PORT with a port number, with one line, before
// any system call fails. HOST may be an IP address (an IPv6 one in brackets: [::1]:7777), a
// name (localhost), or empty (:7777: every address of the machine); port 0 asks the kernel
// for a free port (for the server).
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: want HOST:PORT, such as %s or [::1]:7777 (%v)", addr, DefaultAddr, addrErr(err))
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("-addr %q: port %q: want a number from 0 to 65535", addr, port)
	}
	if bytes.ContainsAny([]byte(host), " /") {
		return fmt.Errorf("-addr %q: host %q: want an IP address or a host name", addr, host)
	}
	return nil
}

// addrErr is the reason that net.SplitHostPort gives, without the address it repeats.
func addrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// Upper is the server's answer to a request line: the line in upper case (Unicode, as
// bytes.ToUpper does it; a byte that is not valid UTF-8 becomes U+FFFD).
func Upper(line []byte) []byte {
	return bytes.ToUpper(line)
}

// Unwrap takes the errno out of the errors that net and os wrap around it, so that a message
// reads "connect 127.0.0.1:7777: connection refused" and not "connect 127.0.0.1:7777: dial tcp
// 127.0.0.1:7777: connect: connection refused".
func Unwrap(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// DialError says why the client could not connect to the server at addr, with the usual fix.
func DialError(addr string, timeout time.Duration, err error) error {
	var dnsErr *net.DNSError
	errno := Unwrap(err)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connect %s: %w (nothing listens on that port: is the server running? start it first)", addr, errno)
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return fmt.Errorf("connect %s: %w (no route to that address from this machine)", addr, errno)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("connect %s: cannot resolve host %q: %s", addr, dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ETIMEDOUT), isTimeout(err):
		return fmt.Errorf("connect %s: no answer within %v (-timeout): a host that is down, or a firewall that drops the packets?", addr, timeout)
	}
	return fmt.Errorf("connect %s: %w", addr, errno)
}

// isTimeout says whether err is a net timeout: the dialer's -timeout ran out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
