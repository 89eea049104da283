// Package record is the one owner of ctwatch's record schemas: which
// records `ctwatch watch`, `ctwatch parse` and `ctwatch stats --json`
// write, their keys, levels, hints and value formats. The domain packages
// (pkg/model, internal/flow, internal/health, internal/ctstat) expose plain
// data and know no field name; this package turns that data into records.
//
// There are three schemas: [Native] (docs/schema.md is its contract,
// pinned byte for byte by golden and integration tests), [ECS] (Elastic
// Common Schema ECSVersion, docs/schema-ecs.md, files ecs_*.go) and [OCSF]
// (OCSFVersion, docs/schema-ocsf.md, files ocsf_*.go), each held to its
// reference's field types by fixtures under testdata/. Every record of
// every schema carries the sequence number, run id and host name; how a
// schema writes a record kind is its encoder's business, never the
// caller's.
//
// An [Encoder] has one method per record kind, each taking model values
// and the tracker's results as they are: [Encoder.Entry] (new, update,
// destroy and snapshot events, with origin, and the tracker's transition
// and lifecycle when the event was tracked), [Encoder.Inferred],
// [Encoder.Unreplied], [Encoder.Start], [Encoder.Stop], [Encoder.Dump],
// [Encoder.Reconcile], [Encoder.Gap], [Encoder.DecodeError],
// [Encoder.FlowsEvicted], [Encoder.OutputError], [Encoder.OutputRecovered],
// [Encoder.NetnsGone], [Encoder.NetnsAdded], [Encoder.NetnsRemoved],
// [Encoder.EventsDisabled],
// [Encoder.EventsOnDemand], [Encoder.Health], [Encoder.StatsError],
// [Encoder.Expect] and [Encoder.ExpectEvent] (expectation records, of a
// watch and of `ctwatch parse`), [Encoder.Reading] and [Encoder.Event] (a bare entry record, for
// `ctwatch parse`). [Encoder.AppendText] is the text form of entry records,
// conntrack -E's line, whatever the schema of the others, and
// [Encoder.AppendExpectText] that of expectation records, conntrack -E
// expect's. [ParseJSON] reads
// the native schema's entry records back.
//
// A watch of several network namespaces gives the encoder a hook
// (Config.NetNS) naming the namespace of each entry, unreplied and table
// health record; the encoder renders each namespace's identity once and
// writes it as "netns" (ECS: conntrack.netns, container.id, orchestrator;
// OCSF: unmapped.conntrack.netns, device.container). Without the hook the
// records are those of a watch of one namespace, byte for byte.
//
// Encoder is a struct whose methods switch on its schema rather than an
// interface with one implementation per schema. The hot-path records
// (entries, transitions, lifecycles) must cost no allocation: a call
// through an interface hides the callee from escape analysis, so every
// pointer passed in would be assumed to escape, and values the caller
// keeps on its stack would move to the heap. A switch on a field costs one
// predictable branch. Each schema's code lives in its own files
// (native_*.go); adding one adds a case to each method and its files.
//
// Zero allocations come from wrapper types that are free conversions of
// the values they write (type entryJSON model.Entry, with a
// MarshalZerologObject method), long-lived values, fixed-size stack
// buffers for times, addresses and name lists, and zerolog's pooled
// dictionaries for nested objects.
package record
