package ctnl

// This file is the one place of the repository that states the numbers of
// the kernel's netlink, nfnetlink and ctnetlink uapi headers. Names follow
// the headers' spelling in Go style: the prefix kept in capitals
// (CTA_TUPLE_ORIG is CTATupleOrig, IPCTNL_MSG_CT_NEW is IPCTNLMsgCtNew,
// NLM_F_CREATE is NLMFCreate), the words after it capitalised.

// HeaderType is struct nlmsghdr's nlmsg_type: a netlink control message
// (NLMsgError, ...) or, for nfnetlink, a subsystem and message type (see
// NFNLType).
type HeaderType uint16

// Flags are struct nlmsghdr's nlmsg_flags.
type Flags uint16

// Subsys is an nfnetlink subsystem, the high byte of an nfnetlink
// message's HeaderType.
type Subsys uint8

// MsgType is a subsystem's message type, the low byte of an nfnetlink
// message's HeaderType.
type MsgType uint8

// AttrType is struct nlattr's nla_type: the attribute's number within its
// enum (the enum of the nest it is in), and the NLAF flags.
type AttrType uint16

// Group is an nfnetlink multicast group, the number passed to
// NETLINK_ADD_MEMBERSHIP.
type Group uint32

// Sizes of the fixed headers, from linux/netlink.h and
// linux/netfilter/nfnetlink.h.
const (
	// NLMsgHdrLen is the size of struct nlmsghdr.
	NLMsgHdrLen = 16
	// NLAHdrLen is the size of struct nlattr.
	NLAHdrLen = 4
	// NFGenMsgLen is the size of struct nfgenmsg (family, version,
	// big-endian resource id), which starts every nfnetlink payload.
	NFGenMsgLen = 4
	// NLMsgErrLen is the size of the error code that starts an
	// NLMSG_ERROR's payload (and NLMSG_DONE's, for a dump's status).
	NLMsgErrLen = 4
	// NLMsgAlignTo is the alignment of messages and attributes.
	NLMsgAlignTo = 4
)

// Netlink control message types, from linux/netlink.h.
const (
	NLMsgNoop    HeaderType = 0x1 // NLMSG_NOOP
	NLMsgError   HeaderType = 0x2 // NLMSG_ERROR
	NLMsgDone    HeaderType = 0x3 // NLMSG_DONE
	NLMsgOverrun HeaderType = 0x4 // NLMSG_OVERRUN
)

// Netlink message flags, from linux/netlink.h. Modifiers of GET requests
// and of NEW requests share values.
const (
	NLMFRequest      Flags = 0x01 // NLM_F_REQUEST
	NLMFMulti        Flags = 0x02 // NLM_F_MULTI
	NLMFAck          Flags = 0x04 // NLM_F_ACK
	NLMFEcho         Flags = 0x08 // NLM_F_ECHO
	NLMFDumpIntr     Flags = 0x10 // NLM_F_DUMP_INTR
	NLMFDumpFiltered Flags = 0x20 // NLM_F_DUMP_FILTERED

	// Modifiers of GET requests.
	NLMFRoot   Flags = 0x100                // NLM_F_ROOT
	NLMFMatch  Flags = 0x200                // NLM_F_MATCH
	NLMFAtomic Flags = 0x400                // NLM_F_ATOMIC
	NLMFDump   Flags = NLMFRoot | NLMFMatch // NLM_F_DUMP

	// Modifiers of NEW requests (and of the events the kernel sends:
	// a new entry's event carries NLM_F_CREATE|NLM_F_EXCL).
	NLMFReplace Flags = 0x100 // NLM_F_REPLACE
	NLMFExcl    Flags = 0x200 // NLM_F_EXCL
	NLMFCreate  Flags = 0x400 // NLM_F_CREATE
	NLMFAppend  Flags = 0x800 // NLM_F_APPEND

	// Flags of acknowledgements.
	NLMFCapped  Flags = 0x100 // NLM_F_CAPPED
	NLMFAckTLVs Flags = 0x200 // NLM_F_ACK_TLVS
)

