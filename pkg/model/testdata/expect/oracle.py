# oracle.py prints, for each expectation of a cases.json file, the line libnetfilter_conntrack's
# nfexp_snprintf (NFCT_O_DEFAULT) makes of it: conntrack -E expect's and -L expect's line.
import ctypes as c, socket, struct, sys
L = c.CDLL("libnetfilter_conntrack.so.3")
L.nfct_new.restype = c.c_void_p; L.nfexp_new.restype = c.c_void_p
for f in ["nfct_set_attr_u8","nfct_set_attr_u16","nfct_set_attr_u32","nfct_set_attr"]:
    getattr(L,f).argtypes=[c.c_void_p,c.c_int,c.c_void_p if f=="nfct_set_attr" else (c.c_uint8 if f.endswith("u8") else c.c_uint16 if f.endswith("u16") else c.c_uint32)]
L.nfexp_set_attr.argtypes=[c.c_void_p,c.c_int,c.c_void_p]
L.nfexp_set_attr_u32.argtypes=[c.c_void_p,c.c_int,c.c_uint32]
L.nfexp_set_attr_u16.argtypes=[c.c_void_p,c.c_int,c.c_uint16]
L.nfexp_set_attr_u8.argtypes=[c.c_void_p,c.c_int,c.c_uint8]
L.nfexp_snprintf.argtypes=[c.c_char_p,c.c_uint,c.c_void_p,c.c_uint,c.c_uint,c.c_uint]
keep=[]
def ct(fam, proto, src, dst, sp=None, dp=None, icmp=None):
    o = L.nfct_new()
    L.nfct_set_attr_u8(o, 15, fam); L.nfct_set_attr_u8(o, 17, proto)
    af = socket.AF_INET if fam==2 else socket.AF_INET6
    s = c.create_string_buffer(socket.inet_pton(af, src)); d = c.create_string_buffer(socket.inet_pton(af, dst)); keep.extend([s,d])
    if fam==2:
        L.nfct_set_attr(o,0,s); L.nfct_set_attr(o,1,d)
    else:
        L.nfct_set_attr(o,4,s); L.nfct_set_attr(o,5,d)
    if sp is not None:
        L.nfct_set_attr_u16(o,8,socket.htons(sp)); L.nfct_set_attr_u16(o,9,socket.htons(dp))
    if icmp is not None:
        L.nfct_set_attr_u8(o,12,icmp[0]); L.nfct_set_attr_u8(o,13,icmp[1]); L.nfct_set_attr_u16(o,14,socket.htons(icmp[2]))
    return o
# each case: type(1 new,2 update,4 destroy), master, expected, mask, timeout, zone, flags, helper, class, nat(dir, tuple), fn
import json
cases = json.load(open(sys.argv[1]))
for cs in cases:
    e = L.nfexp_new()
    def mk(t): return ct(t["fam"], t["proto"], t["src"], t["dst"], t.get("sport"), t.get("dport"), t.get("icmp"))
    L.nfexp_set_attr(e,0,c.c_void_p(mk(cs["master"])))
    L.nfexp_set_attr(e,1,c.c_void_p(mk(cs["tuple"])))
    L.nfexp_set_attr(e,2,c.c_void_p(mk(cs["mask"])))
    L.nfexp_set_attr_u32(e,3,cs.get("timeout",0))
    if "zone" in cs: L.nfexp_set_attr_u16(e,4,cs["zone"])
    if "flags" in cs: L.nfexp_set_attr_u32(e,5,cs["flags"])
    if "helper" in cs:
        h=c.create_string_buffer(cs["helper"].encode()); keep.append(h); L.nfexp_set_attr(e,6,h)
    if "class" in cs: L.nfexp_set_attr_u32(e,7,cs["class"])
    if "nat" in cs:
        L.nfexp_set_attr(e,8,c.c_void_p(mk(cs["nat"]))); L.nfexp_set_attr_u32(e,9,cs.get("natdir",0))
    if "fn" in cs:
        h=c.create_string_buffer(cs["fn"].encode()); keep.append(h); L.nfexp_set_attr(e,10,h)
    buf = c.create_string_buffer(2048)
    L.nfexp_snprintf(buf, 2048, e, cs.get("type",1), 0, 0)
    print(buf.value.decode())
