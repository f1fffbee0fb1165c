package fifo_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's sessions are real output: readme_session.txtar runs them and compares each
// terminal's output with its files readme-*.txt. This test checks that the README shows those
// lines, with /tmp for the script's $WORK/.tmp: each after its command line, up to the end of
// the block or the next command, but for the ^C that the terminal echoes and the line that
// go run adds after Ctrl-C.
func TestREADMESessions(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text := strings.ReplaceAll(string(readme), "^C", "")
	ar, err := txtar.ParseFile("testdata/script/readme_session.txtar")
	require.NoError(t, err)
	n := 0
	for _, f := range ar.Files {
		if !strings.HasPrefix(f.Name, "readme-") {
			continue
		}
		n++
		want := strings.ReplaceAll(string(f.Data), "$WORK/.tmp", "/tmp")
		found := false
		for _, end := range []string{"```\n", "signal: interrupt\n```\n", "$ "} {
			i := strings.Index(text, want+end)
			if i < 0 {
				continue
			}
			// The line before is the command, and the line before that opens the block.
			before := strings.Split(text[:i], "\n")
			if len(before) >= 3 && strings.HasPrefix(before[len(before)-2], "$ ") && before[len(before)-3] == "```" {
				found = true
			}
		}
		assert.True(t, found, "README.md does not show %s as a session's output:\n%s", f.Name, want)
	}
	assert.Equal(t, 6, n, "readme-*.txt files in readme_session.txtar")
}
