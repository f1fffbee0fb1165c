package tcpsock_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadmeShowsTheExamples checks that README.md shows each Example function of
// example_test.go word for word, in a ```go block, so that the code a reader copies from the
// README is the code that go test runs, and neither can drift from the other.
func TestReadmeShowsTheExamples(t *testing.T) {
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "example_test.go", src, parser.ParseComments)
	require.NoError(t, err)
	n := 0
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "Example") {
			continue
		}
		n++
		code := string(src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset])
		block := "```go\n" + code + "\n```"
		if !strings.Contains(string(readme), block) {
			t.Errorf("README.md does not show %s word for word; copy it from example_test.go:\n%s", fn.Name.Name, block)
		}
	}
	require.NotZero(t, n, "example_test.go has no Example function")
}

// The README's sessions are real: readme_session.txtar runs each command of its files
// readme-*.cmd (the README's line, without "go run ./", since the script runs the built
// programs), with TMPDIR set to a folder other than /tmp, and compares its terminal's output,
// with the clients' ports and the server's pid mapped to the README's (norm.sh), with the file
// readme-*.txt of the same name. This test checks that the README shows each of those commands,
// followed by that output, up to the end of the block or the next command, but for the ^C that
// the terminal echoes and the line that go run adds after a failure or Ctrl-C (exit status 1 or
// 2, signal: interrupt); and that "Run it" shows no command that the script does not run, so
// that each one works as typed.
func TestREADMESessions(t *testing.T) {
	checkSessions(t, "readme_session.txtar", "Run it", 6, 7)
}

// checkSessions checks that the README's section shows each command of script (its files
// readme-*.cmd) followed by its output (readme-*.txt), and that the section has no other command:
// commands distinct commands in the script, shown shown times in the section.
func checkSessions(t *testing.T, script, section string, commands, shown int) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text := strings.ReplaceAll(string(readme), "^C", "")
	ar, err := txtar.ParseFile("testdata/script/" + script)
	require.NoError(t, err)
	files := map[string]string{}
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
	}
	run := map[string]bool{}
	for _, f := range ar.Files {
		name, ok := strings.CutSuffix(f.Name, ".cmd")
		if !ok || !strings.HasPrefix(name, "readme-") {
			continue
		}
		command := "$ " + typed(strings.TrimSuffix(string(f.Data), "\n"))
		run[command] = true
		out, ok := files[name+".txt"]
		if !assert.True(t, ok, "%s has %s.cmd but no %s.txt", script, name, name) {
			continue
		}
		want := "\n" + command + "\n" + strings.ReplaceAll(out, "$WORK/.tmp", "/tmp")
		found := false
		for _, status := range []string{"", "exit status 1\n", "exit status 2\n", "signal: interrupt\n"} {
			for _, end := range []string{"```\n", "$ "} {
				found = found || strings.Contains(text, want+status+end)
			}
		}
		assert.True(t, found, "README.md does not show %s as a session, a command and its output:\n%s", name, want)
	}
	assert.Len(t, run, commands, "distinct commands in %s", script)

	// Every command in the section is one that the script runs.
	_, body, ok := strings.Cut(text, "\n## "+section+"\n")
	require.True(t, ok, "README.md has no %q", "## "+section)
	body, _, _ = strings.Cut(body, "\n## ")
	n := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "$ ") {
			n++
			assert.True(t, run[line], "README.md's %q is not a command that %s runs", line, script)
		}
	}
	assert.Equal(t, shown, n, "commands in README.md's %q", section)
}

// typed is a command of the script as the README shows it: the programs with go run, at the
// start of the line, after a loop's "do" or after a pipe.
func typed(command string) string {
	return programAt.ReplaceAllString(command, "${1}go run ./$2")
}

var programAt = regexp.MustCompile(`(^|do |\| )(server|client)\b`)
