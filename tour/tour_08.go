package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// playUnixSocket tours 08-unix-socket: a server and its clients, one after another and several
// at once, a file passed as an open descriptor, and the server's graceful shutdown, which closes
// an idle connection, removes the socket file and exits 0.
func playUnixSocket(t *tour) error {
	// A relative path, in the example's folder: short, whatever $TMPDIR is (sun_path holds 108
	// bytes), and a socket of the tour's own.
	const path = "demo.sock"

	t.say("The server binds a socket file, mode 0600 from its first moment (umask 0177 around bind), and listens.")
	s, err := t.start(nil, "server", "-path", path)
	if err != nil {
		return err
	}
	if err := s.waitFor(`^server: listening on demo\.sock \(mode 0600\), waiting for clients\.\.\.$`); err != nil {
		return err
	}

	t.say("A client connects, sends each argument as a line, and prints each answer: the line in upper case. The server logs who connected, from SO_PEERCRED.")
	out, err := t.run("client", "-path", path, "hello", "second line")
	if err != nil {
		return err
	}
	if err := expect("client", out, "HELLO\nSECOND LINE\n"); err != nil {
		return err
	}

	t.say("Three clients at once: each connection is a conversation of its own, served by a goroutine of its own (sort puts the answers in order).")
	out, err = t.shell(`(for i in 1 2 3; do client -path demo.sock "request $i" & done; wait) | sort`)
	if err != nil {
		return err
	}
	if err := expect("the clients", out, "REQUEST 1\nREQUEST 2\nREQUEST 3\n"); err != nil {
		return err
	}

	t.say("-sendfd: the client opens a file and passes the open descriptor itself (SCM_RIGHTS); the server reads the file through it.")
	if _, err := t.shell(`printf 'a note\nfor the server\n' >notes.txt`); err != nil {
		return err
	}
	if out, err = t.run("client", "-path", path, "-sendfd", "notes.txt"); err != nil {
		return err
	}
	if err := expect("client", out, "A NOTE\nFOR THE SERVER\n"); err != nil {
		return err
	}

	t.say("A client that connects and sends nothing yet: it waits for a line on its standard input, a pipe that the tour holds open.")
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer w.Close()
	idle, err := t.start(r, "client", "-path", path)
	r.Close() // the client has its own copy
	if err != nil {
		return err
	}
	// Connections 1 to 5 came before it.
	if err := s.waitFor(`^server: connection 6: start: `); err != nil {
		return err
	}

	t.say("Ctrl-C on the server: it stops accepting, closes the idle connection, removes its socket file and exits 0: for a server, a signal is how it is asked to stop.")
	if err := shutDown(s); err != nil {
		return err
	}
	if _, err := os.Lstat(filepath.Join(t.dir, path)); !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the server exited, and %s is still there (%v)", path, err)
	}
	t.print("   (" + path + " is gone)")

	t.say("The idle client's standard input ends: it had no line to send, so it exits 0.")
	w.Close()
	if out, err = idle.wait(); err != nil {
		return err
	}
	return expect("the idle client", out, "")
}

// shutDown interrupts a server as Ctrl-C does and waits for it. Unlike every other program of
// the cookbook, which dies of the signal (see interrupt), a server's graceful shutdown is the
// normal end of its work: it exits 0.
func shutDown(p *proc) error {
	sig := p.t.interrupt
	p.t.print(fmt.Sprintf("$ kill -%s %s", signalName(sig), p.name))
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("kill -%s %s: %v", signalName(sig), p.name, err)
	}
	if _, err := p.wait(); err != nil {
		return fmt.Errorf("%v after SIG%s; want the server to shut down and exit 0", err, signalName(sig))
	}
	p.t.print(fmt.Sprintf("   (%s exited 0 after SIG%s and its graceful shutdown, as expected)", p.name, signalName(sig)))
	return nil
}
