package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// newSpecCommand returns "kubegrace spec", the commands about the scenario
// spec format itself (no cluster needed).
func newSpecCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spec",
		Short: "About the scenario spec format (no cluster needed)",
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema (draft 2020-12) of scenario specs",
		Long: `Prints the JSON Schema (draft 2020-12) of a scenario spec: the field names
as written in YAML, which are required, the known entrypoints, verdicts, ops
and identity modes, durations such as "10s", and no unknown fields. Editors
with the YAML language server check a spec against it and complete fields
when the spec's first line is

  # yaml-language-server: $schema=` + scenario.SchemaFile + `

(a path relative to the spec). 'kubegrace init' writes the schema beside a
starter spec; run this again after upgrading kubegrace. Checks across fields
(services named twice, unknown service names) are kubegrace's own: 'kubegrace
run --list SPEC.yaml' makes them all without a cluster.`,
		Example: "  kubegrace spec schema > " + scenario.SchemaFile,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := scenario.Schema()
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b); err != nil {
				return fmt.Errorf("print schema: %w", err)
			}
			return nil
		},
	}
	cmd.AddCommand(schema)
	return cmd
}
