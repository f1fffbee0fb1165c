package pipes_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's sessions are real output: readme_session.txtar runs the README's commands, its
// files pipeline.cmd and parent.cmd, as typed, and compares what they print with its files
// abc.txt, reader.want and parent.want. This test checks that the README shows each of those
// lines, in the same order: a command after "$ ", an output line with /tmp for the script's
// $TMPDIR, and "N" for a pid or a descriptor number. So the commands that the script runs are
// the README's, and a README command that named /tmp itself would fail the script, whose
// TMPDIR is not /tmp. The one command of "In five minutes" is the pipeline's, without "$ ".
func TestREADMESession(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	numbers := regexp.MustCompile(`\b(pid|fd) [0-9]+`)
	lines := strings.Split(numbers.ReplaceAllString(string(readme), "$1 N"), "\n")
	ar, err := txtar.ParseFile("testdata/script/readme_session.txtar")
	require.NoError(t, err)
	n := 0
	for _, f := range ar.Files {
		prompt := ""
		switch f.Name {
		case "pipeline.cmd", "parent.cmd":
			prompt = "$ "
		case "abc.txt", "reader.want", "parent.want":
		default:
			continue
		}
		n++
		at := 0
		for _, want := range strings.Split(strings.TrimSuffix(string(f.Data), "\n"), "\n") {
			want = prompt + strings.ReplaceAll(want, "$TMPDIR", "/tmp")
			i := at
			for i < len(lines) && lines[i] != want {
				i++
			}
			if !assert.Less(t, i, len(lines), "README.md does not show this line of %s (after line %d):\n%s", f.Name, at, want) {
				break
			}
			at = i + 1
		}
		if f.Name == "pipeline.cmd" {
			assert.Contains(t, lines, strings.TrimSuffix(string(f.Data), "\n"), "In five minutes shows the pipeline")
		}
	}
	assert.Equal(t, 5, n, "files pipeline.cmd, parent.cmd, abc.txt, reader.want and parent.want in readme_session.txtar")
}
