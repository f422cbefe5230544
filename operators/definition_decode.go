package operators

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// decodeDefinition decodes the JSON of a definition without judging its rules:
// the shape of the document (objects, arrays, strings where strings belong), unknown
// and duplicate keys. Errors name the path of the offending key or value. Condition
// values are kept raw; Validate judges them.
func decodeDefinition(data []byte) (*Definition, error) {
	r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data))}
	r.dec.UseNumber()
	d := &Definition{}
	err := r.object("", func(key, path string) error {
		switch key {
		case "workspace":
			return r.str(path, &d.Workspace)
		case "id":
			return r.str(path, &d.ID)
		case "name":
			return r.str(path, &d.Name)
		case "groups":
			return r.array(path, func(path string) error {
				d.Groups = append(d.Groups, Group{})
				return r.group(path, &d.Groups[len(d.Groups)-1])
			})
		}
		return &ValidationError{Path: path, Msg: "unknown key"}
	})
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, &ValidationError{Msg: "invalid JSON: unexpected data after the definition"}
	}
	return d, nil
}

// jsonReader walks a JSON document token by token, so that every error can name the
// path where it occurred.
type jsonReader struct {
	dec *json.Decoder
}

func (r *jsonReader) group(path string, g *Group) error {
	return r.object(path, func(key, path string) error {
		if key != "conditions" {
			return &ValidationError{Path: path, Msg: "unknown key"}
		}
		return r.array(path, func(path string) error {
			g.Conditions = append(g.Conditions, Condition{})
			return r.condition(path, &g.Conditions[len(g.Conditions)-1])
		})
	})
}

func (r *jsonReader) condition(path string, c *Condition) error {
	return r.object(path, func(key, path string) error {
		switch key {
		case "field":
			return r.str(path, &c.Field)
		case "op":
			return r.str(path, &c.Op)
		case "automation_id":
			return r.id(path, &c.AutomationID)
		case "value":
			return r.raw(&c.Value)
		case "in_last_days":
			return r.raw(&c.InLastDays)
		}
		return &ValidationError{Path: path, Msg: "unknown key"}
	})
}

// raw reads the next value as compacted JSON into dst.
func (r *jsonReader) raw(dst *json.RawMessage) error {
	var raw json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		return syntaxError(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return syntaxError(err)
	}
	*dst = buf.Bytes()
	return nil
}

// token reads the next token, turning a decoding failure into a ValidationError.
func (r *jsonReader) token() (json.Token, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	return tok, nil
}

// object reads an object (null counts as an empty one), calling fn for each key with
// the key's path; fn must consume the key's value.
func (r *jsonReader) object(path string, fn func(key, path string) error) error {
	tok, err := r.token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return &ValidationError{Path: path, Msg: "must be an object"}
	}
	var seen []string
	for r.dec.More() {
		tok, err := r.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // inside an object the decoder only yields string keys
		kpath := key
		if path != "" {
			kpath = path + "." + key
		}
		for _, k := range seen {
			if k == key {
				return &ValidationError{Path: kpath, Msg: "duplicate key"}
			}
		}
		seen = append(seen, key)
		if err := fn(key, kpath); err != nil {
			return err
		}
	}
	_, err = r.token() // '}'
	return err
}

// array reads an array (null counts as an empty one), calling fn with the path of each
// element; fn must consume the element.
func (r *jsonReader) array(path string, fn func(path string) error) error {
	tok, err := r.token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('[') {
		return &ValidationError{Path: path, Msg: "must be an array"}
	}
	for i := 0; r.dec.More(); i++ {
		if err := fn(path + "[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	_, err = r.token() // ']'
	return err
}

// str reads a string into dst; null leaves dst empty.
func (r *jsonReader) str(path string, dst *string) error {
	tok, err := r.token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
		return nil
	case string:
		*dst = v
		return nil
	}
	return &ValidationError{Path: path, Msg: "must be a string"}
}

// id reads an id: a string, or a JSON integer taken as its decimal string (SPEC §2).
func (r *jsonReader) id(path string, dst *string) error {
	tok, err := r.token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case nil:
		return nil
	case string:
		*dst = v
		return nil
	case json.Number:
		if isIntegerLiteral(string(v)) {
			*dst = string(v)
			return nil
		}
	}
	return &ValidationError{Path: path, Msg: "must be a string"}
}

// isIntegerLiteral reports whether s is a JSON number without fraction or exponent.
func isIntegerLiteral(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// syntaxError turns a decoding failure into a ValidationError of the whole document.
func syntaxError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &ValidationError{Msg: "invalid JSON: unexpected end of input", cause: err}
	case errors.As(err, &se):
		return &ValidationError{Msg: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se), cause: err}
	}
	return &ValidationError{Msg: fmt.Sprintf("invalid JSON: %v", err), cause: err}
}
