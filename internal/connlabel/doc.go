// Package connlabel reads /etc/xtables/connlabel.conf, the file that names
// conntrack's connlabel bits for iptables' connlabel match, nft's ct label
// and conntrack-tools, into a [model.LabelNames] table, so that ctwatch
// writes labels by the same names conntrack -o labels prints.
//
// The file is read exactly as libnetfilter_conntrack reads it
// (src/conntrack/labels.c, __labelmap_new), so that ctwatch and conntrack
// agree on every name:
//
//   - The file is read in pieces as fgets does into a 1024-byte buffer: a
//     line, or 1023 bytes of a longer one, whose rest is read as the next
//     piece. A NUL byte ends a piece's text.
//   - A piece starting with '#' is a comment (only in its first column).
//   - A piece starts with its bit, as strtoul(s, &end, 0) reads it:
//     leading white space, a sign, and a decimal, octal (0...) or
//     hexadecimal (0x...) number. A piece without a number is skipped; a
//     number of 1024 or more (libnetfilter_conntrack's MAX_BITS), a
//     negative one included, is refused.
//   - The name is the rest of the piece with white space (space, \t, \v,
//     \f, \r) trimmed at both ends: no separator is needed ("5foo" names
//     bit 5 "foo"), and spaces inside are kept. A name must consist of
//     ASCII letters, digits, spaces and '-'.
//   - The first line to name a bit wins, and so does the first to use a
//     name: later lines naming the same bit or using the same name are
//     refused. A refused line leaves its bit free for a later one.
//
// libnetfilter_conntrack skips bad lines silently; Parse skips the same
// lines and reports each as a [LineError] naming the file, line and field,
// and the rest of the file still loads. It also reports, while loading
// them, bits past 127 (the kernel keeps 128) and lines cut into pieces,
// which libnetfilter_conntrack accepts but which cannot do what they seem
// to. Blank lines and lines whose first non-blank byte is '#' are skipped
// without a report.
package connlabel
