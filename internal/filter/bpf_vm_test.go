package filter

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// This file is a test-only classic BPF interpreter with the kernel's
// semantics for what the generator emits, including the two netlink
// extensions that x/net/bpf's VM does not implement, and the kernel's
// checks of a program at attach time (net/core/filter.c:
// bpf_check_classic, check_load_and_stores).

// Classic BPF opcodes (linux/bpf_common.h, linux/filter.h).
const (
	opLD, opLDX, opST, opSTX, opALU, opJMP, opRET, opMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
	szW, szH, szB                                         = 0x00, 0x08, 0x10
	modeIMM, modeABS, modeIND, modeMEM, modeLEN           = 0x00, 0x20, 0x40, 0x60, 0x80
	jmpJA, jmpJEQ, jmpJGT, jmpJGE, jmpJSET                = 0x00, 0x10, 0x20, 0x30, 0x40
	srcK, srcX                                            = 0x00, 0x08
	aluAdd, aluSub, aluMul, aluDiv, aluOr, aluAnd         = 0x00, 0x10, 0x20, 0x30, 0x40, 0x50
	aluLsh, aluRsh, aluNeg, aluMod, aluXor                = 0x60, 0x70, 0x80, 0x90, 0xa0
	retK, retA                                            = 0x00, 0x10
	miscTAX, miscTXA                                      = 0x00, 0x80

	skfAdOff          = 0xfffff000 // SKF_AD_OFF (-0x1000)
	skfAdNlattr       = 12
	skfAdNlattrNest   = 16
	bpfMemWords       = 16
	nlaHdr            = 4
	nlaTypeMaskForVM  = 0x3fff
	kernelMaxInsnsCap = 4096
)

// checkClassic refuses a program as the kernel's bpf_check_classic does,
// for the instructions the generator may emit.
func checkClassic(prog []bpf.RawInstruction) error {
	n := len(prog)
	if n == 0 || n > kernelMaxInsnsCap {
		return fmt.Errorf("program of %d instructions", n)
	}
	for pc, in := range prog {
		switch cls := in.Op & 0x07; cls {
		case opLD, opLDX:
			mode := in.Op & 0xe0
			switch {
			case mode == modeMEM && in.K >= bpfMemWords:
				return fmt.Errorf("insn %d: scratch cell %d", pc, in.K)
			case cls == opLD && mode == modeABS && in.K >= skfAdOff:
				if in.Op != opLD|szW|modeABS || (in.K-skfAdOff != skfAdNlattr && in.K-skfAdOff != skfAdNlattrNest) {
					return fmt.Errorf("insn %d: unknown extension %#x", pc, in.K)
				}
			}
		case opST, opSTX:
			if in.K >= bpfMemWords {
				return fmt.Errorf("insn %d: scratch cell %d", pc, in.K)
			}
		case opALU:
			op := in.Op & 0xf0
			if (op == aluDiv || op == aluMod) && in.Op&srcX == 0 && in.K == 0 {
				return fmt.Errorf("insn %d: division by zero", pc)
			}
		case opJMP:
			if in.Op&0xf0 == jmpJA {
				if in.K >= uint32(n-pc-1) {
					return fmt.Errorf("insn %d: ja %d out of range", pc, in.K)
				}
				continue
			}
			if pc+int(in.Jt)+1 >= n || pc+int(in.Jf)+1 >= n {
				return fmt.Errorf("insn %d: jump %d/%d out of range", pc, in.Jt, in.Jf)
			}
		}
	}
	if last := prog[n-1].Op; last != opRET|retK && last != opRET|retA {
		return fmt.Errorf("last insn %#x is not a return", last)
	}
	return checkLoadAndStores(prog)
}

// checkLoadAndStores is the kernel's check that no path reads a scratch
// cell before writing it, quirks included (a return does not reset what
// the next instruction sees).
func checkLoadAndStores(prog []bpf.RawInstruction) error {
	masks := make([]uint16, len(prog))
	for i := range masks {
		masks[i] = 0xffff
	}
	var valid uint16
	for pc, in := range prog {
		valid &= masks[pc]
		switch {
		case in.Op == opST || in.Op == opSTX:
			valid |= 1 << in.K
		case in.Op == opLD|modeMEM || in.Op == opLDX|modeMEM:
			if valid&(1<<in.K) == 0 {
				return fmt.Errorf("insn %d reads scratch cell %d before any write", pc, in.K)
			}
		case in.Op == opJMP|jmpJA:
			masks[pc+1+int(in.K)] &= valid
			valid = 0xffff
		case in.Op&0x07 == opJMP:
			masks[pc+1+int(in.Jt)] &= valid
			masks[pc+1+int(in.Jf)] &= valid
			valid = 0xffff
		}
	}
	return nil
}

