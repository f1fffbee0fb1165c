package pipes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

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