// Attribute type flags, from linux/netlink.h.
const (
	NLAFNested       AttrType = 1 << 15                          // NLA_F_NESTED
	NLAFNetByteorder AttrType = 1 << 14                          // NLA_F_NET_BYTEORDER
	NLATypeMask      AttrType = ^(NLAFNested | NLAFNetByteorder) // NLA_TYPE_MASK
)

// nfnetlink's version and subsystems, from linux/netfilter/nfnetlink.h.
const (
	// NFNetlinkV0 is NFNETLINK_V0, struct nfgenmsg's version.
	NFNetlinkV0 = 0

	NFNLSubsysNone             Subsys = 0  // NFNL_SUBSYS_NONE
	NFNLSubsysCTNetlink        Subsys = 1  // NFNL_SUBSYS_CTNETLINK
	NFNLSubsysCTNetlinkExp     Subsys = 2  // NFNL_SUBSYS_CTNETLINK_EXP
	NFNLSubsysQueue            Subsys = 3  // NFNL_SUBSYS_QUEUE
	NFNLSubsysULog             Subsys = 4  // NFNL_SUBSYS_ULOG
	NFNLSubsysOSF              Subsys = 5  // NFNL_SUBSYS_OSF
	NFNLSubsysIPSet            Subsys = 6  // NFNL_SUBSYS_IPSET
	NFNLSubsysAcct             Subsys = 7  // NFNL_SUBSYS_ACCT
	NFNLSubsysCTNetlinkTimeout Subsys = 8  // NFNL_SUBSYS_CTNETLINK_TIMEOUT
	NFNLSubsysCTHelper         Subsys = 9  // NFNL_SUBSYS_CTHELPER
	NFNLSubsysNFTables         Subsys = 10 // NFNL_SUBSYS_NFTABLES
	NFNLSubsysNFTCompat        Subsys = 11 // NFNL_SUBSYS_NFT_COMPAT
	NFNLSubsysHook             Subsys = 12 // NFNL_SUBSYS_HOOK
)

// nfnetlink's conntrack multicast groups (enum nfnetlink_groups), from
// linux/netfilter/nfnetlink.h.
const (
	NFNLGrpConntrackNew        Group = 1 // NFNLGRP_CONNTRACK_NEW
	NFNLGrpConntrackUpdate     Group = 2 // NFNLGRP_CONNTRACK_UPDATE
	NFNLGrpConntrackDestroy    Group = 3 // NFNLGRP_CONNTRACK_DESTROY
	NFNLGrpConntrackExpNew     Group = 4 // NFNLGRP_CONNTRACK_EXP_NEW
	NFNLGrpConntrackExpUpdate  Group = 5 // NFNLGRP_CONNTRACK_EXP_UPDATE
	NFNLGrpConntrackExpDestroy Group = 6 // NFNLGRP_CONNTRACK_EXP_DESTROY
)

// The old bind-time group bit masks (struct sockaddr_nl's nl_groups), from
// linux/netfilter/nfnetlink_compat.h: bit n-1 is group n.
const (
	NFNetlinkConntrackNew        uint32 = 0x01 // NF_NETLINK_CONNTRACK_NEW
	NFNetlinkConntrackUpdate     uint32 = 0x02 // NF_NETLINK_CONNTRACK_UPDATE
	NFNetlinkConntrackDestroy    uint32 = 0x04 // NF_NETLINK_CONNTRACK_DESTROY
	NFNetlinkConntrackExpNew     uint32 = 0x08 // NF_NETLINK_CONNTRACK_EXP_NEW
	NFNetlinkConntrackExpUpdate  uint32 = 0x10 // NF_NETLINK_CONNTRACK_EXP_UPDATE
	NFNetlinkConntrackExpDestroy uint32 = 0x20 // NF_NETLINK_CONNTRACK_EXP_DESTROY
)

