package mirror

import (
	"go/build"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestLayers: imports point one way, down the layers the README's
// Development section draws: a package imports none of the layers above
// its own, and the planner opens nothing (it imports neither os nor net).
func TestLayers(t *testing.T) {
	const module = "github.com/ssmirror/ssmirror/"
	layers := [][]string{
		{"cmd/ssmirror"},
		{"internal/ui"},
		{"mirror"},
		{"plan/apply"},
		{"plan", "plan/filter", "plan/browse"},
	}
	for i, layer := range layers {
		var above []string
		for _, l := range layers[:i] {
			above = append(above, l...)
		}
		for _, dir := range layer {
			pkg, err := build.ImportDir(filepath.Join("..", dir), 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range pkg.Imports {
				if rel, ok := strings.CutPrefix(imp, module); ok && slices.Contains(above, rel) {
					t.Errorf("%s imports %s, a layer above it", dir, rel)
				}
				if dir == "plan" && (imp == "os" || imp == "net" || strings.HasPrefix(imp, "net/")) {
					t.Errorf("the planner imports %s", imp)
				}
			}
		}
	}
}
