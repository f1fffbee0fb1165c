package filelock_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's first session is real output: readme_session.txtar runs it and compares what
// each terminal shows with its files t1.want (the writer), t2.want and t2.stdout (the reader).
// This test checks that the README shows each of those lines, with /tmp for the script's
// $TMPDIR, as a whole line (but for the ^C that the terminal echoes), in the same order.
func TestREADMESession(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	lines := strings.Split(strings.ReplaceAll(string(readme), "^C", ""), "\n")
	ar, err := txtar.ParseFile("testdata/script/readme_session.txtar")
	require.NoError(t, err)
	n := 0
	for _, f := range ar.Files {
		if f.Name != "t1.want" && f.Name != "t2.want" && f.Name != "t2.stdout" {
			continue
		}
		n++
		at := 0
		for _, want := range strings.Split(strings.TrimSuffix(string(f.Data), "\n"), "\n") {
			want = strings.ReplaceAll(want, "$TMPDIR", "/tmp")
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
	assert.Equal(t, 3, n, "files t1.want, t2.want and t2.stdout in readme_session.txtar")
}