// ctnetlink's message types (enum cntl_msg_types, of
// NFNL_SUBSYS_CTNETLINK), from linux/netfilter/nfnetlink_conntrack.h.
const (
	IPCTNLMsgCtNew            MsgType = 0 // IPCTNL_MSG_CT_NEW
	IPCTNLMsgCtGet            MsgType = 1 // IPCTNL_MSG_CT_GET
	IPCTNLMsgCtDelete         MsgType = 2 // IPCTNL_MSG_CT_DELETE
	IPCTNLMsgCtGetCtrZero     MsgType = 3 // IPCTNL_MSG_CT_GET_CTRZERO
	IPCTNLMsgCtGetStatsCPU    MsgType = 4 // IPCTNL_MSG_CT_GET_STATS_CPU
	IPCTNLMsgCtGetStats       MsgType = 5 // IPCTNL_MSG_CT_GET_STATS
	IPCTNLMsgCtGetDying       MsgType = 6 // IPCTNL_MSG_CT_GET_DYING
	IPCTNLMsgCtGetUnconfirmed MsgType = 7 // IPCTNL_MSG_CT_GET_UNCONFIRMED
)

// ctnetlink's expectation message types (enum ctnl_exp_msg_types, of
// NFNL_SUBSYS_CTNETLINK_EXP), from linux/netfilter/nfnetlink_conntrack.h.
const (
	IPCTNLMsgExpNew         MsgType = 0 // IPCTNL_MSG_EXP_NEW
	IPCTNLMsgExpGet         MsgType = 1 // IPCTNL_MSG_EXP_GET
	IPCTNLMsgExpDelete      MsgType = 2 // IPCTNL_MSG_EXP_DELETE
	IPCTNLMsgExpGetStatsCPU MsgType = 3 // IPCTNL_MSG_EXP_GET_STATS_CPU
)

// The rest of the file is linux/netfilter/nfnetlink_conntrack.h's
// attribute enums, one block per enum, in the header's order.

// Top-level attributes of a conntrack entry message (enum ctattr_type).
const (
	CTATupleOrig      AttrType = 1  // CTA_TUPLE_ORIG
	CTATupleReply     AttrType = 2  // CTA_TUPLE_REPLY
	CTAStatus         AttrType = 3  // CTA_STATUS
	CTAProtoinfo      AttrType = 4  // CTA_PROTOINFO
	CTAHelp           AttrType = 5  // CTA_HELP
	CTANatSrc         AttrType = 6  // CTA_NAT_SRC (and CTA_NAT)
	CTATimeout        AttrType = 7  // CTA_TIMEOUT
	CTAMark           AttrType = 8  // CTA_MARK
	CTACountersOrig   AttrType = 9  // CTA_COUNTERS_ORIG
	CTACountersReply  AttrType = 10 // CTA_COUNTERS_REPLY
	CTAUse            AttrType = 11 // CTA_USE
	CTAID             AttrType = 12 // CTA_ID
	CTANatDst         AttrType = 13 // CTA_NAT_DST
	CTATupleMaster    AttrType = 14 // CTA_TUPLE_MASTER
	CTASeqAdjOrig     AttrType = 15 // CTA_SEQ_ADJ_ORIG (and CTA_NAT_SEQ_ADJ_ORIG)
	CTASeqAdjReply    AttrType = 16 // CTA_SEQ_ADJ_REPLY (and CTA_NAT_SEQ_ADJ_REPLY)
	CTASecmark        AttrType = 17 // CTA_SECMARK (obsolete: kernels send CTA_SECCTX)
	CTAZone           AttrType = 18 // CTA_ZONE
	CTASecctx         AttrType = 19 // CTA_SECCTX
	CTATimestamp      AttrType = 20 // CTA_TIMESTAMP
	CTAMarkMask       AttrType = 21 // CTA_MARK_MASK
	CTALabels         AttrType = 22 // CTA_LABELS
	CTALabelsMask     AttrType = 23 // CTA_LABELS_MASK
	CTASynproxy       AttrType = 24 // CTA_SYNPROXY
	CTAFilter         AttrType = 25 // CTA_FILTER
	CTAStatusMask     AttrType = 26 // CTA_STATUS_MASK
	CTATimestampEvent AttrType = 27 // CTA_TIMESTAMP_EVENT (Linux 6.14: ns since the epoch)
)

