package tcpsock

// This file is how the programs start and end: one line for a bad flag, and the signals that
// end a program early. It is the same in every example of the cookbook, like the error
// functions that TLPI's examples share, and has nothing to do with TCP sockets as such.

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"log"
	"os"
	"os/signal"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ParseFlags parses the command line as flag.Parse does, but a flag that does not parse is one
// line, prefixed by the program's name, with a pointer to -h, and exit status 2, not the whole
// usage; -h still prints the usage and exits 0.
func ParseFlags(name string) {
	usage := flag.Usage
	flag.Usage = func() {} // the flag package calls it on every error; it is called below
	flag.CommandLine.Init(name, flag.ContinueOnError)
	flag.CommandLine.SetOutput(io.Discard) // the error is printed below, as one line
	err := flag.CommandLine.Parse(os.Args[1:])
	flag.CommandLine.SetOutput(nil) // standard error again, for the usage
	flag.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		flag.Usage()
		os.Exit(0)
	}
	if err != nil {
		hint := ""
		flag.VisitAll(func(f *flag.Flag) {
			g, ok := f.Value.(flag.Getter) // not every flag.Value has Get: flag.Func's has not
			if !ok {
				return
			}
			if _, ok := g.Get().(time.Duration); ok && strings.Contains(err.Error(), " -"+f.Name+":") {
				hint = "a duration needs a unit, as in 2s or 500ms; "
			}
		})
		log.Printf("%v (%ssee %s -h)", err, hint, name)
		os.Exit(2)
	}
}

// CatchSignals starts catching the signals that end a program early, Ctrl-C (SIGINT) and
// SIGTERM, and returns a context that is cancelled when one of them arrives, with the signal
// as its cause: every wait of the program ends on it, and Exit dies of it after the clean-up.
//
// A signal that the program was started with ignored stays ignored: a non-interactive shell
// starts a background job (reader &) with SIGINT ignored, so that a Ctrl-C meant for the
// foreground spares it.
//
// It also catches SIGPIPE, and does nothing with it. Without that, Go lets a write to a closed
// standard output or error (reader | head -1) kill the program with SIGPIPE on the spot, before
// it has removed what it made; caught, that write fails with EPIPE, the program cleans up, and
// Exit then dies of SIGPIPE all the same. (signal.Ignore would not do: an ignored SIGPIPE is
// inherited by every program this one starts, which then never dies of it. A caught signal is
// reset to its default in a child.)
func CatchSignals() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := make(chan os.Signal, 1)
	for _, sig := range []os.Signal{unix.SIGINT, unix.SIGTERM} {
		if !signal.Ignored(sig) {
			signal.Notify(c, sig)
		}
	}
	signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE) // nobody reads it: EPIPE is enough
	go func() { cancel(caught{<-c}) }()
	return ctx
}

// caught is the cause of a context cancelled by a signal.
type caught struct{ sig os.Signal }

func (c caught) Error() string { return c.sig.String() }

// Exit ends the program after run has returned err, the way the Unix tools people trust most
// (coreutils, git) end:
//   - after Ctrl-C or SIGTERM, it dies of that signal again, so that the shell sees it (status
//     130 or 143): a loop such as `for i in 1 2 3; do reader; done` stops, and
//     `reader >out && next` does not run next;
//   - if standard output was closed by whoever read it (EPIPE), it dies of SIGPIPE, quietly, as
//     cat does in cat | head -1;
//   - on any other error it prints it and exits 1, and otherwise exits 0.
//
// Call it last in main, once every deferred clean-up of run has run.
func Exit(ctx context.Context, err error) {
	stdoutClosed := false
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == os.Stdout.Name() && errors.Is(err, unix.EPIPE) {
		stdoutClosed = true
	} else if err != nil {
		log.Print(err)
	}
	var c caught
	if errors.As(context.Cause(ctx), &c) {
		die(c.sig.(unix.Signal))
	}
	if stdoutClosed {
		die(unix.SIGPIPE)
	}
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// die resets sig to its default action, as signal(sig, SIG_DFL) does in C, and sends it to this
// process, which the kernel then ends as if it had never caught it. (signal.Reset is not
// enough: Go's own handler stays, and it ignores a SIGPIPE that kill sends.)
func die(sig unix.Signal) {
	var dfl [4]uint64 // struct kernel_sigaction, zero: SIG_DFL, no flags, an empty mask
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	unix.Kill(os.Getpid(), sig)
	time.Sleep(time.Second) // the signal ends the process at once; this is never reached
	os.Exit(128 + int(sig))
}
