package filter

import "strconv"

// FlagError reports one bad item of one flag, or a flag whose value as a
// whole is unusable. [New] joins one FlagError per problem.
type FlagError struct {
	// Flag is the flag's name as the command line spells it ("--sport").
	Flag string
	// Item is the offending item as given (spaces trimmed), or the whole
	// value when the problem is the combination of its items.
	Item string
	// Msg says what is wrong, as a predicate of the quoted item
	// ("is not a port (0-65535)").
	Msg string
}

// Error names the flag and quotes the item, as in
// `--sport: "70000" is not a port (0-65535) or a port range (1000-2000)`.
func (e *FlagError) Error() string {
	return e.Flag + ": " + strconv.Quote(e.Item) + " " + e.Msg
}
