package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/multicontact/multicontact/graph/graphtest"
)

// runCLI runs the command line args in-process, as main does.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut lockedBuffer // (logs_test.go)
	err = Run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestHelpPrintsUsageWithAnExample: every way of asking for help prints
// the usage, with an example, to stdout, and succeeds (exit status 0).
func TestHelpPrintsUsageWithAnExample(t *testing.T) {
	cases := []struct {
		args []string
		want string // the usage's first line
	}{
		{[]string{"--help"}, "Multicontact links"},
		{[]string{"-help"}, "Multicontact links"},
		{[]string{"-h"}, "Multicontact links"},
		{[]string{"help"}, "Multicontact links"},
		{[]string{"help", "import"}, "usage: multicontact import -project P [flags] FILE|-"},
		{[]string{"help", "serve"}, "usage: multicontact serve [flags]"},
		{[]string{"import", "-h"}, "usage: multicontact import -project P [flags] FILE|-"},
		{[]string{"import", "--help"}, "usage: multicontact import -project P [flags] FILE|-"},
		{[]string{"import", "-project", "acme", "-h", "clients.ndjson"}, "usage: multicontact import"},
		{[]string{"serve", "-h"}, "usage: multicontact serve [flags]"},
		{[]string{"serve", "--help"}, "usage: multicontact serve [flags]"},
		{[]string{"gen", "-h"}, "usage: multicontact gen [flags]"},
		{[]string{"bench", "-h"}, "usage: multicontact bench [flags]"},
		{[]string{"help", "soak"}, "usage: multicontact soak [flags]"},
		{[]string{"soak", "-h"}, "usage: multicontact soak [flags]"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, err := runCLI(t, tc.args...)
			if err != nil {
				t.Fatalf("multicontact %s = %v, want success; stderr %q", strings.Join(tc.args, " "), err, stderr)
			}
			if !strings.HasPrefix(stdout, tc.want) || !strings.Contains(stdout, "\nexample:\n") {
				t.Errorf("multicontact %s printed\n%s\nwant a usage starting %q with an example", strings.Join(tc.args, " "), stdout, tc.want)
			}
			if stderr != "" {
				t.Errorf("multicontact %s wrote %q to stderr, want the help on stdout only", strings.Join(tc.args, " "), stderr)
			}
		})
	}
}

// TestCommandHelpListsFlagsAndExample: a command's usage lists its flags
// and shows a command line to copy.
func TestCommandHelpListsFlagsAndExample(t *testing.T) {
	for name, flags := range map[string][]string{
		"import": {"-project", "-create-project", "-region", "-rules", "-strict"},
		"serve":  {"-addr", "-neo4j-uri", "-cors-origins"},
		"gen":    {"-clients", "-seed", "-out", "-truth"},
		"bench":  {"-clients", "-out"},
		"soak":   {"-duration", "-kill-every", "-writers", "-import-every"},
	} {
		stdout, _, err := runCLI(t, "help", name)
		if err != nil {
			t.Fatalf("help %s: %v", name, err)
		}
		for _, f := range flags {
			if !strings.Contains(stdout, "  "+f+" ") && !strings.Contains(stdout, "  "+f+"\n") {
				t.Errorf("help %s does not list %s:\n%s", name, f, stdout)
			}
		}
		if !strings.Contains(stdout, "\nexample:\n    multicontact "+name) && !strings.Contains(stdout, "multicontact "+name+" -") {
			t.Errorf("help %s shows no example of the command:\n%s", name, stdout)
		}
	}
}

// TestUsageErrorsFail: a wrong command line fails (exit status 1) with a
// message, and a usage on stderr where it helps.
func TestUsageErrorsFail(t *testing.T) {
	cases := []struct {
		args      []string
		err       string // in the error
		usageOnly bool   // the error is flag.ErrHelp: the usage is the message
	}{
		{args: nil, usageOnly: true},
		{args: []string{"--version"}, err: `unknown command "--version"`},
		{args: []string{"help", "deploy"}, err: `unknown command "deploy"`},
		{args: []string{"import"}, err: "import needs -project and one FILE"},
		{args: []string{"import", "-project", "acme"}, err: "import needs -project and one FILE"},
		{args: []string{"import", "-nope"}, err: "flag provided but not defined: -nope"},
		{args: []string{"import", "-project", "acme", "-rules", "phone", "x.ndjson"}, err: "-rules sets the rules of a project that -create-project creates"},
		{args: []string{"import", "-project", "acme", "-create-project", "-rules", "phone;fax", "x.ndjson"}, err: `unknown field "fax"`},
		{args: []string{"import", "-project", "acme", "-create-project", "-rules", "phone,phone", "x.ndjson"}, err: `"phone" appears twice`},
		{args: []string{"import", "-project", "acme", "-create-project", "-region", "XX", "-rules", "phone", "x.ndjson"}, err: "-region"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, err := runCLI(t, tc.args...)
			switch {
			case tc.usageOnly:
				if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "usage: multicontact COMMAND") {
					t.Errorf("err = %v, stderr %q; want flag.ErrHelp and the usage on stderr", err, stderr)
				}
			case err == nil || errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), tc.err):
				t.Errorf("err = %v, want an error with %q", err, tc.err)
			}
		})
	}
}

