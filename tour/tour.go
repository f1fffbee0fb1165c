package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds: a whole example, and one wait for a line of narration.
const (
	exampleTimeout = time.Minute
	lineTimeout    = 10 * time.Second
)

// freezeOthers is for the tests only. When it is set, starting a program stops (SIGSTOP) every
// program of the example still running, and lets them go on (SIGCONT) that long after: as a
// busy CPU can, but every time. A scenario that goes on to its next step without waiting for
// the event that step depends on then fails at once, instead of once in a while.
var freezeOthers time.Duration

// A transcript is the tour's output: its own lines and the programs', one at a time. Its
// first write error (nobody reads it any more) stops the tour.
type transcript struct {
	ctx     context.Context // the tour's: once it ends, a stalled write is given up
	mu      sync.Mutex
	w       io.Writer
	err     error
	failed  func(error) // called with the first write error
	stalled bool        // a write was given up: the lines that follow are dropped
}

// line prints one line. Like every wait of the cookbook's programs, a write to a stalled
// standard output (go run ./tour | less, with less not reading) ends on Ctrl-C: once the
// tour's context has ended, a write that does not complete within a second is given up, and
// so is the rest of the transcript, so that the tour can clean up and end.
func (o *transcript) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil || o.stalled {
		return
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.WriteString(o.w, s+"\n")
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-o.ctx.Done():
		select {
		case err = <-done:
		case <-time.After(time.Second):
			o.stalled = true
			return
		}
	}
	if err != nil {
		o.err = err
		o.failed(err)
	}
}

// error returns the first write error, if any.
func (o *transcript) error() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// A tour runs the programs of one example in its own folder, printing a transcript.
type tour struct {
	ctx       context.Context
	out       *transcript
	dir       string         // the working folder of the programs: every object they make is in it
	bin       string         // where the example's programs are built
	interrupt syscall.Signal // what the tour sends to interrupt a program, as Ctrl-C would
	// every program started, to stop and wait for at the end
	procs []*proc
	// what to undo once every program has ended
	cleanups []func()
}

// build compiles the example's programs with the workspace's go.work.
func (t *tour) build(root string, ex example) error {
	args := []string{"build", "-o", t.bin + "/"}
	for _, p := range ex.programs {
		args = append(args, "./"+filepath.Join(ex.dir, p))
	}
	cmd := exec.CommandContext(t.ctx, "go", args...)
	cmd.Dir = root
	// The programs import their module's root package: build them in the workspace, even
	// if GOWORK=off is set (as it is when CI tests each module alone).
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	// go build keeps its work directory (go-build*) in $GOTMPDIR, and leaves it behind when
	// Ctrl-C kills it: keep it in the tour's temporary folder, which the tour removes.
	gotmp := filepath.Join(filepath.Dir(t.dir), "gotmp")
	if err := os.MkdirAll(gotmp, 0o700); err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, "GOTMPDIR="+gotmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (t *tour) play(ex example) error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.ctx, exampleTimeout)
	defer cancel()
	parent := t.ctx
	t.ctx = ctx
	defer func() { t.ctx = parent }()
	defer t.stopAll()
	return ex.play(t)
}

// cleanup arranges for f to run at the end of the example, after every program has ended:
// to remove an object that a program would have removed, had the tour not stopped half way.
func (t *tour) cleanup(f func()) {
	t.cleanups = append(t.cleanups, f)
}