// Attributes of a CTA_TUPLE_* nest (enum ctattr_tuple).
const (
	CTATupleIP    AttrType = 1 // CTA_TUPLE_IP
	CTATupleProto AttrType = 2 // CTA_TUPLE_PROTO
	CTATupleZone  AttrType = 3 // CTA_TUPLE_ZONE
)

// Attributes of a CTA_TUPLE_IP nest (enum ctattr_ip).
const (
	CTAIPV4Src AttrType = 1 // CTA_IP_V4_SRC
	CTAIPV4Dst AttrType = 2 // CTA_IP_V4_DST
	CTAIPV6Src AttrType = 3 // CTA_IP_V6_SRC
	CTAIPV6Dst AttrType = 4 // CTA_IP_V6_DST
)

// Attributes of a CTA_TUPLE_PROTO nest (enum ctattr_l4proto).
const (
	CTAProtoNum        AttrType = 1 // CTA_PROTO_NUM
	CTAProtoSrcPort    AttrType = 2 // CTA_PROTO_SRC_PORT
	CTAProtoDstPort    AttrType = 3 // CTA_PROTO_DST_PORT
	CTAProtoICMPID     AttrType = 4 // CTA_PROTO_ICMP_ID
	CTAProtoICMPType   AttrType = 5 // CTA_PROTO_ICMP_TYPE
	CTAProtoICMPCode   AttrType = 6 // CTA_PROTO_ICMP_CODE
	CTAProtoICMPV6ID   AttrType = 7 // CTA_PROTO_ICMPV6_ID
	CTAProtoICMPV6Type AttrType = 8 // CTA_PROTO_ICMPV6_TYPE
	CTAProtoICMPV6Code AttrType = 9 // CTA_PROTO_ICMPV6_CODE
)

// Attributes of a CTA_PROTOINFO nest (enum ctattr_protoinfo).
const (
	CTAProtoinfoTCP  AttrType = 1 // CTA_PROTOINFO_TCP
	CTAProtoinfoDCCP AttrType = 2 // CTA_PROTOINFO_DCCP
	CTAProtoinfoSCTP AttrType = 3 // CTA_PROTOINFO_SCTP
)

// Attributes of a CTA_PROTOINFO_TCP nest (enum ctattr_protoinfo_tcp).
const (
	CTAProtoinfoTCPState          AttrType = 1 // CTA_PROTOINFO_TCP_STATE
	CTAProtoinfoTCPWscaleOriginal AttrType = 2 // CTA_PROTOINFO_TCP_WSCALE_ORIGINAL
	CTAProtoinfoTCPWscaleReply    AttrType = 3 // CTA_PROTOINFO_TCP_WSCALE_REPLY
	CTAProtoinfoTCPFlagsOriginal  AttrType = 4 // CTA_PROTOINFO_TCP_FLAGS_ORIGINAL
	CTAProtoinfoTCPFlagsReply     AttrType = 5 // CTA_PROTOINFO_TCP_FLAGS_REPLY
)

// Attributes of a CTA_PROTOINFO_DCCP nest (enum ctattr_protoinfo_dccp).
const (
	CTAProtoinfoDCCPState        AttrType = 1 // CTA_PROTOINFO_DCCP_STATE
	CTAProtoinfoDCCPRole         AttrType = 2 // CTA_PROTOINFO_DCCP_ROLE
	CTAProtoinfoDCCPHandshakeSeq AttrType = 3 // CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ
	CTAProtoinfoDCCPPad          AttrType = 4 // CTA_PROTOINFO_DCCP_PAD
)

