package main

import (
	"bufio"
	"context"
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

// A tour runs the programs of one example in its own folder, printing a transcript.
type tour struct {
	ctx context.Context
	dir string // the working folder of the programs: every object they make is in it
	bin string // where the example's programs are built
	out sync.Mutex
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
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
		p.wait()
	}
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}

// say prints a line of the tour's own narration.
func (t *tour) say(format string, args ...any) {
	t.out.Lock()
	defer t.out.Unlock()
	fmt.Printf("\n-- "+format+"\n", args...)
}

// print prints a line of a program's output.
func (t *tour) print(line string) {
	t.out.Lock()
	defer t.out.Unlock()
	fmt.Println(line)
}

// A proc is one running program of the example.
type proc struct {
	t      *tour
	name   string
	cmd    *exec.Cmd
	pipes  sync.WaitGroup
	mu     sync.Mutex
	stdout strings.Builder
	stderr []string
	change chan struct{} // closed and replaced at each new line on stderr
	waited sync.Once
	err    error
}

// start starts a program in the background, showing the command line and, as they come, its
// stdout and stderr lines.
func (t *tour) start(stdin io.Reader, name string, args ...string) (*proc, error) {
	cmd := exec.CommandContext(t.ctx, filepath.Join(t.bin, name), args...)
	cmd.Stdin = stdin
	return t.launch(cmd, name, shellQuote(name, args))
}

// shell starts a shell command line, such as a pipeline (the shell makes the pipe), with the
// example's programs first on PATH.
func (t *tour) shell(line string) (*proc, error) {
	cmd := exec.CommandContext(t.ctx, "sh", "-c", line)
	cmd.Env = append(os.Environ(), "PATH="+t.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return t.launch(cmd, "sh", line)
}

func (t *tour) launch(cmd *exec.Cmd, name, display string) (*proc, error) {
	t.print("$ " + display)
	cmd.Dir = t.dir
	// On the tour's Ctrl-C or time-out, ask the program to stop as a user would: it cleans up.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	p := &proc{t: t, name: name, cmd: cmd, change: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t.procs = append(t.procs, p)
	p.pipes.Add(2)
	go p.copy(stdout, false)
	go p.copy(stderr, true)
	return p, nil
}

func (p *proc) copy(r io.Reader, isStderr bool) {
	defer p.pipes.Done()
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			p.mu.Lock()
			if isStderr {
				p.stderr = append(p.stderr, strings.TrimSuffix(line, "\n"))
				close(p.change)
				p.change = make(chan struct{})
			} else {
				p.stdout.WriteString(line)
			}
			p.mu.Unlock()
			if isStderr {
				p.t.print("   " + strings.TrimSuffix(line, "\n"))
			} else {
				p.t.print(fmt.Sprintf("   %s stdout | %s", p.name, strings.TrimSuffix(line, "\n")))
			}
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
		case <-timeout:
			return fmt.Errorf("%s did not say %q (%d times) within %v", p.name, re, n, lineTimeout)
		case <-p.t.ctx.Done():
			return p.t.ctx.Err()
		}
	}
}

// signal sends sig to the program.
func (p *proc) signal(sig os.Signal) error {
	p.t.print(fmt.Sprintf("$ kill -%s %s", strings.ToUpper(sigName(sig)), p.name))
	return p.cmd.Process.Signal(sig)
}

// wait waits for the program to end and returns its stdout; an exit status other than 0 is
// an error.
func (p *proc) wait() (string, error) {
	p.waited.Do(func() {
		p.pipes.Wait()
		if err := p.cmd.Wait(); err != nil {
			p.err = fmt.Errorf("%s: %v", p.name, err)
		}
	})
	return p.stdout.String(), p.err
}

// run runs a program to its end and returns its stdout.
func (t *tour) run(name string, args ...string) (string, error) {
	p, err := t.start(nil, name, args...)
	if err != nil {
		return "", err
	}
	return p.wait()
}

// expect compares what a program printed with what it should have.
func expect(who, got, want string) error {
	if got != want {
		return fmt.Errorf("%s printed %q, want %q", who, got, want)
	}
	return nil
}

func sigName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "int"
	case syscall.SIGTERM:
		return "term"
	case os.Kill:
		return "kill"
	}
	return sig.String()
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
