package main

import (
	"fmt"
	"os"
	"regexp"
)

// playTCPSocket tours 09-tcp-socket: the server of 08 on a TCP port that the kernel picks, its
// clients one after another and several at once, and its graceful shutdown, which closes an
// idle connection and exits 0.
func playTCPSocket(t *tour) error {
	t.say("The server listens on loopback, on a port that the kernel picks (port 0): its first line says which, and the clients need it.")
	s, err := t.start(nil, "server", "-addr", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := s.waitFor(`^server: listening on 127\.0\.0\.1:\d+, waiting for clients\.\.\.$`); err != nil {
		return err
	}
	s.mu.Lock()
	m := listeningOn.FindStringSubmatch(s.stderr[0])
	s.mu.Unlock()
	if m == nil {
		return fmt.Errorf("server: want its first line to say the address it listens on, got %q", s.stderr[0])
	}
	addr := m[1]

	t.say("A client connects to that address, sends each argument as a line, prints each answer, then half-closes (shutdown SHUT_WR). The server logs the client's address: all that TCP knows of a peer.")
	out, err := t.run("client", "-addr", addr, "hello", "second line")
	if err != nil {
		return err
	}
	if err := expect("client", out, "HELLO\nSECOND LINE\n"); err != nil {
		return err
	}

	t.say("Three clients at once, each on a connection of its own, served by a goroutine of its own (sort puts the answers in order).")
	out, err = t.shell(fmt.Sprintf(`(for i in 1 2 3; do client -addr %s "request $i" & done; wait) | sort`, addr))
	if err != nil {
		return err
	}
	if err := expect("the clients", out, "REQUEST 1\nREQUEST 2\nREQUEST 3\n"); err != nil {
		return err
	}

	t.say("A client that connects and sends nothing yet: it waits for a line on its standard input, a pipe that the tour holds open.")
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer w.Close()
	idle, err := t.start(r, "client", "-addr", addr)
	r.Close() // the client has its own copy
	if err != nil {
		return err
	}
	// Connections 1 to 4 came before it.
	if err := s.waitFor(`^server: connection 5: start: `); err != nil {
		return err
	}

	t.say("Ctrl-C on the server: it stops accepting, closes the idle connection and exits 0; the kernel frees the port, and no file is left.")
	if err := shutDown(s); err != nil {
		return err
	}

	t.say("The idle client's standard input ends: it had no line to send, so it exits 0.")
	w.Close()
	if out, err = idle.wait(); err != nil {
		return err
	}
	return expect("the idle client", out, "")
}

// listeningOn reads the address from the server's first line.
var listeningOn = regexp.MustCompile(`^server: listening on (\S+), waiting for clients`)