// Attributes of a CTA_PROTOINFO_SCTP nest (enum ctattr_protoinfo_sctp).
const (
	CTAProtoinfoSCTPState        AttrType = 1 // CTA_PROTOINFO_SCTP_STATE
	CTAProtoinfoSCTPVtagOriginal AttrType = 2 // CTA_PROTOINFO_SCTP_VTAG_ORIGINAL
	CTAProtoinfoSCTPVtagReply    AttrType = 3 // CTA_PROTOINFO_SCTP_VTAG_REPLY
)

// Attributes of a CTA_COUNTERS_* nest (enum ctattr_counters).
const (
	CTACountersPackets   AttrType = 1 // CTA_COUNTERS_PACKETS (64 bits)
	CTACountersBytes     AttrType = 2 // CTA_COUNTERS_BYTES (64 bits)
	CTACounters32Packets AttrType = 3 // CTA_COUNTERS32_PACKETS (old, unused)
	CTACounters32Bytes   AttrType = 4 // CTA_COUNTERS32_BYTES (old, unused)
	CTACountersPad       AttrType = 5 // CTA_COUNTERS_PAD
)

// Attributes of a CTA_TIMESTAMP nest (enum ctattr_tstamp).
const (
	CTATimestampStart AttrType = 1 // CTA_TIMESTAMP_START
	CTATimestampStop  AttrType = 2 // CTA_TIMESTAMP_STOP
	CTATimestampPad   AttrType = 3 // CTA_TIMESTAMP_PAD
)

// Attributes of a CTA_NAT_SRC or CTA_NAT_DST nest (enum ctattr_nat).
const (
	CTANatV4MinIP AttrType = 1 // CTA_NAT_V4_MINIP (and CTA_NAT_MINIP)
	CTANatV4MaxIP AttrType = 2 // CTA_NAT_V4_MAXIP (and CTA_NAT_MAXIP)
	CTANatProto   AttrType = 3 // CTA_NAT_PROTO
	CTANatV6MinIP AttrType = 4 // CTA_NAT_V6_MINIP
	CTANatV6MaxIP AttrType = 5 // CTA_NAT_V6_MAXIP
)

// Attributes of a CTA_NAT_PROTO nest (enum ctattr_protonat).
const (
	CTAProtoNatPortMin AttrType = 1 // CTA_PROTONAT_PORT_MIN
	CTAProtoNatPortMax AttrType = 2 // CTA_PROTONAT_PORT_MAX
)

// Attributes of a CTA_SEQ_ADJ_* nest (enum ctattr_seqadj; enum
// ctattr_natseq has the same numbers).
const (
	CTASeqAdjCorrectionPos AttrType = 1 // CTA_SEQADJ_CORRECTION_POS
	CTASeqAdjOffsetBefore  AttrType = 2 // CTA_SEQADJ_OFFSET_BEFORE
	CTASeqAdjOffsetAfter   AttrType = 3 // CTA_SEQADJ_OFFSET_AFTER
)

// Attributes of a CTA_SYNPROXY nest (enum ctattr_synproxy).
const (
	CTASynproxyISN   AttrType = 1 // CTA_SYNPROXY_ISN
	CTASynproxyITS   AttrType = 2 // CTA_SYNPROXY_ITS
	CTASynproxyTSOff AttrType = 3 // CTA_SYNPROXY_TSOFF
)

// Top-level attributes of an expectation message (enum ctattr_expect).
const (
	CTAExpectMaster   AttrType = 1  // CTA_EXPECT_MASTER
	CTAExpectTuple    AttrType = 2  // CTA_EXPECT_TUPLE
	CTAExpectMask     AttrType = 3  // CTA_EXPECT_MASK
	CTAExpectTimeout  AttrType = 4  // CTA_EXPECT_TIMEOUT
	CTAExpectID       AttrType = 5  // CTA_EXPECT_ID
	CTAExpectHelpName AttrType = 6  // CTA_EXPECT_HELP_NAME
	CTAExpectZone     AttrType = 7  // CTA_EXPECT_ZONE
	CTAExpectFlags    AttrType = 8  // CTA_EXPECT_FLAGS
	CTAExpectClass    AttrType = 9  // CTA_EXPECT_CLASS
	CTAExpectNat      AttrType = 10 // CTA_EXPECT_NAT
	CTAExpectFn       AttrType = 11 // CTA_EXPECT_FN
)

