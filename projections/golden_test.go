package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaktmfa/vakt/events"
	"github.com/vaktmfa/vakt/projections"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// models are the four ready-made projections.
type models struct {
	infos      *projections.SecurityInfos
	challenges *projections.Challenges
	audit      *projections.AuditTrails
	stats      *projections.StatsByTenant
}

func newModels() models {
	return models{projections.NewSecurityInfos(), projections.NewChallenges(), projections.NewAuditTrails(), projections.NewTenantStats()}
}

func (m models) list() []projections.Projection {
	return []projections.Projection{m.infos, m.challenges, m.audit, m.stats}
}

// dump returns every model of a collection in key order.
func dump[T any, P projections.Model[T]](c *projections.Collection[T, P]) []T {
	var out []T
	for _, k := range c.Keys() {
		v, _ := c.Lookup(k)
		out = append(out, v)
	}
	return out
}

// snapshot is the JSON of every model, by projection name.
func (m models) snapshot(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, v := range map[string]any{
		projections.NameSecurityInfo: dump(m.infos.Collection),
		projections.NameChallenges:   dump(m.challenges.Collection),
		projections.NameAuditTrail:   dump(m.audit.Collection),
		projections.NameTenantStats:  dump(m.stats.Collection),
	} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b) + "\n"
	}
	return out
}

// catchUp folds a whole store into fresh models.
func catchUp(t testing.TB, store events.Store) models {
	t.Helper()
	m := newModels()
	r := &projections.Runner{Store: store, Projections: m.list()}
	if _, err := r.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGolden(t *testing.T) {
	w := buildWorld(t)
	snap := catchUp(t, w.store).snapshot(t)
	for name, got := range snap {
		checkGolden(t, name, got)
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update to write it)", err)
	}
	if bytes.Equal(want, []byte(got)) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("%s differs from the golden file at line %d:\n got: %s\nwant: %s\n(run go test -run TestGolden -update if the change is intended)", path, i+1, g, w)
			return
		}
	}
}
