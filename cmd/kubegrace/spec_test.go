package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// kubegrace spec schema prints Schema() as it is: a 2020-12 JSON Schema.
func TestSpecSchemaPrintsSchema(t *testing.T) {
	cmd := newSpecCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"schema"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want, err := scenario.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSuffix(out.Bytes(), []byte("\n")), want) {
		t.Errorf("output differs from scenario.Schema()")
	}
	var doc struct {
		Schema     string         `json:"$schema"`
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.Schema != "https://json-schema.org/draft/2020-12/schema" || doc.Properties["services"] == nil {
		t.Errorf("not the spec's 2020-12 schema: %s %v", doc.Schema, doc.Properties)
	}
	cmd.SetArgs([]string{"schema", "extra"})
	if err := cmd.Execute(); err == nil {
		t.Errorf("schema takes no arguments")
	}
}