// Attributes of a CTA_EXPECT_NAT nest (enum ctattr_expect_nat).
const (
	CTAExpectNatDir   AttrType = 1 // CTA_EXPECT_NAT_DIR
	CTAExpectNatTuple AttrType = 2 // CTA_EXPECT_NAT_TUPLE
)

// Attributes of a CTA_HELP nest (enum ctattr_help).
const (
	CTAHelpName AttrType = 1 // CTA_HELP_NAME
	CTAHelpInfo AttrType = 2 // CTA_HELP_INFO
)

// Attributes of a CTA_SECCTX nest (enum ctattr_secctx).
const (
	CTASecctxName AttrType = 1 // CTA_SECCTX_NAME
)

// Attributes of an IPCTNL_MSG_CT_GET_STATS_CPU reply (enum
// ctattr_stats_cpu), one u32 counter each.
const (
	CTAStatsSearched      AttrType = 1  // CTA_STATS_SEARCHED (no longer used)
	CTAStatsFound         AttrType = 2  // CTA_STATS_FOUND
	CTAStatsNew           AttrType = 3  // CTA_STATS_NEW (no longer used)
	CTAStatsInvalid       AttrType = 4  // CTA_STATS_INVALID
	CTAStatsIgnore        AttrType = 5  // CTA_STATS_IGNORE (no longer filled)
	CTAStatsDelete        AttrType = 6  // CTA_STATS_DELETE (no longer used)
	CTAStatsDeleteList    AttrType = 7  // CTA_STATS_DELETE_LIST (no longer used)
	CTAStatsInsert        AttrType = 8  // CTA_STATS_INSERT
	CTAStatsInsertFailed  AttrType = 9  // CTA_STATS_INSERT_FAILED
	CTAStatsDrop          AttrType = 10 // CTA_STATS_DROP
	CTAStatsEarlyDrop     AttrType = 11 // CTA_STATS_EARLY_DROP
	CTAStatsError         AttrType = 12 // CTA_STATS_ERROR
	CTAStatsSearchRestart AttrType = 13 // CTA_STATS_SEARCH_RESTART
	CTAStatsClashResolve  AttrType = 14 // CTA_STATS_CLASH_RESOLVE (Linux 5.10)
	CTAStatsChainTooLong  AttrType = 15 // CTA_STATS_CHAIN_TOOLONG (Linux 5.15)
)

// Attributes of an IPCTNL_MSG_CT_GET_STATS reply (enum
// ctattr_stats_global).
const (
	CTAStatsGlobalEntries    AttrType = 1 // CTA_STATS_GLOBAL_ENTRIES
	CTAStatsGlobalMaxEntries AttrType = 2 // CTA_STATS_GLOBAL_MAX_ENTRIES
)

// Attributes of an IPCTNL_MSG_EXP_GET_STATS_CPU reply (enum
// ctattr_expect_stats).
const (
	CTAStatsExpNew    AttrType = 1 // CTA_STATS_EXP_NEW
	CTAStatsExpCreate AttrType = 2 // CTA_STATS_EXP_CREATE
	CTAStatsExpDelete AttrType = 3 // CTA_STATS_EXP_DELETE
)

// Attributes of a CTA_FILTER nest (enum ctattr_filter).
const (
	CTAFilterOrigFlags  AttrType = 1 // CTA_FILTER_ORIG_FLAGS
	CTAFilterReplyFlags AttrType = 2 // CTA_FILTER_REPLY_FLAGS
)

// FilterFlags are the values of CTA_FILTER_ORIG_FLAGS and
// CTA_FILTER_REPLY_FLAGS: which values of the request's CTA_TUPLE_ORIG or
// CTA_TUPLE_REPLY a dump compares, each exactly. The kernel defines them in
// net/netfilter/nf_internals.h, outside its uapi headers; they are ABI all
// the same (libnetfilter_conntrack sends them).
type FilterFlags uint32

