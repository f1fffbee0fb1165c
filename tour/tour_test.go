package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildTour builds this program, as `go run ./tour` would.
func buildTour(t *testing.T) string {
	exe := filepath.Join(t.TempDir(), "tour")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return exe
}

// TestTourRunsEveryExample runs the whole tour, as the README's first command does, and
// checks its summary: one ok line for each example, exit 0, nothing left in its TMPDIR.
func TestTourRunsEveryExample(t *testing.T) {
	exe := buildTour(t)
	tmp := t.TempDir()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	summary := string(out[strings.LastIndex(string(out), "== summary"):])
	for _, ex := range examples {
		assert.Regexp(t, `(?m)^`+ex.dir+` +ok$`, summary)
	}
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the tour left files in its TMPDIR")
}

// TestTourCtrlC interrupts the tour as a terminal does (SIGINT to the whole process group)
// while a program waits: the tour and its programs end promptly, and nothing is left: no
// process, no file in the tour's TMPDIR, no shared memory object.
func TestTourCtrlC(t *testing.T) {
	exe := buildTour(t)
	for _, tc := range []struct{ example, waiting string }{
		{"01-file-lock", "reader: waiting for a shared lock"},
		{"03-shm-posix", "reader: waiting for a writer to publish"},
		{"06-fifo", "reader: waiting for a writer to open"},
	} {
		t.Run(tc.example, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(exe, tc.example)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			pgid := cmd.Process.Pid
			defer syscall.Kill(-pgid, syscall.SIGKILL)

			waiting := make(chan bool, 1)
			go func() {
				sc := bufio.NewScanner(stdout)
				for sc.Scan() {
					if strings.Contains(sc.Text(), tc.waiting) {
						waiting <- true
						break
					}
				}
				for sc.Scan() {
				}
				close(waiting)
			}()
			select {
			case ok := <-waiting:
				require.True(t, ok, "the tour ended before a program said %q", tc.waiting)
			case <-time.After(30 * time.Second):
				t.Fatalf("no program of the tour said %q within 30s", tc.waiting)
			}

			require.NoError(t, syscall.Kill(-pgid, syscall.SIGINT))
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				require.True(t, errors.As(err, &exit), "tour exit: %v", err)
				assert.Equal(t, 1, exit.ExitCode())
			case <-time.After(10 * time.Second):
				t.Fatal("the tour did not end within 10s of Ctrl-C")
			}
			assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "a program of the tour is still running")
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, left, "the tour left files in its TMPDIR")
			shm, _ := filepath.Glob("/dev/shm/ipc-tour-*")
			assert.Empty(t, shm, "the tour left a shared memory object")
		})
	}
}

func TestTourUnknownExample(t *testing.T) {
	exe := buildTour(t)
	out, err := exec.Command(exe, "99-nothing").CombinedOutput()
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	assert.Equal(t, 2, exit.ExitCode())
	assert.Regexp(t, `^tour: no example "99-nothing" \(the examples: 01-file-lock.*\)\n$`, string(out))
}

// TestTourCtrlCWhileBuilding interrupts the tour while it runs go build (slowed down with -a,
// which rebuilds everything). Ctrl-C kills go build, which leaves its go-build* work
// directory behind: the tour must have pointed it into its own temporary folder.
func TestTourCtrlCWhileBuilding(t *testing.T) {
	exe := buildTour(t)
	tmp := t.TempDir()
	cmd := exec.Command(exe, "01-file-lock")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOFLAGS=-a")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	pgid := cmd.Process.Pid
	defer syscall.Kill(-pgid, syscall.SIGKILL)

	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		// go build's work directory, in $TMPDIR or wherever the tour points $GOTMPDIR.
		direct, _ := filepath.Glob(filepath.Join(tmp, "go-build*"))
		nested, _ := filepath.Glob(filepath.Join(tmp, "*", "*", "go-build*"))
		if len(direct)+len(nested) > 0 {
			break
		}
		require.Less(t, time.Since(start), 30*time.Second, "go build made no work directory in $TMPDIR")
	}
	require.NoError(t, syscall.Kill(-pgid, syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the tour did not end within 20s of Ctrl-C")
	}
	assert.ErrorIs(t, syscall.Kill(-pgid, 0), syscall.ESRCH, "a process of the tour is still running")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "the tour left files in its TMPDIR")
}

func TestTourUsage(t *testing.T) {
	exe := buildTour(t)
	out, err := exec.Command(exe, "-h").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `(?m)^The examples: 01-file-lock, [0-9a-z, -]+$`, string(out))
	assert.NotContains(t, string(out), "Flags:", "a heading with no flag under it")
}
