package jsonenc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// stdString is encoding/json's encoding of s, without HTML escaping.
func stdString(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendString(t *testing.T) {
	for s, want := range map[string]string{
		"":             `""`,
		"plain":        `"plain"`,
		"\x00\x07\x1f": `"\u0000\u0007\u001f"`,
		"\u2028\u2029": `"\u2028\u2029"`,
		"\xff":         `"\ufffd"`,
		"a\xc3":        `"a\ufffd"`,
		`a"b\c`:        `"a\"b\\c"`,
		"\n\r\t\b\f":   `"\n\r\t\b\f"`,
		"<é>&😀":        `"<é>&😀"`,
	} {
		got := AppendString([]byte("x"), s)
		if string(got) != "x"+want {
			t.Errorf("AppendString(%q) = %s, want x%s", s, got, want)
		}
		if std := stdString(t, s); !bytes.Equal(got[1:], std) {
			t.Errorf("AppendString(%q) = %s, encoding/json gives %s", s, got[1:], std)
		}
	}
}

// FuzzAppendString: the encoding is valid JSON, equal to encoding/json's, and reads
// back as s when s is valid UTF-8.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\x07", "\u2028", "\xff\xfe", `"\`, "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("AppendString(%q) = %s: invalid JSON", s, got)
		}
		if std := stdString(t, s); !bytes.Equal(got, std) {
			t.Fatalf("AppendString(%q) = %s, encoding/json gives %s", s, got, std)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if valid := []rune(s); string(valid) == s && back != s {
			t.Fatalf("AppendString(%q) read back as %q", s, back)
		}
	})
}