// stopAll stops the programs still running (after a failure or Ctrl-C) and waits for every
// program, so that none outlives the tour and each has cleaned up.
func (t *tour) stopAll() {
	for _, p := range t.procs {
		p.cmd.Process.Signal(syscall.SIGTERM) // to one that has ended already, it does nothing
		p.wait()
	}
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// say prints a line of the tour's own narration.
func (t *tour) say(format string, args ...any) {
	t.out.line(fmt.Sprintf("\n-- "+format, args...))
}

// print prints a line of the transcript as it is.
func (t *tour) print(line string) {
	t.out.line(line)
}

// A proc is one running program of the example.
type proc struct {
	t      *tour
	name   string
	cmd    *exec.Cmd
	output *os.File      // the read end of the program's stdout and stderr
	eof    chan struct{} // closed once every line of output has been printed
	mu     sync.Mutex
	stdout strings.Builder
	stderr []string
	change chan struct{} // closed and replaced at each new line on stderr
	waited sync.Once
	err    error
}

// narration tells a program's line on stderr from its data: every program of the cookbook
// prefixes what it says with its name (reader: ...), and so do sh, go's runtime (panic: ...)
// and the usual tools, while the messages that the tour sends never look like that. Should
// one be taken for narration all the same, the data check that follows fails: nothing passes
// unseen.
var narration = regexp.MustCompile(`^[a-z][a-z0-9_-]*: `)

// start starts a program in the background, as `name args &` would in a shell, showing the
// command line and then its stdout and stderr lines as they come.
func (t *tour) start(stdin io.Reader, name string, args ...string) (*proc, error) {
	cmd := exec.CommandContext(t.ctx, filepath.Join(t.bin, name), args...)
	cmd.Stdin = stdin
	return t.launch(cmd, name, shellQuote(name, args)+" &")
}

// shell runs a shell command line, such as a pipeline (the shell makes the pipe), with the
// example's programs first on PATH, to its end. It returns the line's stdout.
func (t *tour) shell(line string) (string, error) {
	cmd := exec.CommandContext(t.ctx, "sh", "-c", line)
	cmd.Env = append(os.Environ(), "PATH="+t.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	p, err := t.launch(cmd, "sh", line)
	if err != nil {
		return "", err
	}
	return p.wait()
}

// runProc runs a program to its end, as a shell runs a command in the foreground, and
// returns it, with all it printed.
func (t *tour) runProc(name string, args ...string) (*proc, error) {
	cmd := exec.CommandContext(t.ctx, filepath.Join(t.bin, name), args...)
	p, err := t.launch(cmd, name, shellQuote(name, args))
	if err != nil {
		return nil, err
	}
	_, err = p.wait()
	return p, err
}

// run runs a program to its end and returns its stdout.
func (t *tour) run(name string, args ...string) (string, error) {
	p, err := t.runProc(name, args...)
	if p == nil {
		return "", err
	}
	return p.stdout.String(), err
}

func (t *tour) launch(cmd *exec.Cmd, name, display string) (*proc, error) {
	// The command line first: nothing the program prints can come before it.
	t.print("$ " + display)
	cmd.Dir = t.dir
	// On the tour's Ctrl-C or time-out, ask the program to stop as a user would: it cleans up.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	// One pipe for both stdout and stderr, as a terminal is one file for both: its lines then
	// come out in the order that the program wrote them, and a line of narration never shows
	// up before the data it follows. (Two pipes, read at once, would lose that order.)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if freezeOthers > 0 {
		for _, q := range t.procs {
			if q.cmd.Process.Signal(syscall.SIGSTOP) == nil {
				time.AfterFunc(freezeOthers, func() { q.cmd.Process.Signal(syscall.SIGCONT) })
			}
		}
	}
	err = cmd.Start()
	w.Close() // the program has its own copy; the pipe ends when the program (and its children) close theirs
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &proc{t: t, name: name, cmd: cmd, output: r, eof: make(chan struct{}), change: make(chan struct{})}
	t.procs = append(t.procs, p)
	go p.copy()
	return p, nil
}

// copy prints the program's lines as they come, and keeps them: stdout as the data the
// program printed, stderr's lines for waitFor.
func (p *proc) copy() {
	defer close(p.eof)
	br := bufio.NewReader(p.output)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			line = strings.TrimSuffix(line, "\n")
			p.mu.Lock()
			if narration.MatchString(line) {
				p.stderr = append(p.stderr, line)
				close(p.change)
				p.change = make(chan struct{})
				p.t.print("   " + line)
			} else {
				p.stdout.WriteString(line + "\n")
				p.t.print(fmt.Sprintf("   %s stdout | %s", p.name, line))
			}
			p.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// waitFor waits until the program says a line on stderr that matches re.
func (p *proc) waitFor(re string) error {
	return p.waitForCount(re, 1)
}

// waitForCount waits until the program has said n lines on stderr that match re.
func (p *proc) waitForCount(re string, n int) error {
	rx := regexp.MustCompile(re)
	timeout := time.After(lineTimeout)
	for {
		p.mu.Lock()
		seen := 0
		for _, line := range p.stderr {
			if rx.MatchString(line) {
				seen++
			}
		}
		change := p.change
		p.mu.Unlock()
		if seen >= n {
			return nil
		}
		select {
		case <-change:
		case <-p.eof:
			return fmt.Errorf("%s ended without saying %q (%d times)", p.name, re, n)
		case <-timeout:
			return fmt.Errorf("%s did not say %q (%d times) within %v", p.name, re, n, lineTimeout)
		case <-p.t.ctx.Done():
			return p.t.ctx.Err()
		}
	}
}

// wait waits for the program to end and for all it printed, and returns its stdout; an exit
// status other than 0 is an error.
func (p *proc) wait() (string, error) {
	p.waited.Do(func() {
		err := p.cmd.Wait()
		// The pipe's last write end closes with the program, unless it left a child running
		// that holds it (a bug): then stop reading after a while.
		select {
		case <-p.eof:
		case <-time.After(lineTimeout):
			p.output.Close()
			<-p.eof
		}
		p.output.Close()
		if err != nil {
			p.err = fmt.Errorf("%s: %w", p.name, err)
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String(), p.err
}

// interrupt interrupts the program as Ctrl-C does (with SIGTERM if SIGINT is ignored, see
// run), waits for it, and returns its stdout. Every program of the cookbook then cleans up and
// dies of that very signal, so that a shell sees it ($? is 130 or 143) and a loop such as
// `for f in a b; do reader; done` stops: an exit status, 0 included, is an error here.
func (p *proc) interrupt() (string, error) {
	sig := p.t.interrupt
	p.t.print(fmt.Sprintf("$ kill -%s %s", signalName(sig), p.name))
	if err := p.cmd.Process.Signal(sig); err != nil {
		return "", fmt.Errorf("kill -%s %s: %v", signalName(sig), p.name, err)
	}
	out, err := p.wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return out, fmt.Errorf("%s exited with status 0 after SIG%s; want it to die of SIG%[2]s, so that a shell sees it", p.name, signalName(sig))
	}
	ws, ok := exit.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != sig {
		return out, fmt.Errorf("%v after SIG%s; want it to die of SIG%[2]s, so that a shell sees it", err, signalName(sig))
	}
	p.t.print(fmt.Sprintf("   (%s ended by SIG%s after its clean-up, as expected: a shell's $? is %d)", p.name, signalName(sig), 128+int(sig)))
	return out, nil
}

// expect compares what a program printed with what it should have.
func expect(who, got, want string) error {
	if got != want {
		return fmt.Errorf("%s printed %q, want %q", who, got, want)
	}
	return nil
}

// shellQuote writes a command line as a person would type it.
func shellQuote(name string, args []string) string {
	words := []string{name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$&;|<>*?()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}
