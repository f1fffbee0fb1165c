package filelock_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's sessions are real output: readme_session.txtar runs the README's commands, its
// files t1.cmd and t2.cmd (one per terminal) and counters.sh, and compares what each terminal
// shows with its files t1.want (the writer), t2.want and t2.stdout (the reader). This test
// checks that the README shows each of those lines, a command after "$ ", and an output line
// with /tmp for the script's $TMPDIR, as a whole line (but for the ^C that the terminal
// echoes), in the same order. So a command that the script runs is the command as typed in the
// README, and a README command that named /tmp itself would fail the script, whose TMPDIR is
// not /tmp.
func TestREADMESession(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	lines := strings.Split(strings.ReplaceAll(string(readme), "^C", ""), "\n")
	ar, err := txtar.ParseFile("testdata/script/readme_session.txtar")
	require.NoError(t, err)
	n := 0
	for _, f := range ar.Files {
		prompt := ""
		switch f.Name {
		case "t1.cmd", "t2.cmd", "counters.sh":
			prompt = "$ "
		case "t1.want", "t2.want", "t2.stdout":
		default:
			continue
		}
		n++
		at := 0
		for _, want := range strings.Split(strings.TrimSuffix(string(f.Data), "\n"), "\n") {
			if prompt != "" {
				want = prompt + want
			} else {
				want = strings.ReplaceAll(want, "$TMPDIR", "/tmp")
			}
			i := at
			for i < len(lines) && lines[i] != want {
				i++
			}
			if !assert.Less(t, i, len(lines), "README.md does not show this line of %s (after line %d):\n%s", f.Name, at, want) {
				break
			}
			at = i + 1
		}
	}
	assert.Equal(t, 6, n, "files t1.cmd, t1.want, t2.cmd, t2.want, t2.stdout and counters.sh in readme_session.txtar")
}