// The tuple filter flags (CTA_FILTER_F_*).
const (
	FilterIPSrc           FilterFlags = 1 << 0  // CTA_FILTER_F_CTA_IP_SRC
	FilterIPDst           FilterFlags = 1 << 1  // CTA_FILTER_F_CTA_IP_DST
	FilterTupleZone       FilterFlags = 1 << 2  // CTA_FILTER_F_CTA_TUPLE_ZONE
	FilterProtoNum        FilterFlags = 1 << 3  // CTA_FILTER_F_CTA_PROTO_NUM
	FilterProtoSrcPort    FilterFlags = 1 << 4  // CTA_FILTER_F_CTA_PROTO_SRC_PORT
	FilterProtoDstPort    FilterFlags = 1 << 5  // CTA_FILTER_F_CTA_PROTO_DST_PORT
	FilterProtoICMPType   FilterFlags = 1 << 6  // CTA_FILTER_F_CTA_PROTO_ICMP_TYPE
	FilterProtoICMPCode   FilterFlags = 1 << 7  // CTA_FILTER_F_CTA_PROTO_ICMP_CODE
	FilterProtoICMPID     FilterFlags = 1 << 8  // CTA_FILTER_F_CTA_PROTO_ICMP_ID
	FilterProtoICMPV6Type FilterFlags = 1 << 9  // CTA_FILTER_F_CTA_PROTO_ICMPV6_TYPE
	FilterProtoICMPV6Code FilterFlags = 1 << 10 // CTA_FILTER_F_CTA_PROTO_ICMPV6_CODE
	FilterProtoICMPV6ID   FilterFlags = 1 << 11 // CTA_FILTER_F_CTA_PROTO_ICMPV6_ID
)

// NFNLType is the HeaderType of message m of nfnetlink subsystem s.
func NFNLType(s Subsys, m MsgType) HeaderType {
	return HeaderType(s)<<8 | HeaderType(m)
}

// Subsys is t's nfnetlink subsystem.
func (t HeaderType) Subsys() Subsys { return Subsys(t >> 8) }

// Msg is t's message type within its nfnetlink subsystem.
func (t HeaderType) Msg() MsgType { return MsgType(t) }

// Status is a conntrack entry's status bits (CTA_STATUS, enum
// ip_conntrack_status), from linux/netfilter/nf_conntrack_common.h.
type Status uint32

// The status bits.
const (
	IPSExpected     Status = 1 << 0  // IPS_EXPECTED
	IPSSeenReply    Status = 1 << 1  // IPS_SEEN_REPLY
	IPSAssured      Status = 1 << 2  // IPS_ASSURED
	IPSConfirmed    Status = 1 << 3  // IPS_CONFIRMED
	IPSSrcNat       Status = 1 << 4  // IPS_SRC_NAT
	IPSDstNat       Status = 1 << 5  // IPS_DST_NAT
	IPSSeqAdjust    Status = 1 << 6  // IPS_SEQ_ADJUST
	IPSSrcNatDone   Status = 1 << 7  // IPS_SRC_NAT_DONE
	IPSDstNatDone   Status = 1 << 8  // IPS_DST_NAT_DONE
	IPSDying        Status = 1 << 9  // IPS_DYING
	IPSFixedTimeout Status = 1 << 10 // IPS_FIXED_TIMEOUT
	IPSTemplate     Status = 1 << 11 // IPS_TEMPLATE
	IPSNatClash     Status = 1 << 12 // IPS_NAT_CLASH (was IPS_UNTRACKED)
	IPSHelper       Status = 1 << 13 // IPS_HELPER
	IPSOffload      Status = 1 << 14 // IPS_OFFLOAD
	IPSHWOffload    Status = 1 << 15 // IPS_HW_OFFLOAD
)
