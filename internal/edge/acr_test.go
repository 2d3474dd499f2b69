package edge

import (
	"slices"
	"testing"

	"github.com/vaktmfa/vakt/engine"
)

// The guard keeps its own copy of the acr order so that the edge module
// does not link the engine; this pins it to the engine's.
func TestACROrderIsTheEngines(t *testing.T) {
	want := []string{engine.ACRLow, engine.ACRSubstantial, engine.ACRHigh}
	if got := acrsFrom(1); !slices.Equal(got, want) {
		t.Fatalf("acr order %v, engine %v", got, want)
	}
	for i, a := range want {
		if levels[a] != i+1 {
			t.Errorf("level of %s is %d, want %d", a, levels[a], i+1)
		}
	}
	if len(levels) != len(want) {
		t.Errorf("levels %v has values the engine does not know", levels)
	}
}
