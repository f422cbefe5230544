package deploytest

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// parseYAML reads the subset of YAML the rule files use: block mappings and sequences,
// plain, single- and double-quoted one-line scalars, literal (|) and folded (>) block
// scalars, the empty flow collections [] and {}, and comments. A mapping is a
// map[string]any, a sequence a []any, a scalar a string, and a missing value nil.
// Anything else (anchors, tags, flow collections with content, multi-line plain
// scalars, several documents, tabs) is an error rather than a silent misreading.
func parseYAML(src string) (any, error) {
	p := &yamlParser{lines: strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")}
	for i, l := range p.lines {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "\t") {
			return nil, fmt.Errorf("line %d: tab in indentation", i+1)
		}
		if l == "---" || l == "..." {
			return nil, fmt.Errorf("line %d: document markers are not supported", i+1)
		}
	}
	indent, ok := p.peek()
	if !ok {
		return nil, nil
	}
	v, err := p.block(indent)
	if err != nil {
		return nil, err
	}
	if _, ok := p.peek(); ok {
		return nil, fmt.Errorf("line %d: unexpected content after the top-level node", p.pos+1)
	}
	return v, nil
}

type yamlParser struct {
	lines []string
	pos   int
}

// peek skips blank and comment-only lines and returns the indentation of the next line.
func (p *yamlParser) peek() (int, bool) {
	for ; p.pos < len(p.lines); p.pos++ {
		t := strings.TrimLeft(p.lines[p.pos], " ")
		if t != "" && !strings.HasPrefix(t, "#") {
			return len(p.lines[p.pos]) - len(t), true
		}
	}
	return 0, false
}

func (p *yamlParser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

// content is the current line without indentation and comment.
func (p *yamlParser) content() string {
	return stripYAMLComment(strings.TrimLeft(p.lines[p.pos], " "))
}

func isSeqItem(s string) bool { return s == "-" || strings.HasPrefix(s, "- ") }

func (p *yamlParser) block(indent int) (any, error) {
	if isSeqItem(p.content()) {
		return p.seq(indent)
	}
	return p.mapping(indent)
}

func (p *yamlParser) mapping(indent int) (any, error) {
	m := map[string]any{}
	for {
		in, ok := p.peek()
		if !ok || in < indent {
			return m, nil
		}
		if in > indent {
			return nil, p.errorf("unexpected indentation (a multi-line plain scalar?)")
		}
		c := p.content()
		if isSeqItem(c) {
			return m, nil
		}
		key, rest, ok := splitYAMLKey(c)
		if !ok {
			return nil, p.errorf("want key: value, have %q", c)
		}
		if _, dup := m[key]; dup {
			return nil, p.errorf("duplicate key %q", key)
		}
		p.pos++
		v, err := p.value(rest, indent)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
}

// value parses what follows "key:" on a line of a mapping at indent.
func (p *yamlParser) value(rest string, indent int) (any, error) {
	switch {
	case rest == "":
		in, ok := p.peek()
		switch {
		case !ok:
			return nil, nil
		case in > indent:
			return p.block(in)
		case in == indent && isSeqItem(p.content()):
			return p.seq(indent)
		}
		return nil, nil
	case rest[0] == '|' || rest[0] == '>':
		return p.blockScalar(rest, indent)
	}
	// The key's line is already consumed (p.pos is past it).
	v, err := parseYAMLScalar(stripYAMLComment(rest))
	if err != nil {
		return nil, fmt.Errorf("line %d: %v", p.pos, err)
	}
	return v, nil
}

func (p *yamlParser) seq(indent int) (any, error) {
	s := []any{}
	for {
		in, ok := p.peek()
		if !ok || in < indent {
			return s, nil
		}
		if in > indent {
			return nil, p.errorf("unexpected indentation in a sequence")
		}
		line := p.lines[p.pos]
		c := strings.TrimLeft(line, " ")
		if !isSeqItem(stripYAMLComment(c)) {
			return s, nil
		}
		item := strings.TrimLeft(c[1:], " ")
		col := len(line) - len(item)
		switch {
		case stripYAMLComment(item) == "":
			p.pos++
			in, ok := p.peek()
			if !ok || in <= indent {
				s = append(s, nil)
				continue
			}
			v, err := p.block(in)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		case isSeqItem(stripYAMLComment(item)) || isKeyLine(item):
			// "- key: v" opens a mapping (or "- - x" a sequence) at the item's column:
			// re-read the line as if the dash were a space.
			p.lines[p.pos] = strings.Repeat(" ", col) + item
			v, err := p.block(col)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		default:
			v, err := parseYAMLScalar(stripYAMLComment(item))
			if err != nil {
				return nil, p.errorf("%v", err)
			}
			p.pos++
			s = append(s, v)
		}
	}
}

func isKeyLine(s string) bool {
	_, _, ok := splitYAMLKey(stripYAMLComment(s))
	return ok
}

func parseYAMLScalar(s string) (any, error) {
	switch {
	case s == "":
		return nil, nil
	case s == "[]":
		return []any{}, nil
	case s == "{}":
		return map[string]any{}, nil
	case s[0] == '"':
		end := 1
		for ; end < len(s) && s[end] != '"'; end++ {
			if s[end] == '\\' {
				end++
			}
		}
		if end != len(s)-1 {
			return nil, fmt.Errorf("bad double-quoted scalar %s", s)
		}
		v, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("double-quoted scalar %s: %w", s, err)
		}
		return v, nil
	case s[0] == '\'':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] != '\'' {
				b.WriteByte(s[i])
				continue
			}
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			if i != len(s)-1 {
				return nil, fmt.Errorf("content after a single-quoted scalar: %s", s)
			}
			return b.String(), nil
		}
		return nil, fmt.Errorf("unterminated single-quoted scalar %s", s)
	case strings.ContainsRune("[{&*!%@`|>", rune(s[0])):
		return nil, fmt.Errorf("unsupported YAML (flow collection, anchor, alias, tag or directive): %s", s)
	case strings.Contains(s, ": "):
		return nil, fmt.Errorf("plain scalar containing \": \" (quote it): %s", s)
	}
	return s, nil
}