// runClassic runs prog on the netlink message pkt (the whole, linear skb)
// and returns its verdict: 0 drops the message.
func runClassic(prog []bpf.RawInstruction, pkt []byte) (uint32, error) {
	var a, x uint32
	var mem [bpfMemWords]uint32
	n := uint64(len(pkt))
	load := func(off uint64, size int) (uint32, bool) {
		if off+uint64(size) > n {
			return 0, false
		}
		switch size {
		case 1:
			return uint32(pkt[off]), true
		case 2:
			return uint32(binary.BigEndian.Uint16(pkt[off:])), true
		}
		return binary.BigEndian.Uint32(pkt[off:]), true
	}
	sizeOf := func(op uint16) int {
		switch op & 0x18 {
		case szH:
			return 2
		case szB:
			return 1
		}
		return 4
	}
	for pc, steps := 0, 0; ; pc++ {
		if pc >= len(prog) {
			return 0, fmt.Errorf("ran off the end at %d", pc)
		}
		if steps++; steps > 1<<20 {
			return 0, fmt.Errorf("no end")
		}
		in := prog[pc]
		switch cls := in.Op & 0x07; cls {
		case opLD, opLDX:
			var v uint32
			switch mode := in.Op & 0xe0; mode {
			case modeIMM:
				v = in.K
			case modeLEN:
				v = uint32(n)
			case modeMEM:
				v = mem[in.K]
			case modeABS:
				if in.K >= skfAdOff {
					v = nlExtension(in.K-skfAdOff, pkt, a, x)
					break
				}
				var ok bool
				if v, ok = load(uint64(in.K), sizeOf(in.Op)); !ok {
					return 0, nil
				}
			case modeIND:
				var ok bool
				if v, ok = load(uint64(x)+uint64(in.K), sizeOf(in.Op)); !ok {
					return 0, nil
				}
			default:
				return 0, fmt.Errorf("insn %d: load mode %#x", pc, mode)
			}
			if cls == opLD {
				a = v
			} else {
				x = v
			}
		case opST:
			mem[in.K] = a
		case opSTX:
			mem[in.K] = x
		case opALU:
			v := in.K
			if in.Op&srcX != 0 {
				v = x
			}
			switch in.Op & 0xf0 {
			case aluAdd:
				a += v
			case aluSub:
				a -= v
			case aluMul:
				a *= v
			case aluDiv:
				if v == 0 {
					return 0, nil
				}
				a /= v
			case aluMod:
				if v == 0 {
					return 0, nil
				}
				a %= v
			case aluOr:
				a |= v
			case aluAnd:
				a &= v
			case aluXor:
				a ^= v
			case aluLsh:
				a <<= v & 31
			case aluRsh:
				a >>= v & 31
			case aluNeg:
				a = -a
			}
		case opJMP:
			if in.Op&0xf0 == jmpJA {
				pc += int(in.K)
				continue
			}
			v := in.K
			if in.Op&srcX != 0 {
				v = x
			}
			var t bool
			switch in.Op & 0xf0 {
			case jmpJEQ:
				t = a == v
			case jmpJGT:
				t = a > v
			case jmpJGE:
				t = a >= v
			case jmpJSET:
				t = a&v != 0
			default:
				return 0, fmt.Errorf("insn %d: jump %#x", pc, in.Op)
			}
			if t {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opRET:
			if in.Op&0x18 == retA {
				return a, nil
			}
			return in.K, nil
		case opMISC:
			if in.Op&0xf8 == miscTXA {
				a = x
			} else {
				x = a
			}
		}
	}
}

// nlExtension is the kernel's bpf_skb_get_nlattr (SKF_AD_NLATTR) and
// bpf_skb_get_nlattr_nest (SKF_AD_NLATTR_NEST).
func nlExtension(ext uint32, pkt []byte, a, x uint32) uint32 {
	n := uint64(len(pkt))
	if n < nlaHdr || uint64(a) > n-nlaHdr {
		return 0
	}
	start, rem := int(a), int(n)-int(a)
	if ext == skfAdNlattrNest {
		l := int(binary.NativeEndian.Uint16(pkt[a:]))
		if l > rem {
			return 0
		}
		start, rem = int(a)+nlaHdr, l-nlaHdr
	} else if ext != skfAdNlattr {
		panic("unknown extension")
	}
	// nla_find: the first attribute of type x, walking while nla_ok.
	for pos := start; rem >= nlaHdr; {
		l := int(binary.NativeEndian.Uint16(pkt[pos:]))
		if l < nlaHdr || l > rem {
			break
		}
		if uint32(binary.NativeEndian.Uint16(pkt[pos+2:])&nlaTypeMaskForVM) == x {
			return uint32(pos)
		}
		step := (l + 3) &^ 3
		pos += step
		rem -= step
	}
	return 0
}
