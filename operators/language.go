package operators

// FieldOps is one condition field of the rule language and the operators it allows.
type FieldOps struct {
	Field string
	Ops   []string // in the order of Operators
}

// Fields returns every condition field with the operators it allows, in a fixed order.
// It is the table that docs/SPEC.md §6 documents (a test keeps the two in step).
func Fields() []FieldOps {
	out := make([]FieldOps, 0, numFields-1)
	for f := fieldInvalid + 1; f < numFields; f++ {
		fo := FieldOps{Field: f.String()}
		for o := opInvalid + 1; o < numOps; o++ {
			if f.allows(o) {
				fo.Ops = append(fo.Ops, o.String())
			}
		}
		out = append(out, fo)
	}
	return out
}

// Operators returns the name of every operator of the rule language, in a fixed order.
func Operators() []string {
	out := make([]string, 0, numOps-1)
	for o := opInvalid + 1; o < numOps; o++ {
		out = append(out, o.String())
	}
	return out
}