// blockScalar reads a | or > scalar whose header is on the line before p.pos, for a
// key at indent.
func (p *yamlParser) blockScalar(header string, indent int) (any, error) {
	style, chomp := header[0], header[1:]
	if chomp != "" && chomp != "-" && chomp != "+" {
		return nil, fmt.Errorf("line %d: unsupported block scalar header %q", p.pos, header)
	}
	var lines []string
	blockIndent := -1
	for ; p.pos < len(p.lines); p.pos++ {
		l := p.lines[p.pos]
		t := strings.TrimLeft(l, " ")
		in := len(l) - len(t)
		if t == "" {
			lines = append(lines, "")
			continue
		}
		if blockIndent < 0 {
			if in <= indent {
				break
			}
			blockIndent = in
		}
		if in < blockIndent {
			break
		}
		lines = append(lines, l[blockIndent:])
	}
	// Trailing blank lines belong to the block only for chomping; give back the
	// rest so that peek sees them as blank.
	body := len(lines)
	for body > 0 && lines[body-1] == "" {
		body--
	}
	trailing := len(lines) - body
	lines = lines[:body]
	var text string
	if style == '|' {
		text = strings.Join(lines, "\n")
	} else {
		var b strings.Builder
		for i, l := range lines {
			switch {
			case i == 0:
			case l == "" || lines[i-1] == "":
				b.WriteByte('\n')
			default:
				b.WriteByte(' ')
			}
			b.WriteString(l)
		}
		text = b.String()
	}
	switch {
	case body == 0:
		return "", nil
	case chomp == "-":
	case chomp == "+":
		text += strings.Repeat("\n", trailing+1)
	default:
		text += "\n"
	}
	return text, nil
}

// splitYAMLKey splits "key: rest" or "key:" (plain key, outside quotes).
func splitYAMLKey(s string) (key, rest string, ok bool) {
	if s == "" || strings.ContainsRune("\"'[{&*!%@`|>#-", rune(s[0])) && !(s[0] == '-' && len(s) > 1 && s[1] != ' ') {
		return "", "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return strings.TrimRight(s[:i], " "), strings.TrimSpace(s[i+1:]), true
		}
	}
	return "", "", false
}

// stripYAMLComment removes a " #" comment outside quotes and trailing spaces.
func stripYAMLComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote == '\'' && c == '\'' && i+1 < len(s) && s[i+1] == '\'':
			i++ // '' is an escaped quote
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '-' || s[i-1] == ':' {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return strings.TrimRight(s[:i], " ")
		}
	}
	return strings.TrimRight(s, " ")
}

func TestParseYAML(t *testing.T) {
	src := `# a comment
groups:
  - name: g # trailing comment
    rules:
      - alert: A
        expr: |
          up == 0
          # a PromQL comment stays

        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "on {{ $labels.instance }}: \"x\""
          quoted: 'it''s # not a comment'
      - record: r:x:sum
        expr: >-
          sum(x)
          by (y)
    empty: []
    none:
list:
- a:8080
- "b"
-
  - nested
`
	got, err := parseYAML(src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"groups": []any{map[string]any{
			"name": "g",
			"rules": []any{
				map[string]any{
					"alert": "A",
					"expr":  "up == 0\n# a PromQL comment stays\n",
					"for":   "5m",
					"labels": map[string]any{
						"severity": "warning",
					},
					"annotations": map[string]any{
						"summary": `on {{ $labels.instance }}: "x"`,
						"quoted":  "it's # not a comment",
					},
				},
				map[string]any{"record": "r:x:sum", "expr": "sum(x) by (y)"},
			},
			"empty": []any{},
			"none":  nil,
		}},
		"list": []any{"a:8080", "b", []any{"nested"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseYAML:\n got %#v\nwant %#v", got, want)
	}
}

func TestParseYAMLRejects(t *testing.T) {
	for _, src := range []string{
		"a: 1\na: 2\n",
		"a: [1, 2]\n",
		"a: {b: 1}\n",
		"a: &x 1\n",
		"a: *x\n",
		"a: b\n  c\n",
		"a: b: c\n",
		"a:\n\tb: 1\n",
		"---\na: 1\n",
		"a: \"unterminated\n",
		"- a\nb: 1\n",
	} {
		if v, err := parseYAML(src); err == nil {
			t.Errorf("parseYAML(%q) = %#v, want an error", src, v)
		}
	}
}