func TestParseRules(t *testing.T) {
	cases := []struct {
		in   string
		want [][]string
		err  bool
	}{
		{in: "", want: nil},
		{in: "phone", want: [][]string{{"phone"}}},
		{in: "phone;email", want: [][]string{{"phone"}, {"email"}}},
		{in: "phone;email,externalId", want: [][]string{{"phone"}, {"email", "externalId"}}},
		{in: " phone ; email , externalId ;", want: [][]string{{"phone"}, {"email", "externalId"}}},
		{in: "phone,", err: true},
		{in: "Phone", err: true},
		{in: "email,email", err: true},
		{in: "phone,email,skype,contract,externalId", want: [][]string{{"phone", "email", "skype", "contract", "externalId"}}},
	}
	for _, tc := range cases {
		got, err := parseRules(tc.in, "RU")
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseRules(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestImportCreatesTheProjectWithItsRules: `import -create-project -rules`
// makes a project whose clients merge by the rules, on the first import;
// the same command again is fine; an import into a project without rules
// says that nothing will merge.
func TestImportCreatesTheProjectWithItsRules(t *testing.T) {
	graphtest.Require(t)
	file := filepath.Join(t.TempDir(), "clients.ndjson")
	data := `{"op":"client","eventId":"1","id":"tg-1","channel":{"kind":"telegram","account":"main"},"attributes":[{"field":"phone","value":"8 916 123-45-67"}]}
{"op":"client","eventId":"2","id":"wa-1","channel":{"kind":"whatsapp","account":"main"},"attributes":[{"field":"phone","value":"+7 916 123 45 67"}]}
{"op":"client","eventId":"3","id":"web-1","channel":{"kind":"web","account":"main"},"attributes":[{"field":"email","value":"a@example.com"}]}
{"op":"client","eventId":"4","id":"web-2","channel":{"kind":"web","account":"shop"},"attributes":[{"field":"email","value":"A@example.com"}]}
`
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	project := fmt.Sprintf("cli-%d", time.Now().UnixNano())
	args := []string{"import", "-project", project, "-create-project", "-rules", "phone;email,externalId", file}
	stdout, stderr, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("multicontact %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	// tg-1 and wa-1 share a phone; web-1 and web-2 share an e-mail but the
	// rule wants an external id too.
	for _, want := range []string{"applied\t4\n", "multi-contacts\t0 before, 3 after\n",
		"clients sharing a multi-contact\t0 before, 2 after", "rules\temail + externalId; phone\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}

	stdout, stderr, err = runCLI(t, args...)
	if err != nil {
		t.Fatalf("the same import again: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "skipped (seen before)\t4\n") || !strings.Contains(stdout, "rules\temail + externalId; phone\n") {
		t.Errorf("the same import again printed:\n%s", stdout)
	}

	_, _, err = runCLI(t, "import", "-project", project, "-create-project", "-rules", "skype", file)
	if err == nil || !strings.Contains(err.Error(), "exists without the rule skype") {
		t.Errorf("-rules for an existing project without that rule = %v, want a refusal", err)
	}

	bare := project + "-bare"
	stdout, stderr, err = runCLI(t, "import", "-project", bare, "-create-project", file)
	if err != nil {
		t.Fatalf("import without rules: %v\n%s", err, stderr)
	}
	for _, want := range []string{"applied\t4\n", "multi-contacts\t0 before, 4 after\n", "rules\tnone: nothing will merge until the project has a rule"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary of an import without rules lacks %q:\n%s", want, stdout)
		}
	}
}
