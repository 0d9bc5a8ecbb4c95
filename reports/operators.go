package reports

// Operator is a comparison an expectation may use, with the verdict's value
// on the left and the spec's value on the right.
type Operator struct {
	// Symbol is how specs and reports write it, e.g. ">=".
	Symbol string
	// Meaning says it in words ("at least"), for schemas and help texts.
	Meaning string
	// Holds reports whether "got Symbol want" is true.
	Holds func(got, want float64) bool
}

// Operators is the one list of the comparison operators an expectation may
// use, in the order messages list them. Judge compares with it; scenario
// specs should be validated, and their schema enumerated, from it.
var Operators = []Operator{
	{">", "greater than", func(got, want float64) bool { return got > want }},
	{">=", "at least", func(got, want float64) bool { return got >= want }},
	{"<", "less than", func(got, want float64) bool { return got < want }},
	{"<=", "at most", func(got, want float64) bool { return got <= want }},
	{"==", "equal to", func(got, want float64) bool { return got == want }},
	{"!=", "not equal to", func(got, want float64) bool { return got != want }},
}

// OperatorSymbols lists the symbols of Operators, in order.
func OperatorSymbols() []string {
	out := make([]string, len(Operators))
	for i, o := range Operators {
		out[i] = o.Symbol
	}
	return out
}

// operator returns the operator written symbol, and whether there is one.
func operator(symbol string) (Operator, bool) {
	for _, o := range Operators {
		if o.Symbol == symbol {
			return o, true
		}
	}
	return Operator{}, false
}
