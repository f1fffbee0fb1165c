package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestRootReadmeRunningAPair runs the session of the root README's "Running a pair" as typed,
// with a TMPDIR of its own (not /tmp, so that a hard-coded /tmp in it fails), and compares
// terminal 1's output with the README's, /tmp standing for that TMPDIR. Terminal 2's
// `pkill -TERM -x reader` is checked as text and done as a kill of that one reader, since
// pkill would reach the readers of tests running beside this one.
func TestRootReadmeRunningAPair(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	section := regexp.MustCompile("(?s)## Running a pair\n(.*?)\n## ").FindSubmatch(readme)
	require.NotNil(t, section, "the root README has no section \"## Running a pair\"")
	blocks := regexp.MustCompile("(?s)Terminal ([12]):\n\n```\n(.*?)```").FindAllSubmatch(section[1], -1)
	require.Len(t, blocks, 2, "want a Terminal 1 and a Terminal 2 block")
	term1 := strings.Split(strings.TrimSuffix(string(blocks[0][2]), "\n"), "\n")
	require.Equal(t, "$ pkill -TERM -x reader\n", string(blocks[1][2]))
	require.GreaterOrEqual(t, len(term1), 4)
	build, start := term1[0], term1[1]
	require.True(t, strings.HasPrefix(build, "$ go build ") && strings.HasPrefix(start, "$ "), "terminal 1 starts with a go build and a program: %q", term1[:2])
	require.Equal(t, "$ echo $?", term1[len(term1)-2])
	for _, c := range []string{build, start} {
		assert.NotContains(t, strings.ReplaceAll(c, "${TMPDIR:-/tmp}", ""), "/tmp", "a command must work as typed whatever TMPDIR is")
	}

	tmp := t.TempDir()
	// The README's commands run at the root, in the workspace: keep them there even when
	// GOWORK=off (as CI tests each module alone).
	work, err := filepath.Abs(filepath.Join("..", "go.work"))
	require.NoError(t, err)
	env := append(os.Environ(), "TMPDIR="+tmp, "GOWORK="+work)
	cmd := exec.Command("sh", "-c", strings.TrimPrefix(build, "$ "))
	cmd.Dir, cmd.Env = "..", env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", build, out)

	// Terminal 1: the program, then echo $?, in one shell whose output and errors share one
	// pipe, as they share a terminal, so that they keep their order.
	var mu sync.Mutex
	var got bytes.Buffer
	sh := exec.Command("sh", "-c", strings.TrimPrefix(start, "$ ")+"; echo $?")
	sh.Dir, sh.Env = "..", env
	w := &lockedWriter{mu: &mu, w: &got}
	sh.Stdout, sh.Stderr = w, w // the same writer: exec gives both one pipe
	require.NoError(t, sh.Start())
	done := make(chan error, 1)
	go func() { done <- sh.Wait() }()
	defer func() {
		if sh.ProcessState == nil {
			sh.Process.Kill()
			<-done
		}
	}()

	// Terminal 2, once the reader waits: SIGTERM to it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		waiting := strings.Contains(got.String(), "waiting for a writer")
		mu.Unlock()
		if waiting {
			break
		}
		require.True(t, time.Now().Before(deadline), "the reader never said it was waiting: %q", got.String())
		time.Sleep(10 * time.Millisecond)
	}
	children, err := os.ReadFile("/proc/" + strconv.Itoa(sh.Process.Pid) + "/task/" + strconv.Itoa(sh.Process.Pid) + "/children")
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(children)))
	require.NoError(t, err, "want one child of the shell, the reader: %q", children)
	require.NoError(t, unix.Kill(pid, unix.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the reader did not end within 10 s of SIGTERM: %q", got.String())
	}

	want := append(append([]string{}, term1[2:len(term1)-2]...), term1[len(term1)-1])
	lines := strings.Split(strings.TrimSuffix(strings.ReplaceAll(got.String(), tmp, "/tmp"), "\n"), "\n")
	assert.Equal(t, want, lines, "terminal 1's output differs from the README's")
}

// lockedWriter writes to w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
