package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// URL form.
		{"userinfo password", "postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		{"no password", "postgres://u@h/db", "postgres://u@h/db"},
		{"no userinfo", "postgres://h/db", "postgres://h/db"},
		{"query password", "postgres://u@h/db?password=pw", "postgres://u@h/db?password=xxxxx"},
		{"query password among others", "postgresql://u@h/db?sslmode=require&password=pw&application_name=x",
			"postgresql://u@h/db?sslmode=require&password=xxxxx&application_name=x"},
		{"both", "postgres://u:pw1@h/db?password=pw2", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"percent-encoded userinfo password", "postgres://u:p%40ss%2Fw%3Fd@h/db", "postgres://u:xxxxx@h/db"},
		{"percent-encoded query password", "postgres://u@h/db?password=p%26w%3Dd%20x", "postgres://u@h/db?password=xxxxx"},
		{"percent-encoded query key", "postgres://u@h/db?pass%77ord=pw", "postgres://u@h/db?pass%77ord=xxxxx"},
		{"upper-case query key", "postgres://u@h/db?PASSWORD=pw", "postgres://u@h/db?PASSWORD=xxxxx"},
		{"sslpassword and sslkey", "postgres://u@h/db?sslkey=/k/client.key&sslpassword=kpw&sslcert=/k/client.crt",
			"postgres://u@h/db?sslkey=xxxxx&sslpassword=xxxxx&sslcert=/k/client.crt"},
		{"several hosts", "postgres://u:pw@h1:5432,h2:5433/db", "postgres://u:xxxxx@h1:5432,h2:5433/db"},
		{"bad port", "postgres://u:pw@h:bad/db", "postgres://u:xxxxx@h:bad/db"},
		{"unencoded @ in password", "postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		{"unencoded / in password", "postgres://u:12/pw@h/db", "postgres://u:xxxxx@h/db"},
		{"unencoded # in password", "postgres://u:p#w@h/db?password=x", "postgres://u:xxxxx@h/db?password=xxxxx"},
		{"unencoded # in query password", "postgres://u@h/db?password=p#w", "postgres://u@h/db?password=xxxxx"},
		{"unparseable URL", "postgres://u:pw@h/db?password=p%zz&x=%", "postgres://u:xxxxx@h/db?password=xxxxx&x=%"},
		// key=value form.
		{"key=value", "host=h user=u password=pw dbname=d", "host=h user=u password=xxxxx dbname=d"},
		{"key=value without password", "host=h user=u dbname=d", "host=h user=u dbname=d"},
		{"spaces around =", "host = h password = pw dbname=d", "host = h password = xxxxx dbname=d"},
		{"quoted with spaces", "host=h password='p w d' dbname=d", "host=h password=xxxxx dbname=d"},
		{"quoted with escaped quote", `host=h password='it\'s a \\ secret' dbname=d`, "host=h password=xxxxx dbname=d"},
		{"quoted key that looks like a password", `application_name='password=pw' password=pw`, `application_name='password=pw' password=xxxxx`},
		{"bare with escaped space", `password=p\ w dbname=d`, "password=xxxxx dbname=d"},
		{"empty quoted", "password='' dbname=d", "password=xxxxx dbname=d"},
		{"empty value takes the next word", "password= dbname=d", "password= xxxxx"},
		{"key=value sslpassword and sslkey", "host=h sslkey=/k/c.key sslpassword='k pw'", "host=h sslkey=xxxxx sslpassword=xxxxx"},
		{"upper-case key", "host=h PASSWORD=pw", "host=h PASSWORD=xxxxx"},
		{"tabs and newlines", "host=h\tpassword=pw\nuser=u", "host=h\tpassword=xxxxx\nuser=u"},
		{"unterminated quote", "host=h password='p w", "[redacted]"},
		{"trailing backslash", `host=h password=pw\`, "[redacted]"},
		{"word without =", "host=h pw", "[redacted]"},
		// Neither.
		{"plain word", "s3cr3t-token", "[redacted]"},
		{"empty", "", "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestConnStringNeverShowsItsSecrets prints a connection string every way
// the code does: fmt verbs, errors, JSON, --help.
func TestConnStringNeverShowsItsSecrets(t *testing.T) {
	for _, s := range []string{
		"postgres://u:topsecret1@h/db?password=topsecret2&sslpassword=topsecret3",
		"host=h user=u password='topsecret1 x' sslpassword=topsecret3",
	} {
		c := ConnString(s)
		js, err := json.Marshal(struct{ URL ConnString }{c})
		if err != nil {
			t.Fatal(err)
		}
		fs := newFlags(&Config{Database: Database{URL: c}})
		shown := []string{
			fmt.Sprint(c), fmt.Sprintf("%s %v", c, c), fmt.Errorf("database %s: %w", c, fmt.Errorf("x")).Error(),
			string(js), fs.FlagUsages(),
		}
		for _, out := range shown {
			if strings.Contains(out, "topsecret") {
				t.Errorf("%q shown as %q", s, out)
			}
		}
		if !strings.Contains(shown[0], "xxxxx") {
			t.Errorf("got %q, want the string with its secrets as xxxxx", shown[0])
		}
	}
}

func TestSecretIsRedactedWhole(t *testing.T) {
	// A password or token that looks like a connection string is still
	// a secret: nothing of it is shown.
	for _, s := range []string{"hunter2", "host=x", "a=b c=d", "postgres://u@h/db"} {
		if got := Secret(s).String(); got != "[redacted]" {
			t.Errorf("Secret(%q).String(): got %q, want [redacted]", s, got)
		}
	}
	if got := Secret("").String(); got != "" {
		t.Errorf("empty Secret: got %q, want empty", got)
	}
}
