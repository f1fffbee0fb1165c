package fifo_test

import (
	"bytes"
	"errors"
	"flag"
	"log"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	fifo "example.com/ipc/06-fifo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseFlagsArgs, set in the environment, makes this test binary a program that defines a flag
// of each kind and calls ParseFlags on these arguments (see TestMain).
const parseFlagsArgs = "FIFO_TEST_PARSEFLAGS_ARGS"

// parseFlagsMain is that program; it exits 0 if the flags parse.
func parseFlagsMain(args string) {
	log.SetFlags(0)
	log.SetPrefix("prog: ")
	flag.CommandLine = flag.NewFlagSet("prog", flag.ExitOnError)
	flag.Duration("hold", time.Second, "how long to hold")
	flag.Bool("follow", false, "go on")
	flag.Func("name", "a flag.Func, whose value has no Get method", func(string) error { return nil })
	flag.Usage = func() { os.Stderr.WriteString("Usage: prog [-hold D] [-follow] [-name N]\n") }
	os.Args = append([]string{"prog"}, strings.Fields(args)...)
	fifo.ParseFlags("prog")
	os.Exit(0)
}

// A flag that does not parse is one prefixed line with a pointer to -h, and exit status 2; a
// duration without a unit says that it needs one; -h prints the usage and exits 0.
func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args, stderr string
		status       int
	}{
		{"-hold 1", `prog: invalid value "1" for flag -hold: parse error (a duration needs a unit, as in 2s or 500ms; see prog -h)` + "\n", 2},
		{"-name x -hold 1", `prog: invalid value "1" for flag -hold: parse error (a duration needs a unit, as in 2s or 500ms; see prog -h)` + "\n", 2},
		{"-follow=maybe", `prog: invalid boolean value "maybe" for -follow: parse error (see prog -h)` + "\n", 2},
		{"-bogus", "prog: flag provided but not defined: -bogus (see prog -h)\n", 2},
		{"-h", "Usage: prog [-hold D] [-follow] [-name N]\n", 0},
		{"-hold 2s -name x -follow", "", 0},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), parseFlagsArgs+"="+tc.args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		status := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			status = ee.ExitCode()
		} else {
			require.NoError(t, err, tc.args)
		}
		assert.Equal(t, tc.stderr, stderr.String(), tc.args)
		assert.Equal(t, tc.status, status, tc.args)
	}
}
