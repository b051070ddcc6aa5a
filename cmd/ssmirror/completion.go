package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

type completionOptions struct {
	noDescriptions bool
}

// completionShells are the shells completion writes scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// newCompletionCommand returns the completion command. Its name takes the
// place of the completion command cobra would add by itself.
func newCompletionCommand() *cobra.Command {
	var o completionOptions
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script of ssmirror for a shell.

Bash (needs the bash-completion package):
  source <(ssmirror completion bash)                        # this shell only
  ssmirror completion bash > /etc/bash_completion.d/ssmirror
Zsh (compinit must be enabled):
  ssmirror completion zsh > "${fpath[1]}/_ssmirror"
Fish:
  ssmirror completion fish > ~/.config/fish/completions/ssmirror.fish
PowerShell:
  ssmirror completion powershell | Out-String | Invoke-Expression

Exit status: 0 printed; 2 bad usage (no shell, or an unknown one); 1 the
script could not be written.`,
		ValidArgs:             completionShells,
		Args:                  usageArgs(cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs)),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompletion(cmd.Root(), o, args, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&o.noDescriptions, "no-descriptions", false, "leave command and flag descriptions out of the completions")
	return cmd
}

func runCompletion(root *cobra.Command, o completionOptions, args []string, stdout io.Writer) error {
	desc := !o.noDescriptions
	switch args[0] {
	case "bash":
		return root.GenBashCompletionV2(stdout, desc)
	case "zsh":
		if desc {
			return root.GenZshCompletion(stdout)
		}
		return root.GenZshCompletionNoDesc(stdout)
	case "fish":
		return root.GenFishCompletion(stdout, desc)
	case "powershell":
		if desc {
			return root.GenPowerShellCompletionWithDesc(stdout)
		}
		return root.GenPowerShellCompletion(stdout)
	}
	return fmt.Errorf("%w: completion: unknown shell %q (want bash, zsh, fish or powershell)", errUsage, args[0])
}
